"""The IDX file format, as the MNIST page defines it, read and written with validation.

An IDX file is a 4-byte magic number, big-endian dimension sizes, then the data:

    bytes 0-1   0x00 0x00         (the magic's two zero bytes)
    byte  2     type code         0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                                  0x0D float32, 0x0E float64 (all big-endian)
    byte  3     number of dimensions, 1..255
    then        one uint32 size per dimension, then prod(sizes) items, row-major

Every check names the file, so a bad download or a wrong path is obvious from the
one-line error. A dimension of size zero is allowed (an empty set is a valid IDX
file); whether an empty set makes sense is for the caller to say (nn.mnist.data does).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from nn.fileio import open_regular, write_bytes

GZIP_MAGIC = b"\x1f\x8b"

# type code -> big-endian dtype on disk
TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# (kind, itemsize) -> type code, for writing arrays of any byte order
_CODES = {(dt.kind, dt.itemsize): code for code, dt in TYPES.items()}


class IdxError(ValueError):
    """A malformed IDX file; the message starts with the file's name."""


GUNZIP_READ_BYTES = 1 << 20
MAX_PAYLOAD = 100_000_000  # the config's download.max_bytes default: MNIST's largest file is 47 MB


def _gunzip_stream(stream, name, max_bytes: int, hasher=None) -> bytes:
    """Decompress a gzip stream a chunk at a time; stop past `max_bytes` (a gzip bomb guard:
    memory stays bounded, the bomb is never inflated in full). GzipFile handles multi-member
    files (as some recompressing tools write) and checks the CRC/length trailer."""
    chunks, got = [], 0
    try:
        with gzip.GzipFile(fileobj=stream) as f:
            while chunk := f.read(min(GUNZIP_READ_BYTES, max_bytes + 1 - got)):
                got += len(chunk)
                if got > max_bytes:
                    raise IdxError(f"{name}: decompresses to more than {max_bytes} bytes; refusing (gzip bomb?)")
                if hasher is not None:
                    hasher.update(chunk)
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise IdxError(f"{name}: not a valid gzip stream ({e or 'truncated'})") from None
    return b"".join(chunks)


def gunzip(data: bytes, name, max_bytes: int | None = None) -> bytes:
    """Decompress gzip `data`, refusing to produce more than `max_bytes` (default MAX_PAYLOAD)."""
    return _gunzip_stream(io.BytesIO(data), name, MAX_PAYLOAD if max_bytes is None else max_bytes)


def read_payload(path, max_bytes: int | None = None, sha256: str | None = None) -> bytes:
    """The uncompressed IDX bytes of `path` (gzip'd or not, told apart by the magic bytes, not
    the name): at most `max_bytes` (default MAX_PAYLOAD), and, given `sha256`, exactly the
    payload with that checksum (the hash is taken while decompressing, before any parsing)."""
    path = Path(path)
    max_bytes = MAX_PAYLOAD if max_bytes is None else max_bytes
    hasher = hashlib.sha256()
    try:
        f = open_regular(path)
    except ValueError as e:
        raise IdxError(str(e)) from None
    with f:
        if f.read(2) == GZIP_MAGIC:
            f.seek(0)
            data = _gunzip_stream(f, path, max_bytes, hasher)
        else:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise IdxError(f"{path}: {size} bytes, over the bound of {max_bytes}; refusing")
            f.seek(0)
            data = f.read()
            hasher.update(data)
    if sha256 is not None and hasher.hexdigest() != sha256.lower():
        raise IdxError(
            f"{path}: payload SHA-256 {hasher.hexdigest()} is not the configured {sha256.lower()} "
            "(download.sha256); delete the file to download it again"
        )
    return data


def parse_idx(data: bytes, name="<bytes>") -> np.ndarray:
    """Decode an uncompressed IDX payload into a native-endian, writable array."""
    if len(data) < 4:
        raise IdxError(f"{name}: truncated: {len(data)} bytes, an IDX header needs at least 4")
    if data[0:2] != b"\x00\x00":
        raise IdxError(f"{name}: bad magic 0x{data[0]:02X}{data[1]:02X} (expected two zero bytes)")
    code, ndim = data[2], data[3]
    if code not in TYPES:
        known = ", ".join(f"0x{c:02X}" for c in TYPES)
        raise IdxError(f"{name}: unknown type code 0x{code:02X} (expected one of {known})")
    if ndim == 0:
        raise IdxError(f"{name}: zero dimensions (the header must declare at least one)")
    start = 4 + 4 * ndim
    if len(data) < start:
        raise IdxError(f"{name}: truncated: {ndim} dimensions need a {start}-byte header, file has {len(data)} bytes")
    shape = struct.unpack(f">{ndim}I", data[4:start])
    dtype = TYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python int: no overflow on absurd headers
    got = len(data) - start
    if got < expected:
        raise IdxError(f"{name}: truncated: header declares {expected} data bytes, file has {got}")
    if got > expected:
        raise IdxError(
            f"{name}: trailing data: header declares {expected} data bytes, file has {got} ({got - expected} extra)"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=start)
    # astype copies: the result owns its memory, is writable and native-endian
    flat = flat.astype(dtype.newbyteorder("="), copy=True)
    try:
        return flat.reshape(shape)
    except ValueError as e:  # the format allows 255 dimensions, numpy 2 holds 64
        raise IdxError(f"{name}: cannot hold {ndim} dimensions in a numpy array ({e})") from None


def read_idx(path, max_bytes: int | None = None, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file, gzip'd or not, bounded and optionally verified (see read_payload)."""
    return parse_idx(read_payload(path, max_bytes, sha256), Path(path))


def format_idx(array: np.ndarray, name="<array>") -> bytes:
    """Encode an array as IDX bytes (the inverse of parse_idx)."""
    array = np.asarray(array)
    code = _CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise IdxError(
            f"{name}: dtype {array.dtype} has no IDX type code (uint8, int8, int16, int32, float32, float64)"
        )
    if not 1 <= array.ndim <= 255:
        raise IdxError(f"{name}: an IDX array needs 1..255 dimensions, got {array.ndim}")
    if max(array.shape) > 0xFFFFFFFF:
        raise IdxError(f"{name}: dimension of size {max(array.shape)} does not fit the 32-bit size field")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    return header + array.astype(TYPES[code], copy=False).tobytes(order="C")


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write `array` as an IDX file, atomically; gzip'd when `compress` (default: path ends in .gz)."""
    path = Path(path)
    if compress is None:
        compress = path.name.endswith(".gz")
    data = format_idx(array, path)
    if compress:
        data = gzip.compress(data, mtime=0)  # mtime=0: same array, same bytes
    write_bytes(path, data)
