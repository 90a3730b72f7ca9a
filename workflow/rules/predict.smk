# Classify your own digit images: every *.png / *.jpg / *.jpeg directly in config
# `predict_dir`, sorted by name, with the model of run `predict_run`. Nothing when
# predict_dir is null. A bad image is a row with its error; a bad model fails the job.
# Any name works: see predict_images in common.smk for `{run}.png`, FIFOs and dangling links;
# each still gets a row (an error for what is not a regular file).

PREDICT_DIR = config.get("predict_dir")
PREDICT_RUN = config.get("predict_run", "best")
PREDICT_TARGETS = ["results/predictions.csv", "results/predictions.png"] if PREDICT_DIR else []


if PREDICT_DIR:
    if not os.path.isdir(PREDICT_DIR):
        sys.exit(f"Config error: predict_dir: {PREDICT_DIR} is not a folder")
    if PREDICT_RUN not in RUNS:
        sys.exit(f"Config error: predict_run: {PREDICT_RUN!r} is not a run (runs: {', '.join(sorted(RUNS))})")

    rule predict:
        input:
            model=first_seed(TRAINED["model"], PREDICT_RUN),
            images=predict_images(PREDICT_DIR),
        output:
            csv="results/predictions.csv",
            sheet="results/predictions.png",
        log:
            "results/logs/predict.log",
        # one BLAS thread: the same bits on any machine load
        threads: 1
        params:
            code=code("predict"),
            # pinned or native (config `numerics`): a switch recomputes every result
            numerics=config["numerics"],
            run=PREDICT_RUN,
            # its architecture: a model file of another run is refused, not used under this name
            hp=nnconfig.seed_hparams(RUNS[PREDICT_RUN], SEEDS[PREDICT_RUN][0]),
            # functions: their strings are taken literally, never as wildcard patterns
            folder=lambda wildcards: PREDICT_DIR,
            names=lambda wildcards: predict_entries(PREDICT_DIR),
            signature=predict_signature(PREDICT_DIR),
        script:
            "../scripts/predict.py"
