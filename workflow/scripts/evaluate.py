"""Rule evaluate: one run's model on the test set -> metrics.json, confusion.csv and its figures.

A run whose training diverged (history.json says so) is not evaluated: metrics.json says
{"status": "failed", ...}, confusion.csv has only its header, and every figure is a
placeholder that says why. The job succeeds, so the report lists the run as failed.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import numpy as np  # noqa: E402

from nn import data, fileio, metrics, model, plots  # noqa: E402

HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy")


def check_history(history, path):
    if not isinstance(history, dict) or any(not isinstance(history.get(k), list) for k in HISTORY_KEYS):
        raise ValueError(f"{path}: a history needs the lists {', '.join(HISTORY_KEYS)}")


FIGURES = ("confusion_png", "curves", "predictions", "worst_errors", "near_misses", "first_output")


def failed(run, error, out, log):
    log(f"run {run}: not evaluated, training failed: {error}")
    fileio.write_json(out.metrics, {"run": run, "status": "failed", "error": error, "test_accuracy": None})
    fileio.write_text(out.confusion_csv, metrics.confusion_csv(np.zeros((0, 10), np.int64)))
    for key in FIGURES:
        plots.run_failed(getattr(out, key), f"{run}: {key.removesuffix('_png').replace('_', ' ')}", error)


def main(log):
    inp, out, run = snakemake.input, snakemake.output, snakemake.wildcards.run  # noqa: F821
    k = int(snakemake.params.k)  # noqa: F821
    history = fileio.read_json(inp.history)
    if isinstance(history, dict) and history.get("status") == "diverged":
        return failed(run, str(history.get("error")), out, log)
    check_history(history, inp.history)
    net = model.load(inp.model)
    images, labels = data.load_arrays(inp.test_images, inp.test_labels)

    # one forward pass for outputs and losses; everything below is derived from them
    x = data.to_inputs(images, dtype=net.dtype)          # (n, 784)
    probs, losses = net.outputs_and_losses(x, labels)    # (n, 10), (n,)
    summary = metrics.summarize(labels, probs, losses, k=k)
    fileio.write_json(out.metrics, {"run": run, **summary})
    fileio.write_text(out.confusion_csv, metrics.confusion_csv(summary["confusion"]))
    log(f"run {run}: test accuracy {summary['test_accuracy']:.4f}, test loss {summary['test_loss']:.4f}, "
        f"{summary['n_errors']} errors in {summary['n_test']}")
    first = summary["first_test_image"]
    log(f"first test image: label {first['label']}, predicted {first['predicted']} "
        f"(confidence {first['confidence']}), output {first['output']}")

    predicted = probs.argmax(axis=1)
    plots.confusion_heatmap(out.confusion_png, summary["confusion"], f"Confusion matrix: {run}")
    plots.training_curves(out.curves, history, f"Training curves: {run}")
    plots.prediction_gallery(out.predictions, images[:k], labels[:k], predicted[:k],
                             f"{run}: the first {k} test images, predicted / true (wrong in red)")
    for path, idx, what in ((out.worst_errors, summary["worst_errors"], "highest-loss (most confident) mistakes"),
                            (out.near_misses, summary["near_misses"], "lowest-loss mistakes (near misses)")):
        plots.error_gallery(path, images[idx], labels[idx], probs[idx], losses[idx], f"{run}: the {len(idx)} {what}")
    plots.output_vector(out.first_output, probs[0], labels[0], images[0], f"{run}: output for the first test image")


_common.run(main)
