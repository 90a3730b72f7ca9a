"""nn.pipeline.coercion: numbers as the user means them (whole floats, YAML 1.1 exponents), in runs and grids."""

import yaml
import pytest

from helpers import load
from nn.pipeline import coercion
from nn.pipeline.yamlfile import ConfigError


def test_whole_floats_and_yaml11_exponents_mean_what_they_say(cfg):
    text = yaml.safe_dump(cfg).replace(
        "runs:\n",
        "runs:\n  typed:\n    epochs: 10.0\n    batch_size: 128.0\n"
        "    lr: 1e-3\n    hidden: [64.0, 32]\n    weight_decay: 5e-4\n",
        1,
    )
    raw = yaml.safe_load(text)
    assert raw["runs"]["typed"]["lr"] == "1e-3" and raw["runs"]["typed"]["epochs"] == 10.0  # what YAML 1.1 gives
    _, runs, _ = load(raw)
    hp = runs["typed"]
    assert (hp["epochs"], hp["batch_size"], hp["lr"], hp["hidden"], hp["weight_decay"]) == (
        10,
        128,
        0.001,
        [64, 32],
        0.0005,
    )
    assert [type(hp[k]) for k in ("epochs", "batch_size", "lr")] == [int, int, float]
    assert type(hp["hidden"][0]) is int


def test_sweep_grids_are_coerced_too(cfg):
    cfg["sweeps"], cfg["comparisons"] = {"g": {"grid": {"lr": ["1e-2", 0.1], "epochs": [2.0]}}}, []
    _, runs, sweeps = load(cfg)
    assert list(sweeps["g"]["runs"]) == ["g-lr-0.01_epochs-2", "g-lr-0.1_epochs-2"]
    assert runs["g-lr-0.01_epochs-2"]["epochs"] == 2 and type(runs["g-lr-0.01_epochs-2"]["epochs"]) is int


SCHEMA_PART = {
    "type": "object",
    "properties": {
        "epochs": {"type": "integer"},
        "lr": {"$ref": "#/$defs/lr"},
        "name": {"type": "string"},
        "hidden": {"type": "array", "items": {"type": "integer"}},
    },
    "$defs": {"lr": {"type": "number"}},
}


def test_coerce_numbers_follows_the_schema_in_place():
    config = {"epochs": 10.0, "lr": "1e-3", "name": "1e-3", "hidden": [64.0, "32"], "other": 2.0}
    coercion.coerce_numbers(config, SCHEMA_PART)
    assert config == {"epochs": 10, "lr": 0.001, "name": "1e-3", "hidden": [64, 32], "other": 2.0}
    assert type(config["epochs"]) is int and type(config["hidden"][0]) is int
    kept = {"epochs": 2.5, "lr": "fast"}
    coercion.coerce_numbers(kept, SCHEMA_PART)
    assert kept == {"epochs": 2.5, "lr": "fast"}  # left for the schema to refuse


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_refuse_non_finite_names_the_key(value):
    with pytest.raises(ConfigError, match=r"^runs\.a\.grid\[1\]: .* is not a finite number$|^runs\.a\.grid\.1: "):
        coercion.refuse_non_finite({"runs": {"a": {"grid": [1.0, value]}}})
    coercion.refuse_non_finite({"runs": {"a": {"grid": [1.0, 1e308]}}})  # finite: passes
