"""The whole pipeline through Snakemake on tiny generated data, in temporary folders.

Slow-ish (each full run is ~10 Snakemake jobs); marked `slow`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import CITED, REPO, Workflow, snakemake_env, tiny_config
from nn import serialize

pytestmark = pytest.mark.slow

SEED_FILES = ["model.npz", "history.json", "timings.json", "metrics.json", "confusion.csv", "test-predictions.npy"]
RUN_FIGURES = [
    "confusion.png",
    "curves.png",
    "predictions.png",
    "worst_errors.png",
    "near_misses.png",
    "first_output.png",
]


def planned(wf: Workflow, *args) -> Counter:
    """Snakemake's own plan (dry run): Counter of (rule, run wildcard or None), one per job; a
    training job (rule train_<run>_<seed>, one block of a run's seeds) counts as ("train", run)."""
    proc = wf.run("-n", *args)
    out = proc.stdout + proc.stderr
    jobs, current = Counter(), None
    for line in out.splitlines() + ["rule end:"]:
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            if current:
                jobs[tuple(current)] += 1
            rule = "train" if m.group(1).startswith("train_") else m.group(1)
            current = [rule, None] if rule != "end" else None
        elif current and (w := re.match(r"^\s+wildcards: .*\brun=([^,\s]+)", line)):
            current[1] = w.group(1)
    return jobs


def all_runs(wf: Workflow) -> list[str]:
    cfg = wf.config
    sweep = [f"width-hidden-{h[0]}" for h in cfg["sweeps"]["width"]["grid"]["hidden"]]
    return list(cfg["runs"]) + sweep


def seeds(wf: Workflow, run: str) -> list[int]:
    cfg = wf.config
    hp = {**cfg["defaults"], **(cfg["runs"].get(run) or {})}
    return [hp["seed"] + i for i in range(hp.get("replicates", 1))]


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
    assert seeds(done, "sig") == [3, 4]
    for run in all_runs(done):
        for name in RUN_FIGURES:
            assert done.path(f"results/runs/{run}/{name}").read_bytes()[:4] == b"\x89PNG", (run, name)
        for seed in seeds(done, run):
            folder = f"results/runs/{run}/seed-{seed}"
            for name in SEED_FILES:
                assert done.path(f"{folder}/{name}").stat().st_size > 0, (run, seed, name)
            metrics = json.loads(done.path(f"{folder}/metrics.json").read_text())
            assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["seed"] == seed
            history = json.loads(done.path(f"{folder}/history.json").read_text())
            assert len(history["epoch"]) == (1 if run.startswith("width") else 2)
            assert (history["test_accuracy"] is not None) == (run == "sig")  # monitor_test
            logs = list(done.path(f"results/logs/train/{run}").glob("seed*.log"))  # one per block of seeds
            assert sum(log.read_text().count(f"seed {seed}: epoch") for log in logs) >= 1, (run, seed)
        assert done.path(f"results/benchmarks/train/{run}").glob("seed*.tsv")
    assert json.loads(done.path("results/runs/relu/seed-3/metrics.json").read_text())["test_accuracy"] > 0.5
    # a run whose reference publishes training costs: ours after its last round, and the least its loss reaches
    for seed in seeds(done, "sig"):
        cost = json.loads(done.path(f"results/runs/sig/seed-{seed}/train-cost.json").read_text())
        assert cost["n_images"] == 500 and 0 < cost["train_loss"] < 1 and cost["least_cost"] == 0.0
    assert not list(done.path("results/runs/relu").glob("seed-*/train-cost.json"))
    # the two seeds of one run are two different networks
    assert (
        done.path("results/runs/sig/seed-3/model.npz").read_bytes()
        != done.path("results/runs/sig/seed-4/model.npz").read_bytes()
    )
    images = np.load(done.path("results/data/train-images.npy"), allow_pickle=False)
    assert images.shape == (600, 28, 28) and images.dtype == np.uint8
    for name in ["first_ten", "class_means", "label_histogram", "distortions"]:
        assert done.path(f"results/data/plots/{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(done.path("results/summary.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["run"] for r in rows) == sorted(all_runs(done))
    assert all(0 <= float(r["test_accuracy_mean"]) <= 1 for r in rows)
    sig = next(r for r in rows if r["run"] == "sig")
    assert sig["n_seeds"] == "2" and sig["test_accuracy_sd"]
    assert sig["verdict"] in ("reproduced", "within_spread", "inconclusive", "above", "below")
    with open(done.path("results/seeds.csv"), newline="") as f:
        assert sum(1 for _ in csv.DictReader(f)) == sum(len(seeds(done, r)) for r in all_runs(done))
    assert done.path("results/report/sweep-width.png").exists()
    assert done.path("results/report/published-sig.png").read_bytes()[:4] == b"\x89PNG"
    assert done.path("results/ledger.md").read_text().count("| sig |") == 1


def test_report_is_self_contained(done):
    html = done.path("results/report.html").read_text()
    assert html.count("data:image/png;base64,") >= 10
    # nothing is loaded from elsewhere; a link to a source (its url, its evidence) is followed only when clicked
    for ref in ['src="http', "src='http", "url(http", "<link", "<script src", "@import"]:
        assert ref not in html, ref
    assert set(re.findall(r'src="([a-z]+):', html)) == {"data"}
    for run in all_runs(done):
        assert run in html
    assert "a test" in html  # the reference source of run `sig`
    assert html.index("Published results, run again") < html.index("All runs, best first")
    assert "width-hidden-4</td><td class=l>width-hidden-8" in html  # the configured McNemar pair
    # the report's reproducibility claim names the test below, which must exist
    claim = re.search(r"tests/workflow/test_workflow.py::(\w+)", html).group(1)
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
        # the run's two seeds: one stacked training job, one evaluation each
        assert planned(done) == Counter(
            {
                ("train", "sig"): 1,
                ("evaluate", "sig"): 2,
                ("plot_run", "sig"): 1,
                ("training_cost", "sig"): 2,
                ("report", None): 1,
                ("all", None): 1,
            }
        )
        cfg["runs"]["sig"]["lr"] = 3.0
        cfg["runs"]["sig"]["reference"] = {"accuracy": 0.6, "source": "another"}
        done.write_config(cfg)
        assert planned(done) == Counter({("report", None): 1, ("all", None): 1})
        cfg["runs"]["sig"]["reference"] = original["runs"]["sig"]["reference"]
        cfg["runs"]["sig"]["replicates"] = 3  # one more seed: only its jobs, training only it
        done.write_config(cfg)
        assert planned(done) == Counter(
            {
                ("train", "sig"): 1,
                ("evaluate", "sig"): 1,
                ("training_cost", "sig"): 1,
                ("report", None): 1,
                ("all", None): 1,
            }
        )
        plan = done.run("-n").stdout
        trained = re.findall(r"results/runs/sig/seed-(\d+)/model.npz", plan.split("rule evaluate")[0])
        assert set(trained) == {"5"}, plan
        cfg["runs"]["sig"]["replicates"] = 1  # fewer seeds: nothing retrains, the report drops one
        done.write_config(cfg)
        assert planned(done) == Counter({("report", None): 1, ("all", None): 1})
        cfg["runs"]["sig"]["replicates"] = 2
        cfg["runs"]["extra"] = {"hidden": [5]}
        done.write_config(cfg)
        assert planned(done) == Counter(
            {
                ("train", "extra"): 1,
                ("evaluate", "extra"): 1,
                ("plot_run", "extra"): 1,
                ("report", None): 1,
                ("all", None): 1,
            }
        )
        del cfg["runs"]["extra"]
        cfg["mnist_mirror"] = "/nonexistent/elsewhere"
        done.write_config(cfg)
        assert planned(done) == Counter(), "switching mirrors must rerun nothing"
    finally:
        done.write_config(original)


def test_editing_an_nn_module_reruns_training(tmp_path, tiny_mirror):
    """On a copy of the project, so the real source tree is never touched."""
    repo = tmp_path / "repo"
    shutil.copytree(
        REPO, repo, ignore=shutil.ignore_patterns(".git", ".venv", "results", ".snakemake", "__pycache__", "tests")
    )
    mirror, sums = tiny_mirror
    cfg = tiny_config(mirror, sums)
    cfg["runs"] = {"only": {"epochs": 1}}
    cfg["sweeps"], cfg["comparisons"] = {}, []
    (tmp_path / "work").mkdir()
    wf = Workflow(tmp_path / "work", cfg, snakefile=repo / "Snakefile")
    wf.run("--cores", "2")
    assert planned(wf) == Counter()
    with open(repo / "nn" / "layers.py", "a") as f:
        f.write("\n# an edit\n")
    jobs = planned(wf)
    assert ("train", "only") in jobs and ("evaluate", "only") in jobs and ("plot_run", "only") in jobs
    assert ("report", None) in jobs
    assert not any(rule in ("download", "decode") for rule, _ in jobs)


def train_claims(wf: Workflow, cores: int) -> list[int]:
    """The cores each training job of the dry-run plan claims (Snakemake prints threads only above 1)."""
    out = wf.run("-n", "--cores", str(cores)).stdout
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", out)
    return [
        int(m.group(1)) if (m := re.search(r"\n\s+threads: (\d+)", b)) else 1
        for b in blocks
        if re.match(r"(?:local)?rule train_\w+:", b)
    ]


def test_more_cores_than_cpus_run_as_many_trainings_at_once_as_cpus(tiny_workflow):
    """`--cores 4` on 2 CPUs: each 1-thread training claims 2 cores, so two train at a time,
    not four (nn.pipeline.resources.training_claim); within the CPUs a training claims its BLAS threads."""
    from nn.pipeline.resources import usable_cpus

    cpus = usable_cpus()
    claims = train_claims(tiny_workflow, 2 * cpus)
    assert claims and set(claims) == {2}
    assert set(train_claims(tiny_workflow, cpus)) == {1}


def project_copy(dest: Path) -> Path:
    """The project's source tree (no tests, results or git) at `dest`."""
    shutil.copytree(
        REPO, dest, ignore=shutil.ignore_patterns(".git", ".venv", "results", ".snakemake", "__pycache__", "tests")
    )
    return dest


def test_a_moved_or_copied_project_reruns_nothing_but_an_nn_edit_reruns_its_importers(tmp_path, tiny_mirror):
    """Code is tracked by content hash (params), not by absolute path: a move changes nothing."""
    mirror, sums = tiny_mirror
    cfg = tiny_config(mirror, sums)
    cfg["runs"], cfg["sweeps"], cfg["comparisons"] = {"only": {"epochs": 1}}, {}, []
    first = Workflow(project_copy(tmp_path / "first"), cfg, snakefile=tmp_path / "first" / "Snakefile")
    first.run("--cores", "2")
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    (tmp_path / "first").rename(moved)
    subprocess.run(["cp", "-r", str(moved), str(tmp_path / "copied")], check=True)  # no -p: new mtimes
    # cp's order of files follows the file system's directory order, which differs between
    # machines: make the copied code newer than every result, the worst order, on every machine.
    later = time.time() + 5
    for source in [*(tmp_path / "copied" / "workflow").rglob("*"), *(tmp_path / "copied" / "nn").rglob("*")]:
        os.utime(source, (later, later))
    for folder in (moved, tmp_path / "copied"):
        wf = Workflow(folder, cfg, snakefile=folder / "Snakefile")
        assert planned(wf) == Counter(), folder
        # as a user runs it: from inside the folder, no --directory
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config.yaml"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            env=snakemake_env(),
        )
        assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stderr
    with open(moved / "nn" / "metrics.py", "a") as f:  # imported by evaluate's script only
        f.write("\n# an edit\n")
    wf = Workflow(moved, cfg, snakefile=moved / "Snakefile")
    assert planned(wf) == Counter(
        {("evaluate", "only"): 1, ("plot_run", "only"): 1, ("report", None): 1, ("all", None): 1}
    )
    with open(moved / "nn" / "report" / "figures.py", "a") as f:  # imported by plot_data, plot_run and report
        f.write("\n# an edit\n")
    assert planned(wf) == Counter(
        {
            ("plot_data", None): 1,
            ("evaluate", "only"): 1,
            ("plot_run", "only"): 1,
            ("report", None): 1,
            ("all", None): 1,
        }
    )
    assert planned(Workflow(tmp_path / "copied", cfg, snakefile=tmp_path / "copied" / "Snakefile")) == Counter()


def test_two_fresh_runs_are_byte_identical_whatever_the_cores(done, tmp_path):
    """Every file in results/ is the same bytes in a second fresh run with other --cores (`all` and `quick`),
    summary.csv and seeds.csv included; only the wall times differ: timings.json and timings.csv, the logs
    and benchmark TSVs, and report.html (its runs table shows train time per seed, its provenance the
    git commit, whether the tree has uncommitted changes)."""
    mirror = Path(done.config["mnist_mirror"])
    done.run("--cores", "4", "quick")  # nothing to do if test_quick_target_... ran already
    (tmp_path / "work").mkdir()
    again = Workflow(tmp_path / "work", done.config)
    again.run("--cores", "1", "all", "quick")
    compared = set()
    for path in sorted(done.path("results").rglob("*")):
        rel = path.relative_to(done.workdir)
        if (
            path.is_dir()
            or path.name in ("timings.json", "timings.csv", "report.html")
            or "logs" in rel.parts
            or "benchmarks" in rel.parts
        ):
            continue
        assert (again.workdir / rel).read_bytes() == path.read_bytes(), f"{rel} differs between two runs"
        compared.add(rel.as_posix())
    for table in ("summary.csv", "seeds.csv", "ledger.md"):
        assert {f"results/{table}", f"results/quick/{table}"} <= compared, table
    assert len(compared) >= 5 * sum(len(seeds(done, r)) for r in all_runs(done)) + 6 * len(all_runs(done)), compared
    for wf in (done, again):  # what was left out is there, and holds the times
        assert wf.path("results/timings.csv").read_text().startswith("run,seed,train_seconds,")
    assert mirror.exists()


def train_rules(wf: Workflow) -> list[str]:
    """The training rules (one per block of a run's seeds)."""
    return [r for r in wf.run("--list-rules").stdout.split() if r.startswith("train_")]


def test_quick_target_trains_only_the_blocks_of_first_seeds(done):
    """quick reports each run's first seed; training the first seed trains its block (here both of
    sig's seeds, one job), and evaluates only the first seed."""
    jobs = planned(done, "quick", "--forcerun", *train_rules(done))
    assert jobs[("train", "sig")] == 1 and jobs[("evaluate", "sig")] == 1
    assert jobs[("quick", None)] == 1 and ("report", None) not in jobs
    done.run("--cores", "2", "quick")
    with open(done.path("results/quick/summary.csv"), newline="") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert rows["sig"]["n_seeds"] == "1" and set(rows) == set(all_runs(done))
    assert "Published results, run again" in done.path("results/quick/report.html").read_text()


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


def test_every_job_computes_with_the_pinned_numerics_whatever_the_caller_asked(done, tmp_path):
    """The caller's environment asks numpy for its AVX-512 loops back (NPY_DISABLE_CPU_FEATURES naming
    only AVX512_SPR leaves X86_V4 and AVX512_ICL on); OPENBLAS_CORETYPE is left as this machine's
    environment has it (unset here, Haswell elsewhere: tests never select another kernel). Every job
    pins before numpy loads: its log says the Haswell kernel and numpy's X86_V3 loops only, and the
    float64 run's files are the first run's bytes (on an AVX-512 CPU they would differ unpinned:
    tests/pipeline/test_numerics.py shows that half)."""
    (tmp_path / "work").mkdir()
    again = Workflow(tmp_path / "work", done.config)
    target = "results/runs/wide/seed-3/metrics.json"
    again.run("--cores", "2", target, env={"NPY_DISABLE_CPU_FEATURES": "AVX512_SPR"})
    for name in ("model.npz", "history.json", "metrics.json", "test-predictions.npy"):
        rel = f"results/runs/wide/seed-3/{name}"
        assert again.path(rel).read_bytes() == done.path(rel).read_bytes(), rel
    logs = sorted(again.path("results/logs").rglob("*.log"))
    assert {p.parent.name if p.parent.name != "logs" else p.stem for p in logs} >= {"decode", "wide"}
    for log in logs:
        first = log.read_text().splitlines()[0]
        assert first.startswith("numerics pinned: OpenBLAS ") and " kernel Haswell, numpy dispatch X86_V3" in first, (
            log,
            first,
        )
        assert "WARNING" not in log.read_text(), log


def test_a_row_scored_from_another_run_trains_nothing_and_is_judged_from_its_rounds(tmp_path, tiny_mirror):
    """config `scored_from`: the row plans no train, evaluate or plot_run job; the report reads its
    figures from the other run's histories after that round and gives it a verdict."""
    mirror, sums = tiny_mirror
    cfg = tiny_config(mirror, sums)
    cfg["runs"] = {
        "sig": cfg["runs"]["sig"],
        "sig-round-1": {
            "scored_from": {"run": "sig", "round": 1},
            "reference": {"accuracy": 0.3, "source": "a test", "kind": "reproduction", **CITED},
        },
    }
    cfg["sweeps"], cfg["comparisons"] = {}, []
    wf = Workflow(tmp_path / "work", cfg, mkdir=True)
    jobs = planned(wf)
    assert not [job for job in jobs if job[1] == "sig-round-1"], jobs
    assert {"evaluate", "plot_run"} <= {rule for rule, run in jobs if run == "sig"}
    wf.run("--cores", "2")
    assert not list(wf.path("results").rglob("sig-round-1*"))  # no file of its own, no log, no benchmark
    after_one = [
        json.loads(wf.path(f"results/runs/sig/seed-{s}/history.json").read_text())["test_accuracy"][0] for s in (3, 4)
    ]
    with open(wf.path("results/summary.csv"), newline="") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    row = rows["sig-round-1"]
    assert row["test_accuracies"] == " ".join(map(str, after_one)) and row["epochs_run"] == "1"
    assert row["verdict"] in ("reproduced", "within_spread", "inconclusive", "above", "below")
    assert row["scored_from"] == '{"round": 1, "run": "sig"}' and rows["sig"]["scored_from"] == ""
    with open(wf.path("results/seeds.csv"), newline="") as f:
        assert [(r["seed"], r["epochs_run"]) for r in csv.DictReader(f) if r["run"] == "sig-round-1"] == [
            ("3", "1"),
            ("4", "1"),
        ]
    with open(wf.path("results/timings.csv"), newline="") as f:
        assert {r["run"] for r in csv.DictReader(f)} == {"sig"}
    note = "scored from sig after round 1, not trained"
    assert wf.path("results/ledger.md").read_text().count(note) == 1
    assert f"none: {note}" in wf.path("results/report.html").read_text()
    wf.run("--cores", "2", "quick")  # each run's first seed: the row's is its source's first
    with open(wf.path("results/quick/summary.csv"), newline="") as f:
        quick = {r["run"]: r for r in csv.DictReader(f)}
    assert quick["sig-round-1"]["n_seeds"] == "1" and quick["sig-round-1"]["test_accuracies"] == str(after_one[0])


def test_a_cluster_job_trains_the_block_the_plan_gave_it(tiny_workflow):
    """Under a cluster executor every job runs Snakemake again (`--mode remote`) and finds its rule by
    name. The blocks come from the plan of the Snakemake the user started, not from the outputs that
    exist when the job starts: here seed 3's files appear before sig's job parses the workflow, and the
    job still trains its whole block, seeds 3 and 4."""
    wf = tiny_workflow
    wf.run(
        "--cores",
        "2",
        "results/data/train-images.npy",
        "results/data/train-labels.npy",
        "results/data/test-images.npy",
        "results/data/test-labels.npy",
    )
    wf.run("-n")  # the user's Snakemake plans the blocks
    rule = next(r for r in wf.run("--list-rules").stdout.split() if r.startswith("train_0_"))
    for name in ("model.npz", "history.json", "timings.json"):  # another job finished seed 3 meanwhile
        wf.path(f"results/runs/sig/seed-3/{name}").parent.mkdir(parents=True, exist_ok=True)
        wf.path(f"results/runs/sig/seed-3/{name}").write_text("made elsewhere")
    wf.run(
        "--target-jobs",
        f"{rule}:run=sig",
        "--allowed-rules",
        rule,
        "--cores",
        "1",
        "--force",
        "--nolock",
        "--mode",
        "remote",
    )
    for seed in (3, 4):
        assert serialize.load(wf.path(f"results/runs/sig/seed-{seed}/model.npz")).replicas == 1
