"""Rule report (and quick): every run and seed side by side -> report.html (self-contained),
summary.csv (per run), seeds.csv (per seed), timings.csv (wall times, per seed), ledger.md, and the
comparison figures."""

import os
import platform
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import fileio  # noqa: E402
from nn.pipeline import environment, numerics  # noqa: E402
from nn.report import figures, html, ledger, recipes, reproduction  # noqa: E402
from nn.report.html import RUN_FIGURES  # noqa: E402
from nn.report.published import published_overlay, recipe_frontier  # noqa: E402

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"  # what the README installs from


def read_optional(path, log, reader=fileio.read_json):
    """A seed's file, or None if it is missing (the seed is then reported as failed)."""
    if not os.path.exists(path):
        log(f"{path}: missing")
        return None
    return reader(path)


def load_runs(params, inp, log, n_test):
    """{run: {"run", "hp", "seeds": [...], "plots"}} in config order. A trained run's files are the
    per_seed() inputs, in order; a row scored_from another is built from that run's histories
    (reproduction.scored_run; n_test: the size of the test set its history monitored)."""
    runs = load_trained(params, inp, log)
    for name, seeds in params.seeds.items():
        scored = params.runs[name].get("scored_from")
        if scored:
            runs[name] = reproduction.scored_run(name, params.runs[name], seeds, runs[scored["run"]], n_test)
            log(f"{name}: {reproduction.scored_from_text(scored)}")
    return {name: runs[name] for name in params.seeds}


def load_trained(params, inp, log):
    """{run: run dict} of the runs that trained, from the per_seed() inputs (figures: one per run,
    in results/runs/{run}/, where plot_run writes)."""
    files = zip(inp.metrics, inp.histories, inp.timings, inp.predictions)
    folders = {Path(f).parent.name: Path(f).parent for f in inp.figures}
    # results/runs/{run}/seed-{seed}/train-cost.json of the runs whose reference publishes training costs
    costs = {(Path(f).parent.parent.name, Path(f).parent.name): f for f in inp.train_costs}
    runs = {}
    for name, seeds in params.seeds.items():
        if params.runs[name].get("scored_from"):
            continue
        records = []
        for seed in seeds:
            m, h, t, p = next(files)
            cost = costs.get((name, f"seed-{seed}"))
            records.append(
                {
                    "seed": seed,
                    "metrics": read_optional(m, log),
                    "history": read_optional(h, log),
                    "timings": read_optional(t, log),
                    "predictions": read_optional(p, log, fileio.load_npy),
                    "train_cost": read_optional(cost, log) if cost else None,
                }
            )
        runs[name] = {
            "run": name,
            "hp": params.runs[name],
            "seeds": records,
            "plots": {kind: folders[name] / f"{kind}.png" for kind, _ in RUN_FIGURES},
        }
    if next(files, None) is not None:
        raise ValueError("report: more per-seed inputs than the configured seeds")
    return runs


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
    machine = numerics.provenance()  # what the jobs computed with: the fingerprint explains a difference
    versions = {"python": env["python"], **{name: v["imported"] for name, v in env["versions"].items()}}
    return {
        "config": config,
        "checksums": checksums,
        "versions": versions,
        "environment": env,
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "numerics": machine,
    }


def machine_record(prov) -> dict:
    """results/provenance.json: what a user compares with the reference's (nn-verify reads it)."""
    return {
        "numerics": prov["numerics"],
        "versions": prov["versions"],
        "platform": prov["platform"],
        "lock_sha256": prov["environment"].get("lock_sha256"),
        "git_commit": prov["git_commit"],
    }


def main(log):
    inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    test_labels = fileio.load_npy(inp.test_labels)
    runs = load_runs(params, inp, log, n_test=len(test_labels))
    rows = reproduction.rows_best_first(runs.values())
    best = next((r["run"] for r in rows if r["status"] == "ok"), None)
    # McNemar's test needs test predictions: a row scored_from another has none
    best_trained = next((r["run"] for r in rows if r["status"] == "ok" and not r["scored_from"]), None)
    pairs = [tuple(p) for p in dict(params.comparisons or {}).values()]
    paired = reproduction.paired_tests(runs.values(), pairs, test_labels, best_trained)

    # a scored_from row's curve is its source's first rounds: drawn once, as the source's
    first_histories = {
        name: r["seeds"][0]["history"]
        for name, r in runs.items()
        if reproduction.seed_status(r["seeds"][0])[0] == "ok" and not r["hp"].get("scored_from")
    }
    figures.val_accuracy_overlay(out.val_curves, first_histories)
    published = ledger.ledger_rows(rows, runs)
    figures.reference_comparison(
        out.comparison,
        [
            {
                "run": r["run"],
                "verdict": ledger.verdict_word(r),
                "published": r["reference_accuracy"],
                "interval": r["interval"],
                "measured": r["measured"],
                "excluded": r["excluded"],
            }
            for r in published
        ],
    )
    tried = [dict(r) for r in dict(params.recipes or {}).values()]  # checked when the Snakefile read them
    recipe_frontier(
        out.recipes,
        tried,
        recipes.frontier(tried),
        target=recipes.TARGET,
        budget_seconds=recipes.BUDGET_SECONDS,
        chosen=recipes.chosen(tried),
    )
    mean_accuracy = {r["run"]: r["test_accuracy_mean"] for r in rows}
    sweep_names = list(params.sweeps)
    if len(sweep_names) != len(out.sweep_plots):
        raise ValueError(f"report: {len(sweep_names)} sweeps but {len(out.sweep_plots)} sweep_plots outputs")
    for name, path in zip(sweep_names, out.sweep_plots):
        sweep = params.sweeps[name]
        figures.sweep_plot(
            path, name, list(sweep["keys"]), [(v, mean_accuracy.get(run)) for run, v in sweep["runs"].items()]
        )
    curve_runs = list(params.curve_runs or [])
    for name, path in zip(curve_runs, out.curve_plots):
        ref = runs[name]["hp"]["reference"]
        published_overlay(path, name, [s["history"] for s in runs[name]["seeds"]], ref["curves"], ref["source"])

    html.write_summary_csv(out.summary, rows, {name: r["hp"] for name, r in runs.items()})
    html.write_seeds_csv(out.seeds, reproduction.seed_rows(runs.values()))
    html.write_timings_csv(out.timings, reproduction.timing_rows(runs.values()))
    fileio.write_text(out.ledger, ledger.ledger_markdown(published, {name: r["hp"] for name, r in runs.items()}))
    prov = provenance(dict(params.config), dict(params.checksums))
    fileio.write_json(out.provenance, machine_record(prov))
    page = html.render_report(
        runs,
        rows,
        paired,
        data_plots={
            "The first ten training images and their labels": inp.first_ten,
            "Mean training image of each class": inp.class_means,
            "Label distribution, train vs test": inp.label_histogram,
        },
        overview_plots={
            "Validation accuracy of every run (first seed)": out.val_curves,
            "Recipes tried for best, on the validation split: accuracy against training seconds "
            "(benchmarks/recipes.jsonl)": out.recipes,
        },
        sweep_plots=dict(zip(sweep_names, out.sweep_plots)),
        curve_plots=dict(zip(curve_runs, out.curve_plots)),
        provenance=prov,
        ledger_plot=out.comparison,
    )
    fileio.write_text(out.html, page)
    log(
        f"{len(rows)} runs, {sum(r['n_seeds'] for r in rows)} seeds, best {best}; "
        f"{sum(r['status'] != 'ok' for r in rows)} with failures; {len(paired)} paired tests"
    )


_common.run(main)
