# One report comparing every run and seed: results/report.html (self-contained), summary.csv
# (one row per run), seeds.csv (one row per seed), timings.csv (training's wall times, one row per
# seed: the one table that differs between two runs), ledger.md (the reproductions, for the README).
# `snakemake --cores 4 quick` builds the same from each run's first seed only, in results/quick/.


rule report:
    input:
        **report_inputs(first_only=False),
    output:
        html="results/report.html",
        summary="results/summary.csv",
        seeds="results/seeds.csv",
        timings="results/timings.csv",
        ledger="results/ledger.md",
        # the numerics the jobs ran with (fingerprint, CPU, dispatch, BLAS kernel), for nn-verify
        provenance="results/provenance.json",
        val_curves=report("results/report/val_curves.png", caption="../report/val_curves.rst", category="Comparison"),
        comparison=report("results/report/comparison.png", caption="../report/comparison.rst", category="Comparison"),
        recipes=report("results/report/recipes.png", caption="../report/recipes.rst", category="Comparison"),
        sweep_plots=[
            report(f"results/report/sweep-{name}.png", caption="../report/sweep.rst", category="Sweeps")
            for name in SWEEPS
        ],
        curve_plots=[
            report(f"results/report/published-{run}.png", caption="../report/published.rst", category="Reproductions")
            for run in CURVE_RUNS
        ],
    log:
        "results/logs/report.log",
    params:
        **report_params(first_only=False),
    script:
        "../scripts/report.py"


use rule report as quick with:
    input:
        **report_inputs(first_only=True),
    output:
        html="results/quick/report.html",
        summary="results/quick/summary.csv",
        seeds="results/quick/seeds.csv",
        timings="results/quick/timings.csv",
        ledger="results/quick/ledger.md",
        provenance="results/quick/provenance.json",
        val_curves="results/quick/report/val_curves.png",
        comparison="results/quick/report/comparison.png",
        recipes="results/quick/report/recipes.png",
        sweep_plots=[f"results/quick/report/sweep-{name}.png" for name in SWEEPS],
        curve_plots=[f"results/quick/report/published-{run}.png" for run in CURVE_RUNS],
    log:
        "results/logs/quick.log",
    params:
        **report_params(first_only=True),
