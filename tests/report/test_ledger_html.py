"""nn.report.ledger_html: the ledger's HTML pieces, escaped, with only http(s) addresses as links.

The whole ledger table in the report: tests/report/test_html.py.
"""

from nn.report import ledger_html

HOSTILE = '<script>alert("x")</script>'


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
