"""The config schema: workflow/schemas/config.schema.yaml with its lists of names filled in from the
library's registries, the validator that fills `default:` values, and the one-line message of the
first problem ("runs.best.lr: -1 is less than or equal to the minimum of 0").
"""

from __future__ import annotations

import yaml
from jsonschema import Draft202012Validator, validators

from nn.augment import ELASTIC_SIGMA
from nn.init import INITS
from nn.layers import ACTIVATIONS
from nn.losses import LOSSES
from nn.mnist.data import INPUT_SCALINGS
from nn.optim import OPTIMIZERS, SCHEDULES
from nn.pipeline.yamlfile import ConfigError, SafeLoader

# Registered activations a hidden layer does not take: softmax makes a layer's units one
# distribution (a prediction), not features for the next layer.
OUTPUT_ONLY = ("softmax",)


def hidden_activation_names() -> list[str]:
    """The names a hidden layer's activation is written as: every registered activation that takes
    no setting (one that takes a setting is written {name: setting}, e.g. {scaled: 0.2}) and is not
    output-only."""
    return [n for n, cls in ACTIVATIONS.items() if cls.setting is None and n not in OUTPUT_ONLY]


def _fill_activations(defs: dict, path) -> None:
    """$defs.activation_entry: its list of names from nn.layers.ACTIVATIONS; its {name: setting} forms
    checked against the activations registered with a setting (the schema holds each setting's bounds,
    which the registry does not)."""
    if "activation_entry" not in defs:
        return
    forms = defs["activation_entry"]["anyOf"]
    written = {name for form in forms if form.get("type") == "object" for name in form.get("required", [])}
    registered = {n for n, cls in ACTIVATIONS.items() if cls.setting is not None}
    if written != registered:
        raise ConfigError(
            f"{path}: $defs.activation_entry has a {{name: setting}} form for {sorted(written)}, but "
            f"nn.layers registers {sorted(registered)} with a setting; give each one such form"
        )
    for form in forms:
        if "enum" in form:
            form["enum"] = hidden_activation_names()


def load_schema(path) -> dict:
    """The schema file, its lists of names filled in from the library's registries (one list each:
    a new optimiser, schedule, loss, init, input scaling or activation is one registration, and the
    config accepts it) and the default elastic_sigma from nn.augment."""
    with open(path, encoding="utf-8") as f:
        schema = yaml.load(f, Loader=SafeLoader)
    defs = schema.get("$defs", {})
    for key, names in (
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
        ("loss", LOSSES),
        ("init", INITS),
        ("inputs", INPUT_SCALINGS),
    ):
        if key in defs:
            defs[key]["enum"] = list(names)
    _fill_activations(defs, path)
    defaults = schema.get("properties", {}).get("defaults", {}).get("properties", {})
    if "elastic_sigma" in defaults:
        defaults["elastic_sigma"]["default"] = ELASTIC_SIGMA
    return schema


def validator_with_defaults(schema):
    """A validator that fills `default:` values while validating (jsonschema's FAQ recipe)."""
    base = Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(base, {"properties": set_defaults})(schema)


def key_path(parts) -> str:
    """("runs", "best", "hidden", 1) -> "runs.best.hidden[1]"; () -> "(top level)"."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def first_error(validator, instance) -> str | None:
    """ "key.path: message" of the first problem `validator` finds in `instance`, or None."""
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
    return f"{key_path(err.absolute_path)}: {err.message}"
