# Training: one job per block of a run's seeds, trained as one stacked computation, each seed
# writing its own model, history and timings (nn/pipeline/blocks.py chooses the blocks).
from nn import fileio

# A seed's training outputs; evaluate, plot_run, predict and the report read them by these patterns.
TRAINED = dict(
    model="results/runs/{run}/seed-{seed}/model.npz",
    history="results/runs/{run}/seed-{seed}/history.json",
    # Kept apart so that model and history are byte-identical between runs.
    timings="results/runs/{run}/seed-{seed}/timings.json",
)


def trained_files_exist(run):
    """seed -> whether all of that seed's training outputs exist (up to date or not: Snakemake decides)."""
    return lambda seed: all(os.path.exists(p.format(run=run, seed=seed)) for p in TRAINED.values())


# The blocks are decided once, by the Snakemake process the user started, from the outputs that exist
# then. A job that parses this file again (under a cluster executor every job does) reads them back:
# from the outputs of blocks finished meanwhile it would group the remaining seeds otherwise, and ask
# its rule for outputs the plan gave another.
TRAIN_BLOCKS_FILE = ".snakemake/nn-train-blocks.json"
if workflow.is_main_process:
    TRAIN_BLOCKS = {run: nnblocks.blocks(RUNS[run], seeds, trained_files_exist(run)) for run, seeds in SEEDS.items()}
    os.makedirs(os.path.dirname(TRAIN_BLOCKS_FILE), exist_ok=True)
    fileio.write_json(TRAIN_BLOCKS_FILE, TRAIN_BLOCKS)
else:
    TRAIN_BLOCKS = fileio.read_json(TRAIN_BLOCKS_FILE)


# rule names number the runs in config order (SEEDS), whatever order the plan file keeps
for _index, _run in enumerate(SEEDS):
    for _block in TRAIN_BLOCKS[_run]:

        rule:
            name:
                nnblocks.rule_name(_index, _block)
            input:
                images="results/data/train-images.npy",
                labels="results/data/train-labels.npy",
                # test images only for runs that measure them after every epoch (monitor_test)
                monitor=TEST_DATA if RUNS[_run]["monitor_test"] else [],
            output:
                **{kind: expand(pattern, run="{run}", seed=_block) for kind, pattern in TRAINED.items()},
            log:
                f"results/logs/train/{{run}}/{nnblocks.label(_block)}.log",
            benchmark:
                f"results/benchmarks/train/{{run}}/{nnblocks.label(_block)}.tsv"
            wildcard_constraints:
                run=re.escape(_run),
            # the longest blocks start first instead of finishing alone at the end
            priority: int(len(_block) * nnblocks.estimated_seconds(RUNS[_run]))
            # BLAS runs hp["threads"] threads whatever the claim (scripts/train.py)
            threads: training_threads
            resources:
                # one seed: its training set (188 MB in float32) and working arrays, with room for
                # float64; each further seed adds its batches, activations and optimiser state
                mem_mb=1000 + 250 * (len(_block) - 1),
            params:
                code=code("train"),
                # pinned or native (config `numerics`): a switch recomputes every result
                numerics=config["numerics"],
                # the run's own hyperparameters, without its seeds (they are in the output paths), the
                # reference or the number of seeds: editing another run, a reference or `replicates`,
                # or regrouping seeds into other blocks, retrains nothing here
                hp=nnconfig.block_hparams(RUNS[_run]),
                # where the block's checkpoint goes (<folder>/<block label>.npz: the label is not a param,
                # so that regrouping seeds reruns nothing), saved after every epoch, resumed by a rerun of a
                # killed job, removed on success (docs/interfaces.md); not an output, so Snakemake keeps it
                # when the job dies
                checkpoints=f"results/checkpoints/{_run}",
            script:
                "../scripts/train.py"
