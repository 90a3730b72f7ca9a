"""Runs from the config: defaults <- each run's overrides, every sweep's grid points, and the
hyperparameters each training job is given.

A run's name becomes a path (results/runs/{run}/), so names are kept to a safe set; every run's
hyperparameters have sorted keys, so that Snakemake's params comparison (repr) is stable.
"""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from nn.pipeline.schema import first_error
from nn.pipeline.scored import scored_hparams
from nn.pipeline.yamlfile import ConfigError

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_run_names(config: dict) -> None:
    """ConfigError for the first name under runs: or sweeps: that is not a safe path."""
    for section in ("runs", "sweeps"):
        for name in config.get(section) or {}:
            if not isinstance(name, str) or not RUN_NAME.match(name) or ".." in name:
                raise ConfigError(
                    f"{section}: name {name!r} is not allowed (it becomes a path): "
                    "use letters, digits, '_', '-' and '.', starting with a letter or digit"
                )


def _format_value(value) -> str:
    if isinstance(value, list):
        return "x".join(_format_value(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def sweep_run_name(sweep: str, point: dict) -> str:
    """Deterministic name of one grid point, e.g. width-hidden-128 or lr-lr-0.1_momentum-0.9."""
    return sweep + "-" + "_".join(f"{k}-{_format_value(v)}" for k, v in point.items())


def expand_sweeps(config: dict) -> dict:
    """{sweep: {"keys": [...], "base": {...}, "runs": {run_name: {key: value}}}} in grid order."""
    hp_keys = set(config["defaults"])
    out = {}
    for sweep, spec in (config.get("sweeps") or {}).items():
        grid = spec["grid"]
        for key in grid:
            if key not in hp_keys:
                raise ConfigError(
                    f"sweeps.{sweep}.grid.{key}: not a hyperparameter (known: {', '.join(sorted(hp_keys))})"
                )
        keys = list(grid)
        points = [{keys[0]: v} for v in grid[keys[0]]]
        if len(keys) == 2:
            points = [{**p, keys[1]: w} for p in points for w in grid[keys[1]]]
        out[sweep] = {
            "keys": keys,
            "base": dict(spec.get("base") or {}),
            "runs": {sweep_run_name(sweep, p): p for p in points},
        }
    return out


def canonical(hp: dict) -> dict:
    """Sorted keys, so that Snakemake's params comparison (repr) is stable."""
    return dict(sorted(hp.items()))


def expand_runs(config: dict, schema: dict) -> dict:
    """{run name: full hyperparameter dict}, in config order: defaults <- run overrides, then every
    sweep point. A run marked `extra: true` is left out unless the config says `extras: true`; the mark
    is not a hyperparameter (switching extras on leaves every other run's results as they are). A row
    scored_from another run takes that run's hyperparameters (nn.pipeline.scored.scored_hparams)."""
    defaults = config["defaults"]
    wanted = {
        name: over or {}
        for name, over in config["runs"].items()
        if config.get("extras") or not (over or {}).get("extra")
    }
    runs = {
        name: canonical({**defaults, **{k: v for k, v in over.items() if k != "extra"}})
        for name, over in wanted.items()
        if "scored_from" not in over
    }
    if not runs:
        raise ConfigError(
            "runs: every run is marked `extra: true` or scored_from another, and extras is false; nothing to train"
        )
    overrides_schema = {"$defs": schema["$defs"], **schema["$defs"]["overrides"]}
    check = Draft202012Validator(overrides_schema)
    sweeps = expand_sweeps(config)
    for sweep, info in sweeps.items():
        if "scored_from" in info["base"]:
            raise ConfigError(f"sweeps.{sweep}.base.scored_from: only a row of runs: can be scored from another run")
        for name, point in info["runs"].items():
            if name in runs or name in wanted:
                raise ConfigError(f"sweeps.{sweep}: run name {name!r} already exists in runs")
            if not RUN_NAME.match(name):
                raise ConfigError(
                    f"sweeps.{sweep}.grid: makes run name {name!r}, which is not a safe path; use simpler values"
                )
            problem = first_error(check, point)
            if problem:
                raise ConfigError(f"sweeps.{sweep}.grid.{problem}")
            runs[name] = canonical({**defaults, **info["base"], **point})
    for name, over in wanted.items():
        if "scored_from" in over:
            runs[name] = canonical(scored_hparams(config, name, over, runs))
    order = [*wanted, *(name for info in sweeps.values() for name in info["runs"])]
    return {name: runs[name] for name in order}


def seeds(hp: dict) -> list[int]:
    """The seeds a run trains: seed, seed+1, ..., one training job each."""
    return [hp["seed"] + i for i in range(hp["replicates"])]


def seed_hparams(hp: dict, seed: int) -> dict:
    """What one training job depends on: the run's hyperparameters for one seed, without
    `reference` (report only), `replicates` (so adding seeds leaves the others alone) and
    `scored_from` (a report-only mark)."""
    return canonical(
        {**{k: v for k, v in hp.items() if k not in ("reference", "replicates", "scored_from")}, "seed": seed}
    )


def block_hparams(hp: dict) -> dict:
    """What a training job of a block of seeds depends on: seed_hparams without the seed (each
    seed is in its output paths), so that regrouping seeds into other blocks retrains nothing."""
    return {k: v for k, v in seed_hparams(hp, hp["seed"]).items() if k != "seed"}
