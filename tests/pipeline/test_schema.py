"""The config schema's lists of names come from the library's registries (nn.pipeline.schema)."""

from pathlib import Path

import pytest

from nn.layers import ACTIVATIONS, LAYERS, Activation, register
from nn.pipeline import config as nnconfig
from nn.pipeline import schema as nnschema

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def entry_names(schema: dict) -> list[str]:
    return next(form["enum"] for form in schema["$defs"]["activation_entry"]["anyOf"] if "enum" in form)


def test_hidden_activation_names_are_the_registered_ones_without_a_setting():
    names = entry_names(nnconfig.load_schema(SCHEMA))
    assert names == ["sigmoid", "tanh", "relu", "relu_identity_grad"]
    assert set(names) == {n for n, cls in ACTIVATIONS.items() if cls.setting is None} - {"softmax"}


@pytest.fixture
def registered():
    """Registers throwaway activations for one test; the registries are as they were afterwards."""
    saved = [(registry, dict(registry)) for registry in (LAYERS, ACTIVATIONS)]

    def add(name, setting=None):
        cls = type(name.title(), (Activation,), {"setting": setting, "function": staticmethod(lambda z, out: out)})
        return register(name, activation=True)(cls)

    yield add
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


def test_a_newly_registered_activation_is_accepted_by_the_config(registered):
    registered("softsign")
    assert entry_names(nnconfig.load_schema(SCHEMA))[-1] == "softsign"
    cfg = nnconfig.read(REPO / "config.yaml")
    cfg["runs"]["best"]["activation"] = ["softsign", "relu"]
    _, runs, _ = nnconfig.load(cfg, SCHEMA)
    assert runs["best"]["activation"] == ["softsign", "relu"]


def test_an_activation_with_a_setting_and_no_form_in_the_schema_is_named(registered):
    registered("leaky", setting="slope")
    with pytest.raises(
        nnconfig.ConfigError,
        match=r"activation_entry has a \{name: setting\} form for \['scaled'\], "
        r"but nn.layers registers \['leaky', 'scaled'\] with a setting",
    ):
        nnschema.load_schema(SCHEMA)


@pytest.mark.parametrize(
    "activation, message",
    [
        ("softmax", "runs.best.activation: 'softmax' is not one of ['sigmoid', 'tanh', 'relu', 'relu_identity_grad']"),
        (
            ["scaled", "relu"],
            "runs.best.activation[0]: 'scaled' is not one of ['sigmoid', 'tanh', 'relu', 'relu_identity_grad']",
        ),
        ({"relu": 1}, "runs.best.activation: 'scaled' is a required property"),
    ],
)
def test_output_only_and_setting_activations_are_refused_as_bare_names(activation, message):
    cfg = nnconfig.read(REPO / "config.yaml")
    cfg["runs"]["best"]["activation"] = activation
    with pytest.raises(nnconfig.ConfigError) as e:
        nnconfig.load(cfg, SCHEMA)
    assert str(e.value) == message


def test_the_facade_keeps_every_name_the_pipeline_uses():
    for name in (
        "load",
        "read",
        "validate",
        "load_schema",
        "seeds",
        "seed_hparams",
        "block_hparams",
        "trained",
        "scored_from",
        "comparisons",
        "check_memory",
        "cap_threads",
        "redacted",
        "mirrors",
        "ConfigError",
        "check_yaml_syntax",
        "RUN_NAME",
    ):
        assert hasattr(nnconfig, name), name
    assert set(nnconfig.__all__) <= set(dir(nnconfig))
