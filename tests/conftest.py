"""Shared fixtures: tiny MNIST-format data and a way to run the workflow in a temp dir.

The tiny files are written here with struct + gzip, independently of nn.mnist.idx, so the
workflow tests do not test nn with itself.
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "mnist"
MNIST_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx_bytes(array: np.ndarray) -> bytes:
    """uint8 IDX: two zero bytes, type 0x08, ndim, big-endian sizes, data."""
    assert array.dtype == np.uint8
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def tiny_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k lights a 6x6 block at a class-specific place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    for k in range(10):
        r, c = 2 + 8 * (k // 4), 2 + 6 * (k % 4)
        images[labels == k, r : r + 6, c : c + 6] = 255
    return images, labels


def write_tiny_mirror(folder: Path, n_train: int = 600, n_test: int = 200) -> dict[str, str]:
    """Write the four .gz files; return {name: sha256 of the decompressed payload}."""
    folder.mkdir(parents=True, exist_ok=True)
    train = tiny_digits(n_train, seed=1)
    test = tiny_digits(n_test, seed=2)
    arrays = dict(zip(MNIST_NAMES, [train[0], train[1], test[0], test[1]]))
    sums = {}
    for name, array in arrays.items():
        payload = idx_bytes(array)
        (folder / f"{name}.gz").write_bytes(gzip.compress(payload, mtime=0))
        sums[name] = hashlib.sha256(payload).hexdigest()
    return sums


# What a reproduction's reference must also say (the schema asks for it): where its protocol comes from.
CITED = {
    "url": "https://example.org/post",
    "protocol": "a test protocol",
    "evidence": "from code",
    "fields": {"lr": "https://example.org/code (abc1234) train.py l.1: `lr = 3.0`"},
}


def tiny_config(mirror: Path, sums: dict[str, str]) -> dict:
    """A complete config (Snakemake's --configfile replaces config.yaml) with small, fast runs."""
    return {
        "mnist_mirror": str(mirror),
        "download": {"mirrors": [], "sha256": sums, "timeout": 5, "retries": 1},
        "evaluation": {"gallery_size": 8},
        "defaults": {"hidden": [16], "epochs": 2, "batch_size": 32, "validation": 100, "seed": 3},
        "runs": {
            # two seeds, test accuracy per epoch, and a published curve to overlay
            "sig": {
                "activation": "sigmoid",
                "output": "sigmoid",
                "loss": "quadratic",
                "init": "normal",
                "lr": 3.0,
                "batch_size": 10,
                "replicates": 2,
                "monitor_test": True,
                "reference": {
                    "accuracy": 0.5,
                    "source": "a test",
                    "kind": "reproduction",
                    "measure": "peak_test",
                    **CITED,
                    "costs": [
                        {"after_rounds": 1, "value": 0.3, "quote": "a test"},
                        {"after_rounds": 2, "value": 0.25, "quote": "a test", "chose": ["lr"]},
                    ],
                    "curves": {"test_accuracy": {"epochs": [1, 2], "values": [0.3, 0.5]}},
                },
            },
            "relu": {"hidden": [12, 12], "momentum": 0.9, "schedule": "cosine", "shift": 1},
            # float64 with an elastic distortion: numpy's AVX-512 exp and log give other bits than its AVX2 ones
            "wide": {"dtype": "float64", "elastic_alpha": 8.0, "elastic_sigma": 3.0, "output": "softmax"},
        },
        "sweeps": {"width": {"base": {"epochs": 1}, "grid": {"hidden": [[4], [8]]}}},
        "comparisons": [["width-hidden-4", "width-hidden-8"]],
    }


def small_config(mirror: Path, sums: dict[str, str]) -> dict:
    """The pipeline of the crash and full-disk tests: every stage and every kind of writer, about 15 s
    on 2 CPUs. Run `a` trains one seed of 784-64-10 for one epoch (so its checkpoint is written once,
    before its 200 kB model.npz); run `b` two seeds for three epochs with momentum, test accuracy after every epoch and
    a published curve (so the report draws an overlay); one McNemar pair."""
    cfg = tiny_config(mirror, sums)
    curve = {"test_accuracy": {"epochs": [1, 2, 3], "values": [0.3, 0.5, 0.6]}}
    cfg["runs"] = {
        "a": {"epochs": 1, "hidden": [64]},
        "b": {
            "replicates": 2,
            "epochs": 3,
            "momentum": 0.9,
            "monitor_test": True,
            "reference": {
                "accuracy": 0.5,
                "source": "a test",
                "kind": "reproduction",
                **CITED,
                "measure": "peak_test",
                "curves": curve,
            },
        },
    }
    cfg["sweeps"], cfg["comparisons"] = {}, [["a", "b"]]
    return cfg


@pytest.fixture(scope="session")
def small_pipeline(tmp_path_factory) -> Workflow:
    """small_config run once, uninterrupted, as `snakemake --cores 2`: the bytes the crash and
    full-disk tests compare with (copy it; do not change it)."""
    root = tmp_path_factory.mktemp("small")
    wf = Workflow(root / "work", small_config(root / "mirror", write_tiny_mirror(root / "mirror")), mkdir=True)
    wf.run("--cores", "2")
    return wf


# What differs between two uninterrupted runs of the same config, and nothing else (checked on
# small_config): wall-clock times. Kept out of the byte comparison: logs/ and benchmarks/ (times,
# dates), every timings.json and results/timings.csv (seconds per epoch and per seed),
# results/checkpoints/ (a job's working state, removed when it finishes), and the report's
# training-seconds cells (`0.0 s`: rounded to 0.1 s, a loaded machine tips them; it did, once in
# two runs). Rather than leave report.html out whole, only those cells are blanked.
VOLATILE_DIRS = {"logs", "benchmarks", "checkpoints"}
VOLATILE_FILES = {"timings.json", "timings.csv"}
REPORT_SECONDS = re.compile(rb"<td>\d+\.\d s</td>")


def result_files(wf: Workflow) -> dict[str, bytes]:
    """{path under results/: bytes} of every result file, with the wall times above taken out."""
    files = {}
    for path in sorted(wf.path("results").rglob("*")):
        rel = path.relative_to(wf.path("results"))
        if path.is_dir() or rel.parts[0] in VOLATILE_DIRS or path.name in VOLATILE_FILES:
            continue
        data = path.read_bytes()
        if path.name == "report.html":
            data = REPORT_SECONDS.sub(b"<td>(time)</td>", data)
        files[str(rel)] = data
    return files


def differences(wf: Workflow, reference: Workflow) -> list[str]:
    """What of wf's results is not reference's (result_files): missing, extra or other bytes."""
    ours, theirs = result_files(wf), result_files(reference)
    return (
        [f"missing: {p}" for p in sorted(set(theirs) - set(ours))]
        + [f"extra: {p}" for p in sorted(set(ours) - set(theirs))]
        + [f"differs: {p}" for p in sorted(set(ours) & set(theirs)) if ours[p] != theirs[p]]
    )


def pytest_addoption(parser):
    parser.addoption(
        "--slurm",
        action="store_true",
        help="also run the tests marked slurm: they install slurm-wlm and munge (as root) and start "
        "a one-node Slurm; run them from a venv with requirements-slurm.lock (docs/cluster.md)",
    )
    parser.addoption(
        "--crash-points",
        type=int,
        default=2,
        metavar="N",
        help="tests/faults/test_crash.py: kill the pipeline at N seeded moments across its stages (default 2, "
        "what CI runs; docs/faults.md records a run of 24)",
    )


def pytest_collection_modifyitems(config, items):
    """Without --slurm the Slurm tests are deselected: a plain `pytest` installs nothing and starts no daemon."""
    if config.getoption("--slurm"):
        return
    keep = [item for item in items if "slurm" not in item.keywords]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if "slurm" in item.keywords])
        items[:] = keep


@cache
@cache
def _no_slurm_dir() -> str:
    """A folder with an `scontrol` that fails at once (see snakemake_env); one per test session,
    removed when it ends."""
    folder = Path(tempfile.mkdtemp(prefix="no-slurm-"))
    atexit.register(shutil.rmtree, folder, True)
    (folder / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (folder / "scontrol").chmod(0o755)
    return str(folder)


def snakemake_env(cluster: bool = False) -> dict:
    """Environment for a snakemake subprocess.

    The Slurm executor plugin (the `slurm` extra) runs `scontrol show config` whenever
    Snakemake loads it, and where Slurm is installed but its controller is stopped (as
    tests/slurm leaves this machine) each call waits out a 10 s timeout. Local runs get an
    `scontrol` that fails at once; only the cluster test talks to the real one.
    """
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if not cluster:
        env["PATH"] = _no_slurm_dir() + os.pathsep + env.get("PATH", "")
    return env


class Workflow:
    """The pipeline in its own work dir: `run(...)` calls snakemake there."""

    def __init__(
        self,
        workdir: Path,
        config: dict,
        snakefile: Path = REPO / "Snakefile",
        cluster: bool = False,
        python: str = sys.executable,
        mkdir: bool = False,
    ):
        if mkdir:
            workdir.mkdir(parents=True)
        self.workdir = workdir
        self.snakefile = snakefile
        self.cluster = cluster
        self.python = python  # the interpreter whose snakemake runs it (another venv's, in test_lock.py)
        self.configfile = workdir / "config.yaml"
        self.write_config(config)

    @property
    def config(self) -> dict:
        return yaml.safe_load(self.configfile.read_text())

    def write_config(self, config: dict) -> None:
        self.configfile.write_text(yaml.safe_dump(config, sort_keys=False))

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        """env: variables to set for this run on top of snakemake_env()."""
        cmd = [
            self.python,
            "-m",
            "snakemake",
            "--snakefile",
            str(self.snakefile),
            "--directory",
            str(self.workdir),
            "--configfile",
            str(self.configfile),
            *args,
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env={**snakemake_env(self.cluster), **(env or {})}
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def path(self, rel: str) -> Path:
        return self.workdir / rel


@pytest.fixture
def cfg() -> dict:
    """config.yaml as nn.pipeline.config.read gives it: each test edits its own copy."""
    from nn.pipeline import config as nnconfig

    return nnconfig.read(REPO / "config.yaml")


@pytest.fixture
def tiny_mirror(tmp_path) -> tuple[Path, dict]:
    folder = tmp_path / "mirror"
    return folder, write_tiny_mirror(folder)


@pytest.fixture
def tiny_workflow(tmp_path, tiny_mirror) -> Workflow:
    mirror, sums = tiny_mirror
    work = tmp_path / "work"
    work.mkdir()
    return Workflow(work, tiny_config(mirror, sums))


# the predict tests' model and image folder (tests/predict/, tests/workflow/test_predict_rule.py)


@pytest.fixture
def model_path(tmp_path):
    from digits import save_untrained_model

    return save_untrained_model(tmp_path / "model.npz")


@pytest.fixture
def mixed_folder(tmp_path):
    from digits import make_mixed_folder

    return make_mixed_folder(tmp_path / "digits")
