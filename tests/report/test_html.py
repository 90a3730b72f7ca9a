"""nn.report.html: the report and summary.csv, seeds.csv and timings.csv, on made-up runs
(tests/report_data.py); with the rows, verdicts and paired tests the report is made of.

The ledger's own tests: test_ledger.py and test_ledger_html.py (its lines, through _render below).
The workflow scripts that write the report, run in process: tests/workflow/test_scripts.py.
"""

import copy
import csv
import html as html_text
import re

import pytest
from report_data import (  # noqa: F401 (png_fixture, runs_fixture: the fixtures png and runs)
    HISTORY,
    HOSTILE,
    LABELS,
    _parent_run,
    _reproduction,
    _run,
    _scored_row,
    png_fixture,
    runs_fixture,
)

from nn.report import html as report
from nn.report import ledger, reproduction, verdicts


def _render(runs, png, **kw):
    prov = {
        "config": {"runs": {HOSTILE: {"lr": 1}}, "download": {"mirrors": ["https://example.org/"]}},
        "checksums": {"train-images-idx3-ubyte": "ab" * 32},
        "versions": {"numpy": "2.4.0"},
        "platform": "Linux-test",
        "git_commit": "0123abc",
    }
    rows = reproduction.rows_best_first(runs.values())
    best = next((r["run"] for r in rows if r["status"] == "ok"), None)
    pairs = [("low", HOSTILE)] if {"low", HOSTILE} <= set(runs) else []
    paired = reproduction.paired_tests(runs.values(), pairs, LABELS, best)
    args = dict(
        data_plots={"First ten": png, "Class means": png},
        overview_plots={"Validation": png},
        sweep_plots={"width": png},
        curve_plots={"low": png},
        provenance=prov,
    )
    return report.render_report(runs, rows, paired, **{**args, **kw})


def test_rows_best_first_failed_last(runs):
    rows = reproduction.rows_best_first(runs.values())
    assert [r["run"] for r in rows] == ["high", HOSTILE, "low", "diverged", "missing"]
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed", "failed"]
    low = rows[2]
    assert low["test_accuracy_mean"] == pytest.approx(0.92) and low["test_accuracy_sd"] == pytest.approx(0.005)
    assert low["n_seeds"] == 3 and low["verdict"] == "above" and low["gap"] == pytest.approx(0.03)
    assert rows[1]["verdict"] == "comparison"  # another protocol is never a reproduction
    assert rows[1]["measured"] == [0.75]  # peak_test: the best epoch of the monitored curve
    assert rows[3]["error"] == "seed 1: lr too high: <b>nan</b>" and rows[3]["test_accuracy_mean"] is None
    assert rows[4]["error"] == "seed 1: metrics.json is missing"
    assert rows[0]["epochs_run"] == 2 and rows[0]["train_seconds_mean"] == 12.5


def test_a_run_with_some_failed_seeds_is_partial(png):
    run = _run("mixed", [0.9, 0.9], png)
    run["seeds"][1]["metrics"] = {"status": "failed", "error": "diverged"}
    row = reproduction.run_row(run)
    assert row["status"] == "partial" and row["n_ok"] == 1 and row["error"] == "seed 2: diverged"


def test_paired_tests_count_the_digits_only_one_run_gets_right(runs):
    tests = reproduction.paired_tests(runs.values(), [("low", HOSTILE)], LABELS, "high")
    first = tests[0]
    # low gets images 0-11 right, the hostile-named run all 20: only B right on 8 digits
    assert (first["a"], first["b"], first["only_a"], first["only_b"]) == ("low", HOSTILE, 0, 8)
    assert first["p_value"] == pytest.approx(2 / 256) and first["n_pairs"] == 1 and not first["vs_best"]
    against_best = {t["a"]: t for t in tests if t["vs_best"]}
    assert set(against_best) == {"low", HOSTILE}  # failed runs have nothing to compare
    assert (against_best["low"]["only_a"], against_best["low"]["only_b"]) == (0, 6)


def test_report_opens_with_the_ledger_and_has_every_section(runs, png):
    html = _render(runs, png)
    headings = [
        "Published results, run again",
        "Published curves over ours",
        "Is A really better than B?",
        "All runs, best first",
        "Comparison",
        "Sweeps",
        "Runs",
        "Data sanity checks",
        "Provenance",
        "Package versions",
        "Dataset checksums (SHA-256 of the decompressed IDX files)",
        "Configuration as run",
    ]
    positions = [html.index(f">{h}</h") for h in headings]
    assert positions == sorted(positions)
    assert "Best run: <b>high</b>, test accuracy <b>97.00 %</b>" in html
    assert "Nielsen ch. 1" in html and "95.00 %" in html and "92.00 ± 0.50 % (3 seeds)" in html
    assert "<b>above</b> ±" in html and "· published +3.00 pts (" in html and "we chose &lt;this&gt;" in html
    assert '<p><b>0 of 1 published figures reproduced (1 published above ours)</b></p><table class="ledger">' in html
    assert "<summary>protocol and evidence: from code</summary>" in html
    assert "<b>comparison</b> ±" in html
    assert "12.5 s" in html and "lr 0.1 cosine to 0" in html
    assert "0123abc" in html and "Linux-test" in html and "ab" * 32 in html and "2.4.0" in html
    assert html.count("<details") == 5 + 2  # every run folds away, and each ledger row's evidence
    # 4 figure groups + the curve overlay + 6 plots per finished run (3 runs); failed runs show no figures
    assert html.count('src="data:image/png;base64,') == 2 + 1 + 1 + 1 + 3 * len(report.RUN_FIGURES)


def test_failed_runs_are_listed_with_their_error(runs, png):
    html = _render(runs, png)
    assert "failed: seed 1: lr too high: &lt;b&gt;nan&lt;/b&gt;" in html
    assert "failed: seed 1: metrics.json is missing" in html
    assert '<tr class="failed">' in html and "2 runs with failures" in html


def test_hostile_strings_are_escaped(runs, png):
    html = _render(runs, png)
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_no_external_references(runs, png):
    runs["low"]["hp"]["reference"].update(
        url="https://example.org/source", fields={"lr": "https://example.org/code l.3"}
    )
    html = _render(runs, png)
    for ref in ['src="http', "src='http", "url(http", "<link", "@import"]:
        assert ref not in html, ref
    # every src is an embedded image; every href an anchor on the page or a link to a source, loaded only when followed
    assert set(re.findall(r'src="([a-z]+):', html)) == {"data"}
    links = [h for h in re.findall(r'href="([^"]*)"', html) if not h.startswith("#")]
    assert links == ["https://example.org/source"] * 2 + ["https://example.org/code"]


def test_missing_figure_is_noted_not_fatal(runs, png, tmp_path):
    runs["low"]["plots"]["curves"] = tmp_path / "nope.png"
    html = _render(runs, png, sweep_plots={})
    assert "figure not available (nope.png)" in html and "No sweeps configured." in html


def test_no_finished_run(png):
    html = _render({"x": _run("x", [None], png)}, png)
    assert "No run finished." in html


def test_summary_and_seeds_csv(runs, tmp_path):
    path = tmp_path / "summary.csv"
    rows = reproduction.rows_best_first(runs.values())
    report.write_summary_csv(path, rows, {n: r["hp"] for n, r in runs.items()})
    with open(path, newline="") as f:
        lines = list(csv.DictReader(f))
    assert [r["run"] for r in lines] == ["high", HOSTILE, "low", "diverged", "missing"]
    assert float(lines[0]["test_accuracy_mean"]) == 0.97 and lines[3]["test_accuracy_mean"] == ""
    low = lines[2]
    assert low["reference_accuracy"] == "0.95" and low["reference_source"] == "Nielsen ch. 1"
    assert low["test_accuracies"] == "0.915 0.92 0.925" and low["verdict"] == "above" and low["n_seeds"] == "3"
    assert low["evidence"] == "from code" and float(low["half_width"]) > 0
    assert float(low["test_accuracy_ci_low"]) == pytest.approx(0.92 - 4.302653 * 0.005 / 3**0.5, abs=1e-6)
    assert lines[0]["hidden"] == "16" and lines[0]["schedule"] == "cosine" and lines[0]["epochs_run"] == "2"
    assert "reference" not in lines[0]
    first = path.read_bytes()
    report.write_summary_csv(path, rows, {n: r["hp"] for n, r in runs.items()})
    assert path.read_bytes() == first
    seeds = tmp_path / "seeds.csv"
    report.write_seeds_csv(seeds, reproduction.seed_rows(runs.values()))
    with open(seeds, newline="") as f:
        per_seed = list(csv.DictReader(f))
    assert [(r["run"], r["seed"]) for r in per_seed][:3] == [("low", "1"), ("low", "2"), ("low", "3")]
    assert per_seed[0]["peak_test_accuracy"] == "0.75" and per_seed[0]["final_val_accuracy"] == "0.78"
    timings = tmp_path / "timings.csv"
    runs["low"]["seeds"][1]["timings"]["resumed_after"] = [1]
    report.write_timings_csv(timings, reproduction.timing_rows(runs.values()))
    with open(timings, newline="") as f:
        per_seed_times = list(csv.DictReader(f))
    assert per_seed_times[:2] == [
        {"run": "low", "seed": "1", "train_seconds": "12.5", "epoch_seconds": "6.0 6.5", "resumed_after": ""},
        {"run": "low", "seed": "2", "train_seconds": "12.5", "epoch_seconds": "6.0 6.5", "resumed_after": "1"},
    ]
    assert per_seed_times[-1]["run"] == "missing" and len(per_seed_times) == len(per_seed)


def test_only_timings_csv_holds_wall_times(runs, tmp_path):
    """Two runs of one config differ only in their wall times: summary.csv and seeds.csv have none."""
    slow = copy.deepcopy(runs)
    for run in slow.values():
        for s in run["seeds"]:
            s["timings"] = {"total_seconds": 99.25, "epoch_seconds": [50.0, 49.25]}
    written = {}
    for name, these in (("fast", runs), ("slow", slow)):
        rows = reproduction.rows_best_first(these.values())
        report.write_summary_csv(tmp_path / f"{name}-summary.csv", rows, {n: r["hp"] for n, r in these.items()})
        report.write_seeds_csv(tmp_path / f"{name}-seeds.csv", reproduction.seed_rows(these.values()))
        report.write_timings_csv(tmp_path / f"{name}-timings.csv", reproduction.timing_rows(these.values()))
        written[name] = {
            kind: (tmp_path / f"{name}-{kind}.csv").read_bytes() for kind in ("summary", "seeds", "timings")
        }
    assert written["fast"]["summary"] == written["slow"]["summary"]
    assert written["fast"]["seeds"] == written["slow"]["seeds"]
    assert written["fast"]["timings"] != written["slow"]["timings"]
    assert not any("seconds" in c for c in report.SUMMARY_COLUMNS + report.SEED_COLUMNS)


def test_verdict_words_and_the_headline(png):
    runs = [
        _reproduction("tight", [0.95, 0.951, 0.949], png, accuracy=0.95),  # h 0.5 points
        _reproduction("wide3", [0.93, 0.95, 0.97], png, accuracy=0.95),  # h 5 points, 3 seeds
        _reproduction("wide8", [0.93, 0.95, 0.96, 0.94, 0.955, 0.965, 0.935, 0.945], png, accuracy=0.95),
        _reproduction("off", [0.95, 0.951, 0.949], png, accuracy=0.97),
        _reproduction("failed", [None], png, accuracy=0.9),
        _run("other", [0.9], png, ref={"accuracy": 0.9, "source": "s", "kind": "comparison", "measure": "final_test"}),
    ]
    rows = [reproduction.run_row(r) for r in runs]
    assert [r["verdict"] for r in rows] == ["reproduced", "inconclusive", "within_spread", "above", None, "comparison"]
    v = verdicts.verdict(0.97, [0.95, 0.951, 0.949], 10000)
    assert rows[3]["interval"] == (v["low"], v["high"]) and rows[4]["interval"] is None
    texts = [ledger.verdict_text(r) for r in rows]
    assert re.fullmatch(r"reproduced ±0\.\d\d · published \+0\.00 pts", texts[0]), texts[0]
    assert re.fullmatch(r"inconclusive ±\d\.\d\d · published \+0\.00 pts", texts[1]), texts[1]
    assert re.fullmatch(r"within spread ±\d\.\d\d · published \+0\.25 pts", texts[2]), texts[2]
    assert re.fullmatch(r"above ±0\.\d\d · published \+2\.00 pts \(\d+\.\d SE\)", texts[3]), texts[3]
    assert texts[4] == "" and texts[5].startswith("comparison ±")
    assert ledger.headline(rows) == (
        "1 of 5 published figures reproduced (1 within the protocol's own "
        "spread, 1 inconclusive, 1 published above ours, 1 not measured)"
    )


def test_a_best_of_k_figure_is_judged_against_our_best_of_k(png):
    peaks = [0.950, 0.952, 0.954, 0.956, 0.945, 0.951]
    run = _reproduction("nielsen", [0.9] * 6, png, accuracy=0.9542, measure="peak_test", best_of=3)
    for seed, peak in zip(run["seeds"], peaks):
        seed["history"] = dict(HISTORY, test_accuracy=[0.9, peak])
    row = reproduction.run_row(run)
    b = row["best_of_k"]
    assert (b["k"], b["n"], b["subsets"]) == (3, 6, 20) and row["measured"] == peaks
    assert b["low"] == 0.951 and b["high"] == 0.956  # P(best <= 0.950) = 1/20 >= 2.5 %, P(<= 0.954) = 10/20
    assert row["interval"] == (0.951, 0.956)  # what the ledger's figure draws
    assert row["verdict"] == "reproduced" and row["half_width"] == pytest.approx(0.0025)
    assert "best of 3: " in ledger.ours_text(row) and "P(≤ published) 0.50" in ledger.ours_text(row)
    assert ledger.published_text(row, run["hp"]["reference"]) == "95.42 % (peak test, best of 3)"
    run["hp"]["reference"]["accuracy"] = 0.96
    row = reproduction.run_row(run)
    assert row["verdict"] == "above" and "P(≤ published) 1.00" in ledger.ours_text(row)
    assert re.fullmatch(r"above ±0\.25 · published \+0\.\d\d pts vs best of 3", ledger.verdict_text(row))


def test_stalled_seeds_are_counted_for_a_peak_figure(png):
    run = _reproduction("stall", [0.9] * 3, png, accuracy=0.95, measure="peak_test")
    for seed, peak in zip(run["seeds"], [0.95, 0.96, 0.80]):
        seed["history"] = dict(HISTORY, test_accuracy=[0.5, peak])
    row = reproduction.run_row(run)
    assert row["n_stalled"] == 1 and "(3 seeds, 1 stalled)" in ledger.ours_text(row)


def test_a_figure_on_the_first_test_images_is_shown_beside_the_whole_set(png):
    run = _reproduction("blog", [0.90, 0.91, 0.905], png, accuracy=0.85, measure="final_test_subset")
    for seed, acc in zip(run["seeds"], [0.848, 0.852, 0.85]):
        seed["metrics"].update(test_subset=1000, test_accuracy_subset=acc)
    row = reproduction.run_row(run)
    assert row["measured"] == [0.848, 0.852, 0.85]
    assert 0.01 < row["half_width"] < 0.0277 and row["verdict"] == "reproduced"  # limit 1.25 x ±2.2 points
    assert ledger.ours_text(row).endswith("; all 10,000 test images: 90.50 %")


def test_failed_runs_lists_only_runs_marked_failed(tmp_path):
    from nn import fileio
    from nn.report.html import failed_runs

    fileio.write_json(tmp_path / "a.json", {"test_accuracy": 0.9})
    fileio.write_json(tmp_path / "b.json", {"status": "failed", "error": "diverged at epoch 2, batch 7"})
    paths = {"a": tmp_path / "a.json", "b": tmp_path / "b.json", "c": tmp_path / "missing.json"}
    assert failed_runs(paths) == [("b", "diverged at epoch 2, batch 7", str(tmp_path / "b.json"))]


def test_a_single_published_run_is_judged_against_the_seeds_that_did_not_stall(png):
    """reference exclude_stalled: one published run of a protocol that sometimes stalls (the Nielsen-
    style notebook) against our seeds that did not; the stalled are counted beside, not hidden."""
    peaks = [0.962, 0.9645, 0.85, 0.963, 0.9635, 0.80, 0.9625, 0.964]  # two stall (> 5 points below)
    for exclude, expected in ((True, "reproduced"), (False, "within_spread")):
        run = _reproduction("notebook", [0.9] * 8, png, accuracy=0.9638, measure="peak_test", exclude_stalled=exclude)
        for seed, peak in zip(run["seeds"], peaks):
            seed["history"] = dict(HISTORY, test_accuracy=[0.5, peak])
        row = reproduction.run_row(run)
        assert row["n_stalled"] == 2 and row["measured"] == peaks
        assert row["excluded"] == ([2, 5] if exclude else [])  # drawn hollow in the ledger's figure
        assert row["verdict"] == expected, (exclude, row["verdict"], row["half_width"])
        text = ledger.ours_text(row)
        assert "8 seeds, 2 stalled" in text
        assert ("the 6 that did not stall: 96.32 ± 0.09 %" in text) == exclude


# ---------------------------------------------------------------- a row scored_from another run


def test_a_scored_row_takes_each_seeds_figure_from_its_sources_history_at_that_round(png):
    parent = _parent_run(png)
    run = _scored_row(parent)
    assert [s["metrics"]["test_accuracy"] for s in run["seeds"]] == [0.80, 0.82, 0.84]
    assert [s["metrics"]["test_loss"] for s in run["seeds"]] == [0.51, 0.52, 0.53]
    assert all(s["timings"] is None and s["predictions"] is None for s in run["seeds"]) and run["plots"] == {}
    first = run["seeds"][0]["history"]
    assert first["epoch"] == [1, 2] and first["test_accuracy"] == [0.5, 0.80] and first["best_epoch"] == 2
    row = reproduction.run_row(run)
    assert row["status"] == "ok" and row["test_accuracies"] == [0.80, 0.82, 0.84] and row["epochs_run"] == 2
    assert row["test_accuracy_mean"] == pytest.approx(0.82) and row["train_seconds_mean"] is None
    # its verdict by the same rule as a trained row's with those figures
    trained = _reproduction("same", [0.80, 0.82, 0.84], png, accuracy=0.83)
    same = reproduction.run_row(trained)
    assert (row["verdict"], row["half_width"], row["gap"]) == (same["verdict"], same["half_width"], same["gap"])
    assert ledger.ours_text(row) == (ledger.ours_text(same) + "; scored from parent after round 2, not trained")
    seeds = reproduction.seed_rows([run])
    assert [(r["seed"], r["test_accuracy"], r["peak_test_accuracy"], r["epochs_run"]) for r in seeds] == [
        (1, 0.80, 0.80, 2),
        (2, 0.82, 0.82, 2),
        (3, 0.84, 0.84, 2),
    ]
    assert reproduction.timing_rows([parent, run]) == reproduction.timing_rows([parent])  # it cost nothing


def test_a_scored_row_without_its_sources_round_is_failed_with_the_reason(png):
    parent = _parent_run(png)
    short = parent["seeds"][1]
    short["history"] = dict(
        short["history"],
        epoch=[1],
        test_accuracy=[0.6],
        test_loss=[0.7],
        status="failed",
        error="training diverged: loss is nan at epoch 2, batch 3",
    )
    parent["seeds"][2]["history"] = None
    row = reproduction.run_row(_scored_row(parent))
    assert row["status"] == "partial" and row["test_accuracies"] == [0.80]
    assert row["error"] == (
        "seed 2: parent seed 2: its history ends after round 1, before round 2 (training "
        "diverged: loss is nan at epoch 2, batch 3); seed 3: parent seed 3: history.json is missing"
    )
    # a source that diverged after the round still gives it: its first rounds finished
    parent = _parent_run(png)
    parent["seeds"][0]["history"] = dict(parent["seeds"][0]["history"], status="failed", error="diverged")
    parent["seeds"][0]["metrics"] = {"status": "failed", "error": "diverged"}
    run = _scored_row(parent)
    assert reproduction.run_row(run)["status"] == "ok" and "status" not in run["seeds"][0]["history"]


def test_the_report_says_a_scored_row_was_not_trained_and_leaves_it_out_of_mcnemar(png, tmp_path):
    parent = _parent_run(png)
    runs = {"parent": parent, "scored": _scored_row(parent, seeds=(1, 2), accuracy=0.99)}
    rows = reproduction.rows_best_first(runs.values())
    paired = reproduction.paired_tests(runs.values(), [], LABELS, "parent")
    assert paired == []  # the scored row has no predictions to compare
    html = report.render_report(
        runs, rows, paired, data_plots={}, overview_plots={}, sweep_plots={}, curve_plots={}, provenance={"config": {}}
    )
    assert "2 runs, 3 trained networks and 2 scored from another run's history, not trained." in html
    assert "<td class=l>none: scored from parent after round 2, not trained</td>" not in html  # a number column
    assert "<td>none: scored from parent after round 2, not trained</td>" in html
    assert 'scored from <a href="#run-parent">parent</a> after round 2. Each seed' in html
    cells, _, details = _ledger_lines(html)["scored"]
    assert "81.00 ± 1.41 % (2 seeds); scored from parent after round 2, not trained" in details  # the ledger
    assert "scored from" not in "".join(cells)
    assert "as parent, after 2 rounds" in html
    section = html[html.index('<details id="run-scored">') :]
    section = section[: section.index("</details>")]
    assert "per-class" not in section and "data:image/png" not in section and "<td>80.00 %</td>" in section
    md = ledger.ledger_markdown(ledger.ledger_rows(rows, runs), {n: r["hp"] for n, r in runs.items()})
    assert "| scored | s | 99.00 % (final test) | 81.00 ± 1.41 % (2 seeds) | inconclusive ±" in md
    assert "- scored: s. as parent, after 2 rounds; scored from parent after round 2, not trained\n" in md
    report.write_summary_csv(tmp_path / "summary.csv", rows, {n: r["hp"] for n, r in runs.items()})
    with open(tmp_path / "summary.csv", newline="") as f:
        lines = {r["run"]: r for r in csv.DictReader(f)}
    assert lines["scored"]["scored_from"] == '{"round": 2, "run": "parent"}' and lines["parent"]["scored_from"] == ""
    assert lines["scored"]["verdict"] == "inconclusive" and lines["scored"]["epochs"] == "2"


# ---------------------------------------------------------------- the ledger's lines (test_ledger_html.py's too)


def _ledger_lines(html):
    """{run: (its ledger line's cells, their text, the markup of the row folded under it)}."""
    start = html.index('<table class="ledger">')
    table = html[start : html.index("</table>", start)]
    out = {}
    for line, more in re.findall(
        r'<tr class="row[^"]*">(.*?)</tr><tr class="more[^"]*"><td colspan=5>(.*?)</td></tr>', table, re.S
    ):
        cells = re.findall(r"<td>(.*?)</td>", line, re.S)
        text = [html_text.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells]
        out[text[0]] = (cells, text, more)
    return out
