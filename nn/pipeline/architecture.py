"""A run's network as its hyperparameters describe it: built for training, or checked against a file.

Apart from nn.pipeline.hparams so that the rules which only read a model (evaluate, predict)
depend on the model code, not on the optimisers and the training loop.
"""

from __future__ import annotations

import numpy as np

from nn.layers import ACTIVATIONS, Layer
from nn.mnist.data import to_inputs
from nn.model import Sequential, mlp
from nn.serialize import ModelFileError


def build_model(hp: dict, n_in: int, rng) -> Sequential:
    """mlp([n_in, *hidden, 10]) as the run describes it; rng=None gives the architecture only.
    activation: one entry or one per hidden layer (activation_layer); init_scale (optional, None =
    the scheme's default) goes to an init that takes one."""
    activation = hp["activation"]
    return mlp(
        [n_in, *hp["hidden"], 10],
        activation=[activation_layer(a) for a in activation]
        if isinstance(activation, list)
        else activation_layer(activation),
        output=activation_layer(hp["output"]),
        loss=hp["loss"],
        init=hp["init"] if rng is not None else None,
        rng=rng,
        dtype=np.dtype(hp["dtype"]),
        dropout=hp.get("dropout", 0.0),
        init_scale=hp.get("init_scale"),
    )


def activation_layer(entry: str | dict) -> str | Layer:
    """A config's activation as mlp takes it: a name as it is, {name: setting} (an activation that
    takes one, e.g. {scaled: 0.2}) as that layer, Scaled(0.2). The schema has checked the form; a
    name or setting the layer refuses is a ValueError naming it."""
    if not isinstance(entry, dict):
        return entry
    if len(entry) != 1:
        raise ValueError(f"activation: {entry!r} must be one name with its setting, e.g. {{scaled: 0.2}}")
    ((name, setting),) = entry.items()
    cls = ACTIVATIONS.get(name)
    if cls is None or cls.setting is None:
        raise ValueError(f"activation: {name!r} takes no setting; expected one of {', '.join(ACTIVATIONS)}")
    return cls(setting)


def input_scaling(hp: dict) -> str:
    """The run's `inputs` (nn.mnist.data.INPUT_SCALINGS); absent: "unit", [0, 1], as always.
    The one place a run's scaling is read: training, the test monitor, evaluate, plot_run and
    predict all go through it, so a model always sees inputs scaled as in its training."""
    return hp.get("inputs", "unit")


def network_inputs(hp: dict, images, dtype):
    """uint8 images (n, 28, 28) -> (n, 784) inputs scaled as the run's are. max_standardise uses
    the statistics of the set given, as pocket-model did for its test set."""
    return to_inputs(images, dtype, scaling=input_scaling(hp))


def _layers_in_words(arch: dict) -> str:
    """'Linear(784->16) ReLU Linear(16->10) Softmax, cross_entropy, float32': what differs, readable."""
    parts = []
    for spec in arch["layers"]:
        if spec["type"] == "linear":
            parts.append(f"Linear({spec['n_in']}->{spec['n_out']})")
        else:
            settings = [f"{v}" for k, v in spec.items() if k != "type"]  # Dropout's rate, Scaled's c
            parts.append(spec["type"] + (f"({', '.join(settings)})" if settings else ""))
    return f"{' '.join(parts)}, {arch['loss']}, {arch['dtype']}"


def check_belongs(model: Sequential, hp: dict, path, run: str) -> None:
    """ModelFileError unless `model` has the architecture that the run's hyperparameters
    describe (sizes, activations, dropout, loss, dtype): a model file copied in from another
    run must not be reported under this one's name."""
    expected = build_model(hp, model.n_in, rng=None).architecture()
    found = model.architecture()
    if found != expected:
        raise ModelFileError(
            f"{path}: this model is {_layers_in_words(found)}, but run {run}'s hyperparameters "
            f"describe {_layers_in_words(expected)}; it belongs to another run (retrain with "
            f"snakemake --forcerun train)"
        )
