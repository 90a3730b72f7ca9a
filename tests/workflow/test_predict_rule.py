"""The predict rule through Snakemake: a folder of images classified by a run's model, in
results/predictions.csv and .png (nn-predict's library side is tests/predict/test_cli.py)."""

from __future__ import annotations

import csv
import io
import os

import pytest

from conftest import REPO, Workflow
from digits import BAD, GOOD, ring, seven, write_grey
from nn.model import mlp
from nn.serialize import save


SNAKEFILE = f"""
import os, re, sys
sys.path.insert(0, {str(REPO)!r})
from nn.pipeline import config as nnconfig
HP = {{"seed": 1, "replicates": 1, "monitor_test": False, "threads": 1, "epochs": 1, "hidden": [16],
      "activation": "relu", "output": "softmax", "loss": "cross_entropy", "dtype": "float32",
      "batch_size": 32, "validation": 0}}
RUNS = {{"best": HP, "wide": HP}}
config.setdefault("numerics", "pinned")   # what the schema's default gives the real Snakefile
include: {str(REPO / "workflow" / "rules" / "common.smk")!r}
include: {str(REPO / "workflow" / "rules" / "train.smk")!r}
include: {str(REPO / "workflow" / "rules" / "predict.smk")!r}
rule all:
    input: PREDICT_TARGETS
"""


@pytest.fixture
def predict_workflow(tmp_path, model_path, mixed_folder):
    work = tmp_path / "work"
    (work / "results" / "runs" / "best" / "seed-1").mkdir(parents=True)
    (work / "results" / "runs" / "best" / "seed-1" / "model.npz").write_bytes(model_path.read_bytes())
    (mixed_folder / "ignored.txt").write_text("not an image name\n")
    (mixed_folder / "folder.png").mkdir()
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    return Workflow(work, {"predict_dir": str(mixed_folder), "predict_run": "best"}, snakefile=tmp_path / "Snakefile")


@pytest.mark.slow
def test_rule_classifies_a_mixed_folder(predict_workflow):
    wf = predict_workflow
    wf.run("--cores", "1")
    rows = list(csv.DictReader(io.StringIO(wf.path("results/predictions.csv").read_text())))
    assert [r["file"] for r in rows] == GOOD + BAD  # sorted, images only
    assert [bool(r["error"]) for r in rows] == [False] * 3 + [True] * 3
    log = wf.path("results/logs/predict.log").read_text()
    assert "3 classified, 3 could not be: d-notes.png, e-blank.png, f-huge.png" in log
    assert "d-notes.png: error: not a PNG or JPEG image" in log
    first = {p: wf.path(p).read_bytes() for p in ("results/predictions.csv", "results/predictions.png")}
    for p in first:
        wf.path(p).unlink()
    wf.run("--cores", "1")
    assert first == {p: wf.path(p).read_bytes() for p in first}  # same inputs, same bytes
    again = wf.run("--cores", "1")
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout + again.stderr


@pytest.mark.slow
def test_rule_fails_on_a_bad_model_and_leaves_nothing(predict_workflow):
    wf = predict_workflow
    wf.path("results/runs/best/seed-1/model.npz").write_text("not a model")
    proc = wf.run("--cores", "1", check=False)
    assert proc.returncode != 0
    assert "error in rule predict: results/runs/best/seed-1/model.npz: not a readable model .npz" in proc.stderr
    assert not wf.path("results/predictions.csv").exists() and not wf.path("results/predictions.png").exists()


@pytest.mark.slow
def test_rule_refuses_a_model_of_another_run_in_one_line(predict_workflow):
    """The model file of predict_run must have the architecture its hyperparameters describe."""
    wf = predict_workflow
    save(
        mlp([784, 32, 10], activation="relu", output="softmax", init="he", rng=5),
        wf.path("results/runs/best/seed-1/model.npz"),
    )
    proc = wf.run("--cores", "1", check=False)
    assert proc.returncode != 0
    line = next(line for line in proc.stderr.splitlines() if line.startswith("error in rule predict:"))
    assert line.startswith(
        "error in rule predict: results/runs/best/seed-1/model.npz: this model is Linear(784->32) relu"
    )
    assert "but run best's hyperparameters describe Linear(784->16) relu Linear(16->10)" in line, line
    assert not wf.path("results/predictions.csv").exists() and not wf.path("results/predictions.png").exists()


@pytest.mark.slow
def test_rule_config(predict_workflow, tmp_path):
    wf = predict_workflow
    wf.write_config({"predict_dir": None})
    training = ["train_0_1", "train_1_1"]  # one block of one seed per run
    assert wf.run("--list-rules").stdout.split() == ["all", *training]  # no folder, no rule, no targets
    wf.write_config({"predict_dir": str(tmp_path)})
    assert sorted(wf.run("--list-rules").stdout.split()) == ["all", "predict", *training]
    wf.write_config({"predict_dir": str(tmp_path / "nowhere")})
    proc = wf.run("--cores", "1", "-n", check=False)
    assert proc.returncode != 0 and f"predict_dir: {tmp_path / 'nowhere'} is not a folder" in proc.stderr
    wf.write_config({"predict_dir": str(tmp_path), "predict_run": "tiny"})
    proc = wf.run("--cores", "1", "-n", check=False)
    assert proc.returncode != 0 and "predict_run: 'tiny' is not a run (runs: best, wide)" in proc.stderr


ODD_NAMES = [
    "{run}.png",
    "{run,\\d+}.png",
    "a{{b.png",
    "}.png",
    "x{.png",
    "sp ace.png",
    "q'uote.png",
    "-dash.png",
    "ü.png",
    "*.png",
    "[a].png",
    "new\nline.png",
]


@pytest.mark.slow
def test_rule_takes_any_file_name(predict_workflow, mixed_folder):
    """Names Snakemake would read as wildcards or cannot write to its lock file, a FIFO, a dangling link."""
    wf = predict_workflow
    for name in ODD_NAMES:
        write_grey(mixed_folder / name, 1 - seven())
    write_grey(os.fsencode(mixed_folder) + b"/bad\xff.png", 1 - seven())  # not UTF-8
    os.mkfifo(mixed_folder / "pipe.png")
    os.symlink(mixed_folder / "gone", mixed_folder / "dangling.png")
    wf.run("--cores", "1")
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(wf.path("results/predictions.csv").read_text()))}
    shown = [n.replace("\n", " ") for n in ODD_NAMES] + ["bad\ufffd.png"]
    assert set(rows) == set(GOOD + BAD + shown + ["pipe.png", "dangling.png"])
    assert all(rows[n]["predicted"] == rows["a-seven.png"]["predicted"] and not rows[n]["error"] for n in shown)
    assert rows["pipe.png"]["error"] == "not a regular file (a FIFO); refusing to read it"
    assert rows["dangling.png"]["error"] == "no such file"
    again = wf.run("--cores", "1")
    assert "Nothing to be done" in again.stdout + again.stderr
    write_grey(mixed_folder / "{run}.png", 1 - ring())  # a new image, same name
    os.utime(mixed_folder / "{run}.png", ns=(1, 10**18))
    rerun = wf.run("--cores", "1")
    assert "Nothing to be done" not in rerun.stdout + rerun.stderr
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(wf.path("results/predictions.csv").read_text()))}
    assert rows["{run}.png"]["predicted"] == rows["b-ring.JPG"]["predicted"]
