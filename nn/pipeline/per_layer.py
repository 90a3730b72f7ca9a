"""One setting per hidden layer: a run's `activation` and `dropout` are each one value for every
hidden layer or a list of one per hidden layer. This is the one check of such a list's length
against `hidden` (the config's, before any job); it imports nothing, so a rule's code that calls it
depends on this file alone.
"""

from __future__ import annotations

# what a list of each key holds, as a message counts it
PER_LAYER = {"activation": "activations", "dropout": "rates"}


def per_layer_problem(hp: dict, key: str) -> str | None:
    """What is wrong with hp[key] as one value per hidden layer, or None: a list whose length is not
    hp["hidden"]'s ("lists 1 activations for 2 hidden layers (hidden [800, 800]); give one per hidden
    layer, or one for all"; the caller puts the key in front)."""
    value, hidden = hp.get(key), hp["hidden"]
    if isinstance(value, list) and len(value) != len(hidden):
        return (
            f"lists {len(value)} {PER_LAYER[key]} for {len(hidden)} hidden layers (hidden {hidden}); "
            "give one per hidden layer, or one for all"
        )
    return None
