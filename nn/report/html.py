"""The HTML report and its tables (summary.csv, seeds.csv, timings.csv): every run side by side.

A run is a dict {"run", "hp", "seeds", "plots"} (nn.report.reproduction); the statistics over
its seeds, verdicts and paired tests come from nn.report.reproduction and nn.report.verdicts. A seed whose
metrics are missing or say {"status": "failed", "error": ...} is listed as failed with its
error, never dropped. The page opens with the ledger: each published figure, ours beside it
over several seeds, and a computed verdict.

The page loads nothing from elsewhere: images are base64 data URIs, the style is inline,
so it opens the same offline, mailed, or years from now; its only outside addresses are
links to the sources (http and https only), followed when clicked. Every
string from config, metrics or file names goes through html.escape.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from html import escape
from pathlib import Path

import yaml

from nn import fileio
from nn.fileio import write_text
from nn.report.ledger import ledger_rows, network_and_training, pct
from nn.report.ledger_html import VERDICT_RULE, ledger_table
from nn.report.reproduction import scored_from_text, seed_status

SUMMARY_COLUMNS = [
    "run",
    "status",
    "n_seeds",
    "n_ok",
    "test_accuracy_mean",
    "test_accuracy_sd",
    "test_accuracy_min",
    "test_accuracy_max",
    "test_accuracy_ci_low",
    "test_accuracy_ci_high",
    "test_accuracies",
    "test_loss_mean",
    "reference_accuracy",
    "reference_source",
    "reference_kind",
    "measure",
    "evidence",
    "measured_mean",
    "verdict",
    "half_width",
    "gap",
    "z",
    "epochs_run",
    "error",
]
SEED_COLUMNS = [
    "run",
    "seed",
    "status",
    "test_accuracy",
    "test_loss",
    "peak_test_accuracy",
    "final_val_accuracy",
    "epochs_run",
    "error",
]
# Wall times differ between two runs of the same config: they have a table of their own.
TIMING_COLUMNS = ["run", "seed", "train_seconds", "epoch_seconds", "resumed_after"]
RUN_FIGURES = [
    ("curves", "Loss and accuracy per epoch"),
    ("confusion", "Confusion matrix"),
    ("predictions", "Test predictions (wrong ones in red)"),
    ("worst_errors", "Highest-loss mistakes"),
    ("near_misses", "Lowest-loss mistakes"),
    ("first_output", "Output vector of the first test image"),
]

CSS = """
body { font-family: system-ui, sans-serif; margin: 1em auto; max-width: 84em; padding: 0 1em; color: #222; }
h1 { margin: 0.3em 0; } h2 { margin: 1em 0 0.4em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; vertical-align: top; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
tr.failed td { background: #fdecea; } .failed { color: #b00020; }
.reproduced { color: #1b5e20; } .off { color: #b26a00; }
.small { font-size: 0.85em; color: #555; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3em 0; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
details { border: 1px solid #ddd; border-radius: 4px; padding: 0.3em 0.8em; margin: 0.4em 0; }
summary { cursor: pointer; font-weight: 600; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.missing { color: #888; font-style: italic; }
table.ledger { table-layout: fixed; margin-top: 0.4em; }
table.ledger th, table.ledger td { text-align: left; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
table.ledger tr.row td { border-bottom: none; }
table.ledger tr.cost td { border-top: none; border-bottom: none; font-size: 0.9em; color: #444; padding-top: 0;
  padding-bottom: 0; }
table.ledger tr.more td { border-top: none; white-space: normal; padding: 0 0.5em 0.1em 1.5em; }
table.ledger details { border: none; padding: 0; margin: 0; }
table.ledger summary { font-weight: normal; font-size: 0.9em; color: #555; }
dl.evidence { display: grid; grid-template-columns: 9.5em 1fr; gap: 0.15em 0.8em; margin: 0.3em 0 0.5em; }
dl.evidence dt { font-weight: 600; } dl.evidence dd { margin: 0; } dl.evidence ul { margin: 0; padding-left: 1.2em; }
"""


def failed_runs(metrics_paths: dict) -> list[tuple[str, str, str]]:
    """[(run, error, path)] for each run whose metrics.json says it failed; runs not evaluated yet are skipped."""
    out = []
    for run, path in metrics_paths.items():
        try:
            metrics = fileio.read_json(path)
        except (OSError, ValueError):
            continue
        if isinstance(metrics, dict) and metrics.get("status") == "failed":
            out.append((run, str(metrics.get("error")), str(path)))
    return out


def _cell(value):
    # one text form for the tables and the CSVs: hidden [800, 800] -> 800x800, None -> ""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return "x".join(map(str, value))
    if isinstance(value, (list, tuple)):  # one activation per hidden layer: relu/scaled=0.2
        return "/".join(",".join(f"{k}={v}" for k, v in x.items()) if isinstance(x, dict) else str(x) for x in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _write_csv(path, columns, rows) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(k)) for k in columns])
    write_text(path, buf.getvalue())


def write_summary_csv(path, rows, hps: dict) -> None:
    """summary.csv: one line per run, SUMMARY_COLUMNS then every hyperparameter but `reference`, sorted."""
    keys = sorted({k for hp in hps.values() for k in hp} - {"reference"})
    rows = [
        {**r, "test_accuracies": " ".join(map(str, r["test_accuracies"])), **{k: hps[r["run"]].get(k) for k in keys}}
        for r in rows
    ]
    _write_csv(path, SUMMARY_COLUMNS + keys, rows)


def write_seeds_csv(path, rows) -> None:
    """seeds.csv: one line per run and seed (SEED_COLUMNS)."""
    _write_csv(path, SEED_COLUMNS, rows)


def write_timings_csv(path, rows) -> None:
    """timings.csv: one line per run and seed (TIMING_COLUMNS), the only CSV with wall times."""
    _write_csv(path, TIMING_COLUMNS, rows)


# ---------------------------------------------------------------- HTML pieces


def _img(path, caption):
    path = Path(path)
    if not path.is_file():
        return f'<p class="missing">{escape(caption)}: figure not available ({escape(path.name)})</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _table(header, rows, left=1, attrs=None):
    """An HTML table of already-escaped cells; the first `left` columns (or the columns in the
    set `left`) align left: text reads from the left, numbers line up on the right."""
    left = set(range(left)) if isinstance(left, int) else set(left)

    def tr(cells, tag, attr=""):
        return (
            f"<tr{attr}>"
            + "".join(f"<{tag}{' class=l' if i in left else ''}>{c}</{tag}>" for i, c in enumerate(cells))
            + "</tr>"
        )

    attrs = attrs or [""] * len(rows)
    return "<table>" + tr(header, "th") + "".join(tr(r, "td", a) for r, a in zip(rows, attrs)) + "</table>"


def _paired_table(tests):
    if not tests:
        return "<p>No pairs to compare.</p>"
    header = ["A", "B", "only A right", "only B right", "p (McNemar, exact)", "seed pairs with p < 0.05"]
    body = [
        [
            escape(t["a"]),
            escape(t["b"]) + (" (best)" if t["vs_best"] else ""),
            str(t["only_a"]),
            str(t["only_b"]),
            "< 1e-300" if t["p_value"] < 1e-300 else f"{t['p_value']:.3g}",
            f"{t['n_significant']} of {t['n_pairs']}",
        ]
        for t in tests
    ]
    return _table(header, body, left=2)


def _runs_table(rows, runs):
    header = [
        "#",
        "run",
        "test accuracy (mean ± sd)",
        "seeds",
        "min – max",
        "test loss",
        "network",
        "training",
        "epochs run",
        "train time / seed",
    ]
    body, attrs = [], []
    for i, r in enumerate(rows):
        name = f'<a href="#run-{escape(r["run"])}">{escape(r["run"])}</a>'
        if r["status"] != "ok":
            name += f' <span class="failed">{escape(r["status"])}: {escape(r["error"])}</span>'
        mean = "" if r["test_accuracy_mean"] is None else pct(r["test_accuracy_mean"])
        if r["test_accuracy_sd"] is not None:
            mean = f"{100 * r['test_accuracy_mean']:.2f} ± {100 * r['test_accuracy_sd']:.2f} %"
        span = (
            "" if r["test_accuracy_min"] is None else f"{pct(r['test_accuracy_min'])} – {pct(r['test_accuracy_max'])}"
        )
        loss = "" if r["test_loss_mean"] is None else f"{r['test_loss_mean']:.4f}"
        secs = "" if r["train_seconds_mean"] is None else f"{r['train_seconds_mean']:.1f} s"
        if r.get("scored_from"):
            secs = escape(f"none: {scored_from_text(r['scored_from'])}")
        net, training = network_and_training(runs[r["run"]]["hp"])
        body.append(
            [
                str(i + 1),
                name,
                mean,
                f"{r['n_ok']}/{r['n_seeds']}",
                span,
                loss,
                escape(net),
                escape(training),
                escape(_cell(r["epochs_run"])),
                secs,
            ]
        )
        attrs.append("" if r["status"] == "ok" else ' class="failed"')
    return _table(header, body, left={1, 6, 7}, attrs=attrs)


def _scored_note(scored, seeds) -> str:
    """Where a scored_from row's figures come from, with a link to the run they come from."""
    source = f'<a href="#run-{escape(scored["run"])}">{escape(scored["run"])}</a>'
    n = scored["round"]
    return (
        f"<p><b>Not trained:</b> scored from {source} after round {n}. Each seed's test accuracy and loss are "
        f"those of {source}'s same seed ({escape(seeds)}) after round {n}, read from its history.json: its first "
        f"{n} rounds are a {n}-round training. No model, figures or training time of its own.</p>"
    )


def _run_section(row, run):
    seeds = ", ".join(map(str, row["seeds"]))
    out = [
        f'<details id="run-{escape(row["run"])}"><summary>{escape(row["run"])}: '
        f"{escape(pct(row['test_accuracy_mean']) or row['status'])} ({row['n_ok']} of {row['n_seeds']} seeds)</summary>"
    ]
    hp = ", ".join(f"{k}={_cell(v)}" for k, v in sorted(run["hp"].items()) if k != "reference")
    out.append(f"<p><b>Hyperparameters:</b> {escape(hp)}; <b>seeds</b> {escape(seeds)}</p>")
    if row.get("scored_from"):
        out.append(_scored_note(row["scored_from"], seeds))
    if row["error"]:
        out.append(f'<p class="failed"><b>Failed:</b> {escape(row["error"])}</p>')
    if row["n_ok"] == 0:
        return "".join(out) + "</details>"
    per_seed = [
        [escape(_cell(s["seed"])), pct(s["metrics"]["test_accuracy"]), f"{s['metrics']['test_loss']:.4f}"]
        for s in run["seeds"]
        if seed_status(s)[0] == "ok"
    ]
    out.append(_table(["seed", "test accuracy", "test loss"], per_seed))
    first = run["seeds"][0]
    if seed_status(first)[0] == "ok" and not row.get("scored_from"):
        m = first["metrics"]
        out.append(f"<p>Figures and per-class scores below are of the first seed ({escape(_cell(first['seed']))}).</p>")
        f0 = m.get("first_test_image")
        if f0:
            vec = ", ".join(f"{p:.4f}" for p in f0["output"])
            out.append(
                f"<p><b>First test image:</b> label {escape(_cell(f0['label']))}, predicted "
                f"{escape(_cell(f0['predicted']))} with confidence {f0['confidence']:.4f}; "
                f"output [{escape(vec)}]</p>"
            )
        per_class = [
            [
                escape(_cell(c["class"])),
                f"{c['precision']:.4f}",
                f"{c['recall']:.4f}",
                f"{c['f1']:.4f}",
                escape(_cell(c["support"])),
            ]
            for c in m.get("per_class", [])
        ]
        out.append(_table(["class", "precision", "recall", "F1", "support"], per_class))
    out += [_img(run["plots"][kind], caption) for kind, caption in RUN_FIGURES if kind in run["plots"]]
    out.append("</details>")
    return "".join(out)


# Said only because a test checks it on every CI run.
REPRODUCIBLE = (
    "Same config and seed give byte-identical results: two fresh runs of the pipeline, one with "
    "<code>--cores 4</code> and one with <code>--cores 1</code>, are compared file by file (models, "
    "histories, metrics, figures, <code>summary.csv</code>, <code>seeds.csv</code>, ...) in "
    "<code>tests/workflow/test_workflow.py::test_two_fresh_runs_are_byte_identical_whatever_the_cores</code>. "
    "Only training times differ: they are kept in <code>timings.json</code>, <code>timings.csv</code> "
    "and this page, which also names the git commit."
)


def _numerics(n) -> str:
    """The numerics the jobs ran with (nn.pipeline.numerics.provenance()): what explains a difference."""
    if not n:
        return ""
    blas = n.get("blas") or {}
    settings = ", ".join(f"{k}={v}" for k, v in (n.get("settings") or {}).items() if v is not None) or "none"
    warning = (
        (
            f'<p class="failed"><b>Warning:</b> {escape(n["honoured"])}: result bytes will differ from '
            "the reference run's.</p>"
        )
        if n.get("honoured")
        else ""
    )
    dispatch = " ".join(n.get("numpy_dispatch", {}).get("active", [])) or "baseline only"
    return (
        f"<p><b>Numerics:</b> {escape(n.get('mode') or '?')}; "
        f"fingerprint <code>{escape(n.get('fingerprint') or '?')}</code> "
        f"(equal fingerprints, equal result bytes); CPU {escape(n.get('cpu') or '?')}; numpy "
        f"{escape(n.get('numpy') or '?')} dispatching {escape(dispatch)}; "
        f"{escape(blas.get('name') or 'BLAS')} {escape(blas.get('version') or '?')} "
        f"kernel {escape(blas.get('corename') or '?')}; "
        f"settings <code>{escape(settings)}</code></p>" + warning
    )


def _provenance(p):
    # through JSON first: safe_dump refuses dict subclasses and tuples that Snakemake may hand over
    plain = json.loads(json.dumps(p.get("config", {}), default=str))
    config = yaml.safe_dump(plain, sort_keys=True, default_flow_style=False, allow_unicode=True)
    sums = [[escape(f), f"<code>{escape(s)}</code>"] for f, s in sorted(p.get("checksums", {}).items())]
    env = p.get("environment")  # nn.pipeline.environment.check(): imported versions against the lock file
    if env:
        versions = (
            f"<p>Lock file <code>{escape(env['lock'])}</code>, SHA-256 "
            f"<code>{escape(env['lock_sha256'] or 'unavailable')}</code>; Python {escape(env['python'])}</p>"
            + (f'<p class="failed"><b>Warning:</b> {escape(env["warning"])}</p>' if env.get("warning") else "")
            + _table(
                ["package", "imported", "in the lock"],
                [[escape(k), escape(v["imported"]), escape(v["locked"] or "")] for k, v in env["versions"].items()],
                left=1,
            )
        )
    else:
        versions = _table(
            ["package", "version"],
            [[escape(k), escape(_cell(v))] for k, v in sorted(p.get("versions", {}).items())],
            left=2,
        )
    return (
        "<h2>Provenance</h2>"
        + _numerics(p.get("numerics"))
        + f"<p><b>Platform:</b> {escape(_cell(p.get('platform')))}<br>"
        f"<b>Git commit:</b> {escape(p.get('git_commit') or 'not a git checkout')}</p>"
        "<h3>Package versions</h3>"
        + versions
        + "<h3>Dataset checksums (SHA-256 of the decompressed IDX files)</h3>"
        + _table(["file", "sha256"], sums, left=2)
        + f"<h3>Reproducibility</h3><p>{REPRODUCIBLE}</p>"
        + f"<h3>Configuration as run</h3><pre>{escape(config)}</pre>"
    )


def render_report(
    runs,
    rows,
    paired,
    data_plots,
    overview_plots,
    sweep_plots,
    curve_plots,
    provenance,
    title="MNIST from scratch: results",
    ledger_plot=None,
) -> str:
    """The whole report as one HTML string.

    runs: {name: run dict (nn.report.reproduction)}; rows: nn.report.reproduction.rows_best_first(runs);
    paired: nn.report.reproduction.paired_tests(...); data_plots, overview_plots: {caption: png};
    sweep_plots: {sweep: png}; curve_plots: {run: png}; ledger_plot: the ledger drawn
    (figures.reference_comparison), shown under it, or None; provenance: {"config": dict,
    "checksums": {file: sha256}, "versions": {package: version}, "environment":
    nn.pipeline.environment.check() (optional), "platform": str, "git_commit": str or None}.
    """
    best = next((r for r in rows if r["status"] == "ok"), None)
    n_failed = sum(r["status"] != "ok" for r in rows)
    n_seeds = sum(r["n_seeds"] for r in rows if not r.get("scored_from"))
    n_scored = sum(r["n_seeds"] for r in rows if r.get("scored_from"))
    headline = (
        "No run finished."
        if best is None
        else f"Best run: <b>{escape(best['run'])}</b>, test accuracy <b>{pct(best['test_accuracy_mean'])}</b> "
        f"(mean of {best['n_ok']} seed{'s' if best['n_ok'] > 1 else ''})"
    )
    parts = [
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1><p>{headline}. {len(rows)} runs, {n_seeds} trained networks"
        + (f" and {n_scored} scored from another run's history, not trained" if n_scored else "")
        + (f', <span class="failed">{n_failed} runs with failures</span>' if n_failed else "")
        + ".</p>",
        "<h2>Published results, run again</h2>",
        ledger_table(ledger_rows(rows, runs), runs),
        VERDICT_RULE,
        *(
            [
                _img(
                    ledger_plot,
                    "Each ledger row on its own scale: our interval (bar), our seeds (dots; hollow: "
                    "stalled, left out of the verdict) and the published figure (red diamond)",
                )
            ]
            if ledger_plot
            else []
        ),
        "<h2>Published curves over ours</h2>",
        *(_img(p, f"{name}: published per-epoch figures over ours, every seed") for name, p in curve_plots.items()),
    ]
    if not curve_plots:
        parts.append("<p>No reference publishes a per-epoch curve.</p>")
    parts += [
        "<h2>Is A really better than B?</h2>",
        "<p class=small>McNemar's exact test on the test-set predictions: the digits only A gets right, "
        "the digits only B gets right, and the two-sided p-value that they differ by chance. Seeds are "
        "paired in order; the counts and p are those of the first seed pair.</p>",
        _paired_table(paired),
        "<h2>All runs, best first</h2>",
        _runs_table(rows, runs),
        "<h2>Comparison</h2>",
        *(_img(p, c) for c, p in overview_plots.items()),
        "<h2>Sweeps</h2>",
        *(_img(p, f"Sweep {n}") for n, p in sweep_plots.items()),
    ]
    if not sweep_plots:
        parts.append("<p>No sweeps configured.</p>")
    parts.append("<h2>Runs</h2>")
    parts += [_run_section(row, runs[row["run"]]) for row in rows]
    parts += ["<h2>Data sanity checks</h2>", *(_img(p, c) for c, p in data_plots.items())]
    parts += [_provenance(provenance), "</body></html>\n"]
    return "\n".join(parts)
