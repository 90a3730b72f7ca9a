"""Numbers that mean what they say: a config's numbers as the schema means them, and none that is
NaN or infinite. Both run before the schema's validation (nn.pipeline.config.validate).
"""

from __future__ import annotations

import math
import re

from nn.pipeline.schema import key_path
from nn.pipeline.yamlfile import ConfigError

# A number as YAML 1.1 fails to read it: PyYAML takes `1e-3` (no dot) for a string.
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _resolve(sub: dict, schema: dict) -> dict:
    while isinstance(sub, dict) and "$ref" in sub:
        sub = schema["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
    return sub if isinstance(sub, dict) else {}


def _coerce(value, sub, schema):
    """`value` as the schema `sub` means it: 10.0 where an integer is due -> 10; "1e-3" where a number
    is due -> 0.001."""
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
        raise ConfigError(f"{key_path(path)}: {value} is not a finite number")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        refuse_non_finite(child, (*path, key))
