"""Rule evaluate: one run's model on the test set -> metrics.json, confusion.csv and its figures."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn import data, fileio, metrics, model, plots  # noqa: E402

HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy")


def load_history(path):
    history = fileio.read_json(path)
    if not isinstance(history, dict) or any(not isinstance(history.get(k), list) for k in HISTORY_KEYS):
        raise ValueError(f"{path}: a history needs the lists {', '.join(HISTORY_KEYS)}")
    return history


def main(log):
    inp, out, run = snakemake.input, snakemake.output, snakemake.wildcards.run  # noqa: F821
    k = int(snakemake.params.k)  # noqa: F821
    net = model.load(inp.model)
    history = load_history(inp.history)
    images, labels = fileio.load_npy(inp.test_images), fileio.load_npy(inp.test_labels)
    data.check_split(images, labels, inp.test_images, inp.test_labels)

    # one forward pass each for outputs and losses; everything below is derived from them
    x = data.to_inputs(images, dtype=net.dtype)          # (n, 784)
    probs = net.predict_proba(x)                         # (n, 10)
    losses = net.sample_losses(x, labels)                # (n,)
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
