"""nn.init: each scheme draws the distribution its definition gives, for n_in ≠ n_out both ways round.

Statistical checks on 40,000 seeded draws, each within 5 standard errors of its expected value (a
chance failure about once in 1.7 million per check; the seeds fix the draws, so the tests are
deterministic): the mean, the variance, and the share of weights within one standard deviation
of zero, which tells a normal (68.3 %) from a uniform (57.7 %) of the same spread.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nn.init import INITS, init_weights, takes_scale

Z = 5
SHAPES = [(400, 100), (100, 400)]  # fan-in ≠ fan-out: a scheme scaled by the wrong one is off 4-fold
# scheme: (weights' law, their variance from (n_in, n_out), biases: "normal" N(0, 1), "zero" or
# "uniform" U(-1, 1))
DEFINITIONS = {
    "normal": ("normal", lambda n_in, n_out: 1.0, "normal"),
    "scaled_normal": ("normal", lambda n_in, n_out: 1.0 / n_in, "normal"),
    "xavier": ("uniform", lambda n_in, n_out: 2.0 / (n_in + n_out), "zero"),  # U(-a, a), a² / 3
    "he": ("normal", lambda n_in, n_out: 2.0 / n_in, "zero"),
    "plain": ("normal", lambda n_in, n_out: 0.01**2, "zero"),  # NothingButNumPy: randn * 0.01
    "uniform_pm1": ("uniform", lambda n_in, n_out: 1.0 / 3, "uniform"),  # pocket-model: U(-1, 1), a = 1
}
# E[x⁴] / σ⁴ (for the variance's standard error) and P(|x| < σ), per law
KURTOSIS = {"normal": 3.0, "uniform": 9 / 5}
WITHIN_ONE_SD = {"normal": math.erf(1 / math.sqrt(2)), "uniform": 1 / math.sqrt(3)}


def test_every_scheme_has_a_definition_here():
    assert set(DEFINITIONS) == set(INITS)


def check_law(x: np.ndarray, law: str, var: float, what: str) -> None:
    """x's mean, variance and share within one sd of 0, each within Z standard errors of the law's."""
    n = x.size
    assert abs(x.mean()) < Z * math.sqrt(var / n), f"{what}: mean {x.mean():.3g}"
    var_se = var * math.sqrt((KURTOSIS[law] - 1) / n)
    assert abs(x.var() - var) < Z * var_se, f"{what}: variance {x.var():.4g}, expected {var:.4g} ± {Z * var_se:.2g}"
    p = WITHIN_ONE_SD[law]
    share = float(np.mean(np.abs(x) < math.sqrt(var)))
    assert abs(share - p) < Z * math.sqrt(p * (1 - p) / n), f"{what}: {share:.4f} within one sd, expected {p:.4f}"


@pytest.mark.parametrize("n_in, n_out", SHAPES)
@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_each_scheme_draws_the_spread_its_definition_gives(name, n_in, n_out):
    law, variance, bias = DEFINITIONS[name]
    w, b = init_weights(name, n_in, n_out, np.random.default_rng(n_in * 7 + n_out), dtype=np.float64)
    assert w.shape == (n_in, n_out) and b.shape == (n_out,)
    check_law(w.ravel(), law, variance(n_in, n_out), f"{name} W ({n_in}×{n_out})")
    if law == "uniform":
        assert np.abs(w).max() <= math.sqrt(3 * variance(n_in, n_out))  # inside (-a, a)
    if bias == "zero":
        assert not b.any(), f"{name}: biases should all be zero"
    elif bias == "uniform":
        check_law(b, "uniform", 1.0 / 3, f"{name} b ({n_out})")
        assert np.abs(b).max() <= 1
    else:
        check_law(b, "normal", 1.0, f"{name} b ({n_out})")


def test_a_float32_model_starts_from_the_float64_draws_cast():
    w64, b64 = init_weights("he", 30, 20, np.random.default_rng(1), dtype=np.float64)
    w32, b32 = init_weights("he", 30, 20, np.random.default_rng(1), dtype=np.float32)
    assert w32.dtype == np.float32 and np.array_equal(w32, w64.astype(np.float32))
    assert np.array_equal(b32, b64.astype(np.float32))


def test_scale_only_for_a_scheme_that_takes_one():
    assert [n for n in INITS if takes_scale(n)] == ["plain"]
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="scheme 'he' takes no scale"):
        init_weights("he", 3, 2, rng, scale=0.1)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        init_weights("plain", 3, 2, rng, scale=0.0)
    # without a scale, every existing scheme draws exactly as before
    np.testing.assert_array_equal(
        init_weights("normal", 3, 2, np.random.default_rng(5))[0],
        np.random.default_rng(5).standard_normal((3, 2)).astype(np.float32),
    )
