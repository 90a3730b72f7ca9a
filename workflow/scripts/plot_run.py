"""Rule plot_run: the figures of a run's first seed (confusion, curves, galleries, output vector).

A run whose first seed failed gets placeholder figures that say why.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import fileio, serialize  # noqa: E402
from nn.mnist import data  # noqa: E402
from nn.pipeline.architecture import network_inputs  # noqa: E402
from nn.report import figures  # noqa: E402

FIGURES = ("confusion_png", "curves", "predictions", "worst_errors", "near_misses", "first_output")


def main(log):
    inp, out, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
    run, k = f"{snakemake.wildcards.run} (seed {params.seed})", int(params.k)  # noqa: F821
    summary = fileio.read_json(inp.metrics)
    if summary.get("status") == "failed":
        log(f"run {run} failed: placeholder figures")
        for key in FIGURES:
            figures.run_failed(
                getattr(out, key), f"{run}: {key.removesuffix('_png').replace('_', ' ')}", summary.get("error")
            )
        return
    history = fileio.read_json(inp.history)
    net = serialize.load(inp.model)
    images, labels = data.load_arrays(inp.test_images, inp.test_labels)
    x = network_inputs(params.hp, images, net.dtype)  # as in training
    (probs,), (losses,) = net.outputs_and_losses(x, labels)  # one network: (n, 10), (n,)
    predicted = probs.argmax(axis=1)

    figures.confusion_heatmap(out.confusion_png, summary["confusion"], f"Confusion matrix: {run}")
    figures.training_curves(out.curves, history, f"Training curves: {run}")
    figures.prediction_gallery(
        out.predictions,
        images[:k],
        labels[:k],
        predicted[:k],
        f"{run}: the first {k} test images, predicted / true (wrong in red)",
    )
    for path, idx, what in (
        (out.worst_errors, summary["worst_errors"], "highest-loss (most confident) mistakes"),
        (out.near_misses, summary["near_misses"], "lowest-loss mistakes (near misses)"),
    ):
        figures.error_gallery(path, images[idx], labels[idx], probs[idx], losses[idx], f"{run}: the {len(idx)} {what}")
    figures.output_vector(out.first_output, probs[0], labels[0], images[0], f"{run}: output for the first test image")
    log(f"run {run}: {len(FIGURES)} figures")


_common.run(main)
