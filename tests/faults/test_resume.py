"""A training job killed after epoch k resumes at epoch k+1 through Snakemake, with the same bytes.

One tiny run `resume` with momentum, a shift and an elastic distortion, dropout and early
stopping (so the optimiser, the Generator and the early-stopping state all matter) is trained
once undisturbed (module fixture `done`); each test works on a copy, kills the job with SIGKILL
just after the checkpoint of epoch k, and compares what the rerun makes with `done`'s bytes.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile

import numpy as np
import pytest

from conftest import Workflow, tiny_config, write_tiny_mirror
from test_faults import Snakemake, assert_same_run, copy_of, forget, leftovers

pytestmark = pytest.mark.slow

RUN = {
    "hidden": [256],
    "batch_size": 10,
    "epochs": 20,
    "lr": 0.05,
    "momentum": 0.9,
    "shift": 1,
    "elastic_alpha": 8.0,
    "elastic_sigma": 3.0,
    "dropout": 0.2,
    "early_stopping": 2,
}
CHECKPOINT = "results/checkpoints/resume/seed-3.npz"
LOG = "results/logs/train/resume/seed-3.log"


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Workflow:
    root = tmp_path_factory.mktemp("resume")
    cfg = tiny_config(root / "mirror", write_tiny_mirror(root / "mirror"))
    cfg["runs"], cfg["sweeps"], cfg["comparisons"] = {"resume": RUN}, {}, []
    (root / "work").mkdir()
    wf = Workflow(root / "work", cfg)
    wf.run("--cores", "1", "results/runs/resume/seed-3/metrics.json")
    assert not wf.path(CHECKPOINT).exists(), "a finished job removes its checkpoint"
    return wf


@pytest.fixture(scope="module")
def kill_after(done) -> int:
    """The epoch to kill after: past the best epoch, so the final weights come from the checkpoint."""
    history = json.loads(done.path("results/runs/resume/seed-3/history.json").read_text())
    assert history["stopped_early"], "the run must stop early, to exercise early stopping's state"
    k = history["epoch"][-1] - 1
    assert history["best_epoch"] <= k < history["epoch"][-1]
    return k


def checkpoint_epoch(path) -> int:
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(np.lib.format.read_array(io.BytesIO(zf.read("meta.npy"))).tobytes())
    return len(meta["seeds"][0]["history"]["epoch"])


def kill_after_epoch(sm: Snakemake, k: int, timeout: float = 120) -> None:
    """SIGKILL the training job once epoch k is logged (its checkpoint is saved before its line);
    stopped first, so that the test, not the machine's speed, decides which epoch was the last."""
    log, deadline = sm.wf.path(LOG), time.monotonic() + timeout
    while not (log.exists() and f"\nseed 3: epoch {k}/" in log.read_text()):
        assert sm.proc.poll() is None, f"snakemake ended before epoch {k}:\n{sm.output()}"
        assert time.monotonic() < deadline, f"no epoch {k} in {timeout} s"
        time.sleep(0.005)
    job = sm.job_pid("train.py")
    os.kill(job, signal.SIGSTOP)
    try:
        assert checkpoint_epoch(sm.wf.path(CHECKPOINT)) == k
    finally:  # a stopped job must not outlive a failed check
        os.kill(job, signal.SIGKILL)


def test_sigkill_then_snakemake_again_resumes_with_the_same_bytes(done, kill_after, tmp_path):
    wf = copy_of(done, tmp_path)
    target = forget(wf, "resume")
    sm = Snakemake(wf, "--cores", "1", target)
    kill_after_epoch(sm, kill_after)
    assert sm.wait() == 1 and "died with <Signals.SIGKILL: 9>" in sm.output()
    assert wf.path(CHECKPOINT).exists() and leftovers(wf) == []
    wf.run("--cores", "1", target)  # the profile's rerun-incomplete
    log = wf.path(LOG).read_text().splitlines()
    assert f"resuming run resume from epoch {kill_after} of 20 ({CHECKPOINT})" in log
    # the restored epochs are logged again, then training carries on at k + 1
    assert [line.split()[3] for line in log if line.startswith("seed 3: epoch ")] == [
        f"{e}/20" for e in range(1, kill_after + 2)
    ]
    assert_same_run(done, wf, "resume")  # model.npz, history.json, metrics.json, predictions: same bytes
    assert not wf.path(CHECKPOINT).exists()
    timings = json.loads(wf.path("results/runs/resume/seed-3/timings.json").read_text())
    assert timings["resumed_after"] == [kill_after] and len(timings["epoch_seconds"]) == kill_after + 1


def test_a_killed_job_retried_by_snakemake_resumes(done, kill_after, tmp_path):
    """The local stand-in for a Slurm job reaching its time limit under `--retries`."""
    wf = copy_of(done, tmp_path)
    target = forget(wf, "resume")
    sm = Snakemake(wf, "--cores", "1", "--retries", "1", target)
    kill_after_epoch(sm, kill_after)
    assert sm.wait() == 0, sm.output()
    assert f"resuming run resume from epoch {kill_after} of 20" in wf.path(LOG).read_text()
    assert_same_run(done, wf, "resume")
    assert not wf.path(CHECKPOINT).exists() and leftovers(wf) == []


def test_changed_hyperparameter_after_the_kill_starts_afresh(done, tmp_path):
    wf = copy_of(done, tmp_path)
    target = forget(wf, "resume")
    sm = Snakemake(wf, "--cores", "1", target)
    kill_after_epoch(sm, 2)
    assert sm.wait() == 1
    config = wf.config
    config["runs"]["resume"]["lr"] = 0.04
    wf.write_config(config)
    wf.run("--cores", "1", target)
    log = wf.path(LOG).read_text()
    assert (
        f"ignoring checkpoint {CHECKPOINT}: made from other inputs: seed 3: hyperparameter lr was 0.05, now 0.04; "
        "starting run resume afresh"
    ) in log
    assert "resuming" not in log and not wf.path(CHECKPOINT).exists()
    # the same bytes as a run of the new setting that never met a checkpoint
    (tmp_path / "fresh").mkdir()
    fresh = copy_of(wf, tmp_path / "fresh")
    fresh.run("--cores", "1", forget(fresh, "resume"))
    assert "checkpoint" not in fresh.path(LOG).read_text()
    assert_same_run(fresh, wf, "resume")
