# Per seed: metrics and the test predictions (for McNemar's test). Per run: the figures of
# its first seed. Trained runs only: a row scored_from another has no model to evaluate or draw.


rule evaluate:
    input:
        model=TRAINED["model"],
        history=TRAINED["history"],
        test_images=TEST_DATA[0],
        test_labels=TEST_DATA[1],
    output:
        metrics="results/runs/{run}/seed-{seed}/metrics.json",
        confusion_csv="results/runs/{run}/seed-{seed}/confusion.csv",
        # the predicted class of each test image (uint8), for paired tests between runs
        predictions="results/runs/{run}/seed-{seed}/test-predictions.npy",
    log:
        "results/logs/evaluate/{run}/seed-{seed}.log",
    benchmark:
        "results/benchmarks/evaluate/{run}/seed-{seed}.tsv"
    wildcard_constraints:
        run=TRAINED_PATTERN,
        seed=r"\d+",
    # One BLAS thread: the test-set products then give the same bits on every machine load.
    threads: 1
    params:
        code=code("evaluate"),
        # pinned or native (config `numerics`): a switch recomputes every result
        numerics=config["numerics"],
        k=config["evaluation"]["gallery_size"],
        # the run's architecture: a model file from another run is refused, not reported
        hp=lambda wc: nnconfig.seed_hparams(RUNS[wc.run], int(wc.seed)),
    script:
        "../scripts/evaluate.py"


# Per seed of a run whose reference publishes training costs: its own cost after the last round on
# the images it trained on, and the least its loss can reach there (the rest of its costs are in
# history.json).
rule training_cost:
    input:
        model=TRAINED["model"],
        history=TRAINED["history"],
        train_images=TRAIN_DATA[0],
        train_labels=TRAIN_DATA[1],
    output:
        cost="results/runs/{run}/seed-{seed}/train-cost.json",
    log:
        "results/logs/training_cost/{run}/seed-{seed}.log",
    benchmark:
        "results/benchmarks/training_cost/{run}/seed-{seed}.tsv"
    wildcard_constraints:
        run=COSTED_PATTERN,
        seed=r"\d+",
    # One BLAS thread: the products then give the same bits on every machine load.
    threads: 1
    params:
        code=code("training_cost"),
        # pinned or native (config `numerics`): a switch recomputes every result
        numerics=config["numerics"],
        hp=lambda wc: nnconfig.seed_hparams(RUNS[wc.run], int(wc.seed)),
    script:
        "../scripts/training_cost.py"


rule plot_run:
    input:
        model=lambda wc: first_seed(TRAINED["model"], wc.run),
        history=lambda wc: first_seed(TRAINED["history"], wc.run),
        metrics=lambda wc: first_seed(rules.evaluate.output.metrics, wc.run),
        test_images=TEST_DATA[0],
        test_labels=TEST_DATA[1],
    output:
        confusion_png=run_figure("confusion", "confusion"),
        curves=run_figure("curves", "curves"),
        predictions=run_figure("predictions", "predictions"),
        worst_errors=run_figure("worst_errors", "worst_errors"),
        near_misses=run_figure("near_misses", "near_misses"),
        first_output=run_figure("first_output", "first_output"),
    log:
        "results/logs/plot_run/{run}.log",
    wildcard_constraints:
        run=TRAINED_PATTERN,
    threads: 1
    params:
        code=code("plot_run"),
        # pinned or native (config `numerics`): a switch recomputes every result
        numerics=config["numerics"],
        k=config["evaluation"]["gallery_size"],
        seed=lambda wc: SEEDS[wc.run][0],
        # the first seed's hyperparameters: its test images are scaled as its training images were
        hp=lambda wc: nnconfig.seed_hparams(RUNS[wc.run], SEEDS[wc.run][0]),
    script:
        "../scripts/plot_run.py"
