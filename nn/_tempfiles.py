"""The temporary files of nn.fileio's atomic writes: their names, and the removal of a dead writer's.

A write of `folder/name.ext` goes to `folder/.name.partial-<pid>.ext` (the writer's process id) and
is renamed into place when complete. A writer killed with SIGKILL (or on a machine that crashed) has
no chance to remove its own temporary file; the next write of the same path does (remove_stale).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def temp_path(path: Path, pid: int | None = None) -> Path:
    """The temporary name of `path` for the process `pid` (default: this one), its suffix kept
    (nn.fileio.atomic_path says why)."""
    return path.with_name(f".{path.stem}.partial-{os.getpid() if pid is None else pid}{path.suffix}")


def _alive(pid: int) -> bool:
    if os.name != "posix":  # elsewhere os.kill(pid, 0) is no question: it ends the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (EPERM): alive
        return True
    return True


def remove_stale(path: Path) -> None:
    """Remove the temporary files of `path` whose writer is gone. A live writer's stays (two processes
    writing one path: the last rename wins); a PID taken again by another process keeps its file,
    which is only litter: no reader takes a temporary name for the file."""
    prefix, suffix = f".{path.stem}.partial-", path.suffix
    try:
        names = [e.name for e in os.scandir(path.parent)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) : len(name) - len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ""
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path.parent / name)
