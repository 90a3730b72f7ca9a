# One report comparing every run: results/report.html (self-contained) and results/summary.csv.

# The config as run, without the keys that only say where data came from or what to
# predict: switching mirrors must not rebuild the report.
# Mirror credentials (https://user:pass@host/) are replaced by ***.
REPORT_CONFIG = nnconfig.redacted({k: v for k, v in config.items() if k not in ("mnist_mirror", "predict_dir", "predict_run")})


rule report:
    input:
        metrics=expand("results/runs/{run}/metrics.json", run=RUNS),
        histories=expand("results/runs/{run}/history.json", run=RUNS),
        timings=expand("results/runs/{run}/timings.json", run=RUNS),
        first_ten="results/data/plots/first_ten.png",
        class_means="results/data/plots/class_means.png",
        label_histogram="results/data/plots/label_histogram.png",
    output:
        html="results/report.html",
        summary="results/summary.csv",
        val_curves=report("results/report/val_curves.png", caption="../report/val_curves.rst", category="Comparison"),
        comparison=report("results/report/comparison.png", caption="../report/comparison.rst", category="Comparison"),
        sweep_plots=[
            report(f"results/report/sweep-{name}.png", caption="../report/sweep.rst", category="Sweeps")
            for name in SWEEPS
        ],
    params:
        code=code("report"),
        run_names=list(RUNS),
        runs=RUNS,
        sweeps=SWEEPS,
        config=REPORT_CONFIG,
        checksums=config["download"]["sha256"],
    log:
        "results/logs/report.log",
    script:
        "../scripts/report.py"
