"""nn.pipeline.runs: run and sweep names, replicates, extras: the runs a config expands to."""

import copy

import pytest

from helpers import load
from nn.pipeline import config as nnconfig


def test_two_key_sweep_names_are_deterministic(cfg):
    cfg["sweeps"] = {"g": {"grid": {"lr": [0.1, 0.5], "momentum": [0.0, 0.9]}}}
    cfg["comparisons"] = []
    _, runs, sweeps = load(cfg)
    assert list(sweeps["g"]["runs"]) == [
        "g-lr-0.1_momentum-0.0",
        "g-lr-0.1_momentum-0.9",
        "g-lr-0.5_momentum-0.0",
        "g-lr-0.5_momentum-0.9",
    ]
    assert runs["g-lr-0.5_momentum-0.9"]["lr"] == 0.5


def test_sweep_run_colliding_with_a_run_is_refused(cfg):
    cfg["runs"]["width-hidden-16"] = {}
    with pytest.raises(nnconfig.ConfigError, match="sweeps.width: run name 'width-hidden-16' already exists"):
        load(cfg)


def test_replicates_give_one_seed_each_and_leave_the_training_params_alone(cfg):
    cfg["runs"]["best"].update(seed=7, replicates=3)
    _, runs, _ = load(cfg)
    assert nnconfig.seeds(runs["best"]) == [7, 8, 9]
    job = nnconfig.seed_hparams(runs["best"], 8)
    assert job["seed"] == 8 and "replicates" not in job and "reference" not in job and list(job) == sorted(job)
    cfg["runs"]["best"]["replicates"] = 5
    _, more, _ = load(cfg)
    assert nnconfig.seed_hparams(more["best"], 8) == job  # more seeds: the existing ones unchanged


def test_runs_marked_extra_train_only_with_extras_on(cfg):
    extra = sorted(n for n, over in cfg["runs"].items() if (over or {}).get("extra"))
    assert extra, "config.yaml marks some runs extra (the Simard comparisons)"
    _, runs, _ = load(copy.deepcopy(cfg))
    assert not set(extra) & set(runs) and "best" in runs
    _, with_extras, _ = load({**copy.deepcopy(cfg), "extras": True})
    assert set(with_extras) == set(runs) | set(extra)
    # the mark is not a hyperparameter: the other runs' jobs are the same either way
    assert all("extra" not in hp for hp in with_extras.values())
    assert all(with_extras[n] == hp for n, hp in runs.items())
    c = copy.deepcopy(cfg)
    c["comparisons"] = [[extra[0], "best"]]
    with pytest.raises(
        nnconfig.ConfigError,
        match=rf"comparisons\[0\]: '{extra[0]}' is not a run trained here: "
        "it is marked `extra: true` and extras is false",
    ):
        load(c)
    c = {**copy.deepcopy(cfg), "runs": {"a": {"extra": True}}, "sweeps": {}, "comparisons": []}
    with pytest.raises(nnconfig.ConfigError, match="every run is marked `extra: true`"):
        load(c)
