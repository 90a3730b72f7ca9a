"""The report's first table: the ledger in HTML, one line per published figure and its details folded.

Each row is one text line at 1400 px (run, source, published, ours, verdict); under it a <details>
holds what the line leaves out: the source, the protocol, our choices, ours in full, the interval
the verdict was judged on, the swept band, the published training costs beside ours, and the
evidence per field, whose leading http(s) address is a link. Every string is escaped.
"""

from __future__ import annotations

import re
from html import escape

from nn.report.ledger import (
    band_text,
    cost_label,
    cost_ours,
    cost_verdict,
    headline,
    ours_text,
    pct,
    protocol_text,
    published_text,
    verdict_text,
    verdict_word,
)


def _coloured(verdict, html) -> str:
    if verdict in ("reproduced", "within_spread"):
        return f'<span class="reproduced">{html}</span>'
    if verdict in ("above", "below", "contradicts"):
        return f'<span class="off">{html}</span>'
    return html


def _cost_verdict_html(cost) -> str:
    return _coloured(cost["verdict"], escape(cost_verdict(cost)))


def _verdict_html(row):
    """The ledger's verdict line, its word in bold, coloured when reproduced or off."""
    text = verdict_text(row)
    word = verdict_word(row)
    text = f"<b>{escape(word)}</b>{escape(text.removeprefix(word))}" if text else escape(row["error"] or word)
    return _coloured(row["verdict"], text)


HTTP = re.compile(r"https?://[^\s<>\"']+")


def _link(url, text) -> str:
    """text, escaped, as a link to url when url is an http(s) address; else text alone."""
    if not url or not HTTP.fullmatch(url):
        return escape(text)
    return f'<a href="{escape(url)}">{escape(text)}</a>'


def _cited(text) -> str:
    """A reference `fields` entry, 'https://... (commit) path l.a-b: quote', its leading http(s)
    address a link; any other text escaped as it is."""
    m = HTTP.match(text)
    if not m:
        return escape(text)
    url = m.group(0).rstrip(".,;:")
    return _link(url, url) + escape(text[len(url) :])


def interval_text(row) -> str:
    """'our interval 93.10 – 95.02 % (95% prediction interval for one more run)': what the verdict
    judged the published figure against (the best of k's 2.5–97.5% range for a published best of k)."""
    if row.get("interval") is None:
        return ""
    what = (
        f"2.5–97.5% range of our best of {row['best_of_k']['k']}"
        if row.get("best_of_k")
        else "95% prediction interval for one more run"
    )
    low, high = row["interval"]
    return f"our interval {100 * low:.2f} – {100 * high:.2f} % ({what})"


def _mean_interval(row) -> str:
    # shown within [0, 100] %: the t interval can reach past it
    s = row.get("measured_stats")
    if not s or s["ci_low"] is None:
        return ""
    return f"95% interval of our mean {pct(max(s['ci_low'], 0.0))} – {pct(min(s['ci_high'], 1.0))}"


def _ledger_details(row, ref, hp) -> str:
    """What the ledger's one line leaves out, folded in a <details>: the source, the protocol, our
    choices, ours in full, the interval judged on, the swept band, the evidence per field."""
    evidence = ref.get("evidence")
    items = [
        ("source", _link(ref.get("url"), ref["source"])),
        ("published", escape(published_text(row, ref))),
        ("protocol", escape(protocol_text(hp))),
        ("our choices", escape(ref.get("notes") or "")),
        ("ours", escape("; ".join(filter(None, [ours_text(row), _mean_interval(row)])))),
        ("verdict", escape("; ".join(filter(None, [verdict_text(row), interval_text(row)])))),
        ("swept band", escape(band_text(row))),
        ("contradiction", escape(row.get("contradiction", ""))),
        (
            "published costs",
            "<br>".join(
                f"{escape(cost_label(c))}: {_cited(c['quote'])}" + (f" ({escape(c['reason'])})" if c["reason"] else "")
                for c in row.get("costs") or []
            ),
        ),
        ("failed", escape(row["error"])),
        ("evidence", escape(evidence or "")),
    ]
    cited = [f"<li><code>{escape(k)}</code>: {_cited(v)}</li>" for k, v in (ref.get("fields") or {}).items()]
    cited += [f"<li><code>{escape(k)}</code>, assumed: {escape(v)}</li>" for k, v in (ref.get("assumed") or {}).items()]
    if cited:
        items.append(("evidence per field", f"<ul>{''.join(cited)}</ul>"))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items if v)
    summary = "protocol and evidence" + (f": {escape(evidence)}" if evidence else "")
    return f'<details><summary>{summary}</summary><dl class="evidence">{body}</dl></details>'


# the ledger's columns and their share of its width: each row one line at 1400 px
LEDGER_COLUMNS = [("run", 16), ("source", 14), ("published", 15), ("ours", 21), ("verdict", 34)]


def ledger_table(rows, runs):
    """The top table, after one line that counts the reproductions (ledger.headline): one line
    per run with a published figure, in config order (run, source, published, ours, verdict), each
    followed by a row holding its _ledger_details, folded."""
    lines = []
    for row in rows:
        hp = runs[row["run"]]["hp"]
        ref = hp.get("reference")
        if not ref:
            continue
        published, measure = published_text(row, ref).split(" (", 1)
        ours = escape(ours_text(row, extras=False)) or f'<span class="failed">{escape(row["status"])}</span>'
        cells = [
            f'<a href="#run-{escape(row["run"])}">{escape(row["run"])}</a>',
            f'<span title="{escape(ref["source"])}">{_link(ref.get("url"), ref["source"])}</span>',
            f"{escape(published)} <span class=small>{escape(measure.removesuffix(')'))}</span>",
            ours,
            _verdict_html(row),
        ]
        failed = "" if row["status"] == "ok" else " failed"
        lines.append(f'<tr class="row{failed}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        for c in row.get("costs") or []:  # each published training cost beside ours, a line of its own
            cost_cells = [
                f"↳ {escape(cost_label(c))}",
                "",
                f"{c['published']:.4g}",
                escape(cost_ours(c)),
                _cost_verdict_html(c),
            ]
            lines.append('<tr class="cost">' + "".join(f"<td>{x}</td>" for x in cost_cells) + "</tr>")
        lines.append(f'<tr class="more{failed}"><td colspan={len(cells)}>{_ledger_details(row, ref, hp)}</td></tr>')
    if not lines:
        return "<p>No run names a published figure (<code>reference:</code> in config.yaml).</p>"
    cols = "".join(f'<col style="width: {w}%">' for _, w in LEDGER_COLUMNS)
    header = "".join(f"<th>{name}</th>" for name, _ in LEDGER_COLUMNS)
    return (
        f"<p><b>{escape(headline(rows))}</b></p>"
        f'<table class="ledger"><colgroup>{cols}</colgroup><tr>{header}</tr>{"".join(lines)}</table>'
    )


VERDICT_RULE = (
    "<p class=small>Each line reads: the verdict, ±h (the half-width of our interval, next, in points) "
    "and the published figure's distance from our mean (or from our best of k), published minus ours; "
    "<i>protocol and evidence</i> under it opens the source, the protocol, our choices, ours in full, "
    "the swept band and the evidence per field. "
    "<b>Verdict</b> (stated before the runs, <code>nn.report.verdicts.judge</code>): the interval is "
    "the 95% prediction interval for one more run of the same protocol, our mean over seeds ± h, "
    "h = sqrt((t·sd·sqrt(1+1/n))² + (1.96·se)²), with t Student's 97.5% quantile for n−1 degrees of "
    "freedom and se = sqrt(p(1−p)/N) the sampling error of an accuracy measured on N images; for a "
    "published best of k runs, the 2.5–97.5% range of the best of k over every k-subset of our seeds "
    "(h its half-width). Inside it the figure is <i>reproduced</i> when h ≤ 1 point (or, for a "
    "source that measured on so few images that its own sampling half-width 1.96·sqrt(p(1−p)/N) is "
    "wider, h ≤ 1.25 × that), <i>within spread</i> (reproduced within the protocol's own spread) "
    "when h is wider but from at least 8 seeds, and <i>inconclusive</i> otherwise. Outside it the "
    "published figure is <i>above</i> or <i>below</i> ours, by the distance in points and in "
    "standard errors (SE) sqrt(sd²(1+1/n) + se²). A <i>comparison</i> ran a different protocol: it is "
    "shown, never called a reproduction. A published <i>training cost</i> (↳) is set beside ours at the "
    "same round, our model's own loss on its training images: one that chose an unpublished parameter says <i>used to "
    "choose</i> and has no verdict; one below the least the protocol's loss can reach there means the "
    "source's <i>figures contradict the protocol</i>, which then is the row's verdict; any other is "
    "judged as a figure is (after the last round its interval is widened by the sampling error of a cost "
    "measured on the training images), <i>reproduced</i> when h is at most 5 % of the published cost. A seed "
    "<i>stalled</i> when its peak is more than 5 points below the best seed's. "
    "Evidence: how we know the source's protocol, <i>from code</i> (its code, read), <i>from text</i> "
    "(its words only) or <i>reconstructed</i> (neither settles it). The 95% interval of our mean is "
    "mean ± t·sd/sqrt(n).</p>"
)
