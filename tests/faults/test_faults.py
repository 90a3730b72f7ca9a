"""Faults and hostile input through the whole pipeline (docs/faults.md is the catalogue).

One tiny pipeline is run once (module fixture `done`): a normal run `a`, a run `slow` long
enough to be killed mid-training, and a run `diverge` whose learning rate makes the loss
NaN. Every fault test works on a copy of that folder, so it only reruns what it damages,
and compares what the rerun makes with the undisturbed bytes of `done`.
"""

from __future__ import annotations

import csv
import functools
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import MNIST_NAMES, REPO, Workflow, snakemake_env, tiny_config, write_tiny_mirror
from nn import serialize

pytestmark = pytest.mark.slow

RUNS = {"a": {}, "slow": {"hidden": [512], "batch_size": 10, "epochs": 15}, "diverge": {"lr": 1e20}}
DIVERGED = "training diverged: loss is nan at epoch 1, batch 2 of 16"
VOLATILE = ("timings.json",)  # wall-clock times: the only run file allowed to differ


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Workflow:
    root = tmp_path_factory.mktemp("faults")
    cfg = tiny_config(root / "mirror", write_tiny_mirror(root / "mirror"))
    cfg["runs"], cfg["sweeps"], cfg["comparisons"] = RUNS, {}, []
    (root / "work").mkdir()
    wf = Workflow(root / "work", cfg)
    wf.proc = wf.run("--cores", "2")  # no --keep-going: a diverging run must not fail the workflow
    return wf


def copy_of(done: Workflow, tmp_path: Path) -> Workflow:
    """The finished pipeline in a new folder (metadata and mtimes too): nothing to do there yet."""
    subprocess.run(["cp", "-a", str(done.workdir), str(tmp_path / "work")], check=True)
    return Workflow(tmp_path / "work", done.config)


def files_in(wf: Workflow, run: str) -> list[str]:
    return sorted(p.name for p in wf.path(f"results/runs/{run}/seed-3").glob("*"))


def forget(wf: Workflow, run: str) -> str:
    """Remove a run's outputs and training log; return the target that trains and evaluates it again."""
    for p in [*wf.path(f"results/runs/{run}/seed-3").iterdir(), wf.path(f"results/logs/train/{run}/seed-3.log")]:
        p.unlink()
    return f"results/runs/{run}/seed-3/metrics.json"


def assert_same_run(done: Workflow, wf: Workflow, run: str) -> None:
    names = files_in(done, run)
    assert files_in(wf, run) == names
    for name in names:
        if name not in VOLATILE:
            assert (
                wf.path(f"results/runs/{run}/seed-3/{name}").read_bytes()
                == done.path(f"results/runs/{run}/seed-3/{name}").read_bytes()
            ), f"{run}/{name} differs from an undisturbed run"


def leftovers(wf: Workflow) -> list[str]:
    """Temp files of nn.fileio or of our writability probe: never to be left behind."""
    return [str(p) for p in wf.path("results").rglob("*") if ".partial-" in p.name or p.name.startswith(".write-test-")]


def summary(wf: Workflow) -> dict:
    with open(wf.path("results/summary.csv"), newline="") as f:
        return {row["run"]: row for row in csv.DictReader(f)}


# ---------------------------------------------------------------- processes


class Snakemake:
    """`snakemake` in the background, in its own process group (as a terminal would run it)."""

    def __init__(self, wf: Workflow, *args: str):
        self.wf = wf
        self.out = wf.workdir / f"snakemake-{time.monotonic_ns()}.txt"
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(wf.snakefile),
            "--directory",
            str(wf.workdir),
            "--configfile",
            str(wf.configfile),
            *args,
        ]
        with open(self.out, "w") as f:  # a file, not a pipe: a full pipe would stall snakemake
            # SIGINT back to its default: a test run started from a non-interactive shell's
            # background (`cmd &`) inherits it ignored, and Ctrl-C would then do nothing
            self.proc = subprocess.Popen(
                cmd,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=snakemake_env(),
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )

    def wait_for_epoch(self, run: str, timeout: float = 120) -> None:
        log = self.wf.path(f"results/logs/train/{run}/seed-3.log")
        deadline = time.monotonic() + timeout
        while not (log.exists() and "\nseed 3: epoch 1/" in log.read_text()):
            assert self.proc.poll() is None, f"snakemake ended before training {run}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no epoch of {run} in {timeout} s"
            time.sleep(0.02)

    def job_pid(self, script: str) -> int:
        """The process running workflow/scripts/<script> (Snakemake copies it to .snakemake/scripts/)."""
        found = [pid for pid, cmdline in descendants(self.proc.pid) if f".{script}" in cmdline]
        assert len(found) == 1, (script, descendants(self.proc.pid))
        return found[0]

    def wait(self, timeout: float = 300) -> int:
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        return self.out.read_text()


def descendants(pid: int) -> list[tuple[int, str]]:
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = (
                    int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]),
                    (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(),
                )
            except (OSError, IndexError, ValueError):
                continue  # ended while we looked
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [(c, cmd) for c, (pp, cmd) in parent.items() if pp == p]
        out += kids
        todo += [c for c, _ in kids]
    return out


# ---------------------------------------------------------------- a diverging run


def test_diverging_run_is_a_failed_run_not_a_failed_workflow(done):
    out = done.proc.stdout + done.proc.stderr
    assert f"run diverge, seed 3: {DIVERGED}" in out  # the job's own line
    assert any(line.startswith(f"WARNING: run diverge (seed 3) failed: {DIVERGED}") for line in out.splitlines()[-6:])
    metrics = done.path("results/runs/diverge/seed-3/metrics.json")
    assert '"status": "failed"' in metrics.read_text() and '"test_accuracy": null' in metrics.read_text()
    for run in ("a", "slow"):
        assert '"test_accuracy": 1.0' in done.path(f"results/runs/{run}/seed-3/metrics.json").read_text()
    rows = summary(done)
    assert rows["diverge"]["status"] == "failed" and DIVERGED in rows["diverge"]["error"]
    assert rows["a"]["status"] == rows["slow"]["status"] == "ok"
    assert list(rows)[-1] == "diverge", "failed runs come last"
    html = done.path("results/report.html").read_text()
    assert f"failed: seed 3: {DIVERGED}" in html
    for png in ("confusion", "curves", "predictions", "worst_errors", "near_misses", "first_output"):
        assert done.path(f"results/runs/diverge/{png}.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(serialize.ModelFileError, match=f"model.npz: the run produced no usable model .*{DIVERGED}"):
        serialize.load(done.path("results/runs/diverge/seed-3/model.npz"))
    assert leftovers(done) == []


def test_diverging_run_with_keep_going_fails_the_same_way(done, tmp_path):
    wf = copy_of(done, tmp_path)
    proc = wf.run("--cores", "1", "--keep-going", forget(wf, "diverge"))
    assert f"WARNING: run diverge (seed 3) failed: {DIVERGED}" in proc.stderr
    assert_same_run(done, wf, "diverge")  # deterministic: the same NaN at the same batch


# ---------------------------------------------------------------- killed and interrupted runs


def training_in_progress(done, tmp_path):
    """A copy of the pipeline retraining run `slow` in the background, caught after its first epoch."""
    wf = copy_of(done, tmp_path)
    target = forget(wf, "slow")
    sm = Snakemake(wf, "--cores", "1", target)
    sm.wait_for_epoch("slow")
    return wf, target, sm


def test_sigkill_of_a_training_job_then_rerun(done, tmp_path):
    wf, target, sm = training_in_progress(done, tmp_path)
    os.kill(sm.job_pid("train.py"), signal.SIGKILL)
    assert sm.wait() == 1
    out = sm.output()
    assert "died with <Signals.SIGKILL: 9>" in out and re.search(r"Error in rule train_\w+:", out)
    assert "output: results/runs/slow/seed-3/model.npz" in out
    assert files_in(wf, "slow") == [] and leftovers(wf) == []
    assert wf.path("results/checkpoints/slow/seed-3.npz").exists()  # epoch 1's, at least
    wf.run("--cores", "1", target)  # the profile's rerun-incomplete: no --unlock needed
    assert "resuming run slow from epoch " in wf.path("results/logs/train/slow/seed-3.log").read_text()
    assert_same_run(done, wf, "slow")
    assert not wf.path("results/checkpoints/slow/seed-3.npz").exists()


# the training rule of a block is train_<run index>_<first seed>
INTERRUPTED = "interrupted (Ctrl-C) in rule train_{}_3 (run={}); outputs not written"
RUN_INDEX = {run: i for i, run in enumerate(RUNS)}


def interrupted(run: str) -> str:
    return INTERRUPTED.format(RUN_INDEX[run], run)


def job_lines(out: str) -> list[str]:
    """Snakemake's output without the failed jobs' logs it shows (the profile's show-failed-logs)."""
    return re.sub(r"^Logfile [^\n]*:\n=+\n.*?^=+\n", "", out, flags=re.M | re.S).splitlines()


def test_ctrl_c_of_the_whole_workflow_then_rerun(done, tmp_path):
    wf, target, sm = training_in_progress(done, tmp_path)
    os.killpg(sm.proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert sm.wait() != 0
    out = sm.output()
    assert "Terminating processes on user request" in out
    assert job_lines(out).count(interrupted("slow")) == 1 and "Traceback" not in out, out
    assert "died with <Signals.SIGINT: 2>" in out
    assert interrupted("slow") in wf.path("results/logs/train/slow/seed-3.log").read_text()
    assert files_in(wf, "slow") == [] and leftovers(wf) == []
    wf.run("--cores", "1", target)
    assert "resuming run slow from epoch " in wf.path("results/logs/train/slow/seed-3.log").read_text()
    assert_same_run(done, wf, "slow")


def test_ctrl_c_as_jobs_start_prints_one_line_per_job_and_no_traceback(done, tmp_path):
    """Ctrl-C while two training jobs are still starting: in Python's startup, Snakemake's preamble or
    importing numpy, before any main() runs (each used to print a KeyboardInterrupt traceback)."""
    wf = copy_of(done, tmp_path)
    targets = [forget(wf, "a"), forget(wf, "diverge")]
    sm = Snakemake(wf, "--cores", "2", *targets)
    deadline = time.monotonic() + 120
    # the jobs' Python itself (not the bash or env before it: a Ctrl-C in bash's first millisecond
    # ends the job before any code of ours exists, silently; docs/faults.md F2)
    while (
        len(
            [
                pid
                for pid, cmd in descendants(sm.proc.pid)
                if ".train.py" in cmd and os.path.basename(cmd.split()[0]).startswith("python")
            ]
        )
        < 2
    ):
        assert sm.proc.poll() is None, f"snakemake ended before both trainings started:\n{sm.output()}"
        assert time.monotonic() < deadline, "the two trainings did not start in 120 s"
        time.sleep(0.005)
    os.killpg(sm.proc.pid, signal.SIGINT)
    assert sm.wait() != 0
    out = sm.output()
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    ours = [line for line in job_lines(out) if line.startswith("interrupted (Ctrl-C)")]
    # both jobs had reached Python, so both had SIGINT blocked or handled: exactly one line each
    assert sorted(ours) == sorted([interrupted("a"), interrupted("diverge")]), out
    assert len(re.findall(r"Error in rule train_\w+:", out)) == 2 and out.count("died with <Signals.SIGINT: 2>") == 2, (
        out
    )
    assert files_in(wf, "a") == files_in(wf, "diverge") == [] and leftovers(wf) == []
    wf.run("--cores", "2", *targets)
    assert_same_run(done, wf, "a")
    assert_same_run(done, wf, "diverge")


def test_second_snakemake_meets_the_lock_then_a_clean_run(done, tmp_path):
    wf, target, first = training_in_progress(done, tmp_path)
    train = first.job_pid("train.py")
    os.kill(train, signal.SIGSTOP)  # hold the first run inside its job, however fast the machine
    try:
        second = wf.run("--cores", "1", target, check=False)
    finally:
        os.kill(train, signal.SIGCONT)
    assert second.returncode == 1
    assert "LockException" in second.stderr and "Directory cannot be locked" in second.stderr
    assert first.wait() == 0, first.output()
    again = wf.run("--cores", "1", target)
    assert "Nothing to be done" in again.stderr
    assert_same_run(done, wf, "slow")


# ---------------------------------------------------------------- the disk and the folder

# PYTHONDONTWRITEBYTECODE: under the limit CPython would install a .pyc cut short (it does not check the
# length written), which every later process importing that module then fails to load
FSIZE_LAUNCHER = (
    "import os, resource, sys; limit = int(sys.argv[1]); os.environ['PYTHONDONTWRITEBYTECODE'] = '1'; "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


def test_disk_full_while_drawing_leaves_no_partial_file(done, tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse every write past 12 kB (EFBIG), as a full disk would."""
    wf = copy_of(done, tmp_path)
    wf.path("results/runs/a/curves.png").unlink()
    cmd = [
        sys.executable,
        "-c",
        FSIZE_LAUNCHER,
        "12000",
        "-m",
        "snakemake",
        "--snakefile",
        str(wf.snakefile),
        "--directory",
        str(wf.workdir),
        "--configfile",
        str(wf.configfile),
        "--cores",
        "1",
        "results/runs/a/curves.png",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=snakemake_env())
    assert proc.returncode == 1
    line = next(line for line in proc.stderr.splitlines() if line.startswith("error in rule plot_run:"))
    assert "File too large: 'results/runs/a/" in line, line
    assert leftovers(wf) == []
    assert not wf.path("results/runs/a/curves.png").exists(), "a failed job's outputs must not stay"
    assert_same_run(done, wf, "slow")  # the other runs are untouched
    wf.run("--cores", "1", "results/runs/a/curves.png")
    assert wf.path("results/runs/a/curves.png").read_bytes() == done.path("results/runs/a/curves.png").read_bytes()


class ReadOnly:
    """A folder unwritable for real: chmod for a normal user; root ignores modes, so chattr +i."""

    def __init__(self, folder: Path):
        self.folder, self.root = folder, os.geteuid() == 0
        if self.root:
            subprocess.run(["chattr", "+i", str(folder)], check=True, capture_output=True)
        else:
            folder.chmod(0o555)
        self.reason = "Operation not permitted" if self.root else "Permission denied"

    def undo(self):
        if self.root:
            subprocess.run(["chattr", "-i", str(self.folder)], check=True)
        else:
            self.folder.chmod(0o755)


def test_read_only_output_folder_stops_before_any_job(done, tmp_path):
    wf = copy_of(done, tmp_path)
    wf.path("results/runs/a/seed-3/metrics.json").unlink()
    before = {p: p.read_bytes() for p in wf.path("results/runs/a/seed-3").iterdir()}
    frozen = ReadOnly(wf.path("results/runs/a/seed-3"))
    try:
        proc = wf.run("--cores", "1", "results/runs/a/seed-3/metrics.json", check=False)
    finally:
        frozen.undo()
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        f"Output folder results/runs/a/seed-3 is not writable ({frozen.reason}); "
        "make it writable and run again: nothing was changed"
    )
    assert {p: p.read_bytes() for p in wf.path("results/runs/a/seed-3").iterdir()} == before
    assert leftovers(wf) == []
    wf.run("--cores", "1", "results/runs/a/seed-3/metrics.json")
    assert_same_run(done, wf, "a")


# ---------------------------------------------------------------- damaged files in results/


class Unpickled:
    """Unpickling this creates `marker`: proof that a pickle was, or was not, loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_an_npy_whose_header_claims_730_gib_stops_evaluate_in_one_line(done, tmp_path):
    """Issue 11.3 through the pipeline: the header's size is checked against the file before allocating."""
    from helpers import npy_with_header

    wf = copy_of(done, tmp_path)
    bad = wf.path("results/data/test-images.npy")
    bad.write_bytes(npy_with_header((1_000_000, 784, 1000), data=bytes(100)))
    proc = wf.run("--cores", "1", "results/runs/a/seed-3/metrics.json", check=False)
    assert proc.returncode == 1
    assert (
        "error in rule evaluate: results/data/test-images.npy: header declares 784000000000 data bytes "
        "[1000000, 784, 1000], the file holds 100"
    ) in proc.stderr.splitlines(), proc.stderr[-2000:]
    assert not wf.path("results/runs/a/seed-3/metrics.json").exists() and leftovers(wf) == []
    assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr


def test_pickled_npy_in_results_is_refused_never_loaded(done, tmp_path):
    wf = copy_of(done, tmp_path)
    marker = tmp_path / "unpickled"
    bad = wf.path("results/data/test-images.npy")
    np.save(bad, np.array([Unpickled(marker)], dtype=object), allow_pickle=True)
    proc = wf.run("--cores", "1", "results/runs/a/seed-3/metrics.json", check=False)
    assert proc.returncode == 1
    assert (
        "error in rule evaluate: results/data/test-images.npy: holds a pickled object array; refusing to unpickle it"
    ) in proc.stderr.splitlines()
    assert not marker.exists(), "the pickle was loaded"
    assert not wf.path("results/runs/a/seed-3/metrics.json").exists() and leftovers(wf) == []
    bad.unlink()  # the fix: remove the file; decode makes it again
    wf.run("--cores", "1", "results/runs/a/seed-3/metrics.json")
    assert not marker.exists()
    assert_same_run(done, wf, "a")


def rewrite_architecture(path: Path, edit) -> None:
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    header_end = entries["architecture.npy"].index(b"\n") + 1
    arch = entries["architecture.npy"][header_end:]
    new = edit(arch.decode()).encode()
    assert len(new) == len(arch)  # keep the .npy header's shape valid: only the JSON changes
    entries["architecture.npy"] = entries["architecture.npy"][:header_end] + new
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a readable model .npz"),
        (
            lambda p: rewrite_architecture(
                p, lambda a: a.replace('"n_out": 16', '"n_out": 17').replace('"n_in": 16', '"n_in": 17')
            ),
            r"array '0.W' is float32\[784, 16\], the architecture says float32\[784, 17\]",
        ),
    ],
    ids=["truncated", "architecture-mismatch"],
)
def test_damaged_model_fails_its_evaluation_in_one_line(done, tmp_path, damage, message):
    wf = copy_of(done, tmp_path)
    damage(wf.path("results/runs/a/seed-3/model.npz"))
    proc = wf.run("--cores", "1", "results/runs/a/seed-3/metrics.json", check=False)
    assert proc.returncode == 1
    line = next(line for line in proc.stderr.splitlines() if line.startswith("error in rule evaluate:"))
    assert line.startswith("error in rule evaluate: results/runs/a/seed-3/model.npz: ")
    assert re.search(message, line), line
    assert not wf.path("results/runs/a/seed-3/metrics.json").exists() and leftovers(wf) == []
    assert_same_run(done, wf, "slow")


def test_a_model_from_another_run_is_refused_in_one_line(done, tmp_path):
    """Issue 11.4: results/runs/a/seed-3/model.npz replaced by run slow's (784-512-10): never reported as a's."""
    wf = copy_of(done, tmp_path)
    wf.path("results/runs/a/seed-3/model.npz").write_bytes(done.path("results/runs/slow/seed-3/model.npz").read_bytes())
    proc = wf.run("--cores", "1", "results/runs/a/seed-3/metrics.json", check=False)
    assert proc.returncode == 1
    line = next(line for line in proc.stderr.splitlines() if line.startswith("error in rule evaluate:"))
    assert line == (
        "error in rule evaluate: results/runs/a/seed-3/model.npz: this model is Linear(784->512) relu "
        "Linear(512->10) softmax, cross_entropy, float32, but run a's hyperparameters describe "
        "Linear(784->16) relu Linear(16->10) softmax, cross_entropy, float32; it belongs to another run "
        "(retrain with snakemake --forcerun train)"
    ), line
    assert not wf.path("results/runs/a/seed-3/metrics.json").exists() and leftovers(wf) == []


# ---------------------------------------------------------------- config and mirrors


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    """config.yaml is checked by the Snakefile itself: Snakemake's message names neither file nor line."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Snakefile", "workflow", "nn", "profiles"):
        subprocess.run(["cp", "-a", str(REPO / name), str(repo / name)], check=True)
    text = (REPO / "config.yaml").read_text().splitlines()
    line = next(i for i, line in enumerate(text) if line.strip().startswith("lr:"))
    text[line] = text[line].replace("lr: ", "lr: [", 1)  # an unclosed flow sequence
    (repo / "config.yaml").write_text("\n".join(text) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "-n"],
        cwd=repo,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    # libyaml's parser (nn.pipeline.config uses it where PyYAML has it) words it "did not find expected
    # ',' or ']'", the pure-Python one "expected ',' or ']', but got ':'": the file, line and column are ours
    assert re.fullmatch(
        re.escape(f"Config error: {repo / 'config.yaml'}: YAML syntax error at line {line + 2}, column 11: ")
        + r"(did not find expected ',' or '\]'|expected ',' or '\]', but got ':')"
        + re.escape(f" (while parsing a flow sequence at line {line + 1})"),
        proc.stderr.splitlines()[-1],
    )
    assert not (repo / "results").exists()


def test_a_corrupt_recipe_log_stops_the_workflow_in_one_line(tmp_path):
    """benchmarks/recipes.jsonl feeds the report's recipe figure: a bad line is named before any job."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Snakefile", "workflow", "nn", "profiles", "config.yaml", "reproductions", "benchmarks"):
        subprocess.run(["cp", "-a", str(REPO / name), str(repo / name)], check=True)
    log = repo / "benchmarks" / "recipes.jsonl"
    lines = log.read_text().splitlines()
    log.write_text(
        "\n".join([*lines[:2], lines[2].replace('"epochs": ', '"epochs": "ten", "x": ', 1), *lines[3:]]) + "\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "-n"],
        cwd=repo,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == f"Recipe log error: {log}:3: 'epochs' must be int, got 'ten'"
    assert not (repo / "results").exists()


def test_yaml_syntax_error_in_a_configfile_is_snakemakes_message(tiny_workflow):
    """Known limit: Snakemake parses --configfile before our code runs; it stops, but names no line."""
    tiny_workflow.configfile.write_text("runs:\n  a: {lr: 0.1\n")
    proc = tiny_workflow.run("--cores", "1", check=False)
    assert proc.returncode == 1
    assert "Config file is not valid JSON or YAML" in proc.stderr
    assert not tiny_workflow.path("results").exists()


RAW = [f"results/raw/{n}.gz" for n in MNIST_NAMES]


def test_mirror_down_between_two_runs(tmp_path, tiny_mirror):
    """Run 1 downloads over HTTP; the server goes away; nothing reruns; a fresh download falls through."""
    mirror, sums = tiny_mirror
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(mirror)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    cfg = tiny_config(mirror, sums)
    cfg["mnist_mirror"] = None
    cfg["download"]["mirrors"] = [url, str(mirror)]
    (tmp_path / "work").mkdir()
    wf = Workflow(tmp_path / "work", cfg)
    try:
        wf.run("--cores", "1", *RAW)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert f"from {url}" in wf.path("results/logs/download/t10k-labels-idx1-ubyte.log").read_text()
    first = {p: wf.path(p).read_bytes() for p in RAW}
    assert "Nothing to be done" in wf.run("--cores", "1", *RAW).stderr  # the mirror is not an input
    wf.path(RAW[3]).unlink()
    wf.run("--cores", "1", *RAW)
    log = wf.path("results/logs/download/t10k-labels-idx1-ubyte.log").read_text()
    assert f"{url}: failed: connection failed" in log and f"from {mirror}" in log, log
    assert {p: wf.path(p).read_bytes() for p in RAW} == first


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
