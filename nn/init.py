"""Weight initialisation: the starting point that decides whether a deep net learns at all.

Every scheme draws from a caller's seeded numpy Generator, always in float64 and then
cast, so a float32 and a float64 model from the same seed start from the same numbers.
Weights are (n_in, n_out): a batch of row vectors is multiplied as x @ W.
"""
from __future__ import annotations

import numpy as np

INITS = ("normal", "scaled_normal", "xavier", "he")


def init_weights(name: str, n_in: int, n_out: int, rng: np.random.Generator, dtype=np.float32):
    """Return (W, b), W (n_in, n_out) and b (n_out,), drawn by the named scheme.

    normal         W, b ~ N(0, 1): Nielsen's chapter 1; saturates sigmoids in wide layers.
    scaled_normal  W ~ N(0, 1/n_in), b ~ N(0, 1): Nielsen's chapter 3 fix for that.
    xavier         W ~ U(-a, a), a = sqrt(6 / (n_in + n_out)), b = 0: Glorot & Bengio 2010.
    he             W ~ N(0, 2/n_in), b = 0: He et al. 2015, keeps ReLU activations' variance.
    """
    if name == "normal":
        w = rng.standard_normal((n_in, n_out))
        b = rng.standard_normal(n_out)
    elif name == "scaled_normal":
        w = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        b = rng.standard_normal(n_out)
    elif name == "xavier":
        a = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-a, a, (n_in, n_out))
        b = np.zeros(n_out)
    elif name == "he":
        w = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        b = np.zeros(n_out)
    else:
        raise ValueError(f"init: unknown scheme {name!r}; expected one of {', '.join(INITS)}")
    return w.astype(dtype), b.astype(dtype)
