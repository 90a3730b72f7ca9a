"""One activation (or dropout rate) per hidden layer: the one check (nn.pipeline.per_layer)."""

import pytest

from nn.pipeline.per_layer import per_layer_problem


@pytest.mark.parametrize(
    "hp, key, problem",
    [
        (
            {"hidden": [800, 800], "activation": ["relu"]},
            "activation",
            "lists 1 activations for 2 hidden layers (hidden [800, 800]); give one per hidden layer, or one for all",
        ),
        (
            {"hidden": [16], "dropout": [0.2, 0.5]},
            "dropout",
            "lists 2 rates for 1 hidden layers (hidden [16]); give one per hidden layer, or one for all",
        ),
        ({"hidden": [16, 16], "activation": ["relu", {"scaled": 0.2}]}, "activation", None),
        ({"hidden": [16, 16], "activation": "relu"}, "activation", None),  # one for all
        ({"hidden": [16], "dropout": 0.0}, "dropout", None),
        ({"hidden": [16]}, "dropout", None),  # absent: nothing to check
    ],
)
def test_a_list_must_have_one_entry_per_hidden_layer(hp, key, problem):
    assert per_layer_problem(hp, key) == problem
