"""nn.fileio: atomic writes, and bounded reads of .npy and JSON files (a header's claim, a file's size, its nesting)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import DEEP, MB, npy_with_header, peak_bytes
from nn import fileio


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
