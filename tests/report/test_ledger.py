"""nn.report.ledger: the ledger in words, on constructed rows.

The ledger inside the report and results/ledger.md: tests/report/test_html.py.
"""

import pytest

from nn.report import ledger


@pytest.mark.parametrize(
    "x, signed, text",
    [(0.9417, False, "94.17 %"), (None, False, ""), (0.0123, True, "+1.23 pts"), (-0.0123, True, "-1.23 pts")],
)
def test_pct_says_accuracies_in_percent_and_differences_in_points(x, signed, text):
    assert ledger.pct(x, signed=signed) == text


def test_a_difference_that_rounds_to_none_is_plus_zero_not_minus_zero():
    assert ledger.pct(-0.00001, signed=True) == "+0.00 pts"


def test_ours_in_short_names_the_seeds_and_the_stalled_ones():
    row = {"measured_stats": {"mean": 0.977, "sd": 0.0012, "n": 3}, "measure": "final_test"}
    assert ledger.ours_text(row) == "97.70 ± 0.12 % (3 seeds)"
    one = {"measured_stats": {"mean": 0.5, "sd": None, "n": 1}, "measure": "final_test"}
    assert ledger.ours_text(one) == "50.00 % (1 seed)"
    stalled = {**row, "n_stalled": 1, "judged_stats": {"mean": 0.98, "sd": 0.001, "n": 2}}
    assert ledger.ours_text(stalled, extras=False) == "97.70 ± 0.12 % (3 seeds, 1 stalled)"
    assert ledger.ours_text(stalled) == "97.70 ± 0.12 % (3 seeds, 1 stalled); the 2 that did not stall: 98.00 ± 0.10 %"
    assert ledger.ours_text({"measure": "final_test"}) == ""


def test_verdict_words():
    assert ledger.verdict_word({"verdict": "within_spread"}) == "within spread"
    assert ledger.verdict_word({"verdict": None}) == "not measured"
    assert ledger.verdict_word({"verdict": "reproduced"}) == "reproduced"


@pytest.mark.parametrize("width", [12, 20, 36])
def test_a_long_source_is_cut_at_a_word_within_its_width(width):
    source = "Nielsen, Neural Networks and Deep Learning, chapter 1"
    short = ledger.short_source(source, width)
    assert short.endswith(" …") and len(short) <= width
    assert source.startswith(short.removesuffix(" …"))
    assert not short.removesuffix(" …").endswith(",")
    assert ledger.short_source("A short one", width) == "A short one"
