"""Statistics for replicates: how sure are we of an accuracy, and is a difference real?

- sample_summary(values): n, mean, sd, min, max and a 95% interval for the mean over seeds
  (Student's t, so 3 seeds give an honest, wide interval).
- t_quantile(p, dof): Student's t quantile; Z95: the normal's two-sided 95% quantile.
- sampling_half_width(p, N): the 95% half-width of an accuracy p measured on N images.
- prediction_half_width(values): the 95% prediction interval's half-width for one more run,
  from our seeds' spread alone.
- prediction_interval(values, n_measured): the 95% prediction interval for one more run's
  figure measured on n_measured images (the seeds' spread and the set's sampling error), and
  the standard error a distance from our mean is counted in.
- best_of_k(values, k, published): the exact distribution of the best of k runs drawn from
  our n seeds (every k-subset), for a figure that is a best of k runs (Nielsen's ch. 1).
- mcnemar(correct_a, correct_b): McNemar's exact test on two classifiers' per-image hits.

Numbers only: what a published figure inside or outside these intervals is called, and when a
seed counts as stalled, is the ledger's rule (nn.report.verdicts).

Plain Python floats out, no scipy: the t quantile is found by bisection on a numerically
integrated density, exact to ~1e-9, which is plenty for a 95% interval.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import SupportsFloat

    import numpy.typing as npt

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def _t_cdf(t: float, dof: int) -> float:
    """P(T <= t) for Student's t with `dof` degrees of freedom (t >= 0), by Simpson's rule."""
    if dof <= 0:
        raise ValueError(f"t distribution: degrees of freedom must be >= 1, got {dof}")
    log_c = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    # substitute x = tan(u): the integrand stays smooth and the range finite for heavy tails
    u_end, n = math.atan(t), 2000
    h = u_end / n

    def f(u: float) -> float:
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


def sample_summary(values: Iterable[SupportsFloat]) -> dict:
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


def sampling_half_width(p: float, n_images: int) -> float:
    """1.96 sqrt(p(1-p)/N): the 95% half-width of an accuracy p measured on N images."""
    return Z95 * math.sqrt(max(p * (1 - p), 0.0) / n_images)


def prediction_half_width(values: Iterable[SupportsFloat]) -> float | None:
    """t(0.975, n-1) sd sqrt(1 + 1/n): the half-width of a 95% prediction interval for one more run,
    from n seeds' figures (None for one seed: its spread is unknown)."""
    s = sample_summary(values)
    if s["sd"] is None:
        return None
    return t_quantile(0.975, s["n"] - 1) * s["sd"] * math.sqrt(1 + 1 / s["n"])


def prediction_interval(values: Iterable[SupportsFloat], n_measured: int) -> dict:
    """The 95% prediction interval for one more run's figure, from our per-seed figures `values`
    (fractions, each measured on `n_measured` images).

    One more run of the same protocol, measured on a finite set, varies as the seeds do and by the
    set's sampling error, so the interval is
        mean ± sqrt((t · sd · sqrt(1 + 1/n))² + (1.96 · se_set)²),
    where t is Student's 97.5% quantile with n-1 degrees of freedom (the seeds' spread, widened
    for being estimated from n seeds) and se_set = sqrt(p(1-p)/n_measured) is the binomial
    sampling error of one accuracy measured on n_measured images.
    With one seed the seed part is unknown and only the sampling error counts.

    Returns {"n": seeds, "mean", "half_width", "low", "high": the interval's ends,
    "se": the standard error sqrt(sd²(1+1/n) + se_set²) of one more run about our mean}.
    """
    s = sample_summary(values)
    if n_measured < 1:
        raise ValueError(f"prediction_interval: n_measured must be >= 1, got {n_measured}")
    mean = s["mean"]
    se_set = math.sqrt(max(mean * (1 - mean), 0.0) / n_measured)
    seed_var = 0.0 if s["sd"] is None else s["sd"] ** 2 * (1 + 1 / s["n"])
    t = 0.0 if s["sd"] is None else t_quantile(0.975, s["n"] - 1)
    half = math.sqrt(t * t * seed_var + (Z95 * se_set) ** 2)
    se = math.sqrt(seed_var + se_set**2)
    return {"n": s["n"], "mean": mean, "half_width": half, "low": mean - half, "high": mean + half, "se": se}


def best_of_k(values: Iterable[SupportsFloat], k: int, published: float | None = None, level: float = 0.95) -> dict:
    """The best of k runs, when each of our n seeds' `values` is one run: its exact distribution
    over all C(n, k) k-subsets of the seeds (no sampling), for a figure that is a best of k
    (Nielsen ch. 1: "best-of-three runs", each at its best epoch).

    Sorted ascending, v_1 <= ... <= v_n, v_i is the maximum of exactly C(i-1, k-1) of the
    subsets (ties counted by position), so P(best = v_i) = C(i-1, k-1) / C(n, k).
    Returns {"k", "n", "subsets": C(n, k), "mean", "low", "high", "p_at_most"}:
    low and high are the (1-level)/2 and (1+level)/2 quantiles, a quantile q being the smallest
    value v with P(best <= v) >= q. They are seeds' values; with ties and few subsets the
    distribution is discrete, so [low, high] holds at least `level` of it (usually more), and
    P(best < low) < (1-level)/2, P(best > high) <= (1-level)/2.
    p_at_most: P(best of k <= published), None without a published figure.
    Exact rational arithmetic for the probabilities; the interval is only as good as n seeds
    let it be (with n = k it is one value): use many more seeds than k.
    """
    v = sorted(float(x) for x in values)
    n = len(v)
    if not v or not all(math.isfinite(x) for x in v):
        raise ValueError(f"best_of_k: needs one or more finite values, got {values!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"best_of_k: k must be an integer in [1, {n}] (the seeds), got {k!r}")
    if not 0 < level < 1:
        raise ValueError(f"best_of_k: level must lie in (0, 1), got {level}")
    total = math.comb(n, k)
    weights = [math.comb(i, k - 1) for i in range(n)]  # subsets whose maximum is v[i]; they sum to total
    tail = (1 - Fraction(str(level))) / 2  # exact: 0.95 -> 1/40

    def quantile(q: Fraction) -> float:
        below = 0
        for x, w in zip(v, weights):
            below += w
            if Fraction(below, total) >= q:
                return x
        return v[-1]

    mean = math.fsum(w * x for x, w in zip(v, weights)) / total
    p_at_most = (
        None if published is None else float(Fraction(sum(w for x, w in zip(v, weights) if x <= published), total))
    )
    return {
        "k": k,
        "n": n,
        "subsets": total,
        "mean": mean,
        "low": quantile(tail),
        "high": quantile(1 - tail),
        "p_at_most": p_at_most,
    }


def mcnemar(correct_a: npt.ArrayLike, correct_b: npt.ArrayLike) -> dict:
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
    p = 1.0 if n == 0 else float(min(Fraction(1), Fraction(2 * tail, 2**n)))
    return {
        "only_a": only_a,
        "only_b": only_b,
        "both": int(np.count_nonzero(a & b)),
        "neither": int(np.count_nonzero(~a & ~b)),
        "p_value": p,
    }
