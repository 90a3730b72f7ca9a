"""The model file: one .npz without pickle, bounded before anything is allocated.

    save(model, "model.npz");  model = load("model.npz")

An `architecture` entry (JSON bytes: format, version, and Sequential.architecture()) and one
array per parameter ("0.W", "0.b", "2.W", ...). load() checks every name, shape and dtype
against the architecture and says which one is wrong. write_npz and read_member are the
format's two halves, shared with the training checkpoint (nn.pipeline.checkpoint).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING

import numpy as np

from nn.fileio import array_bound, atomic_path, loads_json, npy_header, open_regular
from nn.layers import LAYERS
from nn.model import Sequential

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt

    from nn.fileio import StrPath

FORMAT = "nn-sequential"
VERSION = 1
NPY_HEADER_ROOM = 1 << 16  # a .npy header is at most 64 kB (numpy pads it to 64 bytes, caps it at 10 kB to read)


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, or does not describe a valid model."""


def save(model: Sequential, path: StrPath, replica: int = 0) -> None:
    """Write one network of the stack (`replica`) as one .npz, byte-identical for identical weights
    (fixed zip timestamps). The file holds one network: W (n_in, n_out), b (n_out,)."""
    arrays = {"architecture": _json_array({"format": FORMAT, "version": VERSION, **model.architecture()})}
    arrays.update((name, p[replica]) for name, p, _, _ in model.parameters())
    write_npz(path, arrays)


def save_failed(path: StrPath, reason: str) -> None:
    """A model file for a run that produced no usable model (e.g. it diverged): no weights,
    only the reason, which load() raises. Downstream rules find their input, and refuse it."""
    write_npz(path, {"architecture": _json_array({"format": FORMAT, "version": VERSION, "failed": str(reason)})})


def _json_array(obj):
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode(), np.uint8)


def write_npz(path: StrPath, arrays: Mapping[str, npt.ArrayLike]) -> None:
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


MAX_ARCHITECTURE_BYTES = 1 << 20  # the architecture entry of a 10-layer model is under 2 kB


def load(path: StrPath) -> Sequential:
    """Read a model written by save(); ModelFileError names the file and what is wrong.

    Nothing is allocated from a size the file states before it is checked: the architecture
    entry is at most 1 MB, the parameters it declares fit the bound (nn.fileio.array_bound),
    and each weight entry, before it is read, declares no more bytes than its layer needs, so a
    deflate bomb or a header claiming terabytes is refused in one line."""
    try:
        # our own handle: np.load leaks the one it opens when the zip is corrupt
        with open_regular(path) as fh:
            # np.load calls anything that is neither zip nor .npy "pickled data": say what it is
            magic = fh.read(6)
            if magic == b"\x93NUMPY":
                raise ModelFileError(f"{path}: holds a single array (.npy), not a model .npz")
            if not magic.startswith(b"PK\x03\x04"):
                raise ModelFileError(f"{path}: not a readable model .npz (not a zip archive)")
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf:
                return _read_model(zf, path)
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        if str(e).startswith(f"{path}: "):  # already names the file (open_regular: a FIFO, a device)
            raise ModelFileError(str(e)) from None
        raise ModelFileError(f"{path}: not a readable model .npz ({e})") from None


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: StrPath, max_bytes: int) -> np.ndarray:
    """One .npy entry of the archive, its sizes checked (zip header, then .npy header) before reading."""
    if info.file_size > max_bytes:
        raise ModelFileError(
            f"{path}: entry {info.filename!r} declares {info.file_size} bytes, "
            f"over the {max_bytes} its place allows; refusing"
        )
    with zf.open(info) as f:
        data = f.read(max_bytes + 1)  # zipfile also stops at the declared size
    buf = io.BytesIO(data)
    try:
        npy_header(buf, f"{path}: entry {info.filename!r}", len(data), max_bytes)
    except ValueError as e:
        raise ModelFileError(str(e)) from None
    buf.seek(0)
    return np.lib.format.read_array(buf, allow_pickle=False)


def _parameter_bytes(arch: dict) -> int:
    """Bytes of every weight and bias the architecture declares (Python ints: no overflow)."""
    item = np.dtype(arch["dtype"]).itemsize
    return item * sum(
        int(layer["n_in"]) * int(layer["n_out"]) + int(layer["n_out"])
        for layer in arch["layers"]
        if layer["type"] == "linear"
    )


def _read_model(zf, path) -> Sequential:
    members = {info.filename.removesuffix(".npy"): info for info in zf.infolist()}
    if "architecture" not in members:
        raise ModelFileError(f"{path}: no 'architecture' entry; not a model file")
    raw = read_member(zf, members.pop("architecture"), path, MAX_ARCHITECTURE_BYTES)
    try:
        arch = loads_json(raw.tobytes(), f"{path}: architecture")  # its nesting bounded before parsing
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{path}: invalid architecture ({e})") from None
    except ValueError as e:  # not UTF-8, or nested deeper than a parser can follow: names the file
        raise ModelFileError(str(e)) from None
    try:
        failed = arch.get("failed") if isinstance(arch, dict) else None
        model = None if failed is not None else _build(arch)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelFileError(f"{path}: invalid architecture ({e})") from None
    if failed is not None:
        raise ModelFileError(f"{path}: the run produced no usable model ({failed})")
    expected = {name: p[0] for name, p, _, _ in model.parameters()}  # a stack of one: its only replica
    for name in sorted(set(members) - set(expected)):
        raise ModelFileError(f"{path}: unexpected array {name!r} for this architecture")
    for name, p in expected.items():
        if name not in members:
            raise ModelFileError(f"{path}: missing array {name!r}")
        a = read_member(zf, members[name], path, p.nbytes + NPY_HEADER_ROOM)
        if a.shape != p.shape or a.dtype != p.dtype:
            raise ModelFileError(
                f"{path}: array {name!r} is {a.dtype}{list(a.shape)}, the architecture says {p.dtype}{list(p.shape)}"
            )
        if not np.isfinite(a).all():
            raise ModelFileError(f"{path}: array {name!r} holds NaN or infinite values")
        p[...] = a
    return model


def _build(arch: dict) -> Sequential:
    """An architecture dict -> a model with zero weights, ready to receive the saved ones."""
    if arch.get("format") != FORMAT or arch.get("version") != VERSION:
        raise ValueError(
            f"format {arch.get('format')!r} version {arch.get('version')!r}, expected {FORMAT!r} version {VERSION}"
        )
    if arch["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype {arch['dtype']!r}, expected float32 or float64")
    if _parameter_bytes(arch) > array_bound():  # before a single layer is allocated
        raise ValueError(
            f"it declares {_parameter_bytes(arch)} bytes of parameters, over the bound of "
            f"{array_bound()} (half this machine's memory)"
        )
    layers = []
    for spec in arch["layers"]:
        if spec["type"] not in LAYERS:
            raise ValueError(f"unknown layer type {spec['type']!r}")
        layers.append(LAYERS[spec["type"]].from_spec(spec, arch["dtype"]))
    model = Sequential(layers, loss=arch["loss"])
    if model.output != arch["output"]:
        raise ValueError(f"output {arch['output']!r} does not match the last layer ({model.output!r})")
    return model
