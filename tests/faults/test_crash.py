"""Crash harness (issue 22): SIGKILL of the whole process tree, then recovery as a user would.

Each kill point runs the small pipeline (conftest.small_config) from nothing in a fresh folder as
`snakemake --cores 2`, started in its own session as a terminal would, and SIGKILLs its whole process
group (Snakemake, its jobs, their children) at a moment chosen by watching for a stage's file or log
line to appear, plus a seeded delay: in download, decode, the data or run figures, training,
evaluation or the report. Two points in five kill again during the recovery run. The user then
follows Snakemake's message: the same command again; if it stops with Snakemake's LockException
("Directory cannot be locked", it suggests --unlock), `snakemake --unlock`, then the command again.
At the end every result file equals an uninterrupted run's (conftest.result_files: wall times
left out), no temporary file is left, no checkpoint stays, and one more run has nothing to do.

    pytest tests/faults/test_crash.py                       2 kill points (CI): in train; in report, then in recovery
    pytest tests/faults/test_crash.py --crash-points 24 -s  24, one line each (docs/faults.md, F8)
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Workflow, differences, snakemake_env

pytestmark = pytest.mark.slow

LOCKED = "Directory cannot be locked"
POLL = 0.002  # seconds between looks for a trigger


# ---------------------------------------------------------------- the moments


@dataclass(frozen=True)
class Trigger:
    """A moment of the pipeline: `path` exists (and, with `line`, holds it)."""

    stage: str
    path: str
    line: str | None = None

    def fired(self, wf: Workflow) -> bool:
        path = wf.path(self.path)
        if self.line is None:
            return path.exists()
        try:
            return self.line in path.read_text()
        except FileNotFoundError:
            return False

    @property
    def output(self) -> bool:
        """An output file (not a log): absent until its job writes it, also in a recovery run."""
        return self.line is None and "/logs/" not in f"/{self.path}"

    def __str__(self):
        return f"{self.path}" + (f" has {self.line.strip()!r}" if self.line else "")


TRIGGERS = [
    Trigger("download", "results/logs/download/train-images-idx3-ubyte.log"),  # the job's main() began
    Trigger("download", "results/raw/t10k-labels-idx1-ubyte.gz"),
    Trigger("download", "results/raw/train-images-idx3-ubyte.gz"),
    Trigger("decode", "results/logs/decode/train.log"),
    Trigger("decode", "results/data/train-images.npy"),  # its labels not yet written
    Trigger("decode", "results/data/test-labels.npy"),
    Trigger("plots", "results/logs/plot_data.log"),
    Trigger("plots", "results/data/plots/first_ten.png"),  # three more figures to draw
    Trigger("plots", "results/logs/plot_run/b.log"),
    Trigger("plots", "results/runs/b/confusion.png"),
    Trigger("train", "results/logs/train/b/seeds-3-4.log", "\nseed 3: epoch 1/"),  # its checkpoint is saved
    Trigger("train", "results/logs/train/b/seeds-3-4.log", "\nseed 4: epoch 2/"),
    Trigger("train", "results/runs/a/seed-3/model.npz"),  # history, timings not yet
    Trigger("train", "results/runs/b/seed-4/model.npz"),
    Trigger("evaluate", "results/logs/evaluate/b/seed-3.log"),
    Trigger("evaluate", "results/runs/a/seed-3/metrics.json"),  # predictions not yet
    Trigger("evaluate", "results/runs/b/seed-4/test-predictions.npy"),
    Trigger("report", "results/logs/report.log"),
    Trigger("report", "results/report/val_curves.png"),
    Trigger("report", "results/summary.csv"),  # the page not yet written
    Trigger("report", "results/report.html"),  # the job done; Snakemake's own bookkeeping
]
STAGES = ["train", "report", "download", "evaluate", "decode", "plots"]  # point k kills in STAGES[k % 6]


@dataclass(frozen=True)
class Kill:
    trigger: Trigger
    delay: float  # seconds after the trigger

    def __str__(self):
        return f"{self.trigger.stage}: {self.trigger} +{1000 * self.delay:.0f} ms"


def first_kill(point: int) -> Kill:
    """Point k: the stage STAGES[k % 6], its triggers in turn, a seeded delay of 0-150 ms."""
    triggers = [t for t in TRIGGERS if t.stage == STAGES[point % len(STAGES)]]
    return Kill(triggers[point // len(STAGES) % len(triggers)], random.Random(f"crash point {point}").uniform(0, 0.15))


def recovery_kill(point: int, wf: Workflow) -> Kill | None:
    """Points 1, 3, 6, 8, 11, ... (two in five, in every stage) kill again during the recovery, at an
    output that is not there yet."""
    if point % 5 not in (1, 3):
        return None
    rng = random.Random(f"crash point {point}, recovery")
    todo = [t for t in TRIGGERS if t.output and not t.fired(wf)]
    return Kill(rng.choice(todo), rng.uniform(0, 0.15)) if todo else None


def pytest_generate_tests(metafunc):
    if "point" in metafunc.fixturenames:
        n = metafunc.config.getoption("--crash-points")
        metafunc.parametrize("point", range(n), ids=[f"{p}-{first_kill(p).trigger.stage}" for p in range(n)])


# ---------------------------------------------------------------- running and killing


def command(wf: Workflow, *extra: str) -> list[str]:
    """What the user types, always the same: `snakemake --cores 2` (here with the test's folder and config)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(wf.snakefile),
        "--directory",
        str(wf.workdir),
        "--configfile",
        str(wf.configfile),
        "--cores",
        "2",
        *extra,
    ]


def scripts_running(group: int) -> list[str]:
    """The job scripts running in a process group (`train`, `plot_run`, ...), for the record."""
    found = set()
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and os.getpgid(int(d.name)) == group:
                found.update(
                    a
                    for a in (d / "cmdline").read_bytes().decode().split("\0")
                    if "/.snakemake/scripts/tmp" in a and a.endswith(".py")
                )
        except (OSError, ValueError):
            continue  # ended while we looked
    return sorted(Path(script).name.split(".")[-2] for script in found)  # tmpXXXX.train.py: train


def group_alive(group: int) -> bool:
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and os.getpgid(int(d.name)) == group:
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    return True
        except (OSError, ValueError, IndexError):
            continue
    return False


def launch(wf: Workflow, kill: Kill | None, log: list) -> int | None:
    """Run the command; with `kill`, SIGKILL its whole process group at that moment. The exit
    status, or None if it was killed."""
    out = wf.workdir / f"snakemake-{len(log)}.txt"
    with open(out, "w") as f:
        proc = subprocess.Popen(
            command(wf), stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=snakemake_env()
        )
    try:
        if kill is not None:
            while proc.poll() is None and not kill.trigger.fired(wf):
                time.sleep(POLL)
            time.sleep(kill.delay)
            if proc.poll() is None:
                running = scripts_running(proc.pid)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
                deadline = time.monotonic() + 60
                while group_alive(proc.pid):  # every process of the tree, not only Snakemake
                    assert time.monotonic() < deadline, "processes of the killed group still run after 60 s"
                    time.sleep(0.01)
                log.append(f"killed at {kill}, running {', '.join(running) or 'no job'}")
                return None
        rc = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = out.read_text()
    if rc != 0 and LOCKED in text:
        assert "--unlock" in text, text[-2000:]
        log.append("locked")
    else:
        if kill is not None:
            log.append(f"not killed at {kill}: the run had ended")
        log.append(f"exit {rc}")
    wf.last_output = text
    return rc


def recover(wf: Workflow, log: list, kill: Kill | None = None) -> None:
    """The user after a crash: the command again; after Snakemake's LockException, --unlock and again."""
    just_unlocked = False
    for _ in range(5):
        rc = launch(wf, kill, log)
        if rc is None:  # killed during the recovery: recover from that too
            kill, just_unlocked = None, False
            continue
        if log[-1] != "locked":
            kill = None  # the kill was meant for this run (it ended first)
        if rc == 0:
            return
        assert log[-1] == "locked", f"the rerun failed, not at the lock:\n{wf.last_output[-3000:]}"
        assert not just_unlocked, "still locked after --unlock"
        unlocked = subprocess.run(
            command(wf, "--unlock"), capture_output=True, text=True, timeout=300, env=snakemake_env()
        )
        assert unlocked.returncode == 0, unlocked.stderr
        log.append("unlocked")
        just_unlocked = True
    pytest.fail(f"no complete run after {log}")


def launches(log: list[str]) -> int:
    return sum(e.startswith(("killed", "exit")) or e == "locked" for e in log)


def leftovers(wf: Workflow) -> list[str]:
    return [str(p) for p in wf.path("results").rglob("*") if ".partial-" in p.name or p.name.startswith(".write-test-")]


# ---------------------------------------------------------------- the test


def test_killed_at_any_moment_then_rerun_as_snakemake_says_gives_the_same_results(point, small_pipeline, tmp_path):
    started = time.monotonic()
    wf = Workflow(tmp_path / "work", small_pipeline.config, mkdir=True)
    log: list[str] = []
    assert launch(wf, first_kill(point), log) is None, f"the run ended before the kill: {log}"
    recover(wf, log, recovery_kill(point, wf))
    assert leftovers(wf) == [], "temporary files left behind"
    assert [str(p) for p in wf.path("results/checkpoints").rglob("*") if p.is_file()] == [], "a checkpoint stayed"
    assert differences(wf, small_pipeline) == [], log
    again = subprocess.run(command(wf), capture_output=True, text=True, timeout=300, env=snakemake_env())
    assert again.returncode == 0 and "Nothing to be done" in again.stderr, again.stderr[-3000:]
    print(
        f"\ncrash point {point}: {'; '.join(log)}; {launches(log) - 1} reruns, {log.count('unlocked')} --unlock, "
        f"results identical; {time.monotonic() - started:.1f} s"
    )
