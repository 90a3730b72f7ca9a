"""nn.mnist.data: split validation (from IDX and from .npy) and the network's input scaling."""

import numpy as np
import pytest

from nn.mnist.data import MNIST_FILES, SPLIT_FILES, DataError, decode_split, load_split, to_inputs
from nn.fileio import save_npy
from nn.mnist.idx import IdxError, write_idx


def tiny_split(n=12, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_split(tmp_path, images, labels):
    ip, lp = tmp_path / "x-images-idx3-ubyte.gz", tmp_path / "x-labels-idx1-ubyte.gz"
    write_idx(ip, images)
    write_idx(lp, labels)
    return ip, lp


def test_file_names():
    assert MNIST_FILES == (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    assert set(SPLIT_FILES) == {"train", "test"}


def test_decode_split_round_trip(tmp_path):
    images, labels = tiny_split()
    got_images, got_labels = decode_split(*write_split(tmp_path, images, labels))
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.dtype == got_labels.dtype == np.uint8


BAD_SPLITS = [
    # (name, images, labels, which file the error names, message)
    ("count mismatch", np.zeros((5, 28, 28), "u1"), np.zeros(4, "u1"), "labels", "4 labels for 5 images"),
    (
        "label out of range",
        np.zeros((3, 28, 28), "u1"),
        np.array([0, 10, 9], "u1"),
        "labels",
        "label 10 at index 1 is outside 0..9",
    ),
    (
        "wrong image size",
        np.zeros((3, 28, 27), "u1"),
        np.zeros(3, "u1"),
        "images",
        "shape (n, 28, 28), got (3, 28, 27)",
    ),
    ("images 2-D", np.zeros((3, 784), "u1"), np.zeros(3, "u1"), "images", "shape (n, 28, 28), got (3, 784)"),
    ("images not uint8", np.zeros((3, 28, 28), "f4"), np.zeros(3, "u1"), "images", "must be uint8, got float32"),
    ("labels not uint8", np.zeros((3, 28, 28), "u1"), np.zeros(3, "i4"), "labels", "must be uint8, got int32"),
    ("labels 2-D", np.zeros((3, 28, 28), "u1"), np.zeros((3, 1), "u1"), "labels", "must be 1-D, got shape (3, 1)"),
    ("empty", np.zeros((0, 28, 28), "u1"), np.zeros(0, "u1"), "images", "holds no images"),
]


@pytest.mark.parametrize("name,images,labels,which,message", BAD_SPLITS, ids=[b[0] for b in BAD_SPLITS])
def test_decode_split_rejects(tmp_path, name, images, labels, which, message):
    ip, lp = write_split(tmp_path, images, labels)
    with pytest.raises(DataError) as e:
        decode_split(ip, lp)
    assert str(e.value).startswith(f"{ip if which == 'images' else lp}: ")
    assert message in str(e.value)


def test_decode_split_passes_on_idx_errors(tmp_path):
    ip, lp = write_split(tmp_path, *tiny_split())
    lp.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01")  # declares 5 labels, holds 1
    with pytest.raises(IdxError, match=rf"^{lp}: truncated"):
        decode_split(ip, lp)


def test_load_split_validates_npy(tmp_path):
    images, labels = tiny_split()
    save_npy(tmp_path / "train-images.npy", images)
    save_npy(tmp_path / "train-labels.npy", labels)
    got_images, got_labels = load_split(tmp_path, "train")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)

    save_npy(tmp_path / "train-labels.npy", labels[:-1])
    with pytest.raises(DataError, match=r"train-labels\.npy: 11 labels for 12 images"):
        load_split(tmp_path, "train")


def test_load_split_refuses_pickles_and_unknown_splits(tmp_path):
    np.save(tmp_path / "test-images.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    save_npy(tmp_path / "test-labels.npy", np.zeros(1, "u1"))
    with pytest.raises(ValueError, match=r"test-images\.npy: holds a pickled object array"):
        load_split(tmp_path, "test")
    with pytest.raises(DataError, match=r"unknown split 'valid'"):
        load_split(tmp_path, "valid")


def test_load_split_missing_file_names_it(tmp_path):
    with pytest.raises(ValueError, match=r"test-images\.npy"):
        load_split(tmp_path, "test")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_inputs_scales_to_unit_interval(dtype):
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16).repeat(3, axis=0)
    images = np.pad(images, ((0, 0), (6, 6), (6, 6)))  # (3, 28, 28)
    x = to_inputs(images, dtype=dtype)
    assert x.shape == (3, 784) and x.dtype == dtype
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x, images.reshape(3, 784) / 255.0, rtol=1e-6)
    assert x.flags.c_contiguous


def test_to_inputs_defaults_to_float32_and_refuses_non_uint8():
    assert to_inputs(np.zeros((2, 28, 28), np.uint8)).dtype == np.float32
    with pytest.raises(DataError, match="expects uint8"):
        to_inputs(np.zeros((2, 28, 28), np.float32))


def digits(n=5, seed=0):
    """n random uint8 'images' whose maxima differ (so a per-image maximum matters)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
    for i in range(n):
        images[i] = images[i] // (i + 1)  # image i peaks near 255 / (i + 1)
    return images


def test_unit_scaling_is_todays_bits():
    images = digits()
    for dtype in (np.float32, np.float64):
        expected = np.multiply(images.reshape(5, 784), np.dtype(dtype).type(1.0 / 255.0), dtype=dtype)
        for x in (to_inputs(images, dtype), to_inputs(images, dtype, scaling="unit")):
            assert x.dtype == dtype and x.tobytes() == expected.tobytes()


def test_raw_scaling_keeps_0_to_255():
    images = digits()
    x = to_inputs(images, scaling="raw")
    assert x.dtype == np.float32 and x.max() == 255.0
    np.testing.assert_array_equal(x, images.reshape(5, 784))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_div256_is_exact_and_tops_at_255_over_256(dtype):
    images = np.full((1, 28, 28), 255, np.uint8)
    images[0, 0, :4] = [0, 1, 128, 200]
    x = to_inputs(images, dtype, scaling="div256")
    assert x.max() == 255 / 256 == 0.99609375 and x.dtype == dtype
    np.testing.assert_array_equal(x[0, :4], np.array([0, 1, 128, 200]) / 256)  # exact: a power of two


def test_max_standardise_is_the_blogs_norm_of_grayscale():
    images = digits()
    x = to_inputs(images, np.float64, scaling="max_standardise")
    flat = images.reshape(5, 784).astype(np.float64)
    grey = np.array([sample / np.amax(sample) for sample in flat])  # dp.grayscale
    np.testing.assert_allclose(x, (grey - grey.mean()) / grey.std(), rtol=1e-12, atol=1e-12)  # dp.norm
    assert abs(x.mean()) < 1e-12 and x.std() == pytest.approx(1, rel=1e-12)
    assert to_inputs(images, scaling="max_standardise").dtype == np.float32


def test_max_standardise_uses_the_sets_own_statistics():
    """pocket-model standardises its test set with the test set's mean and sd, not the training set's."""
    train, test = digits(6, seed=1), digits(3, seed=2) // 2
    x_test = to_inputs(test, np.float64, scaling="max_standardise")
    assert abs(x_test.mean()) < 1e-12 and x_test.std() == pytest.approx(1, rel=1e-12)
    both = to_inputs(np.concatenate([train, test]), np.float64, scaling="max_standardise")
    assert not np.allclose(both[6:], x_test)  # pooled statistics would give other inputs
    # each image by its own maximum: doubling the pixels (test peaks at 127, no overflow) changes nothing
    assert test.max() <= 127
    np.testing.assert_allclose(to_inputs(test * 2, np.float64, scaling="max_standardise"), x_test, rtol=1e-12)


def test_unknown_scaling_and_blank_images_are_refused():
    with pytest.raises(DataError, match="unknown scaling 'z'"):
        to_inputs(digits(), scaling="z")
    images = digits()
    images[3] = 0
    with pytest.raises(DataError, match="image 3 is blank"):
        to_inputs(images, scaling="max_standardise")
    assert to_inputs(images, scaling="unit")[3].max() == 0  # the others do not mind a blank image
