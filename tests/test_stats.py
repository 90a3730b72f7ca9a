"""nn.stats on constructed numbers: t quantiles, intervals, verdicts, McNemar's exact test."""
import math

import numpy as np
import pytest

from nn.stats import mcnemar, sample_summary, t_quantile, verdict


@pytest.mark.parametrize("dof, expected", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (30, 2.0423)])
def test_t_quantile_matches_the_printed_tables(dof, expected):
    assert t_quantile(0.975, dof) == pytest.approx(expected, abs=2e-4)


def test_interval_of_three_seeds_by_hand():
    s = sample_summary([0.97, 0.98, 0.99])
    assert (s["n"], s["min"], s["max"]) == (3, 0.97, 0.99)
    assert s["mean"] == pytest.approx(0.98)
    assert s["sd"] == pytest.approx(0.01)
    half = 4.302653 * 0.01 / math.sqrt(3)          # t(0.975, 2) s / sqrt(n)
    assert s["ci_low"] == pytest.approx(0.98 - half, abs=1e-6)
    assert s["ci_high"] == pytest.approx(0.98 + half, abs=1e-6)


def test_one_seed_has_no_spread_and_no_interval():
    s = sample_summary([0.5])
    assert s["sd"] is None and s["ci_low"] is None and s["mean"] == 0.5


@pytest.mark.parametrize("bad", [[], [0.5, float("nan")]])
def test_summarize_refuses_nothing_or_nan(bad):
    with pytest.raises(ValueError, match="sample_summary"):
        sample_summary(bad)


def test_verdict_interval_by_hand():
    values, n_test = [0.955, 0.96, 0.965], 10000
    mean, sd = 0.96, 0.005
    se_set = math.sqrt(mean * (1 - mean) / n_test)
    half = math.sqrt((4.302653 * sd * math.sqrt(1 + 1 / 3)) ** 2 + (1.959964 * se_set) ** 2)
    inside = verdict(mean + 0.99 * half, values, n_test)
    assert inside["verdict"] == "reproduced"
    assert inside["half_width"] == pytest.approx(half, rel=1e-5)
    above = verdict(mean + 1.01 * half, values, n_test)
    assert above["verdict"] == "above"
    assert above["gap"] == pytest.approx(1.01 * half)
    assert above["z"] == pytest.approx(1.01 * half / math.sqrt(sd ** 2 * (4 / 3) + se_set ** 2), rel=1e-6)
    assert verdict(mean - 1.01 * half, values, n_test)["verdict"] == "below"


def test_one_seed_verdict_uses_only_the_sampling_error():
    se_set = math.sqrt(0.9 * 0.1 / 10000)             # 0.003
    assert verdict(0.9 + 1.9 * se_set, [0.9], 10000)["verdict"] == "reproduced"
    v = verdict(0.9 - 2.0 * se_set, [0.9], 10000)
    assert v["verdict"] == "below" and v["z"] == pytest.approx(-2.0)


def test_identical_seeds_far_from_the_figure_are_not_a_reproduction():
    # zero spread between seeds does not make the interval zero: the test set still samples
    assert verdict(0.9417, [0.9767, 0.9767, 0.9767], 10000)["verdict"] == "below"
    assert verdict(0.9767, [0.9767, 0.9767, 0.9767], 10000)["verdict"] == "reproduced"


def test_mcnemar_counts_and_p_by_hand():
    # 10 images: A right on 0-6, B right on 0-3 and 7-8 -> only A: 4, 5, 6; only B: 7, 8
    a = np.zeros(10, bool); a[:7] = True
    b = np.zeros(10, bool); b[:4] = True; b[7:9] = True
    r = mcnemar(a, b)
    assert (r["only_a"], r["only_b"], r["both"], r["neither"]) == (3, 2, 4, 1)
    # two-sided exact: 2 * P(X <= 2), X ~ Bin(5, 1/2) = 2 * (1 + 5 + 10) / 32 = 1.0
    assert r["p_value"] == 1.0
    # 0 against 10 discordant: 2 / 2^10
    r = mcnemar(np.ones(10, bool), np.zeros(10, bool))
    assert (r["only_a"], r["only_b"]) == (10, 0)
    assert r["p_value"] == pytest.approx(2 / 1024)
    # 1 against 9: 2 * (1 + 10) / 1024
    c = np.zeros(10, bool); c[0] = True
    d = ~c
    assert mcnemar(c, d)["p_value"] == pytest.approx(22 / 1024)


def test_mcnemar_is_exact_for_test_set_sized_counts():
    a = np.zeros(10000, bool); a[:300] = True
    b = np.zeros(10000, bool); b[300:550] = True
    r = mcnemar(a, b)
    assert (r["only_a"], r["only_b"]) == (300, 250)
    assert 0.0 < r["p_value"] < 0.05 and r["p_value"] == pytest.approx(0.0365, abs=0.002)


def test_mcnemar_identical_classifiers_and_bad_shapes():
    same = np.array([True, False, True])
    assert mcnemar(same, same)["p_value"] == 1.0
    with pytest.raises(ValueError, match="same length"):
        mcnemar([True], [True, False])
