# One training job per run and seed (config `runs:`, every sweep point, each of its `replicates`).


rule train:
    input:
        images="results/data/train-images.npy",
        labels="results/data/train-labels.npy",
        # test images only for runs that measure them after every epoch (monitor_test)
        monitor=lambda wc: TEST_DATA if RUNS[wc.run]["monitor_test"] else [],
    output:
        model="results/runs/{run}/seed-{seed}/model.npz",
        history="results/runs/{run}/seed-{seed}/history.json",
        # Kept apart so that model and history are byte-identical between runs.
        timings="results/runs/{run}/seed-{seed}/timings.json",
    wildcard_constraints:
        run=RUN_PATTERN,
        seed=r"\d+",
    params:
        code=code("train"),
        # pinned or native (config `numerics`): a switch recomputes every result
        numerics=config["numerics"],
        # only this seed's own hyperparameters (no reference, no replicate count), sorted:
        # editing another run, a reference or the number of seeds retrains nothing here
        hp=lambda wc: nnconfig.seed_hparams(RUNS[wc.run], int(wc.seed)),
        # saved after every epoch, resumed by a rerun of a killed job, removed on success
        # (docs/interfaces.md); not an output, so Snakemake keeps it when the job dies
        checkpoint="results/checkpoints/{run}/seed-{seed}.npz",
    # BLAS runs hp["threads"] threads whatever the claim (scripts/train.py)
    threads: training_threads
    priority: lambda wc: training_cost(RUNS[wc.run])
    resources:
        # Measured peak: 270-370 MB (the float32 training set is 188 MB); room for float64.
        mem_mb=1000,
    log:
        "results/logs/train/{run}/seed-{seed}.log",
    benchmark:
        "results/benchmarks/train/{run}/seed-{seed}.tsv"
    script:
        "../scripts/train.py"
