"""Rule plot_data: the sanity plots that say "the data makes sense" before any training."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from nn.report import figures  # noqa: E402
from nn.mnist.data import load_arrays  # noqa: E402
from nn.report.distortions import distortion_grid  # noqa: E402


def main(log):
    inp, out = snakemake.input, snakemake.output  # noqa: F821 (injected by Snakemake)
    train_images, train_labels = load_arrays(inp.train_images, inp.train_labels)
    _, test_labels = load_arrays(inp.test_images, inp.test_labels)
    log(f"{len(train_images)} training and {len(test_labels)} test images")
    figures.labelled_digits(out.first_ten, train_images[:10], train_labels[:10])
    figures.class_means(out.class_means, train_images, train_labels)
    figures.label_histogram(out.label_histogram, train_labels, test_labels)
    log("first ten labels: " + " ".join(map(str, train_labels[:10])))
    run, settings = snakemake.params.distortions  # noqa: F821
    distortion_grid(
        out.distortions,
        train_images,
        train_labels,
        settings,
        f"run {run}" if run else "no run distorts; Simard 2003's elastic setting",
    )


_common.run(main)
