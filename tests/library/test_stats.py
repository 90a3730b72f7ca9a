"""nn.stats on constructed numbers: t quantiles, intervals, best of k, McNemar's exact test."""

import itertools
import math

import numpy as np
import pytest

from nn.stats import (
    Z95,
    best_of_k,
    mcnemar,
    prediction_half_width,
    prediction_interval,
    sample_summary,
    sampling_half_width,
    t_quantile,
)


@pytest.mark.parametrize("dof, expected", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)])
def test_t_quantile_matches_the_printed_tables(dof, expected):
    assert t_quantile(0.975, dof) == pytest.approx(expected, abs=2e-4)


def test_interval_of_three_seeds_by_hand():
    s = sample_summary([0.97, 0.98, 0.99])
    assert (s["n"], s["min"], s["max"]) == (3, 0.97, 0.99)
    assert s["mean"] == pytest.approx(0.98)
    assert s["sd"] == pytest.approx(0.01)
    half = 4.302653 * 0.01 / math.sqrt(3)  # t(0.975, 2) s / sqrt(n)
    assert s["ci_low"] == pytest.approx(0.98 - half, abs=1e-6)
    assert s["ci_high"] == pytest.approx(0.98 + half, abs=1e-6)


def test_one_seed_has_no_spread_and_no_interval():
    s = sample_summary([0.5])
    assert s["sd"] is None and s["ci_low"] is None and s["mean"] == 0.5


@pytest.mark.parametrize("bad", [[], [0.5, float("nan")]])
def test_summarize_refuses_nothing_or_nan(bad):
    with pytest.raises(ValueError, match="sample_summary"):
        sample_summary(bad)


def test_sampling_half_width_by_hand():
    # 85 % on 1,000 images: 1.96 sqrt(0.85 x 0.15 / 1000) = 2.2 points
    assert sampling_half_width(0.85, 1000) == pytest.approx(1.959964 * math.sqrt(0.85 * 0.15 / 1000), rel=1e-6)
    assert sampling_half_width(1.0, 10000) == 0.0


def test_prediction_interval_by_hand():
    values, n_test = [0.955, 0.96, 0.965], 10000
    mean, sd = 0.96, 0.005
    se_set = math.sqrt(mean * (1 - mean) / n_test)
    half = math.sqrt((4.302653 * sd * math.sqrt(1 + 1 / 3)) ** 2 + (1.959964 * se_set) ** 2)
    p = prediction_interval(values, n_test)
    assert p["n"] == 3 and p["mean"] == pytest.approx(mean)
    assert p["half_width"] == pytest.approx(half, rel=1e-5)
    assert (p["low"], p["high"]) == (p["mean"] - p["half_width"], p["mean"] + p["half_width"])
    assert p["se"] == pytest.approx(math.sqrt(sd**2 * (4 / 3) + se_set**2), rel=1e-6)
    # the seeds' part alone is prediction_half_width
    assert prediction_half_width(values) == pytest.approx(4.302653 * sd * math.sqrt(4 / 3), rel=1e-5)


def test_one_seed_prediction_interval_is_the_sampling_error_alone():
    se_set = math.sqrt(0.9 * 0.1 / 10000)
    p = prediction_interval([0.9], 10000)
    assert p["half_width"] == pytest.approx(Z95 * se_set) and p["se"] == pytest.approx(se_set)
    assert prediction_half_width([0.9]) is None
    # identical seeds: no spread, but the measured set still samples
    assert prediction_interval([0.9767] * 3, 10000)["half_width"] > 0.002


def test_prediction_interval_refuses_no_images_or_no_values():
    with pytest.raises(ValueError, match="n_measured"):
        prediction_interval([0.9, 0.91], 0)
    with pytest.raises(ValueError, match="sample_summary"):
        prediction_interval([], 10000)


def brute_best_of_k(values, k):
    """Every k-subset's maximum, as a list (the definition best_of_k computes in closed form)."""
    return [max(c) for c in itertools.combinations(values, k)]


def test_best_of_k_by_hand():
    # 4 seeds, best of 2: 6 subsets, maxima 0.2 once, 0.3 twice, 0.4 three times
    b = best_of_k([0.4, 0.1, 0.3, 0.2], 2, published=0.3)
    assert (b["k"], b["n"], b["subsets"]) == (2, 4, 6)
    assert b["mean"] == pytest.approx((0.2 + 2 * 0.3 + 3 * 0.4) / 6)
    assert b["p_at_most"] == pytest.approx(3 / 6)
    # P(best <= 0.2) = 1/6 >= 0.025 -> low 0.2; P(best <= 0.3) = 1/2 < 0.975 -> high 0.4
    assert (b["low"], b["high"]) == (0.2, 0.4)
    assert best_of_k([0.4, 0.1, 0.3, 0.2], 2, published=0.19)["p_at_most"] == 0.0
    assert best_of_k([0.4, 0.1, 0.3, 0.2], 2)["p_at_most"] is None


@pytest.mark.parametrize("n, k", [(3, 3), (6, 3), (9, 3), (10, 1), (8, 5)])
def test_best_of_k_equals_enumerating_every_subset(n, k):
    rng = np.random.default_rng(n * 10 + k)
    values = list(np.round(rng.normal(0.95, 0.01, n), 3))  # rounded to 0.1 points: ties happen
    values[-1] = values[0]  # and one for certain
    maxima = brute_best_of_k(values, k)
    published = float(np.median(values))
    b = best_of_k(values, k, published=published)
    assert b["subsets"] == len(maxima) == math.comb(n, k)
    assert b["mean"] == pytest.approx(np.mean(maxima), rel=1e-12)
    assert b["p_at_most"] == pytest.approx(np.mean(np.array(maxima) <= published), rel=1e-12)
    # the quantiles: the smallest maximum with P(best <= it) >= 0.025, resp. >= 0.975
    ordered = np.sort(maxima)
    cdf = np.array([np.mean(ordered <= x) for x in ordered])
    assert b["low"] == ordered[np.argmax(cdf >= 0.025 - 1e-12)]
    assert b["high"] == ordered[np.argmax(cdf >= 0.975 - 1e-12)]
    inside = np.mean((ordered >= b["low"]) & (ordered <= b["high"]))
    assert inside >= 0.95  # discreteness errs on the wide side


def test_best_of_k_with_ties_and_bad_arguments():
    b = best_of_k([0.9, 0.9, 0.9], 2, published=0.9)
    assert (b["mean"], b["low"], b["high"], b["p_at_most"]) == (0.9, 0.9, 0.9, 1.0)
    one = best_of_k([0.1, 0.2, 0.3, 0.4], 1)  # best of 1 = one seed drawn at random
    assert one["mean"] == pytest.approx(0.25) and (one["low"], one["high"]) == (0.1, 0.4)
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
            best_of_k([0.1, 0.2, 0.3], bad)
    with pytest.raises(ValueError, match="finite values"):
        best_of_k([0.1, float("nan")], 1)


def test_mcnemar_counts_and_p_by_hand():
    # 10 images: A right on 0-6, B right on 0-3 and 7-8 -> only A: 4, 5, 6; only B: 7, 8
    a = np.zeros(10, bool)
    a[:7] = True
    b = np.zeros(10, bool)
    b[:4] = True
    b[7:9] = True
    r = mcnemar(a, b)
    assert (r["only_a"], r["only_b"], r["both"], r["neither"]) == (3, 2, 4, 1)
    # two-sided exact: 2 * P(X <= 2), X ~ Bin(5, 1/2) = 2 * (1 + 5 + 10) / 32 = 1.0
    assert r["p_value"] == 1.0
    # 0 against 10 discordant: 2 / 2^10
    r = mcnemar(np.ones(10, bool), np.zeros(10, bool))
    assert (r["only_a"], r["only_b"]) == (10, 0)
    assert r["p_value"] == pytest.approx(2 / 1024)
    # 1 against 9: 2 * (1 + 10) / 1024
    c = np.zeros(10, bool)
    c[0] = True
    d = ~c
    assert mcnemar(c, d)["p_value"] == pytest.approx(22 / 1024)


def test_mcnemar_is_exact_for_test_set_sized_counts():
    a = np.zeros(10000, bool)
    a[:300] = True
    b = np.zeros(10000, bool)
    b[300:550] = True
    r = mcnemar(a, b)
    assert (r["only_a"], r["only_b"]) == (300, 250)
    assert 0.0 < r["p_value"] < 0.05 and r["p_value"] == pytest.approx(0.0365, abs=0.002)


def test_mcnemar_identical_classifiers_and_bad_shapes():
    same = np.array([True, False, True])
    assert mcnemar(same, same)["p_value"] == 1.0
    with pytest.raises(ValueError, match="same length"):
        mcnemar([True], [True, False])
