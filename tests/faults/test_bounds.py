"""Every size read from a file is checked before memory is allocated (docs/faults.md, "Bounds").

Each test builds the hostile file itself and checks the one-line message; where a bomb is
involved, tracemalloc shows that the memory used stayed far below what the file claims.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import threading

import numpy as np
import pytest

from helpers import MB, peak_bytes
from nn import fileio
from nn.mnist.data import decode_split
from nn.mnist.idx import IdxError, read_idx, read_payload
from nn.serialize import load


def idx(array: np.ndarray) -> bytes:
    return struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_bomb(path, size: int) -> None:
    """A gzip of `size` zero bytes (about 1000:1), written a chunk at a time."""
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as f:
        zeros = bytes(MB)
        for _ in range(size // MB):
            f.write(zeros)


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


# ---------------------------------------------------------------- model files


# ---------------------------------------------------------------- JSON nesting


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
