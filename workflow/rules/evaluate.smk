# One evaluation job per run: metrics on the 10,000 test images and the run's figures.


rule evaluate:
    input:
        model="results/runs/{run}/model.npz",
        history="results/runs/{run}/history.json",
        test_images="results/data/test-images.npy",
        test_labels="results/data/test-labels.npy",
    output:
        metrics="results/runs/{run}/metrics.json",
        confusion_csv="results/runs/{run}/confusion.csv",
        confusion_png=run_figure("confusion", "confusion"),
        curves=run_figure("curves", "curves"),
        predictions=run_figure("predictions", "predictions"),
        worst_errors=run_figure("worst_errors", "worst_errors"),
        near_misses=run_figure("near_misses", "near_misses"),
        first_output=run_figure("first_output", "first_output"),
    wildcard_constraints:
        run="|".join(map(re.escape, RUNS)),
    params:
        code=code("evaluate"),
        k=config["evaluation"]["gallery_size"],
    # One BLAS thread: the test-set products then give the same bits on every machine load.
    threads: 1
    log:
        "results/logs/evaluate/{run}.log",
    benchmark:
        "results/benchmarks/evaluate/{run}.tsv"
    script:
        "../scripts/evaluate.py"
