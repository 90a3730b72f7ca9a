"""Rule evaluate: one seed's model on the test set -> metrics.json, confusion.csv, test-predictions.npy.

A run whose training diverged (history.json says so) is not evaluated: metrics.json says
{"status": "failed", ...}, confusion.csv has only its header and test-predictions.npy is
empty. The job succeeds, so the report lists the run as failed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import numpy as np  # noqa: E402

from nn import fileio, metrics, serialize  # noqa: E402
from nn.mnist import data  # noqa: E402
from nn.pipeline.architecture import check_belongs, network_inputs  # noqa: E402

HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy")


def check_history(history, path):
    if not isinstance(history, dict) or any(not isinstance(history.get(k), list) for k in HISTORY_KEYS):
        raise ValueError(f"{path}: a history needs the lists {', '.join(HISTORY_KEYS)}")


def main(log):
    inp, out, wc = snakemake.input, snakemake.output, snakemake.wildcards  # noqa: F821
    run = f"{wc.run} (seed {wc.seed})"
    k = int(snakemake.params.k)  # noqa: F821
    history = fileio.read_json(inp.history)
    if isinstance(history, dict) and history.get("status") == "failed":
        error = str(history.get("error"))
        log(f"run {run}: not evaluated, training failed: {error}")
        fileio.write_json(
            out.metrics,
            {"run": wc.run, "seed": int(wc.seed), "status": "failed", "error": error, "test_accuracy": None},
        )
        fileio.write_text(out.confusion_csv, metrics.confusion_csv(np.zeros((0, 10), np.int64)))
        fileio.save_npy(out.predictions, np.zeros(0, np.uint8))
        return
    check_history(history, inp.history)
    hp = snakemake.params.hp  # noqa: F821
    net = serialize.load(inp.model)
    check_belongs(net, hp, inp.model, wc.run)
    images, labels = data.load_arrays(inp.test_images, inp.test_labels)

    # one forward pass for outputs and losses; everything below is derived from them
    x = network_inputs(hp, images, net.dtype)  # (n, 784), scaled as in training
    (probs,), (losses,) = net.outputs_and_losses(x, labels)  # one network: (n, 10), (n,)
    summary = metrics.evaluation(labels, probs, losses, k=k, subset=hp.get("test_subset", 0))
    fileio.write_json(out.metrics, {"run": wc.run, "seed": int(wc.seed), **summary})
    fileio.write_text(out.confusion_csv, metrics.confusion_csv(summary["confusion"]))
    fileio.save_npy(out.predictions, probs.argmax(axis=1).astype(np.uint8))
    log(
        f"run {run}: test accuracy {summary['test_accuracy']:.4f}, test loss {summary['test_loss']:.4f}, "
        f"{summary['n_errors']} errors in {summary['n_test']}"
    )
    if "test_subset" in summary:
        log(
            f"run {run}: test accuracy on the first {summary['test_subset']} test images "
            f"{summary['test_accuracy_subset']:.4f}"
        )
    first = summary["first_test_image"]
    log(
        f"first test image: label {first['label']}, predicted {first['predicted']} "
        f"(confidence {first['confidence']}), output {first['output']}"
    )


_common.run(main)
