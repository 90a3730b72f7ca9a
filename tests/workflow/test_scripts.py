"""workflow/scripts/*.py (plot_data, evaluate, plot_run, report) run in process, as Snakemake would run
them, with a stand-in `snakemake` object: their inputs and outputs, logs and refusals.

(That Snakemake really runs them so is the workflow tests' job; the report they write, nn.report.html:
tests/report/test_html.py.)
"""

import csv
import json
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from report_data import HISTORY, HP, LABELS, _parent_run, _scored_row, png_fixture  # noqa: F401 (the fixture png)

from nn import fileio
from nn.report import recipes

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "workflow" / "scripts"


def _script(name, tmp_path, **fields):
    """Run workflow/scripts/<name>.py as Snakemake would, with a stand-in `snakemake` object."""
    log = tmp_path / "logs" / f"{name}.log"
    fields = {"params": SimpleNamespace(), "wildcards": SimpleNamespace(), **fields}
    fake = SimpleNamespace(
        log=[str(log)], rule=name, **{k: SimpleNamespace(**v) if isinstance(v, dict) else v for k, v in fields.items()}
    )
    runpy.run_path(str(SCRIPTS / f"{name}.py"), init_globals={"snakemake": fake}, run_name="__main__")
    return log.read_text()


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """Learnable fake digits (class k lights a block at a class-specific place) as .npy files."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    paths = {}
    for split, n in (("train", 200), ("test", 60)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28), dtype=np.uint8)
        for k in range(10):
            images[labels == k, 2 + 8 * (k // 4) : 8 + 8 * (k // 4), 2 + 6 * (k % 4) : 8 + 6 * (k % 4)] = 255
        for what, arr in (("images", images), ("labels", labels)):
            paths[f"{split}_{what}"] = str(folder / f"{split}-{what}.npy")
            fileio.save_npy(paths[f"{split}_{what}"], arr)
    return paths


def test_plot_data_script(tiny_data, tmp_path):
    out = {k: str(tmp_path / f"{k}.png") for k in ("first_ten", "class_means", "label_histogram", "distortions")}
    log = _script(
        "plot_data",
        tmp_path,
        input=tiny_data,
        output=out,
        params={"distortions": ("best", {"shift": 2, "rotate": 10.0})},
    )
    assert "200 training and 60 test images" in log
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in out.values())


def failed_with(exit_info, capsys, pattern: str) -> None:
    """The job ended as an expected error does: status 1, its one line on stderr (_common.run)."""
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and re.search(pattern, err), err


def test_plot_data_script_rejects_bad_labels(tiny_data, tmp_path, capsys):
    bad = dict(tiny_data, test_labels=str(tmp_path / "bad.npy"))
    fileio.save_npy(bad["test_labels"], np.full(60, 12, np.uint8))
    out = {k: str(tmp_path / f"{k}.png") for k in ("first_ten", "class_means", "label_histogram", "distortions")}
    with pytest.raises(SystemExit) as e:
        _script("plot_data", tmp_path, input=bad, output=out, params={"distortions": (None, {})})
    failed_with(e, capsys, r"bad\.npy: label 12")


@pytest.fixture(scope="module")
def evaluated(tiny_data, tmp_path_factory):
    """evaluate.py on a real (untrained) model: one seed folder as the pipeline would leave it."""
    from nn import model, serialize

    folder = tmp_path_factory.mktemp("runs") / "runs" / "tiny" / "seed-1"
    folder.mkdir(parents=True)
    serialize.save(model.mlp([784, 8, 10], activation="relu", output="softmax", init="he", rng=0), folder / "model.npz")
    fileio.write_json(folder / "history.json", HISTORY)
    fileio.write_json(folder / "timings.json", {"total_seconds": 1.5, "epoch_seconds": [0.7, 0.8]})
    out = {
        "metrics": str(folder / "metrics.json"),
        "confusion_csv": str(folder / "confusion.csv"),
        "predictions": str(folder / "test-predictions.npy"),
    }
    inp = {
        "model": str(folder / "model.npz"),
        "history": str(folder / "history.json"),
        "test_images": tiny_data["test_images"],
        "test_labels": tiny_data["test_labels"],
    }
    log = _script(
        "evaluate",
        folder.parent.parent,
        input=inp,
        output=out,
        params=SimpleNamespace(k=5, hp=dict(HP, hidden=[8])),
        wildcards=SimpleNamespace(run="tiny", seed="1"),
    )
    return folder, out, log


def test_evaluate_script(evaluated, tiny_data):
    folder, out, log = evaluated
    m = fileio.read_json(out["metrics"])
    assert m["run"] == "tiny" and m["seed"] == 1 and m["n_test"] == 60 and 0 <= m["test_accuracy"] <= 1
    assert len(m["worst_errors"]) == len(m["near_misses"]) == 5
    assert f"test accuracy {m['test_accuracy']:.4f}" in log
    cm = np.loadtxt(out["confusion_csv"], delimiter=",", skiprows=1, dtype=np.int64)[:, 1:]
    assert cm.tolist() == m["confusion"] and cm.sum() == 60
    predicted = fileio.load_npy(out["predictions"])
    labels = fileio.load_npy(tiny_data["test_labels"])
    assert predicted.dtype == np.uint8 and predicted.shape == (60,)
    assert np.mean(predicted == labels) == m["test_accuracy"]


def test_plot_run_script(evaluated, tiny_data, tmp_path):
    folder, out, _ = evaluated
    figures = {
        k: str(tmp_path / f"{k}.png")
        for k in ("confusion_png", "curves", "predictions", "worst_errors", "near_misses", "first_output")
    }
    inp = {
        "model": str(folder / "model.npz"),
        "history": str(folder / "history.json"),
        "metrics": out["metrics"],
        "test_images": tiny_data["test_images"],
        "test_labels": tiny_data["test_labels"],
    }
    log = _script(
        "plot_run",
        tmp_path,
        input=inp,
        output=figures,
        params=SimpleNamespace(k=5, seed=1, hp=dict(HP, hidden=[8])),
        wildcards=SimpleNamespace(run="tiny"),
    )
    assert "run tiny (seed 1): 6 figures" in log
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in figures.values())


def test_evaluate_script_scales_as_the_run_and_scores_its_subset(evaluated, tiny_data, tmp_path):
    from nn import serialize
    from nn.mnist.data import to_inputs

    folder, out, _ = evaluated
    inp = {
        "model": str(folder / "model.npz"),
        "history": str(folder / "history.json"),
        "test_images": tiny_data["test_images"],
        "test_labels": tiny_data["test_labels"],
    }
    again = {k: str(tmp_path / "again" / Path(v).name) for k, v in out.items()}
    _script(
        "evaluate",
        tmp_path,
        input=inp,
        output=again,
        params=SimpleNamespace(k=5, hp=dict(HP, hidden=[8], inputs="unit", test_subset=0)),
        wildcards=SimpleNamespace(run="tiny", seed="1"),
    )
    assert Path(again["metrics"]).read_bytes() == Path(out["metrics"]).read_bytes()  # the defaults: today's bytes
    elsewhere = {k: str(tmp_path / "raw" / Path(v).name) for k, v in out.items()}
    log = _script(
        "evaluate",
        tmp_path,
        input=inp,
        output=elsewhere,
        params=SimpleNamespace(k=5, hp=dict(HP, hidden=[8], inputs="raw", test_subset=20)),
        wildcards=SimpleNamespace(run="tiny", seed="1"),
    )
    m = fileio.read_json(elsewhere["metrics"])
    images, labels = fileio.load_npy(tiny_data["test_images"]), fileio.load_npy(tiny_data["test_labels"])
    (predicted,) = (
        serialize.load(folder / "model.npz").predict_proba(to_inputs(images, scaling="raw")).argmax(axis=-1)
    )  # one network
    np.testing.assert_array_equal(fileio.load_npy(elsewhere["predictions"]), predicted)
    assert m["test_subset"] == 20 and m["test_accuracy_subset"] == np.mean(predicted[:20] == labels[:20])
    assert m["test_accuracy"] == np.mean(predicted == labels) and m["n_test"] == 60
    assert f"on the first 20 test images {m['test_accuracy_subset']:.4f}" in log


def test_evaluate_script_rejects_bad_history(evaluated, tiny_data, tmp_path, capsys):
    folder, out, _ = evaluated
    bad = tmp_path / "history.json"
    bad.write_text(json.dumps({"epoch": [1]}))
    inp = {
        "model": str(folder / "model.npz"),
        "history": str(bad),
        "test_images": tiny_data["test_images"],
        "test_labels": tiny_data["test_labels"],
    }
    elsewhere = {k: str(tmp_path / Path(v).name) for k, v in out.items()}
    with pytest.raises(SystemExit) as e:
        _script(
            "evaluate",
            tmp_path,
            input=inp,
            output=elsewhere,
            params=SimpleNamespace(k=5, hp=dict(HP, hidden=[8])),
            wildcards=SimpleNamespace(run="tiny", seed="1"),
        )
    failed_with(e, capsys, "history.json: a history needs the lists")
    assert not any(Path(p).exists() for p in elsewhere.values())


def test_evaluate_script_refuses_a_model_of_another_run(evaluated, tiny_data, tmp_path, capsys):
    folder, out, _ = evaluated
    inp = {
        "model": str(folder / "model.npz"),
        "history": str(folder / "history.json"),
        "test_images": tiny_data["test_images"],
        "test_labels": tiny_data["test_labels"],
    }
    elsewhere = {k: str(tmp_path / Path(v).name) for k, v in out.items()}
    with pytest.raises(SystemExit) as e:
        _script(
            "evaluate",
            tmp_path,
            input=inp,
            output=elsewhere,
            params=SimpleNamespace(k=5, hp=dict(HP, hidden=[32])),
            wildcards=SimpleNamespace(run="tiny", seed="1"),
        )
    failed_with(
        e,
        capsys,
        r"model.npz: this model is Linear\(784->8\) relu Linear\(8->10\) softmax, "
        r"cross_entropy, float32, but run tiny's hyperparameters describe "
        r"Linear\(784->32\) relu",
    )
    assert not any(Path(p).exists() for p in elsewhere.values())


def test_report_script(evaluated, tiny_data, png, tmp_path):
    folder, out, _ = evaluated
    failed = tmp_path / "runs" / "broken" / "seed-1"
    fileio.write_json(failed / "metrics.json", {"status": "failed", "error": "diverged"})
    report_dir = tmp_path / "report"
    outputs = {
        "html": str(tmp_path / "report.html"),
        "summary": str(tmp_path / "summary.csv"),
        "seeds": str(tmp_path / "seeds.csv"),
        "timings": str(tmp_path / "timings.csv"),
        "ledger": str(tmp_path / "ledger.md"),
        "provenance": str(tmp_path / "provenance.json"),
        "val_curves": str(report_dir / "val_curves.png"),
        "comparison": str(report_dir / "comparison.png"),
        "recipes": str(report_dir / "recipes.png"),
        "sweep_plots": [str(report_dir / "sweep-width.png")],
        "curve_plots": [str(report_dir / "published-tiny.png")],
    }
    inputs = {
        "metrics": [out["metrics"], str(failed / "metrics.json")],
        "histories": [str(folder / "history.json"), str(failed / "history.json")],
        "timings": [str(folder / "timings.json"), str(failed / "timings.json")],
        "predictions": [out["predictions"], str(failed / "test-predictions.npy")],
        "figures": [str(folder.parent / "curves.png"), str(failed.parent / "curves.png")],
        "train_costs": [],
        "test_labels": tiny_data["test_labels"],
        "first_ten": str(png),
        "class_means": str(png),
        "label_histogram": str(png),
    }
    ref = {
        "accuracy": 0.5,
        "source": "a test",
        "kind": "reproduction",
        "measure": "final_test",
        "curves": {"test_accuracy": {"epochs": [1, 2], "values": [0.5, 0.6]}},
    }
    params = SimpleNamespace(
        seeds={"tiny": [1], "broken": [1]},
        runs={"tiny": dict(HP, reference=ref), "broken": HP},
        sweeps={"width": {"keys": ["hidden"], "runs": {"tiny": {"hidden": [8]}, "broken": {"hidden": [4]}}}},
        comparisons=[],
        curve_runs=["tiny"],
        config={"runs": {"tiny": {}, "broken": {}}},
        checksums={"t10k-labels-idx1-ubyte": "cd" * 32},
        recipes=dict(enumerate(recipes.load(REPO / "benchmarks" / "recipes.jsonl"))),
    )
    log = _script("report", tmp_path, input=inputs, output=outputs, params=params)
    html = Path(outputs["html"]).read_text()
    assert "Best run: <b>tiny</b>" in html and "failed: seed 1: diverged" in html and "cd" * 32 in html
    assert "numpy" in html and "2 runs" in html and "1 with failures" in log
    with open(outputs["summary"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["tiny", "broken"] and rows[1]["status"] == "failed"
    with open(outputs["timings"], newline="") as f:
        times = list(csv.DictReader(f))
    assert [(r["run"], r["train_seconds"], r["epoch_seconds"]) for r in times] == [
        ("tiny", "1.5", "0.7 0.8"),
        ("broken", "", ""),
    ]
    assert Path(outputs["ledger"]).read_text().splitlines()[4].startswith("| tiny | a test |")
    for p in [
        outputs["val_curves"],
        outputs["comparison"],
        outputs["recipes"],
        *outputs["sweep_plots"],
        *outputs["curve_plots"],
    ]:
        assert Path(p).read_bytes()[:4] == b"\x89PNG"
    assert "recipes.jsonl" in html
    # the numerics the jobs ran with, for nn-verify and a user comparing machines
    machine = json.loads(Path(outputs["provenance"]).read_text())
    n = machine["numerics"]
    assert len(n["fingerprint"]) == 16 and n["blas"]["corename"] and n["numpy_dispatch"]["active"]
    assert f"fingerprint <code>{n['fingerprint']}</code>" in html
    assert {"versions", "lock_sha256", "git_commit", "platform"} <= set(machine)


def test_report_script_builds_a_scored_row_from_its_sources_files(png, tmp_path):
    """workflow/scripts/report.py: the trained run's per-seed files are its inputs; the scored row has none."""
    parent = _parent_run(png)
    inputs = {k: [] for k in ("metrics", "histories", "timings", "predictions")}
    for s in parent["seeds"]:
        folder = tmp_path / "runs" / "parent" / f"seed-{s['seed']}"
        for key, name, value in (
            ("metrics", "metrics.json", s["metrics"]),
            ("histories", "history.json", s["history"]),
            ("timings", "timings.json", s["timings"]),
        ):
            fileio.write_json(folder / name, value)
            inputs[key].append(str(folder / name))
        fileio.save_npy(folder / "test-predictions.npy", s["predictions"].astype(np.uint8))
        inputs["predictions"].append(str(folder / "test-predictions.npy"))
    labels = tmp_path / "test-labels.npy"
    fileio.save_npy(labels, LABELS.astype(np.uint8))
    inputs.update(
        figures=[str(tmp_path / "runs" / "parent" / "curves.png")],
        test_labels=str(labels),
        train_costs=[],
        first_ten=str(png),
        class_means=str(png),
        label_histogram=str(png),
    )
    scored = _scored_row(parent)["hp"]
    outputs = {
        k: str(tmp_path / "out" / f)
        for k, f in (
            ("html", "report.html"),
            ("summary", "summary.csv"),
            ("seeds", "seeds.csv"),
            ("timings", "timings.csv"),
            ("ledger", "ledger.md"),
            ("provenance", "provenance.json"),
            ("val_curves", "val_curves.png"),
            ("comparison", "comparison.png"),
            ("recipes", "recipes.png"),
        )
    }
    outputs.update(sweep_plots=[], curve_plots=[])
    params = SimpleNamespace(
        seeds={"scored": [1, 2, 3], "parent": [1, 2, 3]},  # a row may come before its source
        runs={"scored": scored, "parent": parent["hp"]},
        sweeps={},
        comparisons=[],
        curve_runs=[],
        config={},
        checksums={},
        recipes={},
    )
    log = _script("report", tmp_path, input=inputs, output=outputs, params=params)
    assert "scored: scored from parent after round 2, not trained" in log
    with open(outputs["seeds"], newline="") as f:
        seeds = [(r["run"], r["seed"], r["test_accuracy"], r["epochs_run"]) for r in csv.DictReader(f)]
    assert seeds[:3] == [("scored", "1", "0.8", "2"), ("scored", "2", "0.82", "2"), ("scored", "3", "0.84", "2")]
    with open(outputs["timings"], newline="") as f:
        assert [r["run"] for r in csv.DictReader(f)] == ["parent"] * 3
    with open(outputs["summary"], newline="") as f:
        summary = {r["run"]: r for r in csv.DictReader(f)}
    assert summary["scored"]["test_accuracies"] == "0.8 0.82 0.84" and summary["scored"]["verdict"]
    assert "none: scored from parent after round 2, not trained" in Path(outputs["html"]).read_text()
