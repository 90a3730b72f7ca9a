"""config.yaml validation and expansion (nn.config)."""
import copy
from pathlib import Path

import pytest
import yaml

from nn import config as nnconfig
from nn.sources import module_sources, script_sources

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def cfg():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def load(c):
    return nnconfig.load(c, SCHEMA)


def test_default_config_expands_every_run_with_every_key(cfg):
    config, runs, sweeps = load(cfg)
    keys = set(config["defaults"])
    assert {"hidden", "lr", "schedule", "seed", "threads", "dtype", "reference"} <= keys
    assert "best" in runs and "nielsen-30" in runs
    for name, hp in runs.items():
        assert set(hp) == keys, name
        assert list(hp) == sorted(hp), "params must be canonical (sorted keys)"
    assert sweeps["width"]["keys"] == ["hidden"]
    assert list(sweeps["width"]["runs"]) == [f"width-hidden-{w}" for w in (16, 32, 64, 128, 256)]
    assert runs["width-hidden-16"]["hidden"] == [16] and runs["width-hidden-16"]["momentum"] == 0.9


def test_two_key_sweep_names_are_deterministic(cfg):
    cfg["sweeps"] = {"g": {"grid": {"lr": [0.1, 0.5], "momentum": [0.0, 0.9]}}}
    _, runs, sweeps = load(cfg)
    assert list(sweeps["g"]["runs"]) == ["g-lr-0.1_momentum-0.0", "g-lr-0.1_momentum-0.9",
                                        "g-lr-0.5_momentum-0.0", "g-lr-0.5_momentum-0.9"]
    assert runs["g-lr-0.5_momentum-0.9"]["lr"] == 0.5


def test_defaults_filled_from_schema(cfg):
    del cfg["defaults"]["threads"], cfg["evaluation"]
    config, runs, _ = load(cfg)
    assert config["defaults"]["threads"] == 1 and config["evaluation"]["gallery_size"] == 16
    assert runs["nielsen-30"]["threads"] == 1


@pytest.mark.parametrize("edit, expected", [
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
    (lambda c: c["sweeps"]["width"]["grid"].update(hidden=[[0]]), "sweeps.width.grid.hidden[0]: 0 is less than the minimum of 1"),
    (lambda c: c["download"]["sha256"].update({"t10k-images-idx3-ubyte": "abc"}), "download.sha256.t10k-images-idx3-ubyte: 'abc' does not match"),
    (lambda c: c["runs"]["best"].update(reference={"accuracy": 99.2, "source": "x"}), "runs.best.reference.accuracy: 99.2 is greater than the maximum of 1"),
])
def test_bad_config_gives_one_line_naming_the_key(cfg, edit, expected):
    edit(cfg)
    with pytest.raises(nnconfig.ConfigError) as e:
        load(cfg)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_sweep_run_colliding_with_a_run_is_refused(cfg):
    cfg["runs"]["width-hidden-16"] = {}
    with pytest.raises(nnconfig.ConfigError, match="sweeps.width: run name 'width-hidden-16' already exists"):
        load(cfg)


def test_mirrors_put_the_users_first_without_repeats(cfg):
    cfg["mnist_mirror"] = cfg["download"]["mirrors"][1]
    config, _, _ = load(cfg)
    m = nnconfig.mirrors(config)
    assert m[0] == cfg["download"]["mirrors"][1] and len(m) == len(set(m)) == len(cfg["download"]["mirrors"])


def test_validation_does_not_change_a_valid_config_twice(cfg):
    once, _, _ = load(copy.deepcopy(cfg))
    twice, _, _ = load(copy.deepcopy(once))
    assert once == twice


def test_module_sources_follow_imports_transitively(tmp_path):
    files = module_sources("config")
    assert files == [str(REPO / "nn" / "config.py"), str(REPO / "nn" / "optim.py")]  # config imports optim
    script = tmp_path / "s.py"
    script.write_text("import os\nfrom nn import config\nimport nn.fileio\n")
    assert script_sources(script) == sorted([str(REPO / "nn" / n) for n in ("config.py", "fileio.py", "optim.py")])
    with pytest.raises(FileNotFoundError, match="nn/nope.py"):
        module_sources("nope")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("runs:\n  a:\n    lr: [0.1\n    epochs: 3\n")
    with pytest.raises(nnconfig.ConfigError, match=r"config.yaml: YAML syntax error at line 4, column \d+"):
        nnconfig.check_yaml_syntax(bad)
    bad.write_text("runs:\n  a: {}\n")
    nnconfig.check_yaml_syntax(bad)  # a valid file passes silently


def test_optimizer_names_come_from_the_registry(cfg):
    from nn.optim import OPTIMIZERS
    assert nnconfig.load_schema(SCHEMA)["$defs"]["optimizer"]["enum"] == list(OPTIMIZERS)
    cfg["runs"]["best"]["optimizer"] = "adagrad"
    with pytest.raises(nnconfig.ConfigError, match="runs.best.optimizer: 'adagrad' is not one of .'sgd', 'adam', 'rmsprop'."):
        load(cfg)


@pytest.mark.parametrize("key, value, message", [
    ("dropout", 1.0, "runs.best.dropout: 1.0 is greater than or equal to the maximum of 1"),
    ("dropout", [0.2, -0.1], r"runs.best.dropout\[1\]: -0.1 is less than the minimum of 0"),
    ("elastic_sigma", 0, "runs.best.elastic_sigma: 0 is less than or equal to the minimum of 0"),
    ("rotate", -5, "runs.best.rotate: -5 is less than the minimum of 0"),
    ("eps", 0, "runs.best.eps: 0 is less than or equal to the minimum of 0")])
def test_new_keys_are_bounded(cfg, key, value, message):
    cfg["runs"]["best"][key] = value
    with pytest.raises(nnconfig.ConfigError, match=message):
        load(cfg)


def test_new_keys_default_to_off(cfg):
    _, runs, _ = load(cfg)
    hp = runs["nielsen-30"]
    assert (hp["optimizer"], hp["dropout"], hp["rotate"], hp["scale"], hp["shear"], hp["translate"],
            hp["elastic_alpha"]) == ("sgd", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
