"""nn.pipeline.checks: a run's reference and comparisons checked against the config."""

import pytest

from helpers import load
from nn.pipeline import config as nnconfig


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "measure": "peak_test"}),
            "runs.best.reference.measure: peak_test needs monitor_test: true in this run",
        ),
        (
            lambda r: r.update(validation=0, reference={"accuracy": 0.9, "source": "x", "measure": "final_validation"}),
            "runs.best.reference.measure: final_validation needs validation > 0 in this run",
        ),
        (
            lambda r: r.update(
                monitor_test=True,
                reference={
                    "accuracy": 0.9,
                    "source": "x",
                    "curves": {"test_accuracy": {"epochs": [1, 2], "values": [0.5]}},
                },
            ),
            "runs.best.reference.curves.test_accuracy: 2 epochs but 1 values",
        ),
        (
            lambda r: r.update(
                monitor_test=True,
                epochs=3,
                reference={
                    "accuracy": 0.9,
                    "source": "x",
                    "curves": {"test_accuracy": {"epochs": [4], "values": [0.5]}},
                },
            ),
            "runs.best.reference.curves.test_accuracy: epoch 4 is past the run's 3 epochs",
        ),
        (
            lambda r: r.update(reference={"accuracy": 0.9, "source": "x", "kind": "copy"}),
            "runs.best.reference.kind: 'copy' is not one of ['reproduction', 'comparison']",
        ),
    ],
)
def test_reference_cross_checks(cfg, edit, message):
    edit(cfg["runs"]["best"])
    with pytest.raises(nnconfig.ConfigError) as e:
        load(cfg)
    assert str(e.value) == message


def test_reference_defaults_and_comparisons(cfg):
    cfg["runs"]["best"]["reference"] = {"accuracy": 0.99, "source": "x"}
    config, runs, _ = load(cfg)
    assert nnconfig.comparisons(config, runs)[0] == ("width-hidden-64", "width-hidden-128")
    assert runs["best"]["reference"]["kind"] == "comparison" and runs["best"]["reference"]["measure"] == "final_test"
    cfg["comparisons"] = [["best", "nope"]]
    with pytest.raises(nnconfig.ConfigError, match=r"comparisons\[0\]: 'nope' is not a run"):
        load(cfg)
    cfg["comparisons"] = [["best", "best"]]
    with pytest.raises(nnconfig.ConfigError, match="compares 'best' with itself"):
        load(cfg)
