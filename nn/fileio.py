"""Atomic file writes and safe loads.

Every output is written to a temporary name in the same folder and renamed into
place only when complete, so a crash, Ctrl-C or full disk never leaves a
half-written file where a later stage would take it as good.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` on success.

    The temporary name keeps the suffix, so writers that infer a format from it
    (np.save, matplotlib's savefig) behave as they would on the real name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
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


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def dumps_json(obj) -> str:
    """Canonical JSON: sorted keys, fixed indentation, so equal data gives equal bytes."""
    return json.dumps(obj, sort_keys=True, indent=2, allow_nan=True) + "\n"


def write_json(path, obj) -> None:
    write_text(path, dumps_json(obj))


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None


def save_npy(path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, array, allow_pickle=False)


def load_npy(path) -> np.ndarray:
    """Load a .npy file, refusing pickled (object) arrays: they could run code."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise ValueError(f"{path}: holds a pickled object array; refusing to unpickle it") from None
        raise ValueError(f"{path}: not a valid .npy file ({e})") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read .npy file ({e})") from None


def check_writable(top) -> None:
    """Raise OSError naming the first folder under `top` that cannot be written (read-only,
    immutable, full quota), before any job starts rather than midway."""
    import tempfile
    for folder, _, _ in os.walk(top):
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
                pass
        except OSError as e:
            raise OSError(e.errno, f"Output folder {folder} is not writable ({e.strerror or e}); "
                          "make it writable and run again: nothing was changed") from None


def check_folders(folders) -> None:
    """Raise OSError naming the first existing path that stands where a folder of `folders`
    (or one of its parents) must be, but is not a folder (a plain file called `results`)."""
    for folder in folders:
        parts = Path(folder).parts
        for i in range(1, len(parts) + 1):
            path = Path(*parts[:i])
            if path.exists() and not path.is_dir():
                raise OSError(20, f"Output folder {path} is a file, not a folder; move it away and run again: "
                                  "nothing was changed")
