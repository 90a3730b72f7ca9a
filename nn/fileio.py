"""Atomic file writes and bounded, safe loads.

Every output is written to a temporary name in the same folder and renamed into
place only when complete (atomic_path), so a crash, Ctrl-C or full disk never leaves a
half-written file where a later stage would take it as good; the next write of a file
removes the temporary ones a killed writer could not (nn._tempfiles). Every reader checks a
size it read from a file against the file's own length and a bound (array_bound: half
this machine's memory) BEFORE allocating (load_npy, nn.serialize.load, nn.mnist.idx).
Readers open regular files only, without blocking on anything else (open_regular); JSON's
nesting is bounded before it is parsed (loads_json).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nn._tempfiles import remove_stale, temp_path

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Any, TypeAlias

    StrPath: TypeAlias = str | os.PathLike[str]  # a file's path, as open() and Path() take it; for annotations only


def physical_memory() -> int:
    """Bytes of RAM on this machine."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        return 8 << 30


def array_bound() -> int:
    """Largest array a reader accepts from a file: half the machine's memory."""
    return physical_memory() // 2


@contextlib.contextmanager
def atomic_path(path: StrPath) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success.

    The temporary name keeps the suffix, so writers that infer a format from it
    (np.save, matplotlib's savefig) behave as they would on the real name. Temporary files
    of `path` left by a killed writer are removed first (nn._tempfiles.remove_stale).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        # a full disk, a quota, a read-only folder: name the file the user asked for, not our temp name
        if e.filename is not None and os.fspath(e.filename) != os.fspath(tmp):
            raise
        if e.errno is None:  # numpy's short-write error has no errno
            raise OSError(f"{path}: cannot write it ({e})") from None
        raise OSError(e.errno, e.strerror, str(path)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: StrPath, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text(path: StrPath, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: object) -> str:
    """Canonical JSON: sorted keys, fixed indentation, so equal data gives equal bytes."""
    return json.dumps(obj, sort_keys=True, indent=2, allow_nan=True) + "\n"


def write_json(path: StrPath, obj: object) -> None:
    write_text(path, dumps_json(obj))


_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _open_fd(path: StrPath, pipes: bool = False) -> int:
    """os.open(path) for reading without blocking (opening a FIFO would wait for a writer), then fstat
    of what was opened (no race): a folder is IsADirectoryError; anything but a regular file (or, with
    `pipes`, a FIFO or pipe: nn.predict.pipes reads one) a ValueError naming the path and its kind."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not (stat.S_ISREG(mode) or (pipes and stat.S_ISFIFO(mode))):
            kind = _KINDS.get(stat.S_IFMT(mode), "of an unknown kind")
            raise ValueError(f"{path}: not a regular file ({kind}); refusing to read it")
        return fd
    except BaseException:
        os.close(fd)
        raise


def _fdopen(fd: int, mode: str = "rb", encoding: str | None = None) -> IO[Any]:
    """A file object for `fd` (from _open_fd), blocking again; `fd` is closed if that fails."""
    try:
        os.set_blocking(fd, True)
        return open(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: StrPath, mode: str = "rb", encoding: str | None = None) -> IO[Any]:
    """open(path) for reading, refusing anything but a regular file without blocking on it: a FIFO
    would hang the reader until a writer came, a device could be endless (IsADirectoryError for a folder)."""
    return _fdopen(_open_fd(path), mode, encoding)


MAX_JSON_BYTES = 64 << 20  # a history of 100,000 epochs is about 20 MB
# Python's JSON parser recurses once per [ or { and ends in RecursionError (a traceback, not a line)
# at about 1000 levels; our files nest at most 7 (a checkpoint's fingerprint), so 100 is ample.
MAX_JSON_DEPTH = 100
# Valid JSON has backslashes only in strings, each the start of an escape (\" \\ \n \u00e9 ...): with
# the escapes gone, a string is a quote, no quote, a quote (or the end of an unterminated one). Two
# patterns that never backtrack: the scan is linear in the text (0.2 s for a 27 MB history of numbers;
# the worst, 60 MB of nothing but quotes or escapes, about 8 s: one regex match per two bytes).
_JSON_ESCAPE = re.compile(rb"\\[\s\S]")
_JSON_STRING = re.compile(rb'"[^"]*"?')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_CHUNK = 1 << 20


def json_depth(data: bytes) -> int:
    """How deep the arrays and objects of JSON text (UTF-8 bytes) nest, brackets inside strings not
    counted; linear in time and without parsing (so without recursing). Exact for valid JSON; for
    invalid JSON at least as deep as the parser gets before the first error (the text up to it
    is read the same way)."""
    brackets = _JSON_STRING.sub(b"", _JSON_ESCAPE.sub(b"", data)).translate(None, _NOT_BRACKET)
    depth = peak = 0
    for start in range(0, len(brackets), _CHUNK):  # a running sum per megabyte: bounded memory
        part = np.frombuffer(brackets, np.uint8, min(_CHUNK, len(brackets) - start), start)
        running = depth + np.cumsum(np.where((part == ord("[")) | (part == ord("{")), 1, -1), dtype=np.int64)
        peak, depth = max(peak, int(running.max())), int(running[-1])
    return peak


def loads_json(data: bytes | str, name: StrPath, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads of UTF-8 JSON text read from `name` (a file, or a part of one), refused with one
    ValueError naming it when not UTF-8 or nested deeper than `max_depth` (checked before parsing).
    A syntax error is json.JSONDecodeError, for the caller to word."""
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(data)
        try:
            data = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{name}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    depth = json_depth(raw)
    if depth > max_depth:
        raise ValueError(
            f"{name}: JSON nested {depth} levels deep, over the limit of {max_depth}; refusing to parse it"
        )
    return json.loads(data)


def read_json(path: StrPath, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file of at most `max_bytes` (checked before reading it) and MAX_JSON_DEPTH levels."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise ValueError(f"{path}: {size} bytes, over the bound of {max_bytes} for a JSON file; refusing")
            return loads_json(f.read(max_bytes + 1), path)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None


class _WritesOnly:
    """A file seen by numpy as a stream, not a real file: np.save writes a real file's data with
    tofile(), whose short write on a full disk raises an OSError with no errno ("470400 requested and
    237440 written"); through write() the disk's own error comes back, ENOSPC, "No space left on device"."""

    def __init__(self, f):
        self.write = f.write


def save_npy(path: StrPath, array: np.ndarray) -> None:
    """np.save's bytes, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.lib.format.write_array(_WritesOnly(f), np.asanyarray(array), allow_pickle=False)


def npy_header(
    f: IO[bytes], name: StrPath, size: int, max_bytes: int | None = None
) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the .npy header at f's position, checked before anything is allocated:
    no object (pickled) dtype, and the data the header declares is exactly the `size` bytes the
    file (or zip member) holds after it, and at most `max_bytes` (default array_bound())."""
    start = f.tell()
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"{name}: .npy format version {version} is not supported")
    # numpy bounds the header text itself (max_header_size, 10 kB)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    if dtype.hasobject:
        raise ValueError(f"{name}: holds a pickled object array; refusing to unpickle it")
    declared = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on absurd headers
    held = size - (f.tell() - start)
    if declared != held:
        raise ValueError(f"{name}: header declares {declared} data bytes {list(shape)}, the file holds {held}")
    bound = array_bound() if max_bytes is None else max_bytes
    if declared > bound:
        raise ValueError(f"{name}: {declared} data bytes {list(shape)}, over the bound of {bound}; refusing")
    return shape, dtype


def load_npy(path: StrPath, max_bytes: int | None = None) -> np.ndarray:
    """Load a .npy file, refusing pickled (object) arrays (they could run code) and any header
    whose declared size the file does not hold or that is over the bound (see npy_header)."""
    try:
        with open_regular(path) as f:
            npy_header(f, path, os.fstat(f.fileno()).st_size, max_bytes)
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except ValueError as e:
        if str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a valid .npy file ({e})") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read .npy file ({e})") from None
