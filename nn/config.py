"""config.yaml -> one canonical hyperparameter dict per run.

The Snakefile calls `load(config, schema_path)` once. Validation happens here, not
in Snakemake's `validate()`, so that a bad config stops before any job with ONE
line naming the key path ("runs.best.lr: -1 is less than or equal to 0").
"""
from __future__ import annotations

import re

import yaml
from jsonschema import Draft202012Validator, validators

from nn.optim import OPTIMIZERS

# Run names become paths (results/runs/{run}/), so they are kept to a safe set.
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(ValueError):
    """A config problem; str() is one line naming the key path."""


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
    # For a failed $ref/anyOf the most specific cause is the more useful message.
    while err.context:
        err = sorted(err.context, key=lambda e: len(e.absolute_path))[-1]
    return f"{_key_path(err.absolute_path)}: {err.message}"


def check_yaml_syntax(path) -> None:
    """Raise ConfigError naming the file and line of a YAML syntax error (Snakemake's message names neither)."""
    try:
        with open(path, encoding="utf-8") as f:
            yaml.safe_load(f)
    except FileNotFoundError:
        return  # Snakemake's own message says which file is missing
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" ({e.context} at line {e.context_mark.line + 1})" if e.context and e.context_mark else ""
        raise ConfigError(f"{path}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: "
                          f"{e.problem or e.context}{where}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None


def load_schema(path) -> dict:
    """The schema file, with the `optimizer` names filled in from nn.optim's registry (one list)."""
    with open(path, encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    if "optimizer" in schema.get("$defs", {}):
        schema["$defs"]["optimizer"]["enum"] = list(OPTIMIZERS)
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
    problem = _first_error(_validator_with_defaults(schema), config)
    if problem:
        raise ConfigError(problem)
    return config


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
    """{run name: full hyperparameter dict}: defaults <- run overrides, then every sweep point."""
    defaults = config["defaults"]
    runs = {name: canonical({**defaults, **(over or {})}) for name, over in config["runs"].items()}
    overrides_schema = {"$defs": schema["$defs"], **schema["$defs"]["overrides"]}
    check = Draft202012Validator(overrides_schema)
    for sweep, info in expand_sweeps(config).items():
        for name, point in info["runs"].items():
            if name in runs:
                raise ConfigError(f"sweeps.{sweep}: run name {name!r} already exists in runs")
            if not RUN_NAME.match(name):
                raise ConfigError(f"sweeps.{sweep}.grid: makes run name {name!r}, which is not a safe path; use simpler values")
            problem = _first_error(check, point)
            if problem:
                raise ConfigError(f"sweeps.{sweep}.grid.{problem}")
            runs[name] = canonical({**defaults, **info["base"], **point})
    return runs


def mirrors(config: dict) -> list[str]:
    """The user's mnist_mirror first, then the configured ones, without repeats."""
    first = [config["mnist_mirror"]] if config.get("mnist_mirror") else []
    out = []
    for m in first + list(config["download"]["mirrors"]):
        if m not in out:
            out.append(m)
    return out


def load(config: dict, schema_path) -> tuple[dict, dict, dict]:
    """Validate and expand: returns (config with defaults, runs, sweeps)."""
    schema = load_schema(schema_path)
    validate(config, schema)
    return config, expand_runs(config, schema), expand_sweeps(config)
