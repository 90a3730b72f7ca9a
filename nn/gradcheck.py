"""Finite-difference gradient checking: the test that backpropagation is the derivative.

Use float64: central differences lose about half the digits, which float32 cannot spare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dF/dx by central differences, F = f() a scalar that reads x, which is nudged in place."""
    grad = np.zeros_like(x)
    # by index into x itself: a replica's slice of a stack is no contiguous array, and reshape would copy it
    for i in np.ndindex(x.shape):  # a loop over elements is fine here: this is a test, not training
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """max |a - b| / max(|a| + |b|): scale-free, so one tolerance fits large and small gradients."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12))
