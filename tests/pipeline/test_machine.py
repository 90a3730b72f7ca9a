"""nn.pipeline.machine: threads lowered to this machine's CPUs, a run too big for its memory refused."""

import pytest

from helpers import load
from nn.pipeline import config as nnconfig
from nn.pipeline.resources import usable_cpus
from nn.pipeline import machine
from nn.pipeline.resources import training_bytes


def test_threads_above_the_cpu_count_are_lowered_with_a_warning(cfg):
    cfg["defaults"]["threads"] = 64
    cfg["runs"]["best"]["threads"] = 3
    cfg["sweeps"] = {"t": {"base": {"threads": 9}, "grid": {"threads": [1, 8]}}}
    warnings = nnconfig.cap_threads(cfg, 2)
    assert warnings == [
        "defaults.threads: 64 is more than the 2 CPUs here; using 2",
        "runs.best.threads: 3 is more than the 2 CPUs here; using 2",
        "sweeps.t.base.threads: 9 is more than the 2 CPUs here; using 2",
        "sweeps.t.grid.threads: [1, 8] has values above the 2 CPUs here; using [1, 2]",
    ]
    assert cfg["defaults"]["threads"] == cfg["runs"]["best"]["threads"] == 2 and cfg["sweeps"]["t"]["grid"][
        "threads"
    ] == [1, 2]
    cfg["sweeps"]["t"]["grid"]["threads"] = [4, 8]
    with pytest.raises(nnconfig.ConfigError, match=r"sweeps.t.grid.threads: \[4, 8\] would repeat 2"):
        nnconfig.cap_threads(cfg, 2)


def test_validation_lowers_threads_to_this_machines_cpus(cfg, capsys):
    cfg["runs"]["best"]["threads"] = 10_000
    _, runs, _ = load(cfg)
    cpus = usable_cpus()
    assert runs["best"]["threads"] == min(10_000, cpus)
    assert (
        f"WARNING: runs.best.threads: 10000 is more than the {cpus} CPUs here; using {cpus}" in capsys.readouterr().err
    )


def test_a_run_too_big_for_memory_is_refused_with_the_estimate(cfg):
    cfg["runs"]["huge"] = {"hidden": [100_000_000]}
    _, runs, _ = load(cfg)
    with pytest.raises(nnconfig.ConfigError) as e:
        nnconfig.check_memory(runs, available=16 << 30)
    assert str(e.value) == (
        "runs.huge: training needs about 5.0 TB of memory (hidden [100000000], batch_size 128, "
        "float32); this machine has 17.2 GB"
    )
    del runs["huge"]
    nnconfig.check_memory(runs, available=16 << 30)  # every shipped run fits a small machine


def test_cap_threads_lowers_each_place_in_place_and_says_so():
    config = {
        "defaults": {"threads": 8},
        "runs": {"a": {"threads": 2}, "b": None},
        "sweeps": {"s": {"base": {"threads": 5}, "grid": {"threads": [1, 8]}}},
    }
    warnings = machine.cap_threads(config, 4)
    assert config["defaults"]["threads"] == 4 and config["runs"]["a"]["threads"] == 2
    assert config["sweeps"]["s"]["base"]["threads"] == 4 and config["sweeps"]["s"]["grid"]["threads"] == [1, 4]
    assert warnings == [
        "defaults.threads: 8 is more than the 4 CPUs here; using 4",
        "sweeps.s.base.threads: 5 is more than the 4 CPUs here; using 4",
        "sweeps.s.grid.threads: [1, 8] has values above the 4 CPUs here; using [1, 4]",
    ]
    with pytest.raises(nnconfig.ConfigError, match=r"^sweeps\.s\.grid\.threads: \[4, 8\] would repeat 4"):
        machine.cap_threads({"runs": {}, "sweeps": {"s": {"grid": {"threads": [4, 8]}}}}, 4)


def test_check_memory_names_the_first_run_over_the_memory_given():
    hp = {"hidden": [64], "batch_size": 32, "dtype": "float32", "validation": 0, "epochs": 1}
    need = training_bytes(hp)
    machine.check_memory({"a": hp}, available=need)  # exactly enough: passes
    with pytest.raises(nnconfig.ConfigError, match=r"^runs\.a: training needs about .* \(hidden \[64\], batch_size 32"):
        machine.check_memory({"a": hp, "b": hp}, available=need - 1)
