"""Rule decode: one split's two IDX .gz files -> validated images and labels .npy."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import numpy as np  # noqa: E402

from nn.mnist.data import decode_split  # noqa: E402
from nn.fileio import save_npy  # noqa: E402


def main(log):
    inp, out = snakemake.input, snakemake.output  # noqa: F821 (injected by Snakemake)
    # The files in results/raw/ are trusted only if they still hold what download verified:
    # the configured checksums, from the config like download's mirrors (a change reruns download).
    download = snakemake.config["download"]  # noqa: F821
    sums = [download["sha256"][os.path.basename(p).removesuffix(".gz")] for p in (inp.images, inp.labels)]
    images, labels = decode_split(inp.images, inp.labels, checksums=sums, max_bytes=download.get("max_bytes"))
    log(f"{inp.images}, {inp.labels}: payload SHA-256 as configured")
    log(f"{inp.images}: {images.shape} {images.dtype}")
    log(f"{inp.labels}: label counts 0..9 {np.bincount(labels, minlength=10).tolist()}")
    save_npy(out.images, images)  # (n, 28, 28) uint8
    save_npy(out.labels, labels)  # (n,) uint8
    log(f"wrote {out.images} and {out.labels}")


_common.run(main)
