"""Rule train: fit one run's network and save model, history and timings."""
import os
import sys

# BLAS threads = the run's own `threads`, set before numpy loads. Snakemake scales a
# job's threads down to --cores, but OpenBLAS gives different bits with 1 and 2
# threads; pinning to the configured value keeps `--cores 1` and `--cores 4` identical.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = str(snakemake.params.hp["threads"])  # noqa: F821 (injected by Snakemake)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import data, fileio, model, train  # noqa: E402


def main(log):
    hp = snakemake.params.hp  # noqa: F821
    images, labels = data.load_split(os.path.dirname(snakemake.input.images), "train")  # noqa: F821
    log(f"run {snakemake.wildcards.run}: {len(images)} training images, hyperparameters {hp}")  # noqa: F821
    net, history, timings = train.train_run(hp, images, labels, log=log)
    model.save(net, snakemake.output.model)  # noqa: F821
    fileio.write_json(snakemake.output.history, history)  # noqa: F821
    fileio.write_json(snakemake.output.timings, timings)  # noqa: F821
    log(f"done in {timings['total_seconds']:.1f} s")


_common.run(main)
