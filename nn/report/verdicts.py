"""The ledger's verdict rule, stated before any run: what a published figure is called beside ours.

- judge(published, low, high, n_seeds, n_measured): the word for an accuracy against our interval
  (docs/interfaces.md, "Verdicts and intervals"); judge_within() is the rule with any limit (a
  training cost's: nn.report.costs), reproduced_limit() the limit an accuracy gets.
- verdict(published, values, n_measured): a published figure against the 95% prediction interval
  of our seeds (nn.stats.prediction_interval), with its word, its distance and that distance in
  standard errors.
- stalls(values): the stall rule, the seeds whose peak is more than 5 points below the best seed's.

The intervals, quantiles and tests are statistics and live in nn.stats; this module holds only the
limits and the words, so that the rule can be read, and tested, in one place.
"""

from __future__ import annotations

import math

from nn import stats

# A published figure inside our 95% interval of half-width h is
#   "reproduced"     when h <= REPRODUCED_HALF_WIDTH (1 point), or, for a source whose figure comes from
#                    so few images that its own sampling half-width is wider than that, when
#                    h <= SMALL_SET_FACTOR x that half-width (pocket-model's 1,000 images: ±2.2 points);
#   "within_spread"  (reproduced within the protocol's own spread) when h is wider but comes from
#                    at least SPREAD_MIN_SEEDS seeds: the protocol itself varies that much;
#   "inconclusive"   otherwise: too few seeds to tell a wide protocol from a wrong one.
# Outside the interval: "above" (published above ours) or "below".
REPRODUCED_HALF_WIDTH = 0.01
SMALL_SET_FACTOR = 1.25
SPREAD_MIN_SEEDS = 8
STALL_POINTS = 0.05  # a seed stalls when its peak is more than 5 points below the best seed's peak


def reproduced_limit(published: float, n_measured: int) -> float:
    """The widest half-width that still earns "reproduced": 1 point, or 1.25 x the source's own
    sampling half-width on its n_measured images when that is wider than 1 point."""
    own = stats.sampling_half_width(published, n_measured)
    return SMALL_SET_FACTOR * own if own > REPRODUCED_HALF_WIDTH else REPRODUCED_HALF_WIDTH


def judge(published: float, low: float, high: float, n_seeds: int, n_measured: int) -> str:
    """The verdict rule for an accuracy: a published figure against our interval [low, high] from
    n_seeds seeds, on a measured set of n_measured images (the source's own set size).
    Returns "above", "below", "reproduced", "within_spread" or "inconclusive" (see the constants)."""
    return judge_within(published, low, high, n_seeds, reproduced_limit(published, n_measured))


def judge_within(published: float, low: float, high: float, n_seeds: int, limit: float) -> str:
    """The verdict rule in one place, for any figure: outside [low, high] "above" or "below"; inside,
    "reproduced" when the half-width is at most `limit`, else "within_spread" from SPREAD_MIN_SEEDS
    seeds or more, else "inconclusive"."""
    if published > high:
        return "above"
    if published < low:
        return "below"
    # rounded to 1e-9: an interval of exactly 2 points written as 0.95..0.97 is h = 1 point, not a hair over
    if round((high - low) / 2, 9) <= limit:
        return "reproduced"
    return "within_spread" if n_seeds >= SPREAD_MIN_SEEDS else "inconclusive"


def verdict(published: float, values, n_measured: int) -> dict:
    """Is `published` inside what our per-seed figures `values` (fractions, measured on
    `n_measured` images) allow?

    The published figure is one more run of the same protocol, measured on a finite set, so it is
    compared with the 95% prediction interval for one new run (nn.stats.prediction_interval: the
    seeds' spread and the measured set's sampling error; one seed, the sampling error alone).

    Returns {"verdict": judge()'s word, "gap": published - mean (fraction), "z": gap in standard
    errors sqrt(sd²(1+1/n) + se_set²), "half_width": of the interval, "low", "high": its ends,
    "limit": reproduced_limit(), "n": seeds}. "above" means the published figure is above ours.
    """
    interval = stats.prediction_interval(values, n_measured)
    if not 0 <= published <= 1:
        raise ValueError(f"verdict: published accuracy must be a fraction in [0, 1], got {published}")
    gap = published - interval["mean"]
    se = interval["se"]
    z = gap / se if se > 0 else (0.0 if gap == 0 else math.copysign(math.inf, gap))
    low, high = interval["low"], interval["high"]
    return {
        "verdict": judge(published, low, high, interval["n"], n_measured),
        "gap": gap,
        "z": z,
        "half_width": interval["half_width"],
        "low": low,
        "high": high,
        "limit": reproduced_limit(published, n_measured),
        "n": interval["n"],
    }


def stalls(values, points: float = STALL_POINTS) -> dict:
    """The stall rule, stated in advance: a seed stalls when its figure (its peak accuracy) is
    more than `points` (5 points: 0.05) below the best seed's. Exactly 5 points below is no stall
    (compared after rounding to 1e-9, so 0.95 - 0.90 is not taken for a hair over 0.05).
    Returns {"stalled": indices into values, "n_stalled", "best", "threshold": best - points}."""
    v = [float(x) for x in values]
    if not v or not all(math.isfinite(x) for x in v):
        raise ValueError(f"stalls: needs one or more finite values, got {values!r}")
    best = max(v)
    stalled = [i for i, x in enumerate(v) if round(best - x, 9) > points]
    return {"stalled": stalled, "n_stalled": len(stalled), "best": best, "threshold": best - points}
