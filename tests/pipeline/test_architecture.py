"""nn.pipeline.architecture: a run's network as its hyperparameters describe it."""

import numpy as np
import pytest

from nn.layers import ReLU
from nn.pipeline.architecture import activation_layer, build_model
from nn.quirks import Scaled


def test_activation_layer_turns_the_configs_form_into_what_mlp_takes():
    assert activation_layer("relu") == "relu"  # a name stays a name: mlp makes the layer
    scaled = activation_layer({"scaled": 0.05})
    assert type(scaled) is Scaled and scaled.c == 0.05
    with pytest.raises(ValueError, match="activation: 'relu' takes no setting"):
        activation_layer({"relu": 1})
    with pytest.raises(ValueError, match="activation: 'swish' takes no setting"):
        activation_layer({"swish": 1})
    with pytest.raises(ValueError, match="must be one name with its setting"):
        activation_layer({"scaled": 0.2, "relu": None})


def test_build_model_gives_the_blogs_per_layer_activations():
    hp = {
        "hidden": [30, 30, 10],
        "activation": [{"scaled": 0.2}, "relu", {"scaled": 0.05}],
        "output": "sigmoid",
        "loss": "squared_error",
        "init": "uniform_pm1",
        "dtype": "float64",
    }
    net = build_model(hp, 784, [np.random.default_rng(0)])
    kinds = [layer.spec() for layer in net.layers if layer.kind != "linear"]
    assert kinds == [{"type": "scaled", "c": 0.2}, {"type": "relu"}, {"type": "scaled", "c": 0.05}, {"type": "sigmoid"}]
    assert isinstance(net.layers[3], ReLU) and net.dtype == np.float64
    with pytest.raises(ValueError, match="mlp: activation 'scaled' needs its c"):
        build_model({**hp, "activation": "scaled", "hidden": [4]}, 784, None)
