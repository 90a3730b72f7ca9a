# One report comparing every run and seed: results/report.html (self-contained), summary.csv
# (one row per run), seeds.csv (one row per seed), ledger.md (the reproductions, for the README).
# `snakemake --cores 4 quick` builds the same from each run's first seed only, in results/quick/.

# The config as run, without the keys that only say where data came from or what to
# predict: switching mirrors must not rebuild the report.
# Mirror credentials (https://user:pass@host/) are replaced by ***.
REPORT_CONFIG = nnconfig.redacted({k: v for k, v in config.items() if k not in ("mnist_mirror", "predict_dir", "predict_run")})
# Runs whose reference publishes a per-epoch curve: one overlay figure each.
CURVE_RUNS = [run for run, hp in RUNS.items() if (hp.get("reference") or {}).get("curves")]


def report_inputs(first_only):
    """The report's inputs for every run and seed (or each run's first seed)."""
    return dict(
        metrics=per_seed(rules.evaluate.output.metrics, first_only),
        predictions=per_seed(rules.evaluate.output.predictions, first_only),
        histories=per_seed(rules.train.output.history, first_only),
        timings=per_seed(rules.train.output.timings, first_only),
        figures=expand(rules.plot_run.output.curves, run=RUNS),
        test_labels=TEST_DATA[1],
        first_ten=rules.plot_data.output.first_ten,
        class_means=rules.plot_data.output.class_means,
        label_histogram=rules.plot_data.output.label_histogram,
    )


def report_params(first_only):
    """Everything the report reads from config; seeds in the order of the per_seed() inputs."""
    return dict(
        code=code("report"),
        seeds={run: seeds[:1] if first_only else seeds for run, seeds in SEEDS.items()},
        runs=RUNS,
        sweeps=SWEEPS,
        comparisons={f"{a} vs {b}": [a, b] for a, b in COMPARISONS},
        curve_runs=CURVE_RUNS,
        config=REPORT_CONFIG,
        checksums=config["download"]["sha256"],
    )


rule report:
    input:
        **report_inputs(first_only=False),
    output:
        html="results/report.html",
        summary="results/summary.csv",
        seeds="results/seeds.csv",
        ledger="results/ledger.md",
        val_curves=report("results/report/val_curves.png", caption="../report/val_curves.rst", category="Comparison"),
        comparison=report("results/report/comparison.png", caption="../report/comparison.rst", category="Comparison"),
        sweep_plots=[
            report(f"results/report/sweep-{name}.png", caption="../report/sweep.rst", category="Sweeps")
            for name in SWEEPS
        ],
        curve_plots=[
            report(f"results/report/published-{run}.png", caption="../report/published.rst", category="Reproductions")
            for run in CURVE_RUNS
        ],
    params:
        **report_params(first_only=False),
    log:
        "results/logs/report.log",
    script:
        "../scripts/report.py"


use rule report as quick with:
    input:
        **report_inputs(first_only=True),
    output:
        html="results/quick/report.html",
        summary="results/quick/summary.csv",
        seeds="results/quick/seeds.csv",
        ledger="results/quick/ledger.md",
        val_curves="results/quick/report/val_curves.png",
        comparison="results/quick/report/comparison.png",
        sweep_plots=[f"results/quick/report/sweep-{name}.png" for name in SWEEPS],
        curve_plots=[f"results/quick/report/published-{run}.png" for run in CURVE_RUNS],
    params:
        **report_params(first_only=True),
    log:
        "results/logs/quick.log",
