"""Same bits from the lock: a fresh venv made from requirements.lock, as the README makes it,
runs the tiny pipeline to the same model and metrics bytes as this (the developer's) venv.

Bytes can only be expected to match when both import the same versions (numpy carries its
OpenBLAS, whose kernels decide the bits); where this venv differs from the lock the test says
so and which package, and still checks that the fresh venv runs and reports no mismatch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, Workflow, tiny_config
from nn.pipeline import environment

pytestmark = pytest.mark.slow

LOCK = REPO / "requirements.lock"
SAME_BYTES = ["model.npz", "metrics.json", "history.json"]  # per run; timings.json differs by nature


def pip_cache(tmp_path) -> Path:
    """Where the test's pip keeps downloads: inside the venv running the tests (the README's
    `.venv`), so the test command writes nothing outside it and a second run downloads nothing;
    in a throwaway folder when the tests do not run in a venv."""
    in_venv = sys.prefix != sys.base_prefix
    return Path(sys.prefix) / "pip-cache" if in_venv else tmp_path / "pip-cache"


def venv_from_lock(folder, cache: Path) -> str:
    """python of a new venv with exactly requirements.lock installed (the README's install step)."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    python = str(folder / "bin" / "python")
    pip = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--cache-dir", str(cache), "--require-hashes", "-r", str(LOCK)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, f"pip install --require-hashes -r {LOCK.name} failed:\n{pip.stderr[-3000:]}"
    return python


def versions_of(python: str) -> dict[str, str]:
    out = subprocess.run(
        [
            python,
            "-c",
            "import json; from nn.pipeline import environment; print(json.dumps(environment.imported_versions()))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=REPO,
    ).stdout
    return json.loads(out)


def outputs(wf: Workflow) -> dict[str, bytes]:
    paths = sorted(p for name in SAME_BYTES for p in wf.path("results/runs").glob(f"*/seed-*/{name}"))
    return {str(p.relative_to(wf.workdir)): p.read_bytes() for p in paths}


@pytest.fixture
def fresh_venv(tmp_path):
    """A venv made from the lock, removed after the test (it is some 300 MB)."""
    folder = tmp_path / "venv"
    yield venv_from_lock(folder, pip_cache(tmp_path))
    shutil.rmtree(folder, ignore_errors=True)


def test_a_fresh_venv_from_the_lock_gives_the_same_bytes(tmp_path, tiny_mirror, fresh_venv):
    python = fresh_venv
    config = tiny_config(*tiny_mirror)
    (tmp_path / "fresh").mkdir()
    (tmp_path / "here").mkdir()
    fresh = Workflow(tmp_path / "fresh", config, python=python)
    here = Workflow(tmp_path / "here", config)
    fresh.run("--cores", "2")
    here.run("--cores", "2")

    # The fresh venv is the lock, and its report says so: the lock's hash and no warning.
    pins, digest = environment.read_lock(LOCK)
    fresh_versions = versions_of(python)
    assert all(fresh_versions[name] == pins[name] for name in environment.PACKAGES), fresh_versions
    html = fresh.path("results/report.html").read_text()
    assert f"SHA-256 <code>{digest}</code>" in html and "differ from requirements.lock" not in html

    files_fresh, files_here = outputs(fresh), outputs(here)
    assert len(files_fresh) == 3 * 6 and sorted(files_fresh) == sorted(files_here)  # 6 seeds in tiny_config
    differ = [name for name in files_fresh if files_fresh[name] != files_here[name]]
    here_versions = versions_of(sys.executable)
    other = {k: (here_versions[k], fresh_versions[k]) for k in fresh_versions if here_versions[k] != fresh_versions[k]}
    if other and differ:
        pytest.skip(
            f"this venv is not the lock ({other}, as (here, lock)): its bytes are not expected to match; "
            f"{len(differ)} files differ"
        )
    assert not differ, f"same versions ({here_versions}) but different bytes: {differ}"
