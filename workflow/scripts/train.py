"""Rule train: fit one run's network and save model, history and timings.

A run whose loss diverges is an outcome, not a crash: the same config and seed diverge
again, so retrying is pointless and failing the job would stop the other runs. The job
then writes the error into history.json ({"status": "failed", "error": "...diverged..."}), a model file that
nn.serialize.load refuses, and timings.json, and exits 0; evaluate and report mark the run failed.

After every epoch the job saves a checkpoint (params.checkpoint, not an output: Snakemake
keeps it when the job dies); a rerun resumes from it if it was made from the same
hyperparameters, data and code (nn/pipeline/checkpoint.py). A finished job removes it.
"""
import os
import sys

# BLAS threads = the run's own `threads`, set before numpy loads. Snakemake scales a
# job's threads down to --cores, but OpenBLAS gives different bits with 1 and 2
# threads; pinning to the configured value keeps `--cores 1` and `--cores 4` identical.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = str(snakemake.params.hp["threads"])  # noqa: F821 (injected by Snakemake)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import fileio, serialize  # noqa: E402
from nn.mnist import data  # noqa: E402
from nn.pipeline import checkpoint, hparams  # noqa: E402
from nn.train import TrainingDiverged  # noqa: E402


def record_failure(run, e, out, log):
    error = f"run {run}: {e}"
    log(error)
    print(error, file=sys.stderr, flush=True)  # in Snakemake's output too, not only the log
    serialize.save_failed(out.model, error)
    fileio.write_json(out.history, {**e.history, "status": "failed", "error": str(e)})
    fileio.write_json(out.timings, e.timings)


def main(log):
    hp, out, run = snakemake.params.hp, snakemake.output, snakemake.wildcards.run  # noqa: F821
    images, labels = data.load_arrays(snakemake.input.images, snakemake.input.labels)  # noqa: F821
    log(f"run {run}, seed {hp['seed']}: {len(images)} training images, hyperparameters {hp}")
    test = data.load_arrays(*snakemake.input.monitor) if hp["monitor_test"] else None  # noqa: F821
    made_from = checkpoint.fingerprint(hp, snakemake.params.code, images, labels, *(test or ()))  # noqa: F821
    ckpt = checkpoint.Checkpoint(snakemake.params.checkpoint, made_from, run=run, log=log)  # noqa: F821
    try:
        net, history, timings = hparams.train_run(hp, images, labels, log=log, test=test, checkpoint=ckpt)
    except TrainingDiverged as e:
        record_failure(run, e, out, log)
    else:
        serialize.save(net, out.model)
        fileio.write_json(out.history, history)
        fileio.write_json(out.timings, timings)
        log(f"done in {timings['total_seconds']:.1f} s")
    ckpt.remove()  # the outputs are written (a diverged run diverges again: nothing to resume)


_common.run(main)
