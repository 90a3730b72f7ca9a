"""Statistics for replicates: how sure are we of an accuracy, and is a difference real?

- sample_summary(values): n, mean, sd, min, max and a 95% interval for the mean over seeds
  (Student's t, so 3 seeds give an honest, wide interval).
- verdict(published, values, n_measured): does a published figure lie inside what our
  seeds plus the measured set's sampling error allow? (docs/interfaces.md, "Verdicts")
- mcnemar(correct_a, correct_b): McNemar's exact test on two classifiers' per-image hits.

Plain Python floats out, no scipy: the t quantile is found by bisection on a numerically
integrated density, exact to ~1e-9, which is plenty for a 95% interval.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def _t_cdf(t: float, dof: int) -> float:
    """P(T <= t) for Student's t with `dof` degrees of freedom (t >= 0), by Simpson's rule."""
    if dof <= 0:
        raise ValueError(f"t distribution: degrees of freedom must be >= 1, got {dof}")
    log_c = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    # substitute x = tan(u): the integrand stays smooth and the range finite for heavy tails
    u_end, n = math.atan(t), 2000
    h = u_end / n

    def f(u):
        x = math.tan(u)
        return math.exp(log_c - (dof + 1) / 2 * math.log1p(x * x / dof)) / math.cos(u) ** 2

    s = f(0) + f(u_end) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, n))
    return 0.5 + s * h / 3


def t_quantile(p: float, dof: int) -> float:
    """The p-quantile (p in (0.5, 1)) of Student's t with `dof` degrees of freedom."""
    if not 0.5 < p < 1:
        raise ValueError(f"t_quantile: p must lie in (0.5, 1), got {p}")
    if dof > 1000:
        return Z95 if p == 0.975 else _normal_quantile(p)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, dof) < p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, dof) < p else (lo, mid)
    return (lo + hi) / 2


def _normal_quantile(p: float) -> float:
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.erfc(-mid / math.sqrt(2)) < p else (lo, mid)
    return (lo + hi) / 2


def sample_summary(values) -> dict:
    """{n, mean, sd, min, max, ci_low, ci_high} of per-seed figures; sd and the interval are
    None for a single seed (one number says nothing about the spread)."""
    v = [float(x) for x in values]
    if not v or not all(math.isfinite(x) for x in v):
        raise ValueError(f"sample_summary: needs one or more finite values, got {values!r}")
    n, mean = len(v), math.fsum(v) / len(v)
    out = {"n": n, "mean": mean, "sd": None, "min": min(v), "max": max(v), "ci_low": None, "ci_high": None}
    if n > 1:
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (n - 1))
        half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
        out.update(sd=sd, ci_low=mean - half, ci_high=mean + half)
    return out


def verdict(published: float, values, n_measured: int) -> dict:
    """Is `published` inside what our per-seed figures `values` (fractions, measured on
    `n_measured` images) allow?

    The published figure is one more run of the same protocol, measured on a finite set. So
    it is compared with a 95% prediction interval for one new run:
        mean ± sqrt((t · sd · sqrt(1 + 1/n))² + (1.96 · se_set)²),
    where t is Student's 97.5% quantile with n-1 degrees of freedom (the seeds' spread,
    widened for being estimated from n seeds) and se_set = sqrt(p(1-p)/n_measured) is the
    binomial sampling error of one accuracy measured on n_measured images.
    With one seed the seed part is unknown and only the sampling error counts.

    Returns {"verdict": "reproduced" | "above" | "below", "gap": published - mean (fraction),
    "z": gap in standard errors sqrt(sd²(1+1/n) + se_set²), "half_width": of the interval}.
    "above" means the published figure is above ours.
    """
    s = sample_summary(values)
    if not 0 <= published <= 1:
        raise ValueError(f"verdict: published accuracy must be a fraction in [0, 1], got {published}")
    if n_measured < 1:
        raise ValueError(f"verdict: n_measured must be >= 1, got {n_measured}")
    mean = s["mean"]
    se_set = math.sqrt(max(mean * (1 - mean), 0.0) / n_measured)
    seed_var = 0.0 if s["sd"] is None else s["sd"] ** 2 * (1 + 1 / s["n"])
    t = 0.0 if s["sd"] is None else t_quantile(0.975, s["n"] - 1)
    half = math.sqrt(t * t * seed_var + (Z95 * se_set) ** 2)
    gap = published - mean
    se = math.sqrt(seed_var + se_set ** 2)
    z = gap / se if se > 0 else (0.0 if gap == 0 else math.copysign(math.inf, gap))
    word = "reproduced" if abs(gap) <= half else ("above" if gap > 0 else "below")
    return {"verdict": word, "gap": gap, "z": z, "half_width": half}


def mcnemar(correct_a, correct_b) -> dict:
    """McNemar's exact test on paired per-image outcomes (booleans, same images, same order).

    only_a: images A gets right and B wrong; only_b: the reverse. Under "A and B are equally
    good" each discordant image is a fair coin, so p = P(Binomial(only_a + only_b, 1/2) as far
    from the middle as observed), two-sided, capped at 1. Exact integer arithmetic.
    """
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"mcnemar: needs two 1-D arrays of the same length, got {a.shape} and {b.shape}")
    only_a = int(np.count_nonzero(a & ~b))
    only_b = int(np.count_nonzero(~a & b))
    n, k = only_a + only_b, min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    p = 1.0 if n == 0 else float(min(Fraction(1), Fraction(2 * tail, 2 ** n)))
    return {"only_a": only_a, "only_b": only_b, "both": int(np.count_nonzero(a & b)),
            "neither": int(np.count_nonzero(~a & ~b)), "p_value": p}
