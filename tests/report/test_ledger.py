"""nn.report.ledger: the ledger in words (results/ledger.md among them), on constructed rows and on
the rows of made-up runs (tests/report_data.py).

The ledger inside the report: tests/report/test_ledger_html.py and test_html.py.
"""

import pytest
from report_data import HP, _reproduction, _run, png_fixture, runs_fixture  # noqa: F401 (the fixtures png and runs)

from nn import stats
from nn.report import ledger, reproduction


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


def test_ledger_markdown(runs):
    runs["low"]["hp"]["reference"]["protocol"] = "784-16-10, SGD"
    rows = ledger.ledger_rows([reproduction.run_row(r) for r in runs.values()], runs)
    md = ledger.ledger_markdown(rows, {name: r["hp"] for name, r in runs.items()})
    lines = md.splitlines()
    assert lines[0] == "0 of 1 published figures reproduced (1 published above ours)"  # comparisons not counted
    assert lines[2] == "| run | source | published | ours | verdict |"
    assert lines[4].startswith("| low | Nielsen ch. 1 | 95.00 % (final test) | 92.00 ± 0.50 % (3 seeds) | above ±")
    assert len(lines) == 9  # only runs with a reference: 2 table lines, 2 below
    assert lines[7] == "- low: Nielsen ch. 1 (evidence: from code). 784-16-10, SGD"


def test_the_sources_networks_in_words():
    blog = dict(
        HP,
        hidden=[30, 30, 10],
        activation=[{"scaled": 0.2}, "relu", {"scaled": 0.05}],
        output="sigmoid",
        loss="squared_error",
        init="uniform_pm1",
        inputs="max_standardise",
        test_subset=1000,
    )
    net, training = ledger.network_and_training(blog)
    assert net == (
        "784-30-30-10-10 0.2z/relu/0.05z/sigmoid, squared-error, U(-1,1) init, inputs by image max, "
        "then standardised per set"
    )
    assert training.endswith("also scored on the first 1,000 test images")
    notebook = dict(
        HP,
        activation="relu_identity_grad",
        output="relu_identity_grad",
        loss="quadratic",
        init="plain",
        init_scale=None,
        inputs="raw",
    )
    assert ledger.network_and_training(notebook)[0] == (
        "784-16-10 relu (identity grad)/relu (identity grad), quadratic, 0.01·N(0,1) init, raw 0-255 inputs"
    )
    assert ledger.network_and_training(HP)[0] == "784-16-10 relu/softmax, cross-entropy, He init"  # as before


def test_a_row_with_unpublished_parameters_gives_the_band_they_span(png):
    band = {"low": 0.1135, "high": 0.9017, "over": "lr 0.5-4 x spread 0.01-0.03"}
    row = reproduction.run_row(_reproduction("pitt", [0.897, 0.896, 0.898], png, accuracy=0.9417, band=band))
    assert row["verdict"] == "above"
    assert ledger.band_text(row) == (
        "the unpublished parameters' range (lr 0.5-4 x spread 0.01-0.03) gives 11.35 % to 90.17 %"
    )
    assert "range" not in ledger.verdict_text(row)  # the ledger's line has no room for it
    row = reproduction.run_row(_reproduction("pitt", [0.897, 0.896, 0.898], png, accuracy=0.9417))
    assert ledger.band_text(row) == ""


@pytest.mark.parametrize("gap", [0.002, -0.002])
def test_the_ledger_says_which_side_of_our_mean_the_published_figure_is(png, gap):
    """'published +0.20 pts' and '-0.20 pts' (from our mean) are two different findings: the sign stays."""
    accs = [0.95, 0.951, 0.949]
    ref = {"accuracy": 0.95 + gap, "source": "s", "kind": "reproduction", "measure": "final_test"}
    row = reproduction.run_row(_run("r", accs, png, ref=ref))
    assert row["gap"] == pytest.approx(gap)
    assert ledger.verdict_text(row).endswith(f"· published {100 * gap:+.2f} pts")


@pytest.mark.parametrize("published", [0.94, 0.96])
def test_a_best_of_k_row_says_which_side_of_our_best_of_k_the_published_figure_is(png, published):
    """A best-of-3 figure's distance is published minus the mean of our best of 3, with its sign."""
    accs = [0.945, 0.947, 0.950, 0.952, 0.955, 0.957]
    ref = {"accuracy": published, "source": "s", "kind": "reproduction", "measure": "final_test", "best_of": 3}
    row = reproduction.run_row(_run("r", accs, png, ref=ref))
    mean_best = stats.best_of_k(accs, 3)["mean"]
    assert row["gap"] == pytest.approx(published - mean_best)
    text = ledger.verdict_text(row)
    if row["verdict"] in ("above", "below"):
        assert text.startswith("above" if published > mean_best else "below"), text
    else:
        assert text.endswith(f"· published {100 * (published - mean_best):+.2f} pts vs best of 3"), text
