"""Every size read from a file is checked before memory is allocated (docs/faults.md, "Bounds").

Each test builds the hostile file itself and checks the one-line message; where a bomb is
involved, tracemalloc shows that the memory used stayed far below what the file claims.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import struct
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

from nn import fileio
from nn.mnist.data import decode_split
from nn.mnist.idx import IdxError, read_idx, read_payload
from nn.serialize import ModelFileError, load, save
from nn.model import mlp

MB = 1 << 20


def idx(array: np.ndarray) -> bytes:
    return struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_bomb(path, size: int) -> None:
    """A gzip of `size` zero bytes (about 1000:1), written a chunk at a time."""
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as f:
        zeros = bytes(MB)
        for _ in range(size // MB):
            f.write(zeros)


def peak_bytes(call) -> int:
    """Peak Python-heap bytes allocated while `call()` runs (it must raise)."""
    tracemalloc.start()
    try:
        with pytest.raises((IdxError, ModelFileError, ValueError)) as e:
            call()
        return tracemalloc.get_traced_memory()[1], str(e.value)
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------- IDX payloads (decode)


def test_a_valid_idx_of_other_content_is_refused_by_its_checksum(tmp_path):
    labels = np.arange(20, dtype=np.uint8) % 10
    wanted = hashlib.sha256(idx(labels)).hexdigest()
    other = idx(labels[::-1].copy())  # same shape and type, other content
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(other, mtime=0))
    with pytest.raises(IdxError) as e:
        read_idx(path, sha256=wanted)
    assert str(e.value) == (
        f"{path}: payload SHA-256 {hashlib.sha256(other).hexdigest()} is not the configured "
        f"{wanted} (download.sha256); delete the file to download it again"
    )
    path.write_bytes(gzip.compress(idx(labels), mtime=0))
    assert (read_idx(path, sha256=wanted) == labels).all()


def test_decode_split_checks_both_checksums_before_decoding(tmp_path):
    images, labels = np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3], np.uint8)
    ip, lp = tmp_path / "i.gz", tmp_path / "l.gz"
    ip.write_bytes(gzip.compress(idx(images)))
    lp.write_bytes(gzip.compress(idx(labels)))
    sums = [hashlib.sha256(idx(a)).hexdigest() for a in (images, labels)]
    got = decode_split(ip, lp, checksums=sums)
    assert (got[1] == labels).all()
    with pytest.raises(IdxError, match=f"^{lp}: payload SHA-256 .* is not the configured 0{{64}}"):
        decode_split(ip, lp, checksums=[sums[0], "0" * 64])


def test_a_gzip_bomb_in_raw_is_never_inflated_in_full(tmp_path):
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    write_bomb(bomb, 300 * MB)  # 300 MB of payload in about 300 kB
    assert bomb.stat().st_size < 2 * MB
    peak, message = peak_bytes(lambda: read_payload(bomb, max_bytes=10 * MB, sha256="0" * 64))
    assert message == f"{bomb}: decompresses to more than {10 * MB} bytes; refusing (gzip bomb?)"
    assert peak < 40 * MB, peak  # the bound, not the 300 MB


def test_a_plain_idx_file_over_the_bound_is_refused_unread(tmp_path):
    path = tmp_path / "big-idx3-ubyte"
    path.write_bytes(idx(np.zeros((100, 28, 28), np.uint8)))
    with pytest.raises(IdxError, match=rf"^{path}: 78416 bytes, over the bound of 1000; refusing$"):
        read_idx(path, max_bytes=1000)


# ---------------------------------------------------------------- .npy files (results/data)


def npy_with_header(shape, dtype="|u1", data=b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def test_an_npy_header_claiming_730_gib_is_refused_without_allocating(tmp_path):
    path = tmp_path / "train-images.npy"
    path.write_bytes(npy_with_header((1_000_000, 784, 1000), data=bytes(100)))
    peak, message = peak_bytes(lambda: fileio.load_npy(path))
    assert message == f"{path}: header declares 784000000000 data bytes [1000000, 784, 1000], the file holds 100"
    assert peak < MB


def test_an_npy_file_over_the_bound_is_refused(tmp_path):
    path = tmp_path / "a.npy"
    fileio.save_npy(path, np.zeros(5000, np.uint8))
    with pytest.raises(ValueError, match=rf"^{path}: 5000 data bytes \[5000\], over the bound of 4096; refusing$"):
        fileio.load_npy(path, max_bytes=4096)
    assert fileio.load_npy(path).shape == (5000,)


def test_a_json_file_over_the_bound_is_refused_unread(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"epoch": list(range(1000))}))
    with pytest.raises(ValueError, match=rf"^{path}: \d+ bytes, over the bound of 100 for a JSON file; refusing$"):
        fileio.read_json(path, max_bytes=100)


# ---------------------------------------------------------------- model files


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.npz"
    save(mlp([784, 16, 10], rng=0), path)
    return path


def replace_entry(path, name, write) -> None:
    """Rewrite the model .npz with entry `name` produced by write(zipfile, name)."""
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist() if n != name}
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
        write(zf, name)


def test_a_weight_entry_header_claiming_terabytes_is_refused(model_file):
    replace_entry(model_file, "0.W.npy", lambda zf, n: zf.writestr(n, npy_with_header((10**9, 784), "<f4", bytes(64))))
    peak, message = peak_bytes(lambda: load(model_file))
    assert message == (
        f"{model_file}: entry '0.W.npy': header declares 3136000000000 data bytes [1000000000, 784], the file holds 64"
    )
    assert peak < 5 * MB


def test_a_deflate_bomb_inside_a_model_is_refused_before_inflating(model_file):
    def write(zf, name):
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as f:
            f.write(npy_with_header((200 * MB // 4,), "<f4"))
            for _ in range(200):
                f.write(bytes(MB))

    replace_entry(model_file, "0.W.npy", write)
    assert model_file.stat().st_size < 2 * MB
    peak, message = peak_bytes(lambda: load(model_file))
    assert message.startswith(f"{model_file}: entry '0.W.npy' declares 209715328 bytes, over the ")
    assert message.endswith(" its place allows; refusing")
    assert peak < 5 * MB


def test_an_architecture_entry_over_1_mb_is_refused(model_file):
    huge = np.frombuffer(json.dumps({"pad": "x" * (2 * MB)}).encode(), np.uint8)
    buf = io.BytesIO()
    np.save(buf, huge)
    replace_entry(model_file, "architecture.npy", lambda zf, n: zf.writestr(n, buf.getvalue()))
    with pytest.raises(
        ModelFileError, match=r"entry 'architecture.npy' declares \d+ bytes, over the 1048576 its place"
    ):
        load(model_file)


def test_an_architecture_declaring_a_huge_layer_is_refused_before_building(model_file):
    arch = {
        "format": "nn-sequential",
        "version": 1,
        "dtype": "float32",
        "loss": "cross_entropy",
        "output": "softmax",
        "layers": [
            {"type": "linear", "n_in": 784, "n_out": 100_000_000},
            {"type": "relu"},
            {"type": "linear", "n_in": 100_000_000, "n_out": 10},
            {"type": "softmax"},
        ],
    }
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(arch).encode(), np.uint8))
    replace_entry(model_file, "architecture.npy", lambda zf, n: zf.writestr(n, buf.getvalue()))
    peak, message = peak_bytes(lambda: load(model_file))
    assert message.startswith(
        f"{model_file}: invalid architecture (it declares 318000000040 bytes of parameters, over the bound of "
    )
    assert peak < 5 * MB


# ---------------------------------------------------------------- JSON nesting

DEEP = b"[" * 100_000 + b"]" * 100_000  # Python's parser recurses once per level: RecursionError near 1000


@pytest.mark.parametrize(
    "text, depth",
    [
        (b"1", 0),
        (b"{}", 1),
        (b'[[1, [2]], {"a": {"b": []}}]', 4),
        (rb'["[[[[", {"x]": "\\"}, "\\\"[[["]', 2),  # brackets, quotes and backslashes inside strings
        (rb'"\u005b\u005b"', 0),
        (DEEP, 100_000),
        (b'{"a": [' * 50 + b"1" + b"]}" * 50, 100),
    ],
)
def test_json_depth_counts_brackets_outside_strings(text, depth):
    assert fileio.json_depth(text) == depth
    if depth <= 100:
        assert fileio.loads_json(text, "x") == json.loads(text)


def test_a_json_file_nested_100000_deep_is_refused_in_one_line(tmp_path):
    path = tmp_path / "history.json"
    path.write_bytes(DEEP)
    with pytest.raises(RecursionError):  # what read_json would do without the check
        json.loads(DEEP)
    with pytest.raises(ValueError) as e:
        fileio.read_json(path)
    assert str(e.value) == f"{path}: JSON nested 100000 levels deep, over the limit of 100; refusing to parse it"
    path.write_bytes(b'{"a": [' * 50 + b"1" + b"]}" * 50)  # at the limit: read
    assert fileio.read_json(path)["a"][0]["a"][0]["a"][0]


def test_a_model_whose_architecture_is_nested_100000_deep_is_refused_in_one_line(model_file):
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(b'{"layers": ' + DEEP + b"}", np.uint8))
    replace_entry(model_file, "architecture.npy", lambda zf, n: zf.writestr(n, buf.getvalue()))
    with pytest.raises(ModelFileError) as e:
        load(model_file)
    assert str(e.value) == (
        f"{model_file}: architecture: JSON nested 100001 levels deep, over the limit of 100; refusing to parse it"
    )


# ---------------------------------------------------------------- not a regular file


@pytest.mark.parametrize("reader", ["load_npy", "read_json", "read_idx", "serialize.load"])
def test_a_fifo_in_place_of_a_file_is_refused_without_blocking(tmp_path, reader):
    """Opening a FIFO for reading blocks until a writer comes: every reader refuses it at once."""
    path = tmp_path / "results-file"
    os.mkfifo(path)
    call = {"load_npy": fileio.load_npy, "read_json": fileio.read_json, "read_idx": read_idx, "serialize.load": load}[
        reader
    ]
    outcome = {}

    def run():
        try:
            call(path)
        except (ValueError, OSError) as e:
            outcome["error"] = str(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock it so the test process can end
        with open(path, "wb"):
            pass
        thread.join()
        pytest.fail(f"{reader} blocked on a FIFO")
    assert outcome["error"] == f"{path}: not a regular file (a FIFO); refusing to read it"
