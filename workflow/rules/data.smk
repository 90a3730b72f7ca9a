# The data stage: fetch the four MNIST files, decode them to .npy, draw sanity plots.

from nn.mnist.data import MNIST_FILES
from nn.pipeline.hparams import preview_settings

MNIST_NAMES = [f.removesuffix(".gz") for f in MNIST_FILES]
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


rule download:
    # Only the checksum is a param: which mirror served the bytes does not change them,
    # so switching mirrors (config `mnist_mirror`, `download:`) reruns nothing. The script
    # reads the mirrors and network limits from snakemake.config.
    output:
        "results/raw/{name}.gz",
    log:
        "results/logs/download/{name}.log",
    wildcard_constraints:
        name="|".join(MNIST_NAMES),
    params:
        sha256=lambda wc: config["download"]["sha256"][wc.name],
    script:
        "../scripts/download.py"


rule decode:
    input:
        images=lambda wc: f"results/raw/{SPLIT_PREFIX[wc.split]}-images-idx3-ubyte.gz",
        labels=lambda wc: f"results/raw/{SPLIT_PREFIX[wc.split]}-labels-idx1-ubyte.gz",
    output:
        images="results/data/{split}-images.npy",
        labels="results/data/{split}-labels.npy",
    log:
        "results/logs/decode/{split}.log",
    wildcard_constraints:
        split="train|test",
    params:
        code=code("decode"),
    script:
        "../scripts/decode.py"


rule plot_data:
    input:
        train_images="results/data/train-images.npy",
        train_labels="results/data/train-labels.npy",
        test_images="results/data/test-images.npy",
        test_labels="results/data/test-labels.npy",
    output:
        first_ten=report("results/data/plots/first_ten.png", caption="../report/first_ten.rst", category="Data"),
        class_means=report("results/data/plots/class_means.png", caption="../report/class_means.rst", category="Data"),
        label_histogram=report(
            "results/data/plots/label_histogram.png", caption="../report/label_histogram.rst", category="Data"
        ),
        distortions=report("results/data/plots/distortions.png", caption="../report/distortions.rst", category="Data"),
    log:
        "results/logs/plot_data.log",
    params:
        code=code("plot_data"),
        # pinned or native (config `numerics`): a switch recomputes every result
        numerics=config["numerics"],
        # (run name or None, its augmentation keys): the first run that distorts its images
        distortions=preview_settings(RUNS),
    script:
        "../scripts/plot_data.py"
