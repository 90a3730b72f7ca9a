"""The pipeline on a real one-node Slurm (tests/slurm/localhost.sh) through profiles/slurm.

What a user moving to a cluster relies on: every job that is not a `localrules:` job really
goes through Slurm (checked against Slurm's own record of the run, not only Snakemake's
word), and the results are byte-identical to a local run of the same config.
Needs root: localhost.sh installs slurm-wlm and munge if missing and starts the daemons. So it
runs only when asked for, from a venv that has the Slurm executor plugin (docs/cluster.md):

    python3 -m venv .venv-slurm && .venv-slurm/bin/pip install --require-hashes -r requirements-slurm.lock \
        && .venv-slurm/bin/pip install --no-deps -e . && .venv-slurm/bin/pytest --slurm tests/slurm
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from collections import Counter

import pytest

from conftest import REPO, Workflow, tiny_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

LOCALHOST = REPO / "tests" / "slurm" / "localhost.sh"
PROFILE = REPO / "profiles" / "slurm"
LOCAL_RULES = {"all", "download", "report"}  # the Snakefile's `localrules:`; they must not queue
SAME_BYTES = ["model.npz", "history.json", "metrics.json"]  # per run; timings.json differs by nature


def localhost(action: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(LOCALHOST), action], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def slurm():
    """A running one-node Slurm; stopped afterwards unless it was already up before."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail(
            "the Slurm executor plugin is not installed in this venv: run this test from one made "
            "with requirements-slurm.lock (see this file's docstring)"
        )
    was_up = localhost("status").returncode == 0
    started = localhost("start")
    if started.returncode != 0:
        localhost("stop")
        pytest.fail(f"cannot start a one-node Slurm with {LOCALHOST.name}: {started.stderr.strip()}")
    yield
    if not was_up:
        stopped = localhost("stop")
        assert stopped.returncode == 0, f"{LOCALHOST.name} stop failed: {stopped.stderr.strip()}"


def announced_jobs(log: str) -> tuple[Counter, Counter]:
    """Snakemake's log: Counter of rules it ran itself (`localrule x:`) and of rules it sent away (`rule x:`)."""
    local, remote = Counter(), Counter()
    for kind, rule in re.findall(r"^(localrule|rule) (\w+):$", log, flags=re.M):
        (local if kind == "localrule" else remote)[rule] += 1
    return local, remote


def slurm_record(run_uuid: str) -> dict[str, tuple[str, str]]:
    """Slurm's record of one Snakemake run: {job id: (state, rule)}. The plugin names every job of
    a run by its run uuid and puts `rule_<name>[_wildcards_...]` in the job's comment."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", run_uuid, "--format=%i|%T|%k"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    record = {}
    for line in out.splitlines():
        job_id, state, comment = line.strip().split("|", 2)
        rule = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", comment.strip())
        record[job_id] = (state, rule.group(1) if rule else comment)
    return record


def run_files(wf: Workflow) -> dict[str, bytes]:
    """Every file the comparison covers, by path relative to the work dir."""
    paths = sorted(p for name in SAME_BYTES for p in wf.path("results/runs").glob(f"*/seed-*/{name}"))
    paths += sorted(wf.path("results/data").glob("*.npy"))
    return {str(p.relative_to(wf.workdir)): p.read_bytes() for p in paths}


def test_pipeline_on_slurm_matches_local_run(slurm, tmp_path, tiny_mirror):
    mirror, sums = tiny_mirror
    config = tiny_config(mirror, sums)
    (tmp_path / "local").mkdir()
    (tmp_path / "cluster").mkdir()
    local = Workflow(tmp_path / "local", config)
    cluster = Workflow(tmp_path / "cluster", config, cluster=True)

    local.run("--cores", "2")
    proc = cluster.run("--profile", str(PROFILE), timeout=600)
    log = proc.stdout + proc.stderr

    # Snakemake's side: the local rules ran here, everything else was submitted, each with an id.
    ran_here, sent = announced_jobs(log)
    assert set(ran_here) <= LOCAL_RULES, f"rules run outside Slurm: {set(ran_here) - LOCAL_RULES}"
    assert not set(sent) & LOCAL_RULES, f"local rules submitted to Slurm: {set(sent) & LOCAL_RULES}"
    n_seeds = len(list(local.path("results/runs").glob("*/seed-*/model.npz")))
    n_blocks = len(list(local.path("results/logs/train").glob("*/seed*.log")))  # a log per block of seeds
    trainings = sum(n for rule, n in sent.items() if rule.startswith("train_"))
    # one Slurm job per block of seeds (a run's seeds train stacked in one job), one evaluation per seed
    assert n_seeds >= 2 and n_blocks < n_seeds and trainings == n_blocks and sent["evaluate"] == n_seeds, sent
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert len(submitted) == len(set(submitted)) == sum(sent.values()), (submitted, sent)

    # Slurm's side: exactly those jobs, each completed, for the same rules.
    run_uuid = re.search(r"^SLURM run ID: ([0-9a-f-]+)$", log, flags=re.M).group(1)
    record = slurm_record(run_uuid)
    assert set(record) == set(submitted), f"Slurm saw jobs {sorted(record)}, Snakemake submitted {submitted}"
    assert {state for state, _ in record.values()} == {"COMPLETED"}, record
    assert Counter(rule for _, rule in record.values()) == sent

    # Same bytes as the local run.
    here, there = run_files(local), run_files(cluster)
    assert len(here) == 3 * n_seeds + 4 and sorted(here) == sorted(there)
    differ = [name for name in here if here[name] != there[name]]
    assert not differ, f"differ between the local and the Slurm run: {differ}"
    print(f"\n{len(record)} jobs through Slurm ({dict(sent)}), {sum(ran_here.values())} local")
