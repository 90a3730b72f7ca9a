"""config.yaml (and the source files it names) -> one canonical hyperparameter dict per run.

The Snakefile calls `load(config, schema_path, base_dir)` once. Validation happens here, not
in Snakemake's `validate()`, so that a bad config stops before any job with ONE
line naming the key path ("runs.best.lr: -1 is less than or equal to 0").

This module is the pipeline's one door to the config: load() and read() live here, and every
name the Snakefile, the rules, the scripts and the benchmarks use is here, each done in its
own module:

  yamlfile      bounded YAML reads (a key written twice, an alias bomb); ConfigError
  source_files  the reproductions' files, merged into the config's runs
  schema        the schema with its names from the registries; defaults; the one-line message
  coercion      numbers as the schema means them (10.0, 1e-3); no NaN or infinity
  machine       threads capped at this machine's CPUs; every run within its memory
  runs          safe run names, runs and sweeps expanded, each training job's hyperparameters
  scored        rows scored_from another run's history
  checks        cross-key checks: networks, references, comparisons, predict_run
  per_layer     one activation (or dropout rate) per hidden layer
  mirrors       the mirrors in order; the config without their credentials
"""

from __future__ import annotations

import os
import sys

from nn.pipeline import source_files
from nn.pipeline.checks import check_networks, check_predict_run, check_references, comparisons
from nn.pipeline.coercion import coerce_numbers, refuse_non_finite
from nn.pipeline.machine import cap_threads, check_memory
from nn.pipeline.mirrors import mirrors, redacted
from nn.pipeline.resources import usable_cpus
from nn.pipeline.runs import (
    RUN_NAME,
    block_hparams,
    canonical,
    check_run_names,
    expand_runs,
    expand_sweeps,
    seed_hparams,
    seeds,
    sweep_run_name,
)
from nn.pipeline.schema import first_error, load_schema, validator_with_defaults
from nn.pipeline.scored import SCORED_OWN_KEYS, check_scored_from, scored_from, scored_hparams, trained
from nn.pipeline.yamlfile import ConfigError, SafeLoader, check_yaml_syntax, read_strict

__all__ = [
    "ConfigError",
    "SafeLoader",
    "check_yaml_syntax",
    "read_strict",
    "RUN_NAME",
    "SCORED_OWN_KEYS",
    "load",
    "read",
    "validate",
    "load_schema",
    "coerce_numbers",
    "refuse_non_finite",
    "cap_threads",
    "check_memory",
    "expand_runs",
    "expand_sweeps",
    "sweep_run_name",
    "canonical",
    "seeds",
    "seed_hparams",
    "block_hparams",
    "scored_from",
    "trained",
    "scored_hparams",
    "check_scored_from",
    "check_networks",
    "check_references",
    "comparisons",
    "check_predict_run",
    "mirrors",
    "redacted",
]


def validate(config: dict, schema: dict) -> dict:
    """Validate `config` in place, filling defaults; raise ConfigError on the first problem."""
    if not isinstance(config, dict):
        raise ConfigError("config: expected a mapping at the top level")
    runs = config.get("runs")
    if runs is None or runs == {}:
        raise ConfigError("runs: is empty; define at least one run (name: {overrides})")
    check_run_names(config)
    coerce_numbers(config, schema)
    refuse_non_finite(config)
    problem = first_error(validator_with_defaults(schema), config)
    if problem:
        raise ConfigError(problem)
    for warning in cap_threads(config, usable_cpus()):
        print(f"WARNING: {warning}", file=sys.stderr)
    return config


def load(config: dict, schema_path, base_dir=".") -> tuple[dict, dict, dict]:
    """Merge the source files (config `reproductions`, relative to base_dir: the config file's folder),
    validate and expand: returns (config with defaults and every row, runs, sweeps)."""
    schema = load_schema(schema_path)
    origin = source_files.merge(config, base_dir)
    try:
        validate(config, schema)
        runs = expand_runs(config, schema)
        check_networks(runs)
        check_references(runs)
        comparisons(config, runs)
        check_predict_run(config, runs)
    except ConfigError as e:
        raise source_files.located(e, origin) from None
    return config, runs, expand_sweeps(config)


def read(path) -> dict:
    """The config file at `path` as written, with the rows of its source files merged into `runs`
    (not yet validated; `reproductions` is then null, its rows being in): what a benchmark reads to
    take or change one run's settings before load()."""
    config = read_strict(path)
    if isinstance(config, dict):
        source_files.merge(config, os.path.dirname(os.path.abspath(path)))
        config["reproductions"] = None
    return config
