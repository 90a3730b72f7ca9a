"""Made-up runs, histories and figures for the report's tests (tests/report/) and the scripts' tests
(tests/workflow/test_scripts.py).

The fixtures are named `png` and `runs`; a test file that uses them imports `png_fixture` and
`runs_fixture` (pytest finds a fixture by the name it was given, ruff would take an imported `png`
for a name the tests' arguments redefine).
"""

import numpy as np
import pytest

from nn.report import figures as plots
from nn.report import html as report
from nn.report import reproduction

HOSTILE = '<script>alert("x")</script>'

HP = {
    "hidden": [16],
    "activation": "relu",
    "output": "softmax",
    "loss": "cross_entropy",
    "init": "he",
    "lr": 0.1,
    "schedule": "cosine",
    "lr_min": 0.0,
    "step_size": 10,
    "step_gamma": 0.1,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 0.0,
    "batch_size": 32,
    "epochs": 2,
    "shift": 1,
    "validation": 10,
    "early_stopping": 0,
    "seed": 1,
    "threads": 1,
    "dtype": "float32",
    "monitor_test": True,
    "replicates": 1,
    "reference": None,
}
HISTORY = {
    "epoch": [1, 2],
    "lr": [0.1, 0.05],
    "train_loss": [0.9, 0.5],
    "train_accuracy": [0.7, 0.8],
    "val_loss": [0.8, 0.7],
    "val_accuracy": [0.72, 0.78],
    "test_loss": [0.6, 0.4],
    "test_accuracy": [0.75, 0.74],
    "stopped_early": False,
    "best_epoch": 2,
}
LABELS = np.arange(20) % 10


def _metrics(acc):
    return {
        "test_accuracy": acc,
        "test_loss": 0.3,
        "confusion": [[1] * 10] * 10,
        "n_test": 10000,
        "per_class": [{"class": c, "precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4} for c in range(10)],
        "first_test_image": {"label": 7, "predicted": 7, "confidence": 0.9, "output": [0.01] * 10},
    }


def _png(path):
    plots.label_histogram(path, np.arange(10), np.arange(10))
    return path


@pytest.fixture(scope="module", name="png")
def png_fixture(tmp_path_factory):
    return _png(tmp_path_factory.mktemp("png") / "fig.png")


def _seed(seed, acc, status=None, error="training diverged at epoch 3, batch 7", n_right=None):
    metrics = None if acc is None else _metrics(acc)
    if status == "failed":
        metrics = {"status": "failed", "error": error}
    predictions = LABELS.copy()
    predictions[n_right if n_right is not None else 20 :] = (predictions[n_right or 20 :] + 1) % 10
    return {
        "seed": seed,
        "metrics": metrics,
        "history": HISTORY,
        "timings": {"total_seconds": 12.5, "epoch_seconds": [6.0, 6.5]},
        "predictions": predictions,
    }


def _run(name, accs, png, ref=None, **kw):
    return {
        "run": name,
        "hp": dict(HP, reference=ref, replicates=len(accs)),
        "seeds": [_seed(i + 1, a, **kw) for i, a in enumerate(accs)],
        "plots": {kind: png for kind, _ in report.RUN_FIGURES},
    }


@pytest.fixture(name="runs")
def runs_fixture(png):
    out = [
        _run(
            "low",
            [0.915, 0.92, 0.925],
            png,
            n_right=12,
            ref={
                "accuracy": 0.95,
                "source": "Nielsen ch. 1",
                "kind": "reproduction",
                "measure": "final_test",
                "notes": "we chose <this>",
                "evidence": "from code",
            },
        ),
        _run("high", [0.97], png, n_right=18),
        _run(
            HOSTILE,
            [0.93],
            png,
            ref={
                "accuracy": 0.9,
                "source": "<img src=x onerror=alert(1)>",
                "kind": "comparison",
                "measure": "peak_test",
            },
        ),
        _run("diverged", [0.0], png, status="failed", error="lr too high: <b>nan</b>"),
        _run("missing", [None], png),
    ]
    return {r["run"]: r for r in out}


def _reproduction(name, accs, png, **ref):
    return _run(name, accs, png, ref={"source": "s", "kind": "reproduction", "measure": "final_test", **ref})


SCORED_FROM = {"run": "parent", "round": 2}


def _parent_run(png):
    """A trained run of three rounds, three seeds, test accuracy after each round (monitor_test)."""
    run = _run("parent", [0.9, 0.91, 0.92], png, n_right=15)
    curves = [[0.5, 0.80, 0.9], [0.6, 0.82, 0.91], [0.55, 0.84, 0.92]]
    for seed, curve in zip(run["seeds"], curves):
        seed["history"] = {
            "epoch": [1, 2, 3],
            "lr": [0.1] * 3,
            "train_loss": [0.9, 0.5, 0.4],
            "train_accuracy": [0.7, 0.8, 0.85],
            "val_loss": [0.8, 0.6, 0.7],
            "val_accuracy": [0.7, 0.8, 0.79],
            "test_loss": [0.7, 0.5 + seed["seed"] / 100, 0.3],
            "test_accuracy": curve,
            "stopped_early": False,
            "best_epoch": 2,
        }
    return run


def _scored_row(parent, seeds=(1, 2, 3), accuracy=0.83):
    hp = dict(
        parent["hp"],
        epochs=2,
        replicates=len(seeds),
        scored_from=SCORED_FROM,
        reference={
            "accuracy": accuracy,
            "source": "s",
            "kind": "reproduction",
            "measure": "final_test",
            "protocol": "as parent, after 2 rounds",
        },
    )
    return reproduction.scored_run("scored", hp, list(seeds), parent, n_test=10000)
