"""The HTML report and summary.csv, and the three scripts (plot_data, evaluate, report) run in-process."""

import copy
import csv
import html as html_text
import json
import re
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nn import fileio
from nn import stats
from nn.report import figures as plots
from nn.report import recipes
from nn.report import html as report
from nn.report import ledger, reproduction, verdicts

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "workflow" / "scripts"
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


@pytest.fixture(scope="module")
def png(tmp_path_factory):
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


@pytest.fixture
def runs(png):
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


def _render(runs, png, **kw):
    prov = {
        "config": {"runs": {HOSTILE: {"lr": 1}}, "download": {"mirrors": ["https://example.org/"]}},
        "checksums": {"train-images-idx3-ubyte": "ab" * 32},
        "versions": {"numpy": "2.4.0"},
        "platform": "Linux-test",
        "git_commit": "0123abc",
    }
    rows = reproduction.rows_best_first(runs.values())
    best = next((r["run"] for r in rows if r["status"] == "ok"), None)
    pairs = [("low", HOSTILE)] if {"low", HOSTILE} <= set(runs) else []
    paired = reproduction.paired_tests(runs.values(), pairs, LABELS, best)
    args = dict(
        data_plots={"First ten": png, "Class means": png},
        overview_plots={"Validation": png},
        sweep_plots={"width": png},
        curve_plots={"low": png},
        provenance=prov,
    )
    return report.render_report(runs, rows, paired, **{**args, **kw})


def test_rows_best_first_failed_last(runs):
    rows = reproduction.rows_best_first(runs.values())
    assert [r["run"] for r in rows] == ["high", HOSTILE, "low", "diverged", "missing"]
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed", "failed"]
    low = rows[2]
    assert low["test_accuracy_mean"] == pytest.approx(0.92) and low["test_accuracy_sd"] == pytest.approx(0.005)
    assert low["n_seeds"] == 3 and low["verdict"] == "above" and low["gap"] == pytest.approx(0.03)
    assert rows[1]["verdict"] == "comparison"  # another protocol is never a reproduction
    assert rows[1]["measured"] == [0.75]  # peak_test: the best epoch of the monitored curve
    assert rows[3]["error"] == "seed 1: lr too high: <b>nan</b>" and rows[3]["test_accuracy_mean"] is None
    assert rows[4]["error"] == "seed 1: metrics.json is missing"
    assert rows[0]["epochs_run"] == 2 and rows[0]["train_seconds_mean"] == 12.5


def test_a_run_with_some_failed_seeds_is_partial(png):
    run = _run("mixed", [0.9, 0.9], png)
    run["seeds"][1]["metrics"] = {"status": "failed", "error": "diverged"}
    row = reproduction.run_row(run)
    assert row["status"] == "partial" and row["n_ok"] == 1 and row["error"] == "seed 2: diverged"


def test_paired_tests_count_the_digits_only_one_run_gets_right(runs):
    tests = reproduction.paired_tests(runs.values(), [("low", HOSTILE)], LABELS, "high")
    first = tests[0]
    # low gets images 0-11 right, the hostile-named run all 20: only B right on 8 digits
    assert (first["a"], first["b"], first["only_a"], first["only_b"]) == ("low", HOSTILE, 0, 8)
    assert first["p_value"] == pytest.approx(2 / 256) and first["n_pairs"] == 1 and not first["vs_best"]
    against_best = {t["a"]: t for t in tests if t["vs_best"]}
    assert set(against_best) == {"low", HOSTILE}  # failed runs have nothing to compare
    assert (against_best["low"]["only_a"], against_best["low"]["only_b"]) == (0, 6)


def test_report_opens_with_the_ledger_and_has_every_section(runs, png):
    html = _render(runs, png)
    headings = [
        "Published results, run again",
        "Published curves over ours",
        "Is A really better than B?",
        "All runs, best first",
        "Comparison",
        "Sweeps",
        "Runs",
        "Data sanity checks",
        "Provenance",
        "Package versions",
        "Dataset checksums (SHA-256 of the decompressed IDX files)",
        "Configuration as run",
    ]
    positions = [html.index(f">{h}</h") for h in headings]
    assert positions == sorted(positions)
    assert "Best run: <b>high</b>, test accuracy <b>97.00 %</b>" in html
    assert "Nielsen ch. 1" in html and "95.00 %" in html and "92.00 ± 0.50 % (3 seeds)" in html
    assert "<b>above</b> ±" in html and "· published +3.00 pts (" in html and "we chose &lt;this&gt;" in html
    assert '<p><b>0 of 1 published figures reproduced (1 published above ours)</b></p><table class="ledger">' in html
    assert "<summary>protocol and evidence: from code</summary>" in html
    assert "<b>comparison</b> ±" in html
    assert "12.5 s" in html and "lr 0.1 cosine to 0" in html
    assert "0123abc" in html and "Linux-test" in html and "ab" * 32 in html and "2.4.0" in html
    assert html.count("<details") == 5 + 2  # every run folds away, and each ledger row's evidence
    # 4 figure groups + the curve overlay + 6 plots per finished run (3 runs); failed runs show no figures
    assert html.count('src="data:image/png;base64,') == 2 + 1 + 1 + 1 + 3 * len(report.RUN_FIGURES)


def test_failed_runs_are_listed_with_their_error(runs, png):
    html = _render(runs, png)
    assert "failed: seed 1: lr too high: &lt;b&gt;nan&lt;/b&gt;" in html
    assert "failed: seed 1: metrics.json is missing" in html
    assert '<tr class="failed">' in html and "2 runs with failures" in html


def test_hostile_strings_are_escaped(runs, png):
    html = _render(runs, png)
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_no_external_references(runs, png):
    runs["low"]["hp"]["reference"].update(
        url="https://example.org/source", fields={"lr": "https://example.org/code l.3"}
    )
    html = _render(runs, png)
    for ref in ['src="http', "src='http", "url(http", "<link", "@import"]:
        assert ref not in html, ref
    # every src is an embedded image; every href an anchor on the page or a link to a source, loaded only when followed
    assert set(re.findall(r'src="([a-z]+):', html)) == {"data"}
    links = [h for h in re.findall(r'href="([^"]*)"', html) if not h.startswith("#")]
    assert links == ["https://example.org/source"] * 2 + ["https://example.org/code"]


def test_missing_figure_is_noted_not_fatal(runs, png, tmp_path):
    runs["low"]["plots"]["curves"] = tmp_path / "nope.png"
    html = _render(runs, png, sweep_plots={})
    assert "figure not available (nope.png)" in html and "No sweeps configured." in html


def test_no_finished_run(png):
    html = _render({"x": _run("x", [None], png)}, png)
    assert "No run finished." in html


def test_summary_and_seeds_csv(runs, tmp_path):
    path = tmp_path / "summary.csv"
    rows = reproduction.rows_best_first(runs.values())
    report.write_summary_csv(path, rows, {n: r["hp"] for n, r in runs.items()})
    with open(path, newline="") as f:
        lines = list(csv.DictReader(f))
    assert [r["run"] for r in lines] == ["high", HOSTILE, "low", "diverged", "missing"]
    assert float(lines[0]["test_accuracy_mean"]) == 0.97 and lines[3]["test_accuracy_mean"] == ""
    low = lines[2]
    assert low["reference_accuracy"] == "0.95" and low["reference_source"] == "Nielsen ch. 1"
    assert low["test_accuracies"] == "0.915 0.92 0.925" and low["verdict"] == "above" and low["n_seeds"] == "3"
    assert low["evidence"] == "from code" and float(low["half_width"]) > 0
    assert float(low["test_accuracy_ci_low"]) == pytest.approx(0.92 - 4.302653 * 0.005 / 3**0.5, abs=1e-6)
    assert lines[0]["hidden"] == "16" and lines[0]["schedule"] == "cosine" and lines[0]["epochs_run"] == "2"
    assert "reference" not in lines[0]
    first = path.read_bytes()
    report.write_summary_csv(path, rows, {n: r["hp"] for n, r in runs.items()})
    assert path.read_bytes() == first
    seeds = tmp_path / "seeds.csv"
    report.write_seeds_csv(seeds, reproduction.seed_rows(runs.values()))
    with open(seeds, newline="") as f:
        per_seed = list(csv.DictReader(f))
    assert [(r["run"], r["seed"]) for r in per_seed][:3] == [("low", "1"), ("low", "2"), ("low", "3")]
    assert per_seed[0]["peak_test_accuracy"] == "0.75" and per_seed[0]["final_val_accuracy"] == "0.78"
    timings = tmp_path / "timings.csv"
    runs["low"]["seeds"][1]["timings"]["resumed_after"] = [1]
    report.write_timings_csv(timings, reproduction.timing_rows(runs.values()))
    with open(timings, newline="") as f:
        per_seed_times = list(csv.DictReader(f))
    assert per_seed_times[:2] == [
        {"run": "low", "seed": "1", "train_seconds": "12.5", "epoch_seconds": "6.0 6.5", "resumed_after": ""},
        {"run": "low", "seed": "2", "train_seconds": "12.5", "epoch_seconds": "6.0 6.5", "resumed_after": "1"},
    ]
    assert per_seed_times[-1]["run"] == "missing" and len(per_seed_times) == len(per_seed)


def test_only_timings_csv_holds_wall_times(runs, tmp_path):
    """Two runs of one config differ only in their wall times: summary.csv and seeds.csv have none."""
    slow = copy.deepcopy(runs)
    for run in slow.values():
        for s in run["seeds"]:
            s["timings"] = {"total_seconds": 99.25, "epoch_seconds": [50.0, 49.25]}
    written = {}
    for name, these in (("fast", runs), ("slow", slow)):
        rows = reproduction.rows_best_first(these.values())
        report.write_summary_csv(tmp_path / f"{name}-summary.csv", rows, {n: r["hp"] for n, r in these.items()})
        report.write_seeds_csv(tmp_path / f"{name}-seeds.csv", reproduction.seed_rows(these.values()))
        report.write_timings_csv(tmp_path / f"{name}-timings.csv", reproduction.timing_rows(these.values()))
        written[name] = {
            kind: (tmp_path / f"{name}-{kind}.csv").read_bytes() for kind in ("summary", "seeds", "timings")
        }
    assert written["fast"]["summary"] == written["slow"]["summary"]
    assert written["fast"]["seeds"] == written["slow"]["seeds"]
    assert written["fast"]["timings"] != written["slow"]["timings"]
    assert not any("seconds" in c for c in report.SUMMARY_COLUMNS + report.SEED_COLUMNS)


def test_ledger_markdown(runs):
    runs["low"]["hp"]["reference"]["protocol"] = "784-16-10, SGD"
    rows = ledger.ledger_rows([reproduction.run_row(r) for r in runs.values()], runs)
    md = ledger.ledger_markdown(rows, {name: r["hp"] for name, r in runs.items()})
    lines = md.splitlines()
    assert lines[0] == "0 of 1 published figures reproduced (1 published above ours)"  # comparisons not counted
    assert lines[2] == "| run | source | published | ours | verdict |"
    assert lines[4].startswith("| low | Nielsen ch. 1 | 95.00 % (final test) | 92.00 ± 0.50 % (3 seeds) | above ±")
    assert len(lines) == 9  # only runs with a reference: 2 table lines, 2 below
    assert lines[7] == "- low: Nielsen ch. 1 (evidence: from code). 784-16-10, SGD"


def _reproduction(name, accs, png, **ref):
    return _run(name, accs, png, ref={"source": "s", "kind": "reproduction", "measure": "final_test", **ref})


def test_verdict_words_and_the_headline(png):
    runs = [
        _reproduction("tight", [0.95, 0.951, 0.949], png, accuracy=0.95),  # h 0.5 points
        _reproduction("wide3", [0.93, 0.95, 0.97], png, accuracy=0.95),  # h 5 points, 3 seeds
        _reproduction("wide8", [0.93, 0.95, 0.96, 0.94, 0.955, 0.965, 0.935, 0.945], png, accuracy=0.95),
        _reproduction("off", [0.95, 0.951, 0.949], png, accuracy=0.97),
        _reproduction("failed", [None], png, accuracy=0.9),
        _run("other", [0.9], png, ref={"accuracy": 0.9, "source": "s", "kind": "comparison", "measure": "final_test"}),
    ]
    rows = [reproduction.run_row(r) for r in runs]
    assert [r["verdict"] for r in rows] == ["reproduced", "inconclusive", "within_spread", "above", None, "comparison"]
    v = verdicts.verdict(0.97, [0.95, 0.951, 0.949], 10000)
    assert rows[3]["interval"] == (v["low"], v["high"]) and rows[4]["interval"] is None
    texts = [ledger.verdict_text(r) for r in rows]
    assert re.fullmatch(r"reproduced ±0\.\d\d · published \+0\.00 pts", texts[0]), texts[0]
    assert re.fullmatch(r"inconclusive ±\d\.\d\d · published \+0\.00 pts", texts[1]), texts[1]
    assert re.fullmatch(r"within spread ±\d\.\d\d · published \+0\.25 pts", texts[2]), texts[2]
    assert re.fullmatch(r"above ±0\.\d\d · published \+2\.00 pts \(\d+\.\d SE\)", texts[3]), texts[3]
    assert texts[4] == "" and texts[5].startswith("comparison ±")
    assert ledger.headline(rows) == (
        "1 of 5 published figures reproduced (1 within the protocol's own "
        "spread, 1 inconclusive, 1 published above ours, 1 not measured)"
    )


def test_a_best_of_k_figure_is_judged_against_our_best_of_k(png):
    peaks = [0.950, 0.952, 0.954, 0.956, 0.945, 0.951]
    run = _reproduction("nielsen", [0.9] * 6, png, accuracy=0.9542, measure="peak_test", best_of=3)
    for seed, peak in zip(run["seeds"], peaks):
        seed["history"] = dict(HISTORY, test_accuracy=[0.9, peak])
    row = reproduction.run_row(run)
    b = row["best_of_k"]
    assert (b["k"], b["n"], b["subsets"]) == (3, 6, 20) and row["measured"] == peaks
    assert b["low"] == 0.951 and b["high"] == 0.956  # P(best <= 0.950) = 1/20 >= 2.5 %, P(<= 0.954) = 10/20
    assert row["interval"] == (0.951, 0.956)  # what the ledger's figure draws
    assert row["verdict"] == "reproduced" and row["half_width"] == pytest.approx(0.0025)
    assert "best of 3: " in ledger.ours_text(row) and "P(≤ published) 0.50" in ledger.ours_text(row)
    assert ledger.published_text(row, run["hp"]["reference"]) == "95.42 % (peak test, best of 3)"
    run["hp"]["reference"]["accuracy"] = 0.96
    row = reproduction.run_row(run)
    assert row["verdict"] == "above" and "P(≤ published) 1.00" in ledger.ours_text(row)
    assert re.fullmatch(r"above ±0\.25 · published \+0\.\d\d pts vs best of 3", ledger.verdict_text(row))


def test_stalled_seeds_are_counted_for_a_peak_figure(png):
    run = _reproduction("stall", [0.9] * 3, png, accuracy=0.95, measure="peak_test")
    for seed, peak in zip(run["seeds"], [0.95, 0.96, 0.80]):
        seed["history"] = dict(HISTORY, test_accuracy=[0.5, peak])
    row = reproduction.run_row(run)
    assert row["n_stalled"] == 1 and "(3 seeds, 1 stalled)" in ledger.ours_text(row)


def test_a_figure_on_the_first_test_images_is_shown_beside_the_whole_set(png):
    run = _reproduction("blog", [0.90, 0.91, 0.905], png, accuracy=0.85, measure="final_test_subset")
    for seed, acc in zip(run["seeds"], [0.848, 0.852, 0.85]):
        seed["metrics"].update(test_subset=1000, test_accuracy_subset=acc)
    row = reproduction.run_row(run)
    assert row["measured"] == [0.848, 0.852, 0.85]
    assert 0.01 < row["half_width"] < 0.0277 and row["verdict"] == "reproduced"  # limit 1.25 x ±2.2 points
    assert ledger.ours_text(row).endswith("; all 10,000 test images: 90.50 %")


# ---------------------------------------------------------------- the scripts, in-process


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


def test_plot_data_script_rejects_bad_labels(tiny_data, tmp_path):
    bad = dict(tiny_data, test_labels=str(tmp_path / "bad.npy"))
    fileio.save_npy(bad["test_labels"], np.full(60, 12, np.uint8))
    out = {k: str(tmp_path / f"{k}.png") for k in ("first_ten", "class_means", "label_histogram", "distortions")}
    with pytest.raises(SystemExit, match=r"bad\.npy: label 12"):
        _script("plot_data", tmp_path, input=bad, output=out, params={"distortions": (None, {})})


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


def test_evaluate_script_rejects_bad_history(evaluated, tiny_data, tmp_path):
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
    with pytest.raises(SystemExit, match="history.json: a history needs the lists"):
        _script(
            "evaluate",
            tmp_path,
            input=inp,
            output=elsewhere,
            params=SimpleNamespace(k=5, hp=dict(HP, hidden=[8])),
            wildcards=SimpleNamespace(run="tiny", seed="1"),
        )
    assert not any(Path(p).exists() for p in elsewhere.values())


def test_evaluate_script_refuses_a_model_of_another_run(evaluated, tiny_data, tmp_path):
    folder, out, _ = evaluated
    inp = {
        "model": str(folder / "model.npz"),
        "history": str(folder / "history.json"),
        "test_images": tiny_data["test_images"],
        "test_labels": tiny_data["test_labels"],
    }
    elsewhere = {k: str(tmp_path / Path(v).name) for k, v in out.items()}
    with pytest.raises(
        SystemExit,
        match=r"model.npz: this model is Linear\(784->8\) relu Linear\(8->10\) softmax, "
        r"cross_entropy, float32, but run tiny's hyperparameters describe "
        r"Linear\(784->32\) relu",
    ):
        _script(
            "evaluate",
            tmp_path,
            input=inp,
            output=elsewhere,
            params=SimpleNamespace(k=5, hp=dict(HP, hidden=[32])),
            wildcards=SimpleNamespace(run="tiny", seed="1"),
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


def test_failed_runs_lists_only_runs_marked_failed(tmp_path):
    from nn import fileio
    from nn.report.html import failed_runs

    fileio.write_json(tmp_path / "a.json", {"test_accuracy": 0.9})
    fileio.write_json(tmp_path / "b.json", {"status": "failed", "error": "diverged at epoch 2, batch 7"})
    paths = {"a": tmp_path / "a.json", "b": tmp_path / "b.json", "c": tmp_path / "missing.json"}
    assert failed_runs(paths) == [("b", "diverged at epoch 2, batch 7", str(tmp_path / "b.json"))]


def test_the_sources_networks_in_words():
    blog = dict(
        HP,
        hidden=[30, 30, 10],
        activation=[{"scaled": 0.2}, "relu", {"scaled": 0.05}],
        output="sigmoid",
        loss="squared_error",
        init="uniform_pm1",
        inputs="max_standardise",
        test_subset=1000,
    )
    net, training = ledger.network_and_training(blog)
    assert net == (
        "784-30-30-10-10 0.2z/relu/0.05z/sigmoid, squared-error, U(-1,1) init, inputs by image max, "
        "then standardised per set"
    )
    assert training.endswith("also scored on the first 1,000 test images")
    notebook = dict(
        HP,
        activation="relu_identity_grad",
        output="relu_identity_grad",
        loss="quadratic",
        init="plain",
        init_scale=None,
        inputs="raw",
    )
    assert ledger.network_and_training(notebook)[0] == (
        "784-16-10 relu (identity grad)/relu (identity grad), quadratic, 0.01·N(0,1) init, raw 0-255 inputs"
    )
    assert ledger.network_and_training(HP)[0] == "784-16-10 relu/softmax, cross-entropy, He init"  # as before


def test_a_single_published_run_is_judged_against_the_seeds_that_did_not_stall(png):
    """reference exclude_stalled: one published run of a protocol that sometimes stalls (the Nielsen-
    style notebook) against our seeds that did not; the stalled are counted beside, not hidden."""
    peaks = [0.962, 0.9645, 0.85, 0.963, 0.9635, 0.80, 0.9625, 0.964]  # two stall (> 5 points below)
    for exclude, expected in ((True, "reproduced"), (False, "within_spread")):
        run = _reproduction("notebook", [0.9] * 8, png, accuracy=0.9638, measure="peak_test", exclude_stalled=exclude)
        for seed, peak in zip(run["seeds"], peaks):
            seed["history"] = dict(HISTORY, test_accuracy=[0.5, peak])
        row = reproduction.run_row(run)
        assert row["n_stalled"] == 2 and row["measured"] == peaks
        assert row["excluded"] == ([2, 5] if exclude else [])  # drawn hollow in the ledger's figure
        assert row["verdict"] == expected, (exclude, row["verdict"], row["half_width"])
        text = ledger.ours_text(row)
        assert "8 seeds, 2 stalled" in text
        assert ("the 6 that did not stall: 96.32 ± 0.09 %" in text) == exclude


def test_a_row_with_unpublished_parameters_gives_the_band_they_span(png):
    band = {"low": 0.1135, "high": 0.9017, "over": "lr 0.5-4 x spread 0.01-0.03"}
    row = reproduction.run_row(_reproduction("pitt", [0.897, 0.896, 0.898], png, accuracy=0.9417, band=band))
    assert row["verdict"] == "above"
    assert ledger.band_text(row) == (
        "the unpublished parameters' range (lr 0.5-4 x spread 0.01-0.03) gives 11.35 % to 90.17 %"
    )
    assert "range" not in ledger.verdict_text(row)  # the ledger's line has no room for it
    row = reproduction.run_row(_reproduction("pitt", [0.897, 0.896, 0.898], png, accuracy=0.9417))
    assert ledger.band_text(row) == ""


# ---------------------------------------------------------------- a row scored_from another run

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


def test_a_scored_row_takes_each_seeds_figure_from_its_sources_history_at_that_round(png):
    parent = _parent_run(png)
    run = _scored_row(parent)
    assert [s["metrics"]["test_accuracy"] for s in run["seeds"]] == [0.80, 0.82, 0.84]
    assert [s["metrics"]["test_loss"] for s in run["seeds"]] == [0.51, 0.52, 0.53]
    assert all(s["timings"] is None and s["predictions"] is None for s in run["seeds"]) and run["plots"] == {}
    first = run["seeds"][0]["history"]
    assert first["epoch"] == [1, 2] and first["test_accuracy"] == [0.5, 0.80] and first["best_epoch"] == 2
    row = reproduction.run_row(run)
    assert row["status"] == "ok" and row["test_accuracies"] == [0.80, 0.82, 0.84] and row["epochs_run"] == 2
    assert row["test_accuracy_mean"] == pytest.approx(0.82) and row["train_seconds_mean"] is None
    # its verdict by the same rule as a trained row's with those figures
    trained = _reproduction("same", [0.80, 0.82, 0.84], png, accuracy=0.83)
    same = reproduction.run_row(trained)
    assert (row["verdict"], row["half_width"], row["gap"]) == (same["verdict"], same["half_width"], same["gap"])
    assert ledger.ours_text(row) == (ledger.ours_text(same) + "; scored from parent after round 2, not trained")
    seeds = reproduction.seed_rows([run])
    assert [(r["seed"], r["test_accuracy"], r["peak_test_accuracy"], r["epochs_run"]) for r in seeds] == [
        (1, 0.80, 0.80, 2),
        (2, 0.82, 0.82, 2),
        (3, 0.84, 0.84, 2),
    ]
    assert reproduction.timing_rows([parent, run]) == reproduction.timing_rows([parent])  # it cost nothing


def test_a_scored_row_without_its_sources_round_is_failed_with_the_reason(png):
    parent = _parent_run(png)
    short = parent["seeds"][1]
    short["history"] = dict(
        short["history"],
        epoch=[1],
        test_accuracy=[0.6],
        test_loss=[0.7],
        status="failed",
        error="training diverged: loss is nan at epoch 2, batch 3",
    )
    parent["seeds"][2]["history"] = None
    row = reproduction.run_row(_scored_row(parent))
    assert row["status"] == "partial" and row["test_accuracies"] == [0.80]
    assert row["error"] == (
        "seed 2: parent seed 2: its history ends after round 1, before round 2 (training "
        "diverged: loss is nan at epoch 2, batch 3); seed 3: parent seed 3: history.json is missing"
    )
    # a source that diverged after the round still gives it: its first rounds finished
    parent = _parent_run(png)
    parent["seeds"][0]["history"] = dict(parent["seeds"][0]["history"], status="failed", error="diverged")
    parent["seeds"][0]["metrics"] = {"status": "failed", "error": "diverged"}
    run = _scored_row(parent)
    assert reproduction.run_row(run)["status"] == "ok" and "status" not in run["seeds"][0]["history"]


def test_the_report_says_a_scored_row_was_not_trained_and_leaves_it_out_of_mcnemar(png, tmp_path):
    parent = _parent_run(png)
    runs = {"parent": parent, "scored": _scored_row(parent, seeds=(1, 2), accuracy=0.99)}
    rows = reproduction.rows_best_first(runs.values())
    paired = reproduction.paired_tests(runs.values(), [], LABELS, "parent")
    assert paired == []  # the scored row has no predictions to compare
    html = report.render_report(
        runs, rows, paired, data_plots={}, overview_plots={}, sweep_plots={}, curve_plots={}, provenance={"config": {}}
    )
    assert "2 runs, 3 trained networks and 2 scored from another run's history, not trained." in html
    assert "<td class=l>none: scored from parent after round 2, not trained</td>" not in html  # a number column
    assert "<td>none: scored from parent after round 2, not trained</td>" in html
    assert 'scored from <a href="#run-parent">parent</a> after round 2. Each seed' in html
    cells, _, details = _ledger_lines(html)["scored"]
    assert "81.00 ± 1.41 % (2 seeds); scored from parent after round 2, not trained" in details  # the ledger
    assert "scored from" not in "".join(cells)
    assert "as parent, after 2 rounds" in html
    section = html[html.index('<details id="run-scored">') :]
    section = section[: section.index("</details>")]
    assert "per-class" not in section and "data:image/png" not in section and "<td>80.00 %</td>" in section
    md = ledger.ledger_markdown(ledger.ledger_rows(rows, runs), {n: r["hp"] for n, r in runs.items()})
    assert "| scored | s | 99.00 % (final test) | 81.00 ± 1.41 % (2 seeds) | inconclusive ±" in md
    assert "- scored: s. as parent, after 2 rounds; scored from parent after round 2, not trained\n" in md
    report.write_summary_csv(tmp_path / "summary.csv", rows, {n: r["hp"] for n, r in runs.items()})
    with open(tmp_path / "summary.csv", newline="") as f:
        lines = {r["run"]: r for r in csv.DictReader(f)}
    assert lines["scored"]["scored_from"] == '{"round": 2, "run": "parent"}' and lines["parent"]["scored_from"] == ""
    assert lines["scored"]["verdict"] == "inconclusive" and lines["scored"]["epochs"] == "2"


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


@pytest.mark.parametrize("gap", [0.002, -0.002])
def test_the_ledger_says_which_side_of_our_mean_the_published_figure_is(png, gap):
    """'published +0.20 pts' and '-0.20 pts' (from our mean) are two different findings: the sign stays."""
    accs = [0.95, 0.951, 0.949]
    ref = {"accuracy": 0.95 + gap, "source": "s", "kind": "reproduction", "measure": "final_test"}
    row = reproduction.run_row(_run("r", accs, png, ref=ref))
    assert row["gap"] == pytest.approx(gap)
    assert ledger.verdict_text(row).endswith(f"· published {100 * gap:+.2f} pts")


@pytest.mark.parametrize("published", [0.94, 0.96])
def test_a_best_of_k_row_says_which_side_of_our_best_of_k_the_published_figure_is(png, published):
    """A best-of-3 figure's distance is published minus the mean of our best of 3, with its sign."""
    accs = [0.945, 0.947, 0.950, 0.952, 0.955, 0.957]
    ref = {"accuracy": published, "source": "s", "kind": "reproduction", "measure": "final_test", "best_of": 3}
    row = reproduction.run_row(_run("r", accs, png, ref=ref))
    mean_best = stats.best_of_k(accs, 3)["mean"]
    assert row["gap"] == pytest.approx(published - mean_best)
    text = ledger.verdict_text(row)
    if row["verdict"] in ("above", "below"):
        assert text.startswith("above" if published > mean_best else "below"), text
    else:
        assert text.endswith(f"· published {100 * (published - mean_best):+.2f} pts vs best of 3"), text


# ---------------------------------------------------------------- the ledger at a glance


def _ledger_lines(html):
    """{run: (its ledger line's cells, their text, the markup of the row folded under it)}."""
    start = html.index('<table class="ledger">')
    table = html[start : html.index("</table>", start)]
    out = {}
    for line, more in re.findall(
        r'<tr class="row[^"]*">(.*?)</tr><tr class="more[^"]*"><td colspan=5>(.*?)</td></tr>', table, re.S
    ):
        cells = re.findall(r"<td>(.*?)</td>", line, re.S)
        text = [html_text.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells]
        out[text[0]] = (cells, text, more)
    return out


@pytest.mark.parametrize("sign", [1, -1])
def test_each_ledger_verdict_is_one_line_with_its_word_h_and_signed_distance(png, sign):
    accs, six = [0.95, 0.951, 0.949], [0.945, 0.947, 0.950, 0.952, 0.955, 0.957]
    runs = {
        "mean": _reproduction("mean", accs, png, accuracy=0.95 + sign * 0.012),  # outside: above / below
        "close": _reproduction("close", accs, png, accuracy=0.95 + sign * 0.002),  # inside: reproduced
        "best": _reproduction("best", six, png, accuracy=0.955 + sign * 0.004, best_of=3),
        "other": _run(
            "other",
            accs,
            png,
            ref={"accuracy": 0.95 + sign * 0.03, "source": "s", "kind": "comparison", "measure": "final_test"},
        ),
    }
    ours = {"mean": 0.95, "close": 0.95, "other": 0.95, "best": stats.best_of_k(six, 3)["mean"]}
    words = {"mean": "above" if sign > 0 else "below", "close": "reproduced", "other": "comparison"}
    html = _render(runs, png)
    lines = _ledger_lines(html)
    rows = {r["run"]: r for r in reproduction.rows_best_first(runs.values())}
    md = ledger.ledger_markdown(ledger.ledger_rows(list(rows.values()), runs), {n: r["hp"] for n, r in runs.items()})
    md_cells = {line.split(" | ")[0][2:]: line[2:-2].split(" | ") for line in md.splitlines() if line.startswith("| ")}
    for name, row in rows.items():
        cells, text, _ = lines[name]
        verdict = text[4]
        distance = f"published {100 * (runs[name]['hp']['reference']['accuracy'] - ours[name]):+.2f} pts"
        assert distance[10] == ("+" if sign > 0 else "-")
        word = words.get(name, verdict.split()[0])  # best of 3: whichever the rule gives
        assert verdict.startswith(f"{word} ±{100 * row['half_width']:.2f} · {distance}")
        assert verdict.endswith(" vs best of 3") == (name == "best")
        assert (" SE)" in verdict) == (name == "mean"), verdict
        assert "<br" not in cells[4] and "\n" not in verdict and len(verdict) <= 60
        assert all(len(t) <= 60 for i, t in enumerate(text) if i != 1)  # the source alone is clipped to its column
        assert md_cells[name][4] == verdict and all(len(c) <= 60 for c in md_cells[name])


def test_the_protocol_notes_band_and_evidence_fold_under_each_ledger_line(png):
    ref = dict(
        accuracy=0.95,
        protocol="784-30-10 <sigmoid>",
        notes="we chose lr 3",
        evidence="from code",
        band={"low": 0.9, "high": 0.96, "over": "lr 1-4"},
        url="https://example.org/book",
        fields={
            "lr": "https://example.org/src?a=1&b=2 (abc123) network.py l.5-9: `eta = 3.0`",
            "epochs": "chap1.html: 'thirty epochs', https://example.org/later",
            "init": "javascript:alert(1) l.3",
        },
        assumed={"batch_size": "unpublished; 10 as in <the book>"},
    )
    runs = {
        "r": _reproduction("r", [0.95, 0.951, 0.949], png, **ref),
        "bad": _reproduction("bad", [0.9], png, accuracy=0.9, url="javascript:alert(1)"),
    }
    html = _render(runs, png)
    cells, _, details = _ledger_lines(html)["r"]
    line = "".join(cells)
    assert details.startswith("<details><summary>protocol and evidence: from code</summary>")
    assert details.endswith("</details>")
    for said in [
        "784-30-10 &lt;sigmoid&gt;",
        "we chose lr 3",
        "(lr 1-4) gives 90.00 % to 96.00 %",
        "eta = 3.0",
        "chap1.html: &#x27;thirty epochs&#x27;",
        "10 as in &lt;the book&gt;",
        "our interval 94.",
    ]:
        assert said in details and said not in line, said
    assert (
        '<code>lr</code>: <a href="https://example.org/src?a=1&amp;b=2">https://example.org/src?a=1&amp;b=2</a> '
        "(abc123) network.py l.5-9"
    ) in details
    assert 'href="https://example.org/later"' not in html  # only a leading address is a link
    assert 'href="javascript' not in html and "<code>init</code>: javascript:alert(1) l.3" in details
    assert '<a href="https://example.org/book">s</a>' in line and '<a href="https://example.org/book">s</a>' in details
    assert "alert" not in "".join(_ledger_lines(html)["bad"][0][1])  # a source url that is not http(s): text only


def test_a_comparison_with_too_few_seeds_for_its_best_of_k_says_its_word_alone(png):
    ref = {"accuracy": 0.9, "source": "s", "kind": "comparison", "measure": "final_test", "best_of": 3}
    runs = {"few": _run("few", [0.9, 0.91], png, ref=ref)}
    row = reproduction.run_row(runs["few"])
    assert row["verdict"] == "comparison" and row["gap"] is None and "best of 3 needs" in row["error"]
    assert ledger.verdict_text(row) == "comparison"
    assert _ledger_lines(_render(runs, png))["few"][1][4] == "comparison"
