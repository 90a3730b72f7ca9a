"""Weight initialisation: the starting point that decides whether a deep net learns at all.

Every scheme draws from a caller's seeded numpy Generator, always in float64 and then
cast, so a float32 and a float64 model from the same seed start from the same numbers.
Weights are (n_in, n_out): a batch of row vectors is multiplied as x @ W.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import numpy as np

from nn.quirks import plain, uniform_pm1

if TYPE_CHECKING:
    import numpy.typing as npt

# Each scheme: (n_in, n_out, rng) -> (W (n_in, n_out), b (n_out,)) in float64. Adding one is a
# function here (or, for a source's own scheme, in nn.quirks: plain, uniform_pm1) and a line in
# INITS (the config schema's `init` enum reads it). A scheme with a spread to set takes it as a
# keyword `scale` with its default (plain), passed by init_weights.


def normal(n_in: int, n_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """W, b ~ N(0, 1): Nielsen's chapter 1; saturates sigmoids in wide layers."""
    return rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)


def scaled_normal(n_in: int, n_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """W ~ N(0, 1/n_in), b ~ N(0, 1): Nielsen's chapter 3 fix for that."""
    return rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), rng.standard_normal(n_out)


def xavier(n_in: int, n_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """W ~ U(-a, a), a = sqrt(6 / (n_in + n_out)), b = 0: Glorot & Bengio 2010."""
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, (n_in, n_out)), np.zeros(n_out)


def he(n_in: int, n_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """W ~ N(0, 2/n_in), b = 0: He et al. 2015, keeps ReLU activations' variance."""
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


INITS = {
    "normal": normal,
    "scaled_normal": scaled_normal,
    "xavier": xavier,
    "he": he,
    "plain": plain,
    "uniform_pm1": uniform_pm1,
}


def takes_scale(name: str) -> bool:
    """Whether the scheme has a spread to set (init_weights' `scale`): a `scale` argument."""
    return "scale" in inspect.signature(INITS[name]).parameters


def init_weights(
    name: str,
    n_in: int,
    n_out: int,
    rng: np.random.Generator,
    dtype: npt.DTypeLike = np.float32,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (W, b), W (n_in, n_out) and b (n_out,), drawn by the named scheme (INITS) and cast.

    scale: the spread of a scheme that takes one ("plain"); None = the scheme's own default.
    Given to a scheme without one it is an error, not silently ignored."""
    if name not in INITS:
        raise ValueError(f"init: unknown scheme {name!r}; expected one of {', '.join(INITS)}")
    if scale is None:
        w, b = INITS[name](n_in, n_out, rng)
    elif not takes_scale(name):
        raise ValueError(
            f"init: scheme {name!r} takes no scale (got {scale}); only "
            f"{', '.join(n for n in INITS if takes_scale(n))} do"
        )
    elif not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"init: scale must be a finite number > 0, got {scale}")
    else:
        w, b = INITS[name](n_in, n_out, rng, scale=scale)
    return w.astype(dtype), b.astype(dtype)
