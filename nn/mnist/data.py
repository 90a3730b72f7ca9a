"""MNIST as arrays: which files make a split, what a valid split looks like, network inputs.

The pipeline decodes the four IDX files once into results/data/{split}-images.npy and
-labels.npy; every later stage loads those with load_split, which checks them again,
so a stale or hand-edited file fails loudly here instead of training on garbage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nn.fileio import load_npy
from nn.mnist.idx import read_idx

# split -> (images file, labels file), as the public mirrors name them
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MNIST_FILES = tuple(name for pair in SPLIT_FILES.values() for name in pair)

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


class DataError(ValueError):
    """MNIST arrays that are not what they must be; the message names the file."""


def check_split(images, labels, images_name, labels_name):
    """Raise DataError unless images (n, 28, 28) uint8 and labels (n,) uint8 in 0..9 agree."""
    if images.dtype != np.uint8:
        raise DataError(f"{images_name}: images must be uint8, got {images.dtype}")
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{images_name}: images must have shape (n, 28, 28), got {images.shape}")
    if len(images) == 0:
        raise DataError(f"{images_name}: holds no images")
    if labels.dtype != np.uint8:
        raise DataError(f"{labels_name}: labels must be uint8, got {labels.dtype}")
    if labels.ndim != 1:
        raise DataError(f"{labels_name}: labels must be 1-D, got shape {labels.shape}")
    if len(labels) != len(images):
        raise DataError(f"{labels_name}: {len(labels)} labels for {len(images)} images in {images_name}")
    bad = np.flatnonzero(labels >= NUM_CLASSES)  # uint8: nothing below 0
    if bad.size:
        i = bad[0]
        raise DataError(f"{labels_name}: label {labels[i]} at index {i} is outside 0..9 ({bad.size} such labels)")


def decode_split(images_path, labels_path, checksums=(None, None), max_bytes=None):
    """Read and validate one split's IDX files -> (images (n, 28, 28) uint8, labels (n,) uint8).

    checksums: the SHA-256 of each file's payload (images, labels), checked before decoding;
    max_bytes: bound on each decompressed payload (nn.mnist.idx.read_payload)."""
    images = read_idx(images_path, max_bytes, checksums[0])
    labels = read_idx(labels_path, max_bytes, checksums[1])
    check_split(images, labels, images_path, labels_path)
    return images, labels


def split_paths(data_dir, split):
    """The two .npy files of a split: {data_dir}/{split}-images.npy, -labels.npy."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r} (expected one of {', '.join(SPLIT_FILES)})")
    data_dir = Path(data_dir)
    return data_dir / f"{split}-images.npy", data_dir / f"{split}-labels.npy"


def load_arrays(images_path, labels_path):
    """Load a decoded images/labels pair of .npy files (no pickles), validated as decode_split does."""
    images, labels = load_npy(images_path), load_npy(labels_path)
    check_split(images, labels, images_path, labels_path)
    return images, labels


def load_split(data_dir, split):
    """load_arrays on results/data/{split}-images.npy and -labels.npy under data_dir."""
    return load_arrays(*split_paths(data_dir, split))


# How pixels become network inputs: the one list (the config's `inputs` enum reads it).
#   unit             k / 255, in [0, 1]: every model of ours (the default)
#   raw              k as a float, 0..255: the notebook's sigmoid runs (Martin Pitt) scale nothing
#   div256           k / 256, in [0, 255/256]: the pixels of Nielsen's mnist.pkl.gz (LISA lab)
#   max_standardise  each image divided by its own maximum, then the whole set standardised by
#                    its own scalar mean and sd: pocket-model's norm(grayscale(x)), which it
#                    applies to the test set with the test set's own statistics
INPUT_SCALINGS = ("unit", "raw", "div256", "max_standardise")


def to_inputs(images, dtype=np.float32, scaling: str = "unit"):
    """Flatten uint8 images to network inputs: (n, 28, 28) -> (n, 784), scaled by `scaling`
    (INPUT_SCALINGS; "unit" = [0, 1]). max_standardise depends on the whole set given: call it
    once per set, as the source did."""
    if images.dtype != np.uint8:
        raise DataError(f"to_inputs expects uint8 images (0..255), got {images.dtype}")
    if scaling not in INPUT_SCALINGS:
        raise DataError(f"to_inputs: unknown scaling {scaling!r}; expected one of {', '.join(INPUT_SCALINGS)}")
    dtype = np.dtype(dtype)
    x = images.reshape(len(images), -1)  # (n, 784), a view
    if scaling == "unit":
        # one fused multiply by a precomputed 1/255 in the target dtype: faster than a division
        return np.multiply(x, dtype.type(1.0 / 255.0), dtype=dtype)
    if scaling == "raw":
        return x.astype(dtype)
    if scaling == "div256":
        return np.multiply(x, dtype.type(1.0 / 256.0), dtype=dtype)  # a power of two: k/256 exactly
    return _max_standardise(x).astype(dtype, copy=False)


def _max_standardise(x):
    """(n, 784) uint8 -> float64: x / its row maximum, then (x - mean) / sd over every value."""
    peaks = x.max(axis=1)  # (n,)
    blank = np.flatnonzero(peaks == 0)
    if blank.size:  # the source divides by 0 here and trains on NaN; say so instead
        raise DataError(
            f"to_inputs: image {blank[0]} is blank (maximum 0): max_standardise cannot divide "
            f"by it ({blank.size} such images)"
        )
    g = x.astype(np.float64)  # float64 as the source's uint8 / np.amax
    g /= peaks[:, None]  # each image's brightest pixel -> 1
    g -= g.mean()  # one scalar over all images and pixels
    # numpy's x.std() (ddof 0) without its full-size copy; einsum, not BLAS, so the bits do not
    # depend on the thread count (training and evaluate run with different ones)
    squares = sum(float(np.einsum("ij,ij->", g[i : i + 4096], g[i : i + 4096])) for i in range(0, len(g), 4096))
    g /= np.sqrt(squares / g.size)
    return g
