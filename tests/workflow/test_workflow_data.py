"""The data stage through Snakemake: download -> decode -> sanity plots."""

from __future__ import annotations

import gzip
import hashlib
import struct

import numpy as np
import pytest

from conftest import REPO, SHARED_MNIST, Workflow

from nn.pipeline import config as nnconfig

pytestmark = pytest.mark.slow

DATA_TARGETS = [f"results/data/{s}-{k}.npy" for s in ("train", "test") for k in ("images", "labels")] + [
    f"results/data/plots/{p}.png" for p in ("first_ten", "class_means", "label_histogram")
]


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


@pytest.mark.parametrize("kind", ["other content", "gzip bomb"])
def test_decode_refuses_raw_files_that_are_not_the_verified_ones(tiny_workflow, kind):
    """A file put in results/raw/ after download is checked again by decode, bounded, before anything is written."""
    wf = tiny_workflow
    cfg = wf.config
    cfg["download"]["max_bytes"] = 20_000_000
    wf.write_config(cfg)
    wf.run("--cores", "1", "results/raw/t10k-images-idx3-ubyte.gz", "results/raw/t10k-labels-idx1-ubyte.gz")
    raw = wf.path("results/raw/t10k-labels-idx1-ubyte.gz")
    if kind == "other content":  # a valid IDX file: 200 labels, all 7
        payload = struct.pack(">HBBI", 0, 8, 1, 200) + bytes([7] * 200)
        raw.write_bytes(gzip.compress(payload, mtime=0))
        message = (
            f"error in rule decode: {raw.relative_to(wf.workdir)}: payload SHA-256 "
            f"{hashlib.sha256(payload).hexdigest()} is not the configured "
            f"{cfg['download']['sha256']['t10k-labels-idx1-ubyte']} "
            "(download.sha256); delete the file to download it again"
        )
    else:
        with gzip.GzipFile(raw, "wb", compresslevel=1, mtime=0) as f:
            for _ in range(50):
                f.write(bytes(1 << 20))
        message = (
            f"error in rule decode: {raw.relative_to(wf.workdir)}: decompresses to more than 20000000 bytes; "
            "refusing (gzip bomb?)"
        )
    proc = wf.run("--cores", "1", "results/data/test-labels.npy", check=False)
    assert proc.returncode == 1
    # the job's line, and Snakemake showing the failed log: the same one line
    assert {line for line in proc.stderr.splitlines() if line.startswith("error in rule")} == {message}
    assert message in wf.path("results/logs/decode/test.log").read_text()
    assert not wf.path("results/data").exists() or not any(wf.path("results/data").iterdir())
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="../shared/mnist is not beside the repo")
def test_data_stage_on_the_real_files(tmp_path):
    cfg = nnconfig.read(REPO / "config.yaml")  # the sources' rows merged in: the copy has no reproductions/
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
