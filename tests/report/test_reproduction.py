"""nn.report.reproduction: a seed's status, where a scored_from row's figures come from, a history cut
after round n.

Rows, verdicts and paired tests on whole runs: tests/report/test_html.py and tests/pipeline/test_scored.py.
"""

import pytest

from nn.report import reproduction


@pytest.mark.parametrize(
    "seed, status",
    [
        ({"metrics": {"test_accuracy": 0.9}}, ("ok", "")),
        ({"metrics": None}, ("failed", "metrics.json is missing")),
        ({}, ("failed", "metrics.json is missing")),
        ({"metrics": {"status": "failed", "error": "diverged at epoch 3"}}, ("failed", "diverged at epoch 3")),
        ({"metrics": {"status": "failed"}}, ("failed", "unknown error")),
        ({"metrics": {"test_accuracy": "0.9"}}, ("failed", "metrics.json has no test_accuracy")),
    ],
)
def test_seed_status(seed, status):
    assert reproduction.seed_status(seed) == status


def test_scored_from_text():
    text = reproduction.scored_from_text({"run": "pitt-sigmoid-128", "round": 20})
    assert text == "scored from pitt-sigmoid-128 after round 20, not trained"


def test_a_history_cut_after_round_n_is_what_n_epochs_record():
    history = {
        "epoch": [1, 2, 3, 4],
        "val_loss": [0.5, 0.3, 0.3, 0.1],
        "test_accuracy": [0.8, 0.85, 0.86, 0.9],
        "stopped_early": True,
        "best_epoch": 4,
        "status": "ok",
    }
    cut = reproduction.first_rounds(history, 3)
    assert cut["epoch"] == [1, 2, 3] and cut["test_accuracy"] == [0.8, 0.85, 0.86]
    assert cut["best_epoch"] == 2  # the first lowest validation loss
    assert cut["stopped_early"] is False and "status" not in cut
    no_val = reproduction.first_rounds({"epoch": [1, 2, 3], "val_loss": None}, 2)
    assert no_val["best_epoch"] == 2  # without validation: the last epoch
    assert history["epoch"] == [1, 2, 3, 4]  # the parent's history untouched
