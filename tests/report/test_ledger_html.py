"""nn.report.ledger_html: the ledger's HTML pieces, escaped, with only http(s) addresses as links; and
its lines as the whole report renders them (test_html.py's _render), on made-up runs (tests/report_data.py).
"""

import pytest
from report_data import HOSTILE, _reproduction, _run, png_fixture  # noqa: F401 (the fixture png)
from test_html import _ledger_lines, _render

from nn import stats
from nn.report import ledger, ledger_html, reproduction


def test_interval_text_says_what_the_published_figure_was_judged_against():
    row = {"interval": (0.931, 0.9502)}
    assert ledger_html.interval_text(row) == "our interval 93.10 – 95.02 % (95% prediction interval for one more run)"
    best = {"interval": (0.9, 0.91), "best_of_k": {"k": 5}}
    assert ledger_html.interval_text(best) == "our interval 90.00 – 91.00 % (2.5–97.5% range of our best of 5)"
    assert ledger_html.interval_text({"interval": None}) == ""


def test_only_an_http_address_becomes_a_link_and_everything_is_escaped():
    assert ledger_html._link("https://example.org/a?b=1&c=2", "post") == (
        '<a href="https://example.org/a?b=1&amp;c=2">post</a>'
    )
    assert ledger_html._link("javascript:alert(1)", "x") == "x"
    assert ledger_html._link(None, HOSTILE) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


def test_a_cited_field_links_its_address_and_escapes_the_quote():
    text = "https://example.org/code (abc1234) train.py l.1: `lr = 3.0 < 4`"
    html = ledger_html._cited(text)
    assert html.startswith('<a href="https://example.org/code">https://example.org/code</a>')
    assert html.endswith("train.py l.1: `lr = 3.0 &lt; 4`")
    assert ledger_html._cited(HOSTILE) == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert ledger_html._cited("see https://example.org/") == "see https://example.org/"  # not leading: no link


@pytest.mark.parametrize("sign", [1, -1])
def test_each_ledger_verdict_is_one_line_with_its_word_h_and_signed_distance(png, sign):
    accs, six = [0.95, 0.951, 0.949], [0.945, 0.947, 0.950, 0.952, 0.955, 0.957]
    runs = {
        "mean": _reproduction("mean", accs, png, accuracy=0.95 + sign * 0.012),  # outside: above / below
        "close": _reproduction("close", accs, png, accuracy=0.95 + sign * 0.002),  # inside: reproduced
        "best": _reproduction("best", six, png, accuracy=0.955 + sign * 0.004, best_of=3),
        "other": _run(
            "other",
            accs,
            png,
            ref={"accuracy": 0.95 + sign * 0.03, "source": "s", "kind": "comparison", "measure": "final_test"},
        ),
    }
    ours = {"mean": 0.95, "close": 0.95, "other": 0.95, "best": stats.best_of_k(six, 3)["mean"]}
    words = {"mean": "above" if sign > 0 else "below", "close": "reproduced", "other": "comparison"}
    html = _render(runs, png)
    lines = _ledger_lines(html)
    rows = {r["run"]: r for r in reproduction.rows_best_first(runs.values())}
    md = ledger.ledger_markdown(ledger.ledger_rows(list(rows.values()), runs), {n: r["hp"] for n, r in runs.items()})
    md_cells = {line.split(" | ")[0][2:]: line[2:-2].split(" | ") for line in md.splitlines() if line.startswith("| ")}
    for name, row in rows.items():
        cells, text, _ = lines[name]
        verdict = text[4]
        distance = f"published {100 * (runs[name]['hp']['reference']['accuracy'] - ours[name]):+.2f} pts"
        assert distance[10] == ("+" if sign > 0 else "-")
        word = words.get(name, verdict.split()[0])  # best of 3: whichever the rule gives
        assert verdict.startswith(f"{word} ±{100 * row['half_width']:.2f} · {distance}")
        assert verdict.endswith(" vs best of 3") == (name == "best")
        assert (" SE)" in verdict) == (name == "mean"), verdict
        assert "<br" not in cells[4] and "\n" not in verdict and len(verdict) <= 60
        assert all(len(t) <= 60 for i, t in enumerate(text) if i != 1)  # the source alone is clipped to its column
        assert md_cells[name][4] == verdict and all(len(c) <= 60 for c in md_cells[name])


def test_the_protocol_notes_band_and_evidence_fold_under_each_ledger_line(png):
    ref = dict(
        accuracy=0.95,
        protocol="784-30-10 <sigmoid>",
        notes="we chose lr 3",
        evidence="from code",
        band={"low": 0.9, "high": 0.96, "over": "lr 1-4"},
        url="https://example.org/book",
        fields={
            "lr": "https://example.org/src?a=1&b=2 (abc123) network.py l.5-9: `eta = 3.0`",
            "epochs": "chap1.html: 'thirty epochs', https://example.org/later",
            "init": "javascript:alert(1) l.3",
        },
        assumed={"batch_size": "unpublished; 10 as in <the book>"},
    )
    runs = {
        "r": _reproduction("r", [0.95, 0.951, 0.949], png, **ref),
        "bad": _reproduction("bad", [0.9], png, accuracy=0.9, url="javascript:alert(1)"),
    }
    html = _render(runs, png)
    cells, _, details = _ledger_lines(html)["r"]
    line = "".join(cells)
    assert details.startswith("<details><summary>protocol and evidence: from code</summary>")
    assert details.endswith("</details>")
    for said in [
        "784-30-10 &lt;sigmoid&gt;",
        "we chose lr 3",
        "(lr 1-4) gives 90.00 % to 96.00 %",
        "eta = 3.0",
        "chap1.html: &#x27;thirty epochs&#x27;",
        "10 as in &lt;the book&gt;",
        "our interval 94.",
    ]:
        assert said in details and said not in line, said
    assert (
        '<code>lr</code>: <a href="https://example.org/src?a=1&amp;b=2">https://example.org/src?a=1&amp;b=2</a> '
        "(abc123) network.py l.5-9"
    ) in details
    assert 'href="https://example.org/later"' not in html  # only a leading address is a link
    assert 'href="javascript' not in html and "<code>init</code>: javascript:alert(1) l.3" in details
    assert '<a href="https://example.org/book">s</a>' in line and '<a href="https://example.org/book">s</a>' in details
    assert "alert" not in "".join(_ledger_lines(html)["bad"][0][1])  # a source url that is not http(s): text only


def test_a_comparison_with_too_few_seeds_for_its_best_of_k_says_its_word_alone(png):
    ref = {"accuracy": 0.9, "source": "s", "kind": "comparison", "measure": "final_test", "best_of": 3}
    runs = {"few": _run("few", [0.9, 0.91], png, ref=ref)}
    row = reproduction.run_row(runs["few"])
    assert row["verdict"] == "comparison" and row["gap"] is None and "best of 3 needs" in row["error"]
    assert ledger.verdict_text(row) == "comparison"
    assert _ledger_lines(_render(runs, png))["few"][1][4] == "comparison"
