"""The whole pipeline through Snakemake on tiny generated data, in temporary folders.

Slow-ish (each full run is ~10 Snakemake jobs); marked `slow`.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, Workflow, tiny_config

pytestmark = pytest.mark.slow

RUN_FILES = ["model.npz", "history.json", "timings.json", "metrics.json", "confusion.csv", "confusion.png",
             "curves.png", "predictions.png", "worst_errors.png", "near_misses.png", "first_output.png"]


def planned(wf: Workflow, *args) -> Counter:
    """Snakemake's own plan (dry run): Counter of (rule, run wildcard or None)."""
    proc = wf.run("-n", *args)
    out = proc.stdout + proc.stderr
    jobs, current = Counter(), None
    for line in out.splitlines() + ["rule end:"]:
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            if current:
                jobs[tuple(current)] += 1
            current = [m.group(1), None] if m.group(1) != "end" else None
        elif current and (w := re.match(r"^\s+wildcards: .*\brun=([^,\s]+)", line)):
            current[1] = w.group(1)
    return jobs


def all_runs(wf: Workflow) -> list[str]:
    cfg = wf.config
    sweep = [f"width-hidden-{h[0]}" for h in cfg["sweeps"]["width"]["grid"]["hidden"]]
    return list(cfg["runs"]) + sweep


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Workflow:
    """One complete run of the tiny pipeline, shared by the read-only checks below."""
    from conftest import write_tiny_mirror
    root = tmp_path_factory.mktemp("pipeline")
    sums = write_tiny_mirror(root / "mirror")
    (root / "work").mkdir()
    wf = Workflow(root / "work", tiny_config(root / "mirror", sums))
    wf.run("--cores", "4")
    return wf


def test_every_output_is_present_and_well_formed(done):
    for run in all_runs(done):
        for name in RUN_FILES:
            assert done.path(f"results/runs/{run}/{name}").stat().st_size > 0, (run, name)
        metrics = json.loads(done.path(f"results/runs/{run}/metrics.json").read_text())
        assert 0.0 <= metrics["test_accuracy"] <= 1.0
        history = json.loads(done.path(f"results/runs/{run}/history.json").read_text())
        assert len(history["epoch"]) == (1 if run.startswith("width") else 2)
        assert done.path(f"results/logs/train/{run}.log").read_text().count("epoch") >= 1
        assert done.path(f"results/benchmarks/train/{run}.tsv").exists()
    assert json.loads(done.path("results/runs/relu/metrics.json").read_text())["test_accuracy"] > 0.5
    images = np.load(done.path("results/data/train-images.npy"), allow_pickle=False)
    assert images.shape == (600, 28, 28) and images.dtype == np.uint8
    for name in ["first_ten", "class_means", "label_histogram", "distortions"]:
        assert done.path(f"results/data/plots/{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(done.path("results/summary.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["run"] for r in rows) == sorted(all_runs(done))
    assert all(0 <= float(r["test_accuracy"]) <= 1 for r in rows)
    assert done.path("results/report/sweep-width.png").exists()


def test_report_is_self_contained(done):
    html = done.path("results/report.html").read_text()
    assert html.count("data:image/png;base64,") >= 10
    for ref in ['src="http', "src='http", 'href="http', "url(http", "<link", "<script src"]:
        assert ref not in html, ref
    for run in all_runs(done):
        assert run in html
    assert "a test" in html  # the reference source of run `sig`
    # the report's reproducibility claim names the test below, which must exist
    claim = re.search(r"tests/test_workflow.py::(\w+)", html).group(1)
    assert claim in globals() and claim.startswith("test_")


def test_second_run_does_nothing(done):
    assert planned(done) == Counter()
    proc = done.run("--cores", "4")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_touching_inputs_reruns_nothing(done):
    for p in done.path("results").rglob("*.npy"):
        p.touch()
    for p in done.path("results/raw").glob("*.gz"):
        p.touch()
    assert planned(done) == Counter()


def test_editing_one_run_reruns_only_that_run(done):
    cfg = done.config
    original = json.loads(json.dumps(cfg))
    try:
        cfg["runs"]["sig"]["lr"] = 2.0
        done.write_config(cfg)
        assert planned(done) == Counter({("train", "sig"): 1, ("evaluate", "sig"): 1, ("report", None): 1, ("all", None): 1})
        cfg["runs"]["sig"]["lr"] = 3.0
        cfg["runs"]["sig"]["reference"] = {"accuracy": 0.6, "source": "another"}
        done.write_config(cfg)
        assert planned(done) == Counter({("report", None): 1, ("all", None): 1})
        cfg["runs"]["sig"]["reference"] = original["runs"]["sig"]["reference"]
        cfg["runs"]["extra"] = {"hidden": [5]}
        done.write_config(cfg)
        assert planned(done) == Counter({("train", "extra"): 1, ("evaluate", "extra"): 1, ("report", None): 1, ("all", None): 1})
        del cfg["runs"]["extra"]
        cfg["mnist_mirror"] = "/nonexistent/elsewhere"
        done.write_config(cfg)
        assert planned(done) == Counter(), "switching mirrors must rerun nothing"
    finally:
        done.write_config(original)


def test_editing_an_nn_module_reruns_training(tmp_path, tiny_mirror):
    """On a copy of the project, so the real source tree is never touched."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo, ignore=shutil.ignore_patterns(".git", ".venv", "results", ".snakemake", "__pycache__", "tests"))
    mirror, sums = tiny_mirror
    cfg = tiny_config(mirror, sums)
    cfg["runs"] = {"only": {"epochs": 1}}
    cfg["sweeps"] = {}
    (tmp_path / "work").mkdir()
    wf = Workflow(tmp_path / "work", cfg, snakefile=repo / "Snakefile")
    wf.run("--cores", "2")
    assert planned(wf) == Counter()
    with open(repo / "nn" / "layers.py", "a") as f:
        f.write("\n# an edit\n")
    jobs = planned(wf)
    assert ("train", "only") in jobs and ("evaluate", "only") in jobs and ("report", None) in jobs
    assert not any(rule in ("download", "decode") for rule, _ in jobs)


def test_two_fresh_runs_are_byte_identical_whatever_the_cores(done, tmp_path):
    mirror = Path(done.config["mnist_mirror"])
    (tmp_path / "work").mkdir()
    again = Workflow(tmp_path / "work", done.config)
    again.run("--cores", "1")
    compared = 0
    for path in sorted(done.path("results").rglob("*")):
        rel = path.relative_to(done.workdir)
        if path.is_dir() or path.name in ("timings.json", "report.html", "summary.csv") or "logs" in rel.parts \
                or "benchmarks" in rel.parts:
            continue
        assert (again.workdir / rel).read_bytes() == path.read_bytes(), f"{rel} differs between two runs"
        compared += 1
    assert compared >= 8 * len(all_runs(done)), compared
    assert mirror.exists()


def test_bad_config_fails_before_any_job(tiny_workflow):
    cfg = tiny_workflow.config
    cfg["runs"]["sig"]["lr"] = -1
    tiny_workflow.write_config(cfg)
    proc = tiny_workflow.run("--cores", "1", check=False)
    assert proc.returncode != 0
    assert "Config error: runs.sig.lr: -1 is less than or equal to the minimum of 0" in proc.stderr
    assert not tiny_workflow.path("results").exists()


def test_snakemakes_own_report_has_every_marked_figure(done, tmp_path):
    out = tmp_path / "snakemake-report.html"
    done.run("--cores", "1", "--report", str(out))
    html = out.read_text()
    for name in ["first_ten.png", "confusion.png", "curves.png", "val_curves.png", "sweep-width.png"]:
        assert name in html, name
    for caption in ["confusion", "sweep", "first_ten"]:  # report() captions, rendered by Snakemake
        first_words = (REPO / "workflow" / "report" / f"{caption}.rst").read_text().split(":")[0][:40]
        assert first_words in html, caption
