"""Rule train_*: fit a block of one run's seeds as one stacked computation, and save each seed's
model, history and timings.

A seed whose loss diverges is an outcome, not a crash: the same config and seed diverge
again, so retrying is pointless and failing the job would stop the other seeds and runs. That
seed then gets its error in history.json ({"status": "failed", "error": "...diverged..."}), a
model file that nn.serialize.load refuses, and timings.json; the others train on, and the job
exits 0; evaluate and report mark the seed failed.

After every epoch the job saves one checkpoint for its block (in params.checkpoints, not an
output: Snakemake keeps it when the job dies); a rerun resumes every seed from it if it was made
from the same hyperparameters, data and code (nn/pipeline/checkpoint.py). A finished job removes it.
"""

import os
import sys

# BLAS threads = the run's own `threads`, set before numpy loads. Snakemake scales a
# job's threads down to --cores, but OpenBLAS gives different bits with 1 and 2
# threads; pinning to the configured value keeps `--cores 1` and `--cores 4` identical.
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = str(snakemake.params.hp["threads"])  # noqa: F821 (injected by Snakemake)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import fileio, serialize  # noqa: E402
from nn.mnist import data  # noqa: E402
from nn.pipeline import blocks, checkpoint, hparams  # noqa: E402


def write_seed(model, r, state, out, run, seed):
    """Seed `seed`, replica r of the stack, into the r-th file of each output list (the same order)."""
    if state.failure is not None:
        error = f"run {run}, seed {seed}: {state.failure}"
        print(error, file=sys.stderr, flush=True)  # in Snakemake's output too, not only the log
        serialize.save_failed(out.model[r], error)
        fileio.write_json(out.history[r], {**state.history, "status": "failed", "error": str(state.failure)})
    else:
        serialize.save(model, out.model[r], replica=r)
        fileio.write_json(out.history[r], state.history)
    fileio.write_json(out.timings[r], {**state.timings, "stacked_seeds": model.replicas})


def main(log):
    common, out, run = snakemake.params.hp, snakemake.output, snakemake.wildcards.run  # noqa: F821
    seeds = [blocks.seed_of(path) for path in out.model]
    hps = [{**common, "seed": seed} for seed in seeds]
    images, labels = data.load_arrays(snakemake.input.images, snakemake.input.labels)  # noqa: F821
    log(f"run {run}, seeds {', '.join(map(str, seeds))}: {len(images)} training images, hyperparameters {common}")
    test = data.load_arrays(*snakemake.input.monitor) if common["monitor_test"] else None  # noqa: F821
    made_from = checkpoint.fingerprint(hps, snakemake.params.code, images, labels, *(test or ()))  # noqa: F821
    path = os.path.join(snakemake.params.checkpoints, f"{blocks.label(seeds)}.npz")  # noqa: F821
    ckpt = checkpoint.Checkpoint(path, made_from, run=run, log=log)
    model, states = hparams.train_seeds(hps, images, labels, log=log, test=test, checkpoint=ckpt)
    for r, (seed, state) in enumerate(zip(seeds, states)):
        write_seed(model, r, state, out, run, seed)
    log(f"done in {sum(s.timings['total_seconds'] for s in states):.1f} s")
    ckpt.remove()  # the outputs are written (a diverged seed diverges again: nothing to resume)


_common.run(main)
