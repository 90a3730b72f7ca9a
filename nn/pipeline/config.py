"""config.yaml (and the source files it names) -> one canonical hyperparameter dict per run.

The Snakefile calls `load(config, schema_path, base_dir)` once. Validation happens here, not
in Snakemake's `validate()`, so that a bad config stops before any job with ONE
line naming the key path ("runs.best.lr: -1 is less than or equal to 0").
"""
from __future__ import annotations

import math
import os
import re
import sys

import yaml
from jsonschema import Draft202012Validator, validators

from nn.augment import ELASTIC_SIGMA
from nn.init import INITS, takes_scale
from nn.losses import LOSSES, get_loss
from nn.mnist.data import INPUT_SCALINGS
from nn.optim import OPTIMIZERS, SCHEDULES, learning_rate
from nn.pipeline import source_files
from nn.pipeline.resources import usable_cpus
from nn.pipeline.yamlfile import ConfigError, SafeLoader, check_yaml_syntax, read_strict  # noqa: F401 (check_yaml_syntax: the Snakefile's)
from nn.report.reproduction import MEASURES

# Run names become paths (results/runs/{run}/), so they are kept to a safe set.
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _validator_with_defaults(schema):
    # jsonschema's FAQ recipe: fill `default:` values while validating.
    base = Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(base, {"properties": set_defaults})(schema)


def _key_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _first_error(validator, instance):
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return None
    err = errors[0]
    # For a failed $ref/anyOf the most specific cause is the more useful message: the deepest, and
    # of equal depth, not "is not of type" (the alternative meant for another kind of value), then
    # not "is not one of" ({scaled: 0.2} missing a key is better told so than that it is no name).
    rank = {"type": 0, "enum": 1}
    while err.context:
        err = sorted(err.context, key=lambda e: (len(e.absolute_path), rank.get(e.validator, 2)))[-1]
    return f"{_key_path(err.absolute_path)}: {err.message}"


def load_schema(path) -> dict:
    """The schema file, its lists of names filled in from the library's registries (one list each:
    a new optimiser, schedule, loss or init is one registration, and the config accepts it) and the
    default elastic_sigma from nn.augment."""
    with open(path, encoding="utf-8") as f:
        schema = yaml.load(f, Loader=SafeLoader)
    defs = schema.get("$defs", {})
    for key, names in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("loss", LOSSES), ("init", INITS),
                       ("inputs", INPUT_SCALINGS)):
        if key in defs:
            defs[key]["enum"] = list(names)
    defaults = schema.get("properties", {}).get("defaults", {}).get("properties", {})
    if "elastic_sigma" in defaults:
        defaults["elastic_sigma"]["default"] = ELASTIC_SIGMA
    return schema


def validate(config: dict, schema: dict) -> dict:
    """Validate `config` in place, filling defaults; raise ConfigError on the first problem."""
    if not isinstance(config, dict):
        raise ConfigError("config: expected a mapping at the top level")
    runs = config.get("runs")
    if runs is None or runs == {}:
        raise ConfigError("runs: is empty; define at least one run (name: {overrides})")
    for section in ("runs", "sweeps"):
        for name in (config.get(section) or {}):
            if not isinstance(name, str) or not RUN_NAME.match(name) or ".." in name:
                raise ConfigError(
                    f"{section}: name {name!r} is not allowed (it becomes a path): "
                    "use letters, digits, '_', '-' and '.', starting with a letter or digit"
                )
    coerce_numbers(config, schema)
    refuse_non_finite(config)
    problem = _first_error(_validator_with_defaults(schema), config)
    if problem:
        raise ConfigError(problem)
    for warning in cap_threads(config, usable_cpus()):
        print(f"WARNING: {warning}", file=sys.stderr)
    return config


# --- numbers that mean what they say ---------------------------------------------------------

# A number as YAML 1.1 fails to read it: PyYAML takes `1e-3` (no dot) for a string.
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _resolve(sub: dict, schema: dict) -> dict:
    while isinstance(sub, dict) and "$ref" in sub:
        sub = schema["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
    return sub if isinstance(sub, dict) else {}


def _coerce(value, sub, schema):
    """`value` as the schema `sub` means it: 10.0 where an integer is due -> 10; "1e-3" where a number is due -> 0.001."""
    sub = _resolve(sub, schema)
    types = sub.get("type", [])
    types = [types] if isinstance(types, str) else types
    if isinstance(value, float) and value.is_integer() and "integer" in types and "number" not in types:
        return int(value)
    if isinstance(value, str) and "string" not in types and _NUMBER.match(value.strip()):
        number = float(value)
        if "number" in types:
            return number
        if "integer" in types and number.is_integer():
            return int(number)
    if isinstance(value, dict):
        props, extra = sub.get("properties", {}), sub.get("additionalProperties")
        for key in value:
            child = props.get(key, extra if isinstance(extra, dict) else None)
            if child is not None:
                value[key] = _coerce(value[key], child, schema)
    elif isinstance(value, list) and isinstance(sub.get("items"), dict):
        value[:] = [_coerce(v, sub["items"], schema) for v in value]
    return value


def coerce_numbers(config: dict, schema: dict) -> None:
    """In place, before validation: whole-number floats become ints where the schema wants an
    integer (`epochs: 10.0`), numeric strings become numbers (`lr: 1e-3`), sweep grids included."""
    _coerce(config, schema, schema)
    for spec in (config.get("sweeps") or {}).values():
        grid = spec.get("grid") if isinstance(spec, dict) else None
        for key, values in (grid if isinstance(grid, dict) else {}).items():
            if key in schema["$defs"] and isinstance(values, list):
                grid[key] = [_coerce(v, schema["$defs"][key], schema) for v in values]


def refuse_non_finite(value, path=()) -> None:
    """ConfigError naming the first NaN or infinite number anywhere in the config (a schema's
    minimum lets +inf through, and NaN passes every comparison)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{_key_path(path)}: {value} is not a finite number")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        refuse_non_finite(child, (*path, key))


# --- what this machine can do ----------------------------------------------------------------

def cap_threads(config: dict, cpus: int) -> list[str]:
    """Lower every `threads` above `cpus` to it, in place; one warning per key lowered.

    More BLAS threads than CPUs only makes them wait on each other (64 threads on 2 CPUs:
    18 s per epoch instead of 0.8 s)."""
    warnings, places = [], [("defaults", config.get("defaults") or {})]
    places += [(f"runs.{n}", hp or {}) for n, hp in config["runs"].items()]
    places += [(f"sweeps.{n}.base", s.get("base") or {}) for n, s in (config.get("sweeps") or {}).items()]
    for where, hp in places:
        if hp.get("threads", 0) > cpus:
            warnings.append(f"{where}.threads: {hp['threads']} is more than the {cpus} CPUs here; using {cpus}")
            hp["threads"] = cpus
    for name, spec in (config.get("sweeps") or {}).items():
        values = spec["grid"].get("threads")
        if values and max(values) > cpus:
            lowered = [min(v, cpus) for v in values]
            if len(set(lowered)) < len(lowered):
                raise ConfigError(f"sweeps.{name}.grid.threads: {values} would repeat {cpus} on the {cpus} CPUs here; "
                                  "keep one value at or above it")
            warnings.append(f"sweeps.{name}.grid.threads: {values} has values above the {cpus} CPUs here; using {lowered}")
            spec["grid"]["threads"] = lowered
    return warnings


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
                raise ConfigError(f"sweeps.{sweep}.grid.{key}: not a hyperparameter (known: {', '.join(sorted(hp_keys))})")
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
    scored_from another run takes that run's hyperparameters (scored_hparams)."""
    defaults = config["defaults"]
    wanted = {name: over or {} for name, over in config["runs"].items()
              if config.get("extras") or not (over or {}).get("extra")}
    runs = {name: canonical({**defaults, **{k: v for k, v in over.items() if k != "extra"}})
            for name, over in wanted.items() if "scored_from" not in over}
    if not runs:
        raise ConfigError("runs: every run is marked `extra: true` or scored_from another, and extras is false; "
                          "nothing to train")
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
                raise ConfigError(f"sweeps.{sweep}.grid: makes run name {name!r}, which is not a safe path; use simpler values")
            problem = _first_error(check, point)
            if problem:
                raise ConfigError(f"sweeps.{sweep}.grid.{problem}")
            runs[name] = canonical({**defaults, **info["base"], **point})
    for name, over in wanted.items():
        if "scored_from" in over:
            runs[name] = scored_hparams(config, name, over, runs)
    order = [*wanted, *(name for info in sweeps.values() for name in info["runs"])]
    return {name: runs[name] for name in order}


# --- a row scored from another run's history, not trained ----------------------------------

SCORED_OWN_KEYS = ("extra", "scored_from", "reference", "replicates", "epochs")


def scored_from(hp: dict) -> dict | None:
    """{"run", "round"} of a run whose figure is read from another run's history after that round
    (config `scored_from`), or None for a run that trains."""
    return hp.get("scored_from")


def trained(runs: dict) -> dict:
    """The runs that train: every run but those scored_from another."""
    return {name: hp for name, hp in runs.items() if not scored_from(hp)}


def _parent(config: dict, name: str, source: str, runs: dict) -> dict:
    """The hyperparameters of the run `name` is scored from, or ConfigError saying why there is none."""
    where = f"runs.{name}.scored_from.run"
    over = (config.get("runs") or {}).get(source)
    if isinstance(over, dict) and "scored_from" in over:
        raise ConfigError(f"{where}: {source!r} is itself scored_from {over['scored_from'].get('run')!r} and trains "
                          "nothing; name the run that trains")
    if source not in runs:
        extra = isinstance(over, dict) and over.get("extra")
        raise ConfigError(f"{where}: {source!r} is not a run" +
                          (" trained here: it is marked `extra: true` and extras is false" if extra else ""))
    return runs[source]


def scored_hparams(config: dict, name: str, over: dict, runs: dict) -> dict:
    """A scored_from row's hyperparameters: its parent's, with epochs = the round it is scored at, its own
    reference and replicates (at most the parent's), and `scored_from`. A training key the row states
    must equal the parent's: the row trains nothing, its figure is the parent's first rounds."""
    source = over["scored_from"]
    parent = _parent(config, name, source["run"], runs)
    for key, value in over.items():
        if key not in SCORED_OWN_KEYS and value != parent[key]:
            raise ConfigError(f"runs.{name}.{key}: {value!r}, but {source['run']}'s is {parent[key]!r}; a row "
                              f"scored_from {source['run']} is its first rounds and trains nothing (leave {key} out)")
    if over.get("epochs", source["round"]) != source["round"]:
        raise ConfigError(f"runs.{name}.epochs: {over['epochs']}, but it is scored after round {source['round']} "
                          "(leave epochs out)")
    hp = {**parent, "epochs": source["round"], "reference": over.get("reference"),
          "replicates": over.get("replicates", parent["replicates"]), "scored_from": dict(source)}
    check_scored_from(name, hp, parent)
    return canonical(hp)


def _first_rates(hp: dict, rounds: int, epochs: int) -> list[float]:
    # the learning rate of each of the first `rounds` epochs of a run of `epochs`
    return [learning_rate(hp["schedule"], hp["lr"], e, epochs, hp["lr_min"], hp["step_size"], hp["step_gamma"])
            for e in range(rounds)]


def check_scored_from(name: str, hp: dict, parent: dict) -> None:
    """ConfigError unless the parent's first `round` rounds are exactly a `round`-round run of the row,
    on the row's seeds, and its history holds the test accuracy after each: monitor_test, enough
    epochs, no early stopping, a schedule whose first rates do not depend on the epochs, the seeds
    a subset, and a measure the history holds."""
    source, n = hp["scored_from"]["run"], hp["scored_from"]["round"]
    where = f"runs.{name}.scored_from"
    if not parent["monitor_test"]:
        raise ConfigError(f"{where}.run: {source} has no monitor_test, so its history holds no test accuracy "
                          "per round; set monitor_test: true there")
    if n > parent["epochs"]:
        raise ConfigError(f"{where}.round: {n} is past {source}'s {parent['epochs']} epochs")
    if parent["early_stopping"]:
        raise ConfigError(f"{where}.run: {source} stops early (early_stopping {parent['early_stopping']}), and a "
                          f"run of {n} epochs keeps its best epoch's weights; its rounds are not such a run's")
    ours, theirs = _first_rates(hp, n, n), _first_rates(hp, n, parent["epochs"])
    if ours != theirs:
        e = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        raise ConfigError(f"{where}.run: {source}'s schedule {hp['schedule']} depends on its epochs (epoch {e + 1}: "
                          f"lr {theirs[e]:g} of {parent['epochs']} epochs, {ours[e]:g} of {n}); only a schedule "
                          "that does not (constant, step) can be scored from")
    if hp["replicates"] > parent["replicates"]:
        raise ConfigError(f"runs.{name}.replicates: {hp['replicates']}, but {source} trains "
                          f"{parent['replicates']} seeds; a row scored from it has at most those")
    measure = (hp.get("reference") or {}).get("measure", "final_test")
    if measure == "final_test_subset":
        raise ConfigError(f"runs.{name}.reference.measure: final_test_subset is evaluate's figure of a trained "
                          "model; a row scored_from another has only its history")




def seeds(hp: dict) -> list[int]:
    """The seeds a run trains: seed, seed+1, ..., one training job each."""
    return [hp["seed"] + i for i in range(hp["replicates"])]


def seed_hparams(hp: dict, seed: int) -> dict:
    """What one training job depends on: the run's hyperparameters for one seed, without
    `reference` (report only), `replicates` (so adding seeds leaves the others alone) and
    `scored_from` (a report-only mark)."""
    return canonical({**{k: v for k, v in hp.items() if k not in ("reference", "replicates", "scored_from")},
                      "seed": seed})


def block_hparams(hp: dict) -> dict:
    """What a training job of a block of seeds depends on: seed_hparams without the seed (each
    seed is in its output paths), so that regrouping seeds into other blocks retrains nothing."""
    return {k: v for k, v in seed_hparams(hp, hp["seed"]).items() if k != "seed"}


def _curve_needs(key: str, hp: dict) -> str | None:
    # which setting makes our history hold `key` per epoch
    if key.startswith("test_") and not hp["monitor_test"]:
        return "monitor_test: true"
    if key.startswith("val_") and not hp["validation"]:
        return "validation > 0"
    return None


def check_references(runs: dict) -> None:
    """Cross-key checks of each run's `reference` that a schema cannot express."""
    for name, hp in runs.items():
        ref = hp.get("reference")
        if not ref:
            continue
        where = f"runs.{name}.reference"
        key, at = MEASURES[ref.get("measure", "final_test")]
        if key == "test_accuracy_subset":
            need = None if hp.get("test_subset") else "test_subset > 0"
        else:
            need = _curve_needs(key, hp) if (at == "peak" or key != "test_accuracy") else None
        if need:
            raise ConfigError(f"{where}.measure: {ref['measure']} needs {need} in this run")
        k = ref.get("best_of", 1)
        if k > 1 and hp["replicates"] < 2 * k:   # with n = k seeds every "best of k" is the same one value
            raise ConfigError(f"{where}.best_of: a best of {k} is judged over our seeds' k-subsets and needs at "
                              f"least {2 * k} seeds (replicates); this run has {hp['replicates']}")
        for i, cost in enumerate(ref.get("costs") or []):
            if scored_from(hp):
                raise ConfigError(f"{where}.costs: a row scored_from another has no training of its own; "
                                  f"give the costs on {scored_from(hp)['run']!r}")
            if cost["after_rounds"] > hp["epochs"]:
                raise ConfigError(f"{where}.costs[{i}].after_rounds: {cost['after_rounds']} is past the run's "
                                  f"{hp['epochs']} epochs")
        for curve_key, curve in (ref.get("curves") or {}).items():
            if need := _curve_needs(curve_key, hp):
                raise ConfigError(f"{where}.curves.{curve_key}: needs {need} in this run")
            if len(curve["epochs"]) != len(curve["values"]):
                raise ConfigError(f"{where}.curves.{curve_key}: {len(curve['epochs'])} epochs but "
                                  f"{len(curve['values'])} values")
            if max(curve["epochs"]) > hp["epochs"]:
                raise ConfigError(f"{where}.curves.{curve_key}: epoch {max(curve['epochs'])} is past "
                                  f"the run's {hp['epochs']} epochs")


def check_networks(runs: dict) -> None:
    """Cross-key checks of each run's network that a schema cannot express: one activation per
    hidden layer, an init_scale only for an init that takes one, a loss its output allows."""
    for name, hp in runs.items():
        act, hidden = hp["activation"], hp["hidden"]
        if isinstance(act, list) and len(act) != len(hidden):
            raise ConfigError(f"runs.{name}.activation: lists {len(act)} activations for {len(hidden)} hidden "
                              f"layers (hidden {hidden}); give one per hidden layer, or one for all")
        if hp.get("init_scale") is not None and not takes_scale(hp["init"]):
            raise ConfigError(f"runs.{name}.init_scale: init {hp['init']} takes no scale; only "
                              f"{', '.join(n for n in INITS if takes_scale(n))} do (or leave init_scale null)")
        try:
            get_loss(hp["loss"], hp["output"])
        except ValueError as e:
            raise ConfigError(f"runs.{name}.{e}") from None


def comparisons(config: dict, runs: dict) -> list[tuple[str, str]]:
    """The configured [A, B] run pairs for McNemar's test, checked against the runs."""
    out = []
    for i, pair in enumerate(config.get("comparisons") or []):
        for name in pair:
            if name not in runs:
                extra = name in (config.get("runs") or {}) and ((config["runs"][name] or {}).get("extra"))
                raise ConfigError(f"comparisons[{i}]: {name!r} is not a run" +
                                  (" trained here: it is marked `extra: true` and extras is false" if extra else ""))
            if scored_from(runs[name]):
                raise ConfigError(f"comparisons[{i}]: {name!r} is scored_from {scored_from(runs[name])['run']!r} "
                                  "and has no test predictions of its own; compare the run it is scored from")
        if pair[0] == pair[1]:
            raise ConfigError(f"comparisons[{i}]: compares {pair[0]!r} with itself")
        out.append((pair[0], pair[1]))
    return out


def check_memory(runs: dict, available: int | None = None) -> None:
    """ConfigError, before any job, for the first run whose training cannot fit in this machine's
    memory (e.g. hidden: [100000000]), with the estimate (nn.pipeline.resources.training_bytes)."""
    from nn.pipeline.resources import human, training_bytes
    from nn.fileio import physical_memory
    available = physical_memory() if available is None else available
    for name, hp in runs.items():
        need = training_bytes(hp)
        if need > available:
            raise ConfigError(f"runs.{name}: training needs about {human(need)} of memory (hidden {hp['hidden']}, "
                              f"batch_size {hp['batch_size']}, {hp['dtype']}); this machine has {human(available)}")


def redacted(config: dict) -> dict:
    """A copy of `config` with the credentials of every mirror URL replaced by *** (for the report)."""
    from nn.mnist.http import redact
    out = {**config}
    if out.get("mnist_mirror"):
        out["mnist_mirror"] = redact(out["mnist_mirror"])
    if isinstance(out.get("download"), dict):
        out["download"] = {**out["download"], "mirrors": [redact(m) for m in out["download"].get("mirrors", [])]}
    return out


def mirrors(config: dict) -> list[str]:
    """The user's mnist_mirror first, then the configured ones, without repeats."""
    first = [config["mnist_mirror"]] if config.get("mnist_mirror") else []
    out = []
    for m in first + list(config["download"]["mirrors"]):
        if m not in out:
            out.append(m)
    return out


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


def check_predict_run(config: dict, runs: dict) -> None:
    """ConfigError when the run that would classify predict_dir is scored_from another: it has no model."""
    name = config.get("predict_run")
    if config.get("predict_dir") and name in runs and scored_from(runs[name]):
        raise ConfigError(f"predict_run: {name!r} is scored_from {scored_from(runs[name])['run']!r} and has no "
                          "model of its own; name a run that trains")
