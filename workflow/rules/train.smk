# One training job per run (config `runs:` and every sweep point).

# What a run's model depends on. `reference` is only shown in the report, so editing
# it retrains nothing; sorted keys keep Snakemake's params comparison stable.
TRAIN_HPARAMS = {run: {k: v for k, v in hp.items() if k != "reference"} for run, hp in RUNS.items()}


rule train:
    input:
        images="results/data/train-images.npy",
        labels="results/data/train-labels.npy",
    output:
        model="results/runs/{run}/model.npz",
        history="results/runs/{run}/history.json",
        # Kept apart so that model and history are byte-identical between runs.
        timings="results/runs/{run}/timings.json",
    wildcard_constraints:
        run="|".join(map(re.escape, RUNS)),
    params:
        code=code("train"),
        hp=lambda wc: TRAIN_HPARAMS[wc.run],
    threads: lambda wc: RUNS[wc.run]["threads"]
    priority: lambda wc: training_cost(RUNS[wc.run])
    resources:
        # Measured peak: 270-370 MB (the float32 training set is 188 MB); room for float64.
        mem_mb=1000,
    log:
        "results/logs/train/{run}.log",
    benchmark:
        "results/benchmarks/train/{run}.tsv"
    script:
        "../scripts/train.py"
