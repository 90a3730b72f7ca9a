"""The HTML report and summary.csv: every run side by side, in one self-contained file.

A run is a dict {"run", "hp", "metrics", "history", "timings", "plots"} (see `load_run`
in workflow/scripts/report.py). A run whose metrics are missing or say
{"status": "failed", "error": ...} is listed as failed with its error, never dropped.

The page has no external reference of any kind: images are base64 data URIs, the
style is inline, so it opens the same offline, mailed, or years from now. Every
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

# what the runs table shows; summary.csv carries every hyperparameter
TABLE_HP = ["hidden", "activation", "output", "loss", "init", "lr", "momentum", "weight_decay",
            "batch_size", "epochs", "shift"]
SUMMARY_COLUMNS = ["run", "status", "test_accuracy", "test_loss", "reference_accuracy",
                   "reference_source", "difference", "epochs_run", "train_seconds", "error"]
RUN_FIGURES = [("curves", "Loss and accuracy per epoch"), ("confusion", "Confusion matrix"),
               ("predictions", "Test predictions (wrong ones in red)"),
               ("worst_errors", "Highest-loss mistakes"), ("near_misses", "Lowest-loss mistakes"),
               ("first_output", "Output vector of the first test image")]

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
.wide { overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
tr.failed td { background: #fdecea; } .failed { color: #b00020; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3em 0; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.missing { color: #888; font-style: italic; }
"""


def run_status(metrics):
    """(status, error): "ok" or "failed" with the reason, from a run's metrics (or None)."""
    if metrics is None:
        return "failed", "metrics.json is missing"
    if metrics.get("status") == "failed":
        return "failed", str(metrics.get("error") or "unknown error")
    if not isinstance(metrics.get("test_accuracy"), (int, float)):
        return "failed", "metrics.json has no test_accuracy"
    return "ok", ""


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
    # one text form for the table and the CSV: hidden [800, 800] -> 800x800, None -> ""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def summary_row(run) -> dict:
    """One run's line of summary.csv (and of the runs table), numbers left as numbers."""
    status, error = run_status(run.get("metrics"))
    m = run.get("metrics") or {}
    ref = run["hp"].get("reference") or {}
    ours = m.get("test_accuracy") if status == "ok" else None
    ref_acc = ref.get("accuracy")
    history, timings = run.get("history") or {}, run.get("timings") or {}
    row = {"run": run["run"], "status": status, "test_accuracy": ours,
           "test_loss": m.get("test_loss") if status == "ok" else None,
           "reference_accuracy": ref_acc, "reference_source": ref.get("source"),
           # rounded so that 0.97 - 0.95 reads 0.02, not 0.020000000000000018
           "difference": None if ours is None or ref_acc is None else round(ours - ref_acc, 10),
           "epochs_run": len(history["epoch"]) if history.get("epoch") else None,
           "train_seconds": timings.get("total_seconds"), "error": error}
    row.update({k: v for k, v in sorted(run["hp"].items()) if k != "reference"})
    return row


def sorted_rows(runs) -> list[dict]:
    """Summary rows, best test accuracy first, ties by name; failed runs last, by name."""
    rows = [summary_row(r) for r in runs]
    return sorted(rows, key=lambda r: (r["test_accuracy"] is None, -(r["test_accuracy"] or 0.0), r["run"]))


def write_summary_csv(path, rows) -> None:
    """summary.csv: SUMMARY_COLUMNS, then every hyperparameter key in sorted order."""
    hp_keys = sorted({k for r in rows for k in r} - set(SUMMARY_COLUMNS))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS + hp_keys)
    for r in rows:
        writer.writerow([_cell(r.get(k)) for k in SUMMARY_COLUMNS + hp_keys])
    write_text(path, buf.getvalue())


# ---------------------------------------------------------------- HTML pieces

def _img(path, caption):
    path = Path(path)
    if not path.is_file():
        return f'<p class="missing">{escape(caption)}: figure not available ({escape(path.name)})</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _table(header, rows, left=1, attrs=None):
    """An HTML table of already-escaped cells; the first `left` columns align left."""
    def tr(cells, tag, attr=""):
        return f"<tr{attr}>" + "".join(
            f'<{tag}{" class=l" if i < left else ""}>{c}</{tag}>' for i, c in enumerate(cells)) + "</tr>"
    attrs = attrs or [""] * len(rows)
    return ("<table>" + tr(header, "th") + "".join(tr(r, "td", a) for r, a in zip(rows, attrs))
            + "</table>")


def _pct(x, signed=False):
    # a difference of two accuracies is in percentage points, not percent
    return "" if x is None else f"{100 * x:+.2f} pts" if signed else f"{100 * x:.2f} %"


def _lr(hp):
    # the learning rate and how it moves, in one cell
    s = hp.get("schedule", "constant")
    lr = _cell(hp.get("lr"))
    if s in ("linear", "cosine"):
        return f"{lr} {s} → {_cell(hp.get('lr_min'))}"
    if s == "step":
        return f"{lr} ×{_cell(hp.get('step_gamma'))} every {_cell(hp.get('step_size'))}"
    return lr


def _runs_table(rows):
    header = ["#", "run", "test acc.", "test loss", "reference", "source", "diff.", "epochs run",
              "train time"] + [("lr / schedule" if k == "lr" else k) for k in TABLE_HP]
    body, attrs = [], []
    for i, r in enumerate(rows):
        name = f'<a href="#run-{i}">{escape(r["run"])}</a>'
        if r["status"] != "ok":
            name += f' <span class="failed">failed: {escape(r["error"])}</span>'
        loss = "" if r["test_loss"] is None else f"{r['test_loss']:.4f}"
        secs = "" if r["train_seconds"] is None else f"{r['train_seconds']:.1f} s"
        hp = [escape(_lr(r) if k == "lr" else _cell(r.get(k))) for k in TABLE_HP]
        body.append([str(i + 1), name, _pct(r["test_accuracy"]), loss, _pct(r["reference_accuracy"]),
                     escape(_cell(r["reference_source"])), _pct(r["difference"], signed=True),
                     escape(_cell(r["epochs_run"])), secs] + hp)
        attrs.append("" if r["status"] == "ok" else ' class="failed"')
    return _table(header, body, left=2, attrs=attrs)


def _run_section(i, row, run):
    out = [f'<section id="run-{i}"><h3>{escape(row["run"])}</h3>']
    hp = ", ".join(f"{k}={_cell(v)}" for k, v in sorted(run["hp"].items()) if k != "reference")
    out.append(f"<p><b>Hyperparameters:</b> {escape(hp)}</p>")
    if row["status"] != "ok":
        out.append(f'<p class="failed"><b>Failed:</b> {escape(row["error"])}</p></section>')
        return "".join(out)
    m = run["metrics"]
    out.append(f"<p><b>Test accuracy</b> {_pct(row['test_accuracy'])}, <b>test loss</b> "
               f"{row['test_loss']:.4f}</p>")
    first = m.get("first_test_image")
    if first:
        vec = ", ".join(f"{p:.4f}" for p in first["output"])
        out.append(f"<p><b>First test image:</b> label {escape(_cell(first['label']))}, predicted "
                   f"{escape(_cell(first['predicted']))} with confidence {first['confidence']:.4f}; "
                   f"output [{escape(vec)}]</p>")
    per_class = [[escape(_cell(c["class"])), f"{c['precision']:.4f}", f"{c['recall']:.4f}",
                  f"{c['f1']:.4f}", escape(_cell(c["support"]))] for c in m.get("per_class", [])]
    out.append(_table(["class", "precision", "recall", "F1", "support"], per_class))
    out += [_img(run["plots"][kind], caption) for kind, caption in RUN_FIGURES if kind in run["plots"]]
    out.append("</section>")
    return "".join(out)


# Said only because a test checks it on every CI run.
REPRODUCIBLE = ("Same config and seed give byte-identical models, histories and metrics: two fresh runs of "
                "the pipeline, one with <code>--cores 4</code> and one with <code>--cores 1</code>, are compared "
                "file by file in <code>tests/test_workflow.py::test_two_fresh_runs_are_byte_identical_whatever_the_cores"
                "</code>. Training times (<code>timings.json</code>, this report, <code>summary.csv</code>) differ.")


def _provenance(p):
    # through JSON first: safe_dump refuses dict subclasses and tuples that Snakemake may hand over
    plain = json.loads(json.dumps(p.get("config", {}), default=str))
    config = yaml.safe_dump(plain, sort_keys=True, default_flow_style=False, allow_unicode=True)
    sums = [[escape(f), f"<code>{escape(s)}</code>"] for f, s in sorted(p.get("checksums", {}).items())]
    env = p.get("environment")  # nn.environment.check(): imported versions against the lock file
    if env:
        versions = (f"<p>Lock file <code>{escape(env['lock'])}</code>, SHA-256 "
                    f"<code>{escape(env['lock_sha256'] or 'unavailable')}</code>; Python {escape(env['python'])}</p>"
                    + (f'<p class="failed"><b>Warning:</b> {escape(env["warning"])}</p>' if env.get("warning") else "")
                    + _table(["package", "imported", "in the lock"],
                             [[escape(k), escape(v["imported"]), escape(v["locked"] or "")]
                              for k, v in env["versions"].items()], left=1))
    else:
        versions = _table(["package", "version"],
                          [[escape(k), escape(_cell(v))] for k, v in sorted(p.get("versions", {}).items())], left=2)
    return ("<h2>Provenance</h2>"
            f"<p><b>Platform:</b> {escape(_cell(p.get('platform')))}<br>"
            f"<b>Git commit:</b> {escape(p.get('git_commit') or 'not a git checkout')}</p>"
            "<h3>Package versions</h3>" + versions
            + "<h3>Dataset checksums (SHA-256 of the decompressed IDX files)</h3>"
            + _table(["file", "sha256"], sums, left=2)
            + f"<h3>Reproducibility</h3><p>{REPRODUCIBLE}</p>"
            + f"<h3>Configuration as run</h3><pre>{escape(config)}</pre>")


def render_report(runs, data_plots, overview_plots, sweep_plots, provenance,
                  title="MNIST from scratch: results") -> str:
    """The whole report as one HTML string.

    runs: run dicts (module docstring); data_plots, overview_plots: {caption: png path};
    sweep_plots: {sweep name: png path}; provenance: {"config": dict, "checksums": {file:
    sha256}, "versions": {package: version}, "environment": nn.environment.check() (optional),
    "platform": str, "git_commit": str or None}.
    """
    by_name = {r["run"]: r for r in runs}
    rows = sorted_rows(runs)
    best = next((r for r in rows if r["status"] == "ok"), None)
    n_failed = sum(r["status"] != "ok" for r in rows)
    headline = ("No run finished." if best is None else
                f"Best run: <b>{escape(best['run'])}</b>, test accuracy <b>{_pct(best['test_accuracy'])}</b>")
    parts = [
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1><p>{headline}. {len(rows)} runs"
        + (f', <span class="failed">{n_failed} failed</span>' if n_failed else "") + ".</p>",
        "<h2>All runs, best first</h2>", f'<div class="wide">{_runs_table(rows)}</div>',
        "<h2>Comparison</h2>", *(_img(p, c) for c, p in overview_plots.items()),
        "<h2>Sweeps</h2>", *(_img(p, f"Sweep {n}") for n, p in sweep_plots.items()),
    ]
    if not sweep_plots:
        parts.append("<p>No sweeps configured.</p>")
    parts.append("<h2>Runs</h2>")
    parts += [_run_section(i, row, by_name[row["run"]]) for i, row in enumerate(rows)]
    parts += ["<h2>Data sanity checks</h2>", *(_img(p, c) for c, p in data_plots.items())]
    parts += [_provenance(provenance), "</body></html>\n"]
    return "\n".join(parts)
