"""Finite-difference gradient checking: the test that backpropagation is the derivative.

Use float64: central differences lose about half the digits, which float32 cannot spare.
"""
from __future__ import annotations

import numpy as np


def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dF/dx by central differences, F = f() a scalar that reads x, which is nudged in place."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: nudging flat nudges x
    for i in range(flat.size):  # a loop over elements is fine here: this is a test, not training
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|): scale-free, so one tolerance fits large and small gradients."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12))
