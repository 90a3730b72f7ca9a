"""An image given as a FIFO or pipe (`nn-predict model.npz <(cat digit.png)`, /dev/fd/N, /dev/stdin).

A pipe has no size to check before reading and may never end: it is read whole into memory, at most
a byte cap (checked as the bytes arrive) within one deadline for all of it. A regular file opens as
nn.fileio.open_regular opens it, and any other kind is refused as it refuses it (the same check).
"""

from __future__ import annotations

import io
import math
import os
import select
import stat
import time
from typing import IO, TYPE_CHECKING

from nn.fileio import _fdopen, _open_fd

if TYPE_CHECKING:
    from nn.fileio import StrPath


def open_regular_or_pipe(path: StrPath, max_pipe_bytes: int, seconds: float) -> IO[bytes]:
    """A binary file object for `path`: a regular file as nn.fileio.open_regular opens it; a FIFO or a
    pipe read whole into memory by read_pipe, at most `max_pipe_bytes` within `seconds`; any other
    kind refused as open_regular refuses it."""
    fd = _open_fd(path, pipes=True)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return _fdopen(fd)
    try:
        return read_pipe(fd, path, max_pipe_bytes, seconds)
    finally:
        os.close(fd)


def read_pipe(fd: int, name: StrPath, max_bytes: int, seconds: float) -> io.BytesIO:
    """Everything a writer sends through the FIFO or pipe `fd` (opened O_NONBLOCK) until it closes
    its end, in memory, at its start: ValueError naming `name` past `max_bytes` (checked as the
    bytes arrive), or when the writer has not closed within `seconds`.

    Linux, with no writer yet, reads b"" and poll() reports nothing (it reports POLLHUP only once
    a writer has come and gone); with a writer that has nothing to say yet, read raises EAGAIN. So
    b"" is the end of the stream after data or after a hang-up, and otherwise a wait for a writer.
    """
    deadline = time.monotonic() + seconds
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    buf, size, hung_up = io.BytesIO(), 0, False
    while True:
        try:
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - size))
        except BlockingIOError:
            chunk = None  # a writer, nothing sent yet
        if chunk:
            size += buf.write(chunk)
            if size > max_bytes:
                raise ValueError(
                    f"{name}: more than {max_bytes} bytes arrived through the pipe; refusing to read further"
                )
            continue
        if chunk == b"" and (size or hung_up):
            buf.seek(0)
            return buf  # the writer sent its data and closed
        left = deadline - time.monotonic()
        if left <= 0:
            if size:
                raise ValueError(
                    f"{name}: the stream did not end within {seconds:g} s ({size} bytes arrived); "
                    "refusing to wait longer"
                )
            raise ValueError(f"{name}: no data arrived within {seconds:g} s; refusing to wait longer")
        hung_up = any(event & select.POLLHUP for _, event in poller.poll(max(1, math.ceil(left * 1000))))
