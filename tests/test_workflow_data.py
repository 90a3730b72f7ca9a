"""The data stage through Snakemake: download -> decode -> sanity plots."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from conftest import REPO, SHARED_MNIST, Workflow

pytestmark = pytest.mark.slow

DATA_TARGETS = [f"results/data/{s}-{k}.npy" for s in ("train", "test") for k in ("images", "labels")] + \
    [f"results/data/plots/{p}.png" for p in ("first_ten", "class_means", "label_histogram")]


def test_data_stage_on_tiny_files_then_noop(tiny_workflow):
    tiny_workflow.run("--cores", "2", *DATA_TARGETS)
    images = np.load(tiny_workflow.path("results/data/test-images.npy"), allow_pickle=False)
    labels = np.load(tiny_workflow.path("results/data/test-labels.npy"), allow_pickle=False)
    assert images.shape == (200, 28, 28) and images.dtype == np.uint8 and labels.shape == (200,)
    for p in DATA_TARGETS:
        assert tiny_workflow.path(p).stat().st_size > 0
    again = tiny_workflow.run("--cores", "2", *DATA_TARGETS)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_wrong_checksum_leaves_nothing_behind(tiny_workflow):
    cfg = tiny_workflow.config
    cfg["download"]["sha256"]["t10k-labels-idx1-ubyte"] = "0" * 64
    tiny_workflow.write_config(cfg)
    proc = tiny_workflow.run("--cores", "1", "results/raw/t10k-labels-idx1-ubyte.gz", check=False)
    assert proc.returncode != 0
    assert "t10k-labels-idx1-ubyte" in proc.stderr and "mnist_mirror" in proc.stderr
    assert not list(tiny_workflow.path("results/raw").glob("*t10k-labels*"))


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="../shared/mnist is not beside the repo")
def test_data_stage_on_the_real_files(tmp_path):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["mnist_mirror"] = str(SHARED_MNIST)
    wf = Workflow(tmp_path, cfg)
    wf.run("--cores", "2", *DATA_TARGETS)
    counts = {}
    for split, n in (("train", 60000), ("test", 10000)):
        images = np.load(wf.path(f"results/data/{split}-images.npy"), allow_pickle=False)
        labels = np.load(wf.path(f"results/data/{split}-labels.npy"), allow_pickle=False)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        counts[split] = np.bincount(labels, minlength=10).tolist()
    assert counts["train"] == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert counts["test"] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    proc = wf.run("--cores", "2", *DATA_TARGETS)
    assert "Nothing to be done" in proc.stdout + proc.stderr
