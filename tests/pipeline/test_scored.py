"""A row scored_from another run (config `scored_from`) trains nothing: its figure is the other run's
test accuracy after round N, read from that run's history. These tests show that this is exactly
what a separate N-round training of the same hyperparameters and seed gives, measured as the
evaluate rule measures it (workflow/scripts/evaluate.py on the saved model)."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import tiny_digits
from helpers import assert_refused_in_one_line, load
from nn import fileio, serialize
from nn.pipeline import config as nnconfig
from nn.pipeline.hparams import train_run
from nn.report import reproduction
from nn.pipeline import scored

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
ROUND = 3

# Two parents: the notebook's sigmoid network on raw pixels (float64, quadratic cost, not fused), and
# one that draws from its Generator every step (shuffles, shifts, dropout masks) with momentum, L2,
# a step schedule, a validation split and a fused softmax cross-entropy, in float32.
PARENTS = {
    "notebook": {
        "hidden": [16],
        "activation": "sigmoid",
        "output": "sigmoid",
        "loss": "quadratic",
        "init": "plain",
        "init_scale": 0.03,
        "inputs": "raw",
        "dtype": "float64",
        "lr": 2.0,
        "batch_size": 100,
        "epochs": 6,
        "validation": 0,
    },
    "drawing": {
        "hidden": [24, 12],
        "activation": "relu",
        "output": "softmax",
        "loss": "cross_entropy",
        "lr": 0.005,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "schedule": "step",
        "step_size": 2,
        "step_gamma": 0.5,
        "dropout": 0.2,
        "shift": 1,
        "batch_size": 32,
        "epochs": 5,
        "validation": 100,
    },
}


def scored_config(parent: dict) -> dict:
    """A config whose run `parent` trains two seeds with the test set monitored, and `row` is scored
    from it after ROUND rounds."""
    return {
        "download": {
            "mirrors": [],
            "sha256": {
                n: "0" * 64
                for n in (
                    "train-images-idx3-ubyte",
                    "train-labels-idx1-ubyte",
                    "t10k-images-idx3-ubyte",
                    "t10k-labels-idx1-ubyte",
                )
            },
        },
        "defaults": {"seed": 5},
        "runs": {
            "parent": {**parent, "monitor_test": True, "replicates": 2},
            "row": {"scored_from": {"run": "parent", "round": ROUND}},
        },
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny learnable digits, and the test set as .npy files for the evaluate script."""
    folder = tmp_path_factory.mktemp("data")
    train, test = tiny_digits(600, seed=1), tiny_digits(200, seed=2)
    paths = {"test_images": str(folder / "test-images.npy"), "test_labels": str(folder / "test-labels.npy")}
    fileio.save_npy(paths["test_images"], test[0])
    fileio.save_npy(paths["test_labels"], test[1])
    return train, test, paths


def evaluate(model, history, hp, run, seed, paths, folder) -> dict:
    """metrics.json of `model` as the evaluate rule writes it: the model saved, then
    workflow/scripts/evaluate.py run on it with a stand-in `snakemake` object."""
    folder.mkdir(parents=True)
    serialize.save(model, folder / "model.npz")
    fileio.write_json(folder / "history.json", history)
    out = {
        "metrics": str(folder / "metrics.json"),
        "confusion_csv": str(folder / "confusion.csv"),
        "predictions": str(folder / "test-predictions.npy"),
    }
    fake = SimpleNamespace(
        log=[str(folder / "evaluate.log")],
        rule="evaluate",
        input=SimpleNamespace(model=str(folder / "model.npz"), history=str(folder / "history.json"), **paths),
        output=SimpleNamespace(**out),
        params=SimpleNamespace(k=4, hp=hp),
        wildcards=SimpleNamespace(run=run, seed=str(seed)),
    )
    runpy.run_path(
        str(REPO / "workflow" / "scripts" / "evaluate.py"), init_globals={"snakemake": fake}, run_name="__main__"
    )
    return fileio.read_json(out["metrics"])


@pytest.mark.parametrize("kind", list(PARENTS))
def test_the_figure_read_from_the_parents_history_is_a_separate_training_of_that_many_rounds(kind, data, tmp_path):
    (images, labels), test, paths = data
    _, runs, _ = nnconfig.load(scored_config(PARENTS[kind]), SCHEMA)
    parent, row = runs["parent"], runs["row"]
    assert row["epochs"] == ROUND < parent["epochs"] and nnconfig.seeds(row) == nnconfig.seeds(parent) == [5, 6]
    figures = []
    for seed in nnconfig.seeds(row):
        _, history, _ = train_run(nnconfig.seed_hparams(parent, seed), images, labels, log=lambda line: None, test=test)
        alone_hp = nnconfig.seed_hparams(row, seed)  # what a training job of the row would be given
        model, alone, _ = train_run(alone_hp, images, labels, log=lambda line: None, test=test)
        metrics = evaluate(model, alone, alone_hp, "row", seed, paths, tmp_path / f"seed-{seed}")
        assert metrics["test_accuracy"] == history["test_accuracy"][ROUND - 1]
        assert alone == reproduction.first_rounds(history, ROUND)  # every figure of every round, bit for bit
        # and what the report makes of the parent's history
        scored = reproduction.scored_seed({"seed": seed, "history": history}, seed, row["scored_from"], len(test[1]))
        assert scored["metrics"]["test_accuracy"] == metrics["test_accuracy"]
        assert scored["metrics"]["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-6)
        assert scored["metrics"]["n_test"] == metrics["n_test"]
        figures.append((metrics["test_accuracy"], history["test_accuracy"][-1]))
    # a test worth its name: the networks learn, and the figure after round ROUND is not the parent's final one
    assert any(after < final for after, final in figures), figures


def test_a_schedule_that_depends_on_the_epochs_would_give_other_rounds(data):
    """Why the config refuses linear and cosine: the first rounds of a longer run are not a short run's."""
    (images, labels), test, _ = data
    parent = dict(PARENTS["notebook"], schedule="linear", lr_min=0.0)
    with pytest.raises(nnconfig.ConfigError, match=r"runs.row.scored_from.run: parent's schedule linear depends"):
        nnconfig.load(scored_config(parent), SCHEMA)
    cfg = scored_config(dict(parent, schedule="constant"))
    _, runs, _ = nnconfig.load(cfg, SCHEMA)
    long_hp = dict(nnconfig.seed_hparams(runs["parent"], 5), schedule="linear")
    short_hp = dict(long_hp, epochs=ROUND)
    _, long_run, _ = train_run(long_hp, images, labels, log=lambda line: None, test=test)
    _, short_run, _ = train_run(short_hp, images, labels, log=lambda line: None, test=test)
    assert long_run["lr"][:ROUND] != short_run["lr"] and long_run["train_loss"][1] != short_run["train_loss"][1]


SCORED = "pitt-sigmoid-128-20-rounds"


def test_a_scored_row_is_its_parents_first_rounds(cfg):
    """config.yaml's 20-round row states only what it needs and takes the rest from pitt-sigmoid-128."""
    _, runs, _ = load(cfg)
    row, parent = runs[SCORED], runs["pitt-sigmoid-128"]
    assert row["scored_from"] == {"run": "pitt-sigmoid-128", "round": 20}
    assert nnconfig.scored_from(row) and not nnconfig.scored_from(parent)
    assert SCORED not in nnconfig.trained(runs) and "pitt-sigmoid-128" in nnconfig.trained(runs)
    assert row["epochs"] == 20 and row["reference"]["accuracy"] == 0.8909
    assert nnconfig.seeds(row) == nnconfig.seeds(parent)
    # what a separate 20-round training of each seed would be given
    for seed in nnconfig.seeds(row):
        assert nnconfig.seed_hparams(row, seed) == nnconfig.seed_hparams(dict(parent, epochs=20), seed)
    assert list(runs).index(SCORED) == list(runs).index("pitt-sigmoid-128") + 1  # config order kept


def test_a_scored_row_may_state_its_parents_values_and_fewer_seeds_and_a_step_schedule(cfg):
    cfg["runs"][SCORED].update(lr=2, epochs=20, monitor_test=True, replicates=3)
    _, runs, _ = load(cfg)
    assert runs[SCORED]["replicates"] == 3 and runs[SCORED]["lr"] == 2.0
    cfg["runs"]["pitt-sigmoid-128"].update(schedule="step", step_size=10, step_gamma=0.5)
    _, runs, _ = load(cfg)  # step's first rates do not depend on the number of epochs
    assert runs[SCORED]["schedule"] == "step"


def _scored(**over):
    return lambda c: c["runs"][SCORED].update(**over)


def _parent(**over):
    return lambda c: c["runs"]["pitt-sigmoid-128"].update(**over)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (_scored(scored_from={"run": "nope", "round": 20}), f"runs.{SCORED}.scored_from.run: 'nope' is not a run"),
        (
            lambda c: c["runs"].update(again={"scored_from": {"run": SCORED, "round": 10}}),
            f"runs.again.scored_from.run: '{SCORED}' is itself scored_from 'pitt-sigmoid-128' and trains nothing",
        ),
        (
            _parent(monitor_test=False),
            f"runs.{SCORED}.scored_from.run: pitt-sigmoid-128 has no monitor_test, "
            "so its history holds no test accuracy",
        ),
        (
            _scored(scored_from={"run": "pitt-sigmoid-128", "round": 101}),
            f"runs.{SCORED}.scored_from.round: 101 is past pitt-sigmoid-128's 100 epochs",
        ),
        (
            _scored(scored_from={"run": "pitt-sigmoid-128", "round": 0}),
            f"runs.{SCORED}.scored_from.round: 0 is less than the minimum of 1",
        ),
        (
            _scored(scored_from={"run": "pitt-sigmoid-128"}),
            f"runs.{SCORED}.scored_from: 'round' is a required property",
        ),
        (
            _scored(scored_from={"run": "pitt-relu-128-as-published", "round": 20}),
            f"runs.{SCORED}.scored_from.run: pitt-relu-128-as-published's schedule linear depends on its epochs "
            "(epoch 2: lr 0.989899 of 100 epochs, 0.947368 of 20)",
        ),
        (
            _parent(schedule="cosine", lr_min=0.1),
            f"runs.{SCORED}.scored_from.run: pitt-sigmoid-128's schedule cosine depends on its epochs",
        ),
        (
            _parent(validation=10000, early_stopping=5),
            f"runs.{SCORED}.scored_from.run: pitt-sigmoid-128 stops early (early_stopping 5)",
        ),
        (
            _scored(replicates=9),
            f"runs.{SCORED}.replicates: 9, but pitt-sigmoid-128 trains 8 seeds; a row scored from it has at most those",
        ),
        (
            _scored(lr=0.5),
            f"runs.{SCORED}.lr: 0.5, but pitt-sigmoid-128's is 2.0; a row scored_from pitt-sigmoid-128 is its first "
            "rounds and trains nothing (leave lr out)",
        ),
        (_scored(seed=2), f"runs.{SCORED}.seed: 2, but pitt-sigmoid-128's is 1"),
        (_scored(epochs=30), f"runs.{SCORED}.epochs: 30, but it is scored after round 20 (leave epochs out)"),
        (
            lambda c: c["runs"][SCORED]["reference"].update(measure="final_test_subset"),
            f"runs.{SCORED}.reference.measure: final_test_subset is evaluate's figure of a trained model",
        ),
        (
            lambda c: c["comparisons"].append([SCORED, "pitt-sigmoid-128"]),
            f"comparisons[4]: '{SCORED}' is scored_from 'pitt-sigmoid-128' and has no test predictions of its own",
        ),
        (
            lambda c: c.update(predict_dir="digits", predict_run=SCORED),
            f"predict_run: '{SCORED}' is scored_from 'pitt-sigmoid-128' and has no model of its own",
        ),
        (
            lambda c: c["sweeps"]["width"]["base"].update(scored_from={"run": "best", "round": 2}),
            "sweeps.width.base.scored_from: only a row of runs: can be scored from another run",
        ),
        (
            lambda c: c["runs"].update(late={"scored_from": {"run": "simard-800-plain", "round": 2}}),
            "runs.late.scored_from.run: 'simard-800-plain' is not a run trained here: it is marked `extra: true`",
        ),
    ],
)
def test_a_scored_row_that_would_not_be_its_parents_first_rounds_is_refused(cfg, edit, expected):
    assert_refused_in_one_line(cfg, edit, expected)


def test_the_runs_that_train_are_those_not_scored_from_another():
    runs = {"parent": {"epochs": 30}, "child": {"scored_from": {"run": "parent", "round": 20}}, "other": {}}
    assert scored.scored_from(runs["child"]) == {"run": "parent", "round": 20}
    assert scored.scored_from(runs["parent"]) is None
    assert list(scored.trained(runs)) == ["parent", "other"]
