"""Weight initialisation: the starting point that decides whether a deep net learns at all.

Every scheme draws from a caller's seeded numpy Generator, always in float64 and then
cast, so a float32 and a float64 model from the same seed start from the same numbers.
Weights are (n_in, n_out): a batch of row vectors is multiplied as x @ W.
"""
from __future__ import annotations

import numpy as np

# Each scheme: (n_in, n_out, rng) -> (W (n_in, n_out), b (n_out,)) in float64. Adding one is a
# function here and a line in INITS (the config schema's `init` enum reads it).

def normal(n_in, n_out, rng):
    """W, b ~ N(0, 1): Nielsen's chapter 1; saturates sigmoids in wide layers."""
    return rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)


def scaled_normal(n_in, n_out, rng):
    """W ~ N(0, 1/n_in), b ~ N(0, 1): Nielsen's chapter 3 fix for that."""
    return rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), rng.standard_normal(n_out)


def xavier(n_in, n_out, rng):
    """W ~ U(-a, a), a = sqrt(6 / (n_in + n_out)), b = 0: Glorot & Bengio 2010."""
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, (n_in, n_out)), np.zeros(n_out)


def he(n_in, n_out, rng):
    """W ~ N(0, 2/n_in), b = 0: He et al. 2015, keeps ReLU activations' variance."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


INITS = {"normal": normal, "scaled_normal": scaled_normal, "xavier": xavier, "he": he}


def init_weights(name: str, n_in: int, n_out: int, rng: np.random.Generator, dtype=np.float32):
    """Return (W, b), W (n_in, n_out) and b (n_out,), drawn by the named scheme (INITS) and cast."""
    if name not in INITS:
        raise ValueError(f"init: unknown scheme {name!r}; expected one of {', '.join(INITS)}")
    w, b = INITS[name](n_in, n_out, rng)
    return w.astype(dtype), b.astype(dtype)
