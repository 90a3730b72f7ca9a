"""Rule report: every run side by side -> report.html (self-contained), summary.csv, comparison figures."""
import os
import platform
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import environment, fileio, plots, report  # noqa: E402
from nn.report import RUN_FIGURES  # noqa: E402

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"  # what the README installs from


def read_optional(path, log):
    """A run's JSON file, or None if it is missing (the run is then reported as failed)."""
    if not os.path.exists(path):
        log(f"{path}: missing")
        return None
    return fileio.read_json(path)


def load_run(name, hp, metrics_path, history_path, timings_path, log):
    folder = Path(metrics_path).parent          # the per-run figures live beside metrics.json
    return {"run": name, "hp": hp, "metrics": read_optional(metrics_path, log),
            "history": read_optional(history_path, log), "timings": read_optional(timings_path, log),
            "plots": {kind: folder / f"{kind}.png" for kind, _ in RUN_FIGURES}}


def git_commit():
    """HEAD of the checkout we run in, marked when the tree has uncommitted changes; None outside git."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        return commit + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance(config, checksums):
    env = environment.check(LOCK)
    versions = {"python": env["python"], **{name: v["imported"] for name, v in env["versions"].items()}}
    return {"config": config, "checksums": checksums, "versions": versions, "environment": env,
            "platform": platform.platform(), "git_commit": git_commit()}


def main(log):
    inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    names = list(params.run_names)
    if not len(names) == len(inp.metrics) == len(inp.histories) == len(inp.timings):
        raise ValueError(f"report: {len(names)} run names for {len(inp.metrics)} metrics, "
                         f"{len(inp.histories)} histories and {len(inp.timings)} timings files")
    runs = [load_run(n, params.runs[n], m, h, t, log)
            for n, m, h, t in zip(names, inp.metrics, inp.histories, inp.timings)]
    rows = report.sorted_rows(runs)
    accuracy = {r["run"]: r["test_accuracy"] for r in rows}       # None for a failed run

    by_name = {r["run"]: r for r in runs}
    histories = {r["run"]: by_name[r["run"]]["history"] for r in rows if r["status"] == "ok"}
    plots.val_accuracy_overlay(out.val_curves, histories)
    plots.reference_comparison(out.comparison, [(r["run"], r["test_accuracy"], r["reference_accuracy"])
                                                for r in rows])
    sweep_names = list(params.sweeps)
    if len(sweep_names) != len(out.sweep_plots):
        raise ValueError(f"report: {len(sweep_names)} sweeps but {len(out.sweep_plots)} sweep_plots outputs")
    for name, path in zip(sweep_names, out.sweep_plots):
        sweep = params.sweeps[name]
        points = [(values, accuracy.get(run)) for run, values in sweep["runs"].items()]
        plots.sweep_plot(path, name, list(sweep["keys"]), points)

    report.write_summary_csv(out.summary, rows)
    html = report.render_report(
        runs,
        data_plots={"The first ten training images and their labels": inp.first_ten,
                    "Mean training image of each class": inp.class_means,
                    "Label distribution, train vs test": inp.label_histogram},
        overview_plots={"Validation accuracy of every run": out.val_curves,
                        "Our test accuracy against the reference figure": out.comparison},
        sweep_plots=dict(zip(sweep_names, out.sweep_plots)),
        provenance=provenance(dict(params.config), dict(params.checksums)),
    )
    fileio.write_text(out.html, html)
    best = rows[0]
    log(f"{len(rows)} runs, best {best['run']} ({best['test_accuracy']}); "
        f"{sum(r['status'] != 'ok' for r in rows)} failed")


_common.run(main)
