"""Where the Slurm executor plugin is installed and Slurm's controller is down, Snakemake says so
in one line: a local run gets a note (the plugin waits for the controller when it loads), a run
with profiles/slurm stops before submitting anything. The controller's answer comes from a fake
`scontrol` that prints what Slurm 22.05's does for a stopped controller, so no daemon is needed,
but the plugin is: these run with the other Slurm tests (pytest --slurm, requirements-slurm.lock).
"""

from __future__ import annotations

import importlib.util
import os
import time

import pytest

from conftest import REPO, Workflow, tiny_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

PROFILE = REPO / "profiles" / "slurm"
DOWN = "Slurmctld(primary) at vm is DOWN"


@pytest.fixture
def controller_down(tmp_path, monkeypatch):
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("the Slurm executor plugin is not installed in this venv (see tests/slurm/test_slurm.py)")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # `scontrol ping` as Slurm prints it; every other subcommand fails at once as Slurm's would after 10 s
    (bin_dir / "scontrol").write_text(
        f'#!/bin/sh\nif [ "$1" = ping ]; then echo "{DOWN}"; echo "*****"; exit 1; fi\n'
        'echo "slurm_load_ctl_conf error: Unable to contact slurm controller (connect failure)" >&2; exit 1\n'
    )
    (bin_dir / "scontrol").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def workflow(tmp_path, tiny_mirror) -> Workflow:
    (tmp_path / "work").mkdir()
    return Workflow(tmp_path / "work", tiny_config(*tiny_mirror), cluster=True)  # cluster: keep our PATH


def test_a_local_run_says_in_one_line_that_the_controller_is_down(controller_down, tmp_path, tiny_mirror):
    proc = workflow(tmp_path, tiny_mirror).run("--cores", "1", "-n")
    notes = [line for line in proc.stderr.splitlines() if "Slurm" in line]
    assert notes == [
        f"Note: Slurm's controller is down ({DOWN}): the Slurm executor plugin waits about 10 s "
        "for it whenever Snakemake starts; local runs are not otherwise affected (docs/cluster.md)."
    ]


def test_a_slurm_run_stops_in_one_line_before_submitting(controller_down, tmp_path, tiny_mirror):
    wf = workflow(tmp_path, tiny_mirror)
    start = time.monotonic()
    proc = wf.run("--profile", str(PROFILE), check=False, timeout=120)
    seconds = time.monotonic() - start
    assert proc.returncode == 1
    said = proc.stdout + proc.stderr
    assert (
        f"Slurm's controller does not answer ({DOWN}); nothing was submitted. Start it, or run without "
        "--profile profiles/slurm (docs/cluster.md)."
    ) in said.splitlines()
    assert "submitted with SLURM jobid" not in said and "Traceback" not in said
    assert not wf.path("results/raw").exists(), "a job ran although the run should stop before any"
    print(f"\nstopped after {seconds:.1f} s")  # for the record; not asserted (the machine is shared)
