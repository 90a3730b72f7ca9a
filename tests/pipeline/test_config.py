"""config.yaml validation and expansion (nn.pipeline.config)."""

import copy
from pathlib import Path

import pytest

from conftest import CITED
from helpers import assert_refused_in_one_line, load
from nn.pipeline import config as nnconfig

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_default_config_expands_every_run_with_every_key(cfg):
    config, runs, sweeps = load(cfg)
    keys = set(config["defaults"])
    assert {"hidden", "lr", "schedule", "seed", "threads", "dtype", "reference"} <= keys
    assert "best" in runs and "nielsen-ch1-30" in runs
    for name, hp in runs.items():
        assert set(hp) - {"scored_from"} == keys, name  # scored_from: only a row that trains nothing
        assert list(hp) == sorted(hp), "params must be canonical (sorted keys)"
    assert sweeps["width"]["keys"] == ["hidden"]
    assert list(sweeps["width"]["runs"]) == [f"width-hidden-{w}" for w in (16, 32, 64, 128, 256)]
    assert runs["width-hidden-16"]["hidden"] == [16] and runs["width-hidden-16"]["momentum"] == 0.9


def test_defaults_filled_from_schema(cfg):
    del cfg["defaults"]["threads"], cfg["evaluation"]
    config, runs, _ = load(cfg)
    assert config["defaults"]["threads"] == 1 and config["evaluation"]["gallery_size"] == 16
    assert runs["nielsen-ch1-30"]["threads"] == 1


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c["runs"]["best"].update(lrr=0.1), "runs.best: Additional properties are not allowed ('lrr'"),
        (lambda c: c.update(colour="red"), "('colour' was unexpected)"),
        (lambda c: c["runs"]["best"].update(lr="fast"), "runs.best.lr: 'fast' is not of type 'number'"),
        (lambda c: c["runs"]["best"].update(lr=-1), "runs.best.lr: -1 is less than or equal to the minimum of 0"),
        (lambda c: c["runs"]["best"].update(lr=0), "runs.best.lr: 0 is less than or equal to the minimum of 0"),
        (lambda c: c["runs"]["best"].update(batch_size=0), "runs.best.batch_size: 0 is less than the minimum of 1"),
        (lambda c: c["runs"]["best"].update(epochs=-3), "runs.best.epochs: -3 is less than the minimum of 0"),
        (lambda c: c["runs"]["best"].update(hidden=[128, 0]), "runs.best.hidden[1]: 0 is less than the minimum of 1"),
        (lambda c: c["defaults"].update(activation="swish"), "defaults.activation: 'swish' is not one of"),
        (lambda c: c["runs"].update({"a/b": {}}), "runs: name 'a/b' is not allowed"),
        (lambda c: c["runs"].update({"..": {}}), "runs: name '..' is not allowed"),
        (lambda c: c["runs"].update({"a..b": {}}), "runs: name 'a..b' is not allowed"),
        (lambda c: c["runs"].update({"my run": {}}), "runs: name 'my run' is not allowed"),
        (lambda c: c.update(runs=None), "runs: is empty"),
        (lambda c: c.update(runs={}), "runs: is empty"),
        (lambda c: c["sweeps"]["width"]["grid"].update(colour=[1]), "sweeps.width.grid.colour: not a hyperparameter"),
        (
            lambda c: c["sweeps"]["width"]["grid"].update(hidden=[[0]]),
            "sweeps.width.grid.hidden[0]: 0 is less than the minimum of 1",
        ),
        (
            lambda c: c["download"]["sha256"].update({"t10k-images-idx3-ubyte": "abc"}),
            "download.sha256.t10k-images-idx3-ubyte: 'abc' does not match",
        ),
        (
            lambda c: c["runs"]["best"].update(reference={"accuracy": 99.2, "source": "x"}),
            "runs.best.reference.accuracy: 99.2 is greater than the maximum of 1",
        ),
        (
            lambda c: c["runs"]["best"].update(weight_decay=float("inf")),
            "runs.best.weight_decay: inf is not a finite number",
        ),
        (
            lambda c: c["runs"]["best"].update(weight_decay=float("nan")),
            "runs.best.weight_decay: nan is not a finite number",
        ),
        (lambda c: c["defaults"].update(lr=float("-inf")), "defaults.lr: -inf is not a finite number"),
        (lambda c: c["download"].update(timeout=float("inf")), "download.timeout: inf is not a finite number"),
        (
            lambda c: c["sweeps"]["width"]["grid"].update(lr=[0.1, float("nan")]),
            "sweeps.width.grid.lr[1]: nan is not a finite number",
        ),
        (lambda c: c["runs"]["best"].update(epochs=2.5), "runs.best.epochs: 2.5 is not of type 'integer'"),
        (lambda c: c["runs"]["best"].update(lr="1e-3x"), "runs.best.lr: '1e-3x' is not of type 'number'"),
    ],
)
def test_bad_config_gives_one_line_naming_the_key(cfg, edit, expected):
    assert_refused_in_one_line(cfg, edit, expected)


def test_validation_does_not_change_a_valid_config_twice(cfg):
    once, _, _ = load(copy.deepcopy(cfg))
    twice, _, _ = load(copy.deepcopy(once))
    assert once == twice


def test_optimizer_names_come_from_the_registry(cfg):
    from nn.optim import OPTIMIZERS

    assert nnconfig.load_schema(SCHEMA)["$defs"]["optimizer"]["enum"] == list(OPTIMIZERS)
    cfg["runs"]["best"]["optimizer"] = "adagrad"
    with pytest.raises(
        nnconfig.ConfigError, match="runs.best.optimizer: 'adagrad' is not one of .'sgd', 'adam', 'rmsprop'."
    ):
        load(cfg)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("dropout", 1.0, "runs.best.dropout: 1.0 is greater than or equal to the maximum of 1"),
        ("dropout", [0.2, -0.1], r"runs.best.dropout\[1\]: -0.1 is less than the minimum of 0"),
        ("elastic_sigma", 0, "runs.best.elastic_sigma: 0 is less than or equal to the minimum of 0"),
        ("rotate", -5, "runs.best.rotate: -5 is less than the minimum of 0"),
        ("eps", 0, "runs.best.eps: 0 is less than or equal to the minimum of 0"),
    ],
)
def test_new_keys_are_bounded(cfg, key, value, message):
    cfg["runs"]["best"][key] = value
    with pytest.raises(nnconfig.ConfigError, match=message):
        load(cfg)


def test_new_keys_default_to_off(cfg):
    _, runs, _ = load(cfg)
    hp = runs["nielsen-ch1-30"]
    assert (
        hp["optimizer"],
        hp["dropout"],
        hp["rotate"],
        hp["scale"],
        hp["shear"],
        hp["translate"],
        hp["elastic_alpha"],
    ) == ("sgd", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_source_keys_default_to_todays_behaviour(cfg):
    _, runs, _ = load(cfg)
    hp = runs["keras-mnist-mlp"]  # a run that sets none of them
    assert (hp["inputs"], hp["init_scale"], hp["test_subset"]) == ("unit", None, 0)
    from nn.mnist.data import INPUT_SCALINGS

    assert nnconfig.load_schema(SCHEMA)["$defs"]["inputs"]["enum"] == list(INPUT_SCALINGS)


def test_the_sources_networks_are_configurable(cfg):
    cfg["runs"]["blog"] = {
        "hidden": [30, 30, 10],
        "activation": [{"scaled": 0.2}, "relu", {"scaled": 0.05}],
        "output": "sigmoid",
        "loss": "squared_error",
        "init": "uniform_pm1",
        "inputs": "max_standardise",
        "test_subset": 1000,
        "reference": {"accuracy": 0.85, "source": "x", "kind": "reproduction", "measure": "final_test_subset", **CITED},
    }
    cfg["runs"]["nielsen"] = {
        "monitor_test": True,
        "replicates": 6,
        "inputs": "div256",
        "reference": {"accuracy": 0.9542, "source": "x", "measure": "peak_test", "best_of": 3, "evidence": "from code"},
    }
    cfg["runs"]["notebook"] = {
        "hidden": [128],
        "activation": "relu_identity_grad",
        "output": "relu_identity_grad",
        "loss": "quadratic",
        "init": "plain",
        "init_scale": 0.01,
        "inputs": "raw",
    }
    _, runs, _ = load(cfg)
    assert runs["blog"]["activation"] == [{"scaled": 0.2}, "relu", {"scaled": 0.05}]
    assert runs["blog"]["reference"]["evidence"] == "from code"
    assert (runs["notebook"]["init_scale"], runs["notebook"]["inputs"]) == (0.01, "raw")


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda r: r.update(activation=["relu"]),
            r"runs.best.activation: lists 1 activations for 2 hidden layers \(hidden \[800, 800\]\)",
        ),
        (lambda r: r.update(activation=[{"scaled": 0}, "relu"]), r"runs.best.activation\[0\].scaled: 0 should not be"),
        (lambda r: r.update(activation=[{"scale": 0.2}, "relu"]), r"runs.best.activation\[0\]: 'scaled' is a required"),
        (
            lambda r: r.update(activation="swish"),
            r"runs.best.activation: 'swish' is not one of \['sigmoid', 'tanh', 'relu', ",
        ),
        (lambda r: r.update(init_scale=0.1), "runs.best.init_scale: init he takes no scale; only plain do"),
        (
            lambda r: r.update(init="plain", init_scale=0),
            "runs.best.init_scale: 0 is less than or equal to the minimum of 0",
        ),
        (lambda r: r.update(inputs="half"), "runs.best.inputs: 'half' is not one of"),
        (lambda r: r.update(test_subset=-1), "runs.best.test_subset: -1 is less than the minimum of 0"),
        (
            lambda r: r.update(output="relu"),
            "runs.best.loss: cross_entropy needs a softmax or sigmoid output layer, not 'relu'",
        ),
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "measure": "final_test_subset"}),
            "runs.best.reference.measure: final_test_subset needs test_subset > 0 in this run",
        ),
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "evidence": "from memory"}),
            "runs.best.reference.evidence: 'from memory' is not one of",
        ),
        (
            lambda r: r.update(replicates=5, reference={"accuracy": 0.9, "source": "x", "best_of": 3}),
            r"runs.best.reference.best_of: a best of 3 is judged over our seeds' k-subsets and needs at least 6 seeds "
            r"\(replicates\); this run has 5",
        ),
    ],
)
def test_source_keys_are_checked(cfg, edit, message):
    edit(cfg["runs"]["best"])
    with pytest.raises(nnconfig.ConfigError, match=message):
        load(cfg)


# --- a row scored from another run's history (config `scored_from`) ------------------------
