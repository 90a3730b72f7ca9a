"""nn.report.verdicts on constructed numbers: the verdict rule's words, its limits and the stall rule."""

import math

import pytest

from nn.report.verdicts import (
    REPRODUCED_HALF_WIDTH,
    SMALL_SET_FACTOR,
    SPREAD_MIN_SEEDS,
    STALL_POINTS,
    judge,
    judge_within,
    reproduced_limit,
    stalls,
    verdict,
)
from nn.stats import prediction_interval, sampling_half_width


def test_verdict_interval_by_hand():
    values, n_test = [0.955, 0.96, 0.965], 10000
    mean, sd = 0.96, 0.005
    se_set = math.sqrt(mean * (1 - mean) / n_test)
    half = math.sqrt((4.302653 * sd * math.sqrt(1 + 1 / 3)) ** 2 + (1.959964 * se_set) ** 2)
    inside = verdict(mean + 0.99 * half, values, n_test)
    assert half > 0.01 and inside["verdict"] == "inconclusive"  # inside, but ±2.5 points from 3 seeds
    assert inside["half_width"] == pytest.approx(half, rel=1e-5)
    assert (inside["low"], inside["high"]) == pytest.approx((mean - half, mean + half), rel=1e-5)
    above = verdict(mean + 1.01 * half, values, n_test)
    assert above["verdict"] == "above"
    assert above["gap"] == pytest.approx(1.01 * half)
    assert above["z"] == pytest.approx(1.01 * half / math.sqrt(sd**2 * (4 / 3) + se_set**2), rel=1e-6)
    assert verdict(mean - 1.01 * half, values, n_test)["verdict"] == "below"


def test_one_seed_verdict_uses_only_the_sampling_error():
    se_set = math.sqrt(0.9 * 0.1 / 10000)  # 0.003
    assert verdict(0.9 + 1.9 * se_set, [0.9], 10000)["verdict"] == "reproduced"
    v = verdict(0.9 - 2.0 * se_set, [0.9], 10000)
    assert v["verdict"] == "below" and v["z"] == pytest.approx(-2.0)


def test_identical_seeds_far_from_the_figure_are_not_a_reproduction():
    # zero spread between seeds does not make the interval zero: the test set still samples
    assert verdict(0.9417, [0.9767, 0.9767, 0.9767], 10000)["verdict"] == "below"
    assert verdict(0.9767, [0.9767, 0.9767, 0.9767], 10000)["verdict"] == "reproduced"


def test_the_verdict_words_by_the_rule():
    # inside and h <= 1 point: reproduced, whatever the number of seeds
    assert judge(0.955, 0.95, 0.97, 3, 10000) == "reproduced"  # h = 1.0 point exactly
    # inside, wider than 1 point: within the protocol's spread from 8 seeds, inconclusive from fewer
    assert judge(0.955, 0.94, 0.97, 8, 10000) == "within_spread"
    assert judge(0.955, 0.94, 0.97, 7, 10000) == "inconclusive"
    # outside: above / below, however wide
    assert judge(0.975, 0.94, 0.97, 20, 10000) == "above"
    assert judge(0.935, 0.94, 0.97, 20, 10000) == "below"


def test_a_source_measured_on_few_images_gets_its_own_sampling_error_as_the_limit():
    # pocket-model: 85 % on its first 1,000 test images is itself uncertain by ±2.2 points
    own = 1.959964 * math.sqrt(0.85 * 0.15 / 1000)
    assert sampling_half_width(0.85, 1000) == pytest.approx(own, rel=1e-6) and own == pytest.approx(0.0221, abs=1e-4)
    assert reproduced_limit(0.85, 1000) == pytest.approx(1.25 * own, rel=1e-6)
    assert reproduced_limit(0.85, 10000) == 0.01  # 0.7 points on 10,000 images: the 1-point limit
    assert judge(0.85, 0.85 - 1.2 * own, 0.85 + 1.2 * own, 3, 1000) == "reproduced"
    assert judge(0.85, 0.85 - 1.3 * own, 0.85 + 1.3 * own, 3, 1000) == "inconclusive"
    # through verdict(): three close seeds, our interval widened by the same 1,000-image error
    v = verdict(0.85, [0.848, 0.852, 0.85], 1000)
    assert 0.01 < v["half_width"] <= v["limit"] and v["verdict"] == "reproduced"
    assert verdict(0.85, [0.848, 0.852, 0.85], 10000)["verdict"] == "inconclusive"  # ±1.2 points on 10,000


def test_many_seeds_of_a_wide_protocol_are_within_its_spread():
    values = [0.93, 0.95, 0.96, 0.94, 0.955, 0.965, 0.935, 0.945]  # sd 1.2 points over 8 seeds
    v = verdict(0.95, values, 10000)
    assert v["half_width"] > 0.01 and v["n"] == 8 and v["verdict"] == "within_spread"
    assert verdict(0.95, values[:7], 10000)["verdict"] == "inconclusive"


def test_stalls_more_than_5_points_below_the_best_seed():
    s = stalls([0.95, 0.90, 0.899, 0.94, 0.60])
    assert s["stalled"] == [2, 4] and s["n_stalled"] == 2  # 0.90 is exactly 5 points below: no stall
    assert s["best"] == 0.95 and s["threshold"] == pytest.approx(0.90)
    assert stalls([0.97])["n_stalled"] == 0
    assert stalls([0.99, 0.94])["n_stalled"] == 0  # 0.99 - 0.94 is a hair over 0.05 in floats: still 5 points
    assert stalls([0.5, 0.6], points=0.2)["n_stalled"] == 0


def test_the_small_set_allowance_starts_where_the_sources_own_error_passes_one_point():
    """1.25 x the source's own sampling half-width, only where that half-width itself exceeds 1 point.
    On 10,000 images a figure of 50 % has an own half-width of 0.98 points: 1.25 x that is 1.23, over
    1 point, yet the allowance must not apply (the rule reads the source's error, not its 1.25 x)."""
    own = sampling_half_width(0.5, 10_000)
    assert 0.008 < own < 0.01 < 1.25 * own
    assert reproduced_limit(0.5, 10_000) == 0.01
    assert judge(0.5, 0.5 - 0.011, 0.5 + 0.011, 8, 10_000) == "within_spread"  # h = 1.1 points: not reproduced
    # where the source's own error does pass 1 point (1,000 images), 1.25 x it is the limit
    assert reproduced_limit(0.5, 1_000) == pytest.approx(1.25 * sampling_half_width(0.5, 1_000))
    assert judge(0.5, 0.5 - 0.03, 0.5 + 0.03, 3, 1_000) == "reproduced"


def test_the_rule_is_stated_in_its_constants():
    assert (REPRODUCED_HALF_WIDTH, SMALL_SET_FACTOR, SPREAD_MIN_SEEDS, STALL_POINTS) == (0.01, 1.25, 8, 0.05)


def test_judge_within_takes_any_limit():
    # a training cost of 0.45 judged with a 5 % limit: h = 0.02 is inside 0.0225
    assert judge_within(0.45, 0.43, 0.47, 3, 0.05 * 0.45) == "reproduced"
    assert judge_within(0.45, 0.42, 0.48, 3, 0.05 * 0.45) == "inconclusive"
    assert judge_within(0.45, 0.42, 0.48, 8, 0.05 * 0.45) == "within_spread"
    assert judge_within(0.49, 0.42, 0.48, 8, 1.0) == "above" and judge_within(0.41, 0.42, 0.48, 8, 1.0) == "below"


def test_verdict_is_the_prediction_interval_judged():
    values, n_test = [0.93, 0.95, 0.96, 0.94, 0.955], 10000
    p = prediction_interval(values, n_test)
    for published in (0.90, 0.95, 0.99):
        v = verdict(published, values, n_test)
        assert (v["low"], v["high"], v["half_width"], v["n"]) == (p["low"], p["high"], p["half_width"], p["n"])
        assert v["gap"] == published - p["mean"] and v["z"] == v["gap"] / p["se"]
        assert v["verdict"] == judge(published, p["low"], p["high"], p["n"], n_test)
        assert v["limit"] == reproduced_limit(published, n_test)
    assert verdict(0.90, values, n_test)["z"] < 0 < verdict(0.99, values, n_test)["z"]


def test_verdict_refuses_a_figure_that_is_no_fraction():
    with pytest.raises(ValueError, match="published accuracy must be a fraction"):
        verdict(97.7, [0.97, 0.98], 10000)
    with pytest.raises(ValueError, match="n_measured"):
        verdict(0.97, [0.97, 0.98], 0)
