"""nn.predict.pipes: an image given as a FIFO or pipe, read whole within a byte cap and a deadline.

Through nn-predict and load_digit: tests/predict/test_cli.py and tests/predict/test_preprocess.py.
"""

from __future__ import annotations

import os
import threading

import pytest

from nn.predict.pipes import open_regular_or_pipe


def test_a_pipe_whose_writer_closes_without_sending_is_empty_not_a_wait(tmp_path):
    """POLLHUP tells a writer that came and went from no writer yet: the read ends at once with nothing,
    well before its 60 s (without it, the reader would wait them out and say no data arrived)."""
    path = tmp_path / "pipe"
    os.mkfifo(path)
    writer = threading.Thread(target=lambda: open(path, "wb").close(), daemon=True)
    writer.start()  # its open() returns once the reader has opened
    with open_regular_or_pipe(path, 100, 60) as f:
        assert f.read() == b""
    writer.join(timeout=60)


def test_a_pipe_is_read_whole_and_a_regular_file_opened_as_is(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    data = bytes(range(256)) * 1000  # more than a pipe holds (64 kB): several reads
    writer = threading.Thread(target=lambda: path.write_bytes(data), daemon=True)
    writer.start()
    with open_regular_or_pipe(path, len(data), 60) as f:
        assert f.read() == data
    writer.join(timeout=60)
    (tmp_path / "file").write_bytes(data)
    with open_regular_or_pipe(tmp_path / "file", 10, 60) as f:  # no byte cap on a file: its size is known
        assert f.read() == data


def test_a_fifo_without_a_writer_is_refused_at_its_deadline(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    with pytest.raises(ValueError) as e:
        open_regular_or_pipe(path, 100, 0.2)
    assert str(e.value) == f"{path}: no data arrived within 0.2 s; refusing to wait longer"


def test_any_other_kind_is_refused_as_open_regular_refuses_it(tmp_path):
    with pytest.raises(ValueError) as e:
        open_regular_or_pipe("/dev/zero", 100, 60)
    assert str(e.value) == "/dev/zero: not a regular file (a character device); refusing to read it"
    with pytest.raises(IsADirectoryError):
        open_regular_or_pipe(tmp_path, 100, 60)
