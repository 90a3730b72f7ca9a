"""The HTML report and summary.csv, and the three scripts (plot_data, evaluate, report) run in-process."""
import csv
import json
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nn import fileio, plots, report

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
HOSTILE = '<script>alert("x")</script>'

HP = {"hidden": [16], "activation": "relu", "output": "softmax", "loss": "cross_entropy", "init": "he",
      "lr": 0.1, "schedule": "cosine", "lr_min": 0.0, "step_size": 10, "step_gamma": 0.1, "momentum": 0.9,
      "nesterov": False, "weight_decay": 0.0, "batch_size": 32, "epochs": 2, "shift": 1, "validation": 10,
      "early_stopping": 0, "seed": 1, "threads": 1, "dtype": "float32", "reference": None}
HISTORY = {"epoch": [1, 2], "lr": [0.1, 0.05], "train_loss": [0.9, 0.5], "train_accuracy": [0.7, 0.8],
           "val_loss": [0.8, 0.7], "val_accuracy": [0.72, 0.78], "stopped_early": False, "best_epoch": 2}


def _metrics(acc):
    return {"test_accuracy": acc, "test_loss": 0.3, "confusion": [[1] * 10] * 10,
            "per_class": [{"class": c, "precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4}
                          for c in range(10)],
            "first_test_image": {"label": 7, "predicted": 7, "confidence": 0.9, "output": [0.01] * 10}}


def _png(path):
    plots.label_histogram(path, np.arange(10), np.arange(10))
    return path


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    return _png(tmp_path_factory.mktemp("png") / "fig.png")


def _run(name, acc, png, status=None, ref=None, error="training diverged at epoch 3, batch 7"):
    metrics = None if acc is None else _metrics(acc)
    if status == "failed":
        metrics = {"status": "failed", "error": error}
    return {"run": name, "hp": dict(HP, reference=ref), "metrics": metrics, "history": HISTORY,
            "timings": {"total_seconds": 12.5, "epoch_seconds": [6.0, 6.5]},
            "plots": {kind: png for kind, _ in report.RUN_FIGURES}}


@pytest.fixture
def runs(png):
    return [_run("low", 0.91, png, ref={"accuracy": 0.95, "source": "Nielsen ch. 1"}),
            _run("high", 0.97, png),
            _run(HOSTILE, 0.93, png, ref={"accuracy": 0.9, "source": "<img src=x onerror=alert(1)>"}),
            _run("diverged", 0.0, png, status="failed", error="lr too high: <b>nan</b>"),
            _run("missing", None, png)]


def _render(runs, png, **kw):
    prov = {"config": {"runs": {HOSTILE: {"lr": 1}}, "download": {"mirrors": ["https://example.org/"]}},
            "checksums": {"train-images-idx3-ubyte": "ab" * 32}, "versions": {"numpy": "2.4.0"},
            "platform": "Linux-test", "git_commit": "0123abc"}
    args = dict(data_plots={"First ten": png, "Class means": png}, overview_plots={"Validation": png},
                sweep_plots={"width": png}, provenance=prov)
    return report.render_report(runs, **{**args, **kw})


def test_sorted_rows_best_first_failed_last(runs):
    rows = report.sorted_rows(runs)
    assert [r["run"] for r in rows] == ["high", HOSTILE, "low", "diverged", "missing"]
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed", "failed"]
    assert rows[2]["difference"] == pytest.approx(-0.04)
    assert rows[3]["error"] == "lr too high: <b>nan</b>" and rows[3]["test_accuracy"] is None
    assert rows[4]["error"] == "metrics.json is missing"
    assert rows[0]["epochs_run"] == 2 and rows[0]["train_seconds"] == 12.5


def test_report_has_every_section(runs, png):
    html = _render(runs, png)
    for heading in ["All runs, best first", "Comparison", "Sweeps", "Runs", "Data sanity checks",
                    "Provenance", "Package versions", "Dataset checksums (SHA-256 of the decompressed IDX files)", "Configuration as run"]:
        assert f">{heading}</h" in html, heading
    assert "Best run: <b>high</b>, test accuracy <b>97.00 %</b>" in html
    assert "Nielsen ch. 1" in html and "-4.00 pts" in html and "95.00 %" in html
    assert "12.5 s" in html and "0.1 cosine → 0.0" in html
    assert "0123abc" in html and "Linux-test" in html and "ab" * 32 in html and "2.4.0" in html
    assert html.count('id="run-') == 5
    # 4 figure groups + 6 plots per finished run (3 runs); failed runs show no figures
    assert html.count('src="data:image/png;base64,') == 2 + 1 + 1 + 3 * len(report.RUN_FIGURES)
    assert html.index(">high<") < html.index(">low<")                  # table sorted by accuracy


def test_failed_runs_are_listed_with_their_error(runs, png):
    html = _render(runs, png)
    assert "failed: lr too high: &lt;b&gt;nan&lt;/b&gt;" in html
    assert "failed: metrics.json is missing" in html
    assert '<tr class="failed">' in html and "2 failed" in html


def test_hostile_strings_are_escaped(runs, png):
    html = _render(runs, png)
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_no_external_references(runs, png):
    html = _render(runs, png)
    for ref in ['src="http', "src='http", 'href="http', "url(http", "<link", "@import"]:
        assert ref not in html, ref
    # every src is an embedded image, every href an anchor on the page
    assert set(re.findall(r'src="([a-z]+):', html)) == {"data"}
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))


def test_missing_figure_is_noted_not_fatal(runs, png, tmp_path):
    runs[0]["plots"]["curves"] = tmp_path / "nope.png"
    html = _render(runs, png, sweep_plots={})
    assert "figure not available (nope.png)" in html and "No sweeps configured." in html


def test_no_finished_run(png):
    html = _render([_run("x", None, png)], png)
    assert "No run finished." in html


def test_summary_csv(runs, tmp_path):
    path = tmp_path / "summary.csv"
    report.write_summary_csv(path, report.sorted_rows(runs))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["high", HOSTILE, "low", "diverged", "missing"]
    assert float(rows[0]["test_accuracy"]) == 0.97 and rows[3]["test_accuracy"] == ""
    assert rows[2]["reference_accuracy"] == "0.95" and rows[2]["reference_source"] == "Nielsen ch. 1"
    assert rows[0]["hidden"] == "16" and rows[0]["schedule"] == "cosine" and rows[0]["epochs_run"] == "2"
    assert "reference" not in rows[0]
    for column in ["test_loss", "train_seconds", "status", "lr", "momentum", "shift"]:
        assert column in rows[0]
    first = path.read_bytes()
    report.write_summary_csv(path, report.sorted_rows(runs))
    assert path.read_bytes() == first


# ---------------------------------------------------------------- the scripts, in-process

def _script(name, tmp_path, **fields):
    """Run workflow/scripts/<name>.py as Snakemake would, with a stand-in `snakemake` object."""
    log = tmp_path / "logs" / f"{name}.log"
    fields = {"params": SimpleNamespace(), "wildcards": SimpleNamespace(), **fields}
    fake = SimpleNamespace(log=[str(log)], rule=name,
                           **{k: SimpleNamespace(**v) if isinstance(v, dict) else v for k, v in fields.items()})
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
            images[labels == k, 2 + 8 * (k // 4):8 + 8 * (k // 4), 2 + 6 * (k % 4):8 + 6 * (k % 4)] = 255
        for what, arr in (("images", images), ("labels", labels)):
            paths[f"{split}_{what}"] = str(folder / f"{split}-{what}.npy")
            fileio.save_npy(paths[f"{split}_{what}"], arr)
    return paths


def test_plot_data_script(tiny_data, tmp_path):
    out = {k: str(tmp_path / f"{k}.png") for k in ("first_ten", "class_means", "label_histogram", "distortions")}
    log = _script("plot_data", tmp_path, input=tiny_data, output=out,
                  params={"distortions": ("best", {"shift": 2, "rotate": 10.0})})
    assert "200 training and 60 test images" in log
    assert all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in out.values())


def test_plot_data_script_rejects_bad_labels(tiny_data, tmp_path):
    bad = dict(tiny_data, test_labels=str(tmp_path / "bad.npy"))
    fileio.save_npy(bad["test_labels"], np.full(60, 12, np.uint8))
    out = {k: str(tmp_path / f"{k}.png") for k in ("first_ten", "class_means", "label_histogram", "distortions")}
    with pytest.raises(SystemExit, match=r"bad\.npy: label 12"):
        _script("plot_data", tmp_path, input=bad, output=out, params={"distortions": (None, {})})


@pytest.fixture(scope="module")
def evaluated(tiny_data, tmp_path_factory):
    """evaluate.py on a real (untrained) model: one run folder as the pipeline would leave it."""
    from nn import model
    folder = tmp_path_factory.mktemp("runs") / "runs" / "tiny"
    folder.mkdir(parents=True)
    model.save(model.mlp([784, 8, 10], activation="relu", output="softmax", init="he", rng=0),
               folder / "model.npz")
    fileio.write_json(folder / "history.json", HISTORY)
    fileio.write_json(folder / "timings.json", {"total_seconds": 1.5, "epoch_seconds": [0.7, 0.8]})
    names = ["metrics.json", "confusion.csv", "confusion.png", "curves.png", "predictions.png",
             "worst_errors.png", "near_misses.png", "first_output.png"]
    keys = ["metrics", "confusion_csv", "confusion_png", "curves", "predictions", "worst_errors",
            "near_misses", "first_output"]
    out = {k: str(folder / n) for k, n in zip(keys, names)}
    inp = {"model": str(folder / "model.npz"), "history": str(folder / "history.json"),
           "test_images": tiny_data["test_images"], "test_labels": tiny_data["test_labels"]}
    log = _script("evaluate", folder.parent.parent, input=inp, output=out,
                  params=SimpleNamespace(k=5), wildcards=SimpleNamespace(run="tiny"))
    return folder, out, log


def test_evaluate_script(evaluated, tiny_data):
    folder, out, log = evaluated
    m = fileio.read_json(out["metrics"])
    assert m["run"] == "tiny" and m["n_test"] == 60 and 0 <= m["test_accuracy"] <= 1
    assert len(m["worst_errors"]) == len(m["near_misses"]) == 5
    assert f"test accuracy {m['test_accuracy']:.4f}" in log
    cm = np.loadtxt(out["confusion_csv"], delimiter=",", skiprows=1, dtype=np.int64)[:, 1:]
    assert cm.tolist() == m["confusion"] and cm.sum() == 60
    for key in out:
        if key.endswith(("png", "curves", "predictions", "worst_errors", "near_misses", "first_output")):
            assert Path(out[key]).read_bytes()[:4] == b"\x89PNG", key


def test_evaluate_script_rejects_bad_history(evaluated, tiny_data, tmp_path):
    folder, out, _ = evaluated
    bad = tmp_path / "history.json"
    bad.write_text(json.dumps({"epoch": [1]}))
    inp = {"model": str(folder / "model.npz"), "history": str(bad),
           "test_images": tiny_data["test_images"], "test_labels": tiny_data["test_labels"]}
    elsewhere = {k: str(tmp_path / Path(v).name) for k, v in out.items()}
    with pytest.raises(SystemExit, match="history.json: a history needs the lists"):
        _script("evaluate", tmp_path, input=inp, output=elsewhere, params=SimpleNamespace(k=5),
                wildcards=SimpleNamespace(run="tiny"))
    assert not any(Path(p).exists() for p in elsewhere.values())


def test_report_script(evaluated, png, tmp_path):
    folder, out, _ = evaluated
    failed = tmp_path / "runs" / "broken"
    fileio.write_json(failed / "metrics.json", {"status": "failed", "error": "diverged"})
    names = ["tiny", "broken"]
    sweep_png = str(tmp_path / "report" / "sweep-width.png")
    outputs = {"html": str(tmp_path / "report.html"), "summary": str(tmp_path / "summary.csv"),
               "val_curves": str(tmp_path / "report" / "val_curves.png"),
               "comparison": str(tmp_path / "report" / "comparison.png"), "sweep_plots": [sweep_png]}
    inputs = {"metrics": [out["metrics"], str(failed / "metrics.json")],
              "histories": [str(folder / "history.json"), str(failed / "history.json")],
              "timings": [str(folder / "timings.json"), str(failed / "timings.json")],
              "first_ten": str(png), "class_means": str(png), "label_histogram": str(png)}
    params = SimpleNamespace(
        run_names=names, runs={n: HP for n in names},
        sweeps={"width": {"keys": ["hidden"], "runs": {"tiny": {"hidden": [8]}, "broken": {"hidden": [4]}}}},
        config={"runs": {"tiny": {}, "broken": {}}}, checksums={"t10k-labels-idx1-ubyte": "cd" * 32})
    log = _script("report", tmp_path, input=inputs, output=outputs, params=params)
    html = Path(outputs["html"]).read_text()
    assert "Best run: <b>tiny</b>" in html and "failed: diverged" in html and "cd" * 32 in html
    assert "numpy" in html and "2 runs" in html and "1 failed" in log
    with open(outputs["summary"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["tiny", "broken"] and rows[1]["status"] == "failed"
    for p in [outputs["val_curves"], outputs["comparison"], sweep_png]:
        assert Path(p).read_bytes()[:4] == b"\x89PNG"


def test_failed_runs_lists_only_runs_marked_failed(tmp_path):
    from nn import fileio
    from nn.report import failed_runs
    fileio.write_json(tmp_path / "a.json", {"test_accuracy": 0.9})
    fileio.write_json(tmp_path / "b.json", {"status": "failed", "error": "diverged at epoch 2, batch 7"})
    paths = {"a": tmp_path / "a.json", "b": tmp_path / "b.json", "c": tmp_path / "missing.json"}
    assert failed_runs(paths) == [("b", "diverged at epoch 2, batch 7", str(tmp_path / "b.json"))]
