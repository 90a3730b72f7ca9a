"""The output folders, checked before any job: a file where a folder belongs, a folder that cannot be written.

Snakemake's own failure in either case is a traceback (while it builds the DAG, or clears old outputs);
the Snakefile calls these first and stops with their one line, having changed nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from nn.fileio import StrPath


def check_writable(top: StrPath) -> None:
    """Raise OSError naming the first folder under `top` that cannot be written (read-only,
    immutable, full quota), before any job starts rather than midway."""
    for folder, _, _ in os.walk(top):
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
                pass
        except OSError as e:
            raise OSError(
                e.errno,
                f"Output folder {folder} is not writable ({e.strerror or e}); "
                "make it writable and run again: nothing was changed",
            ) from None


def check_folders(folders: Iterable[StrPath]) -> None:
    """Raise OSError naming the first existing path that stands where a folder of `folders`
    (or one of its parents) must be, but is not a folder (a plain file called `results`)."""
    for folder in folders:
        parts = Path(folder).parts
        for i in range(1, len(parts) + 1):
            path = Path(*parts[:i])
            if path.exists() and not path.is_dir():
                raise OSError(
                    20, f"Output folder {path} is a file, not a folder; move it away and run again: nothing was changed"
                )
