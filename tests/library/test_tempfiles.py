"""nn._tempfiles: an atomic write's temporary name, and a dead writer's temporary file removed, a live one's kept.

Through a killed writer: tests/faults/test_faults_inputs.py and tests/faults/test_crash.py.
"""

import os
import subprocess
import sys

from nn._tempfiles import remove_stale, temp_path


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_temporary_name_is_hidden_beside_the_file_and_keeps_its_suffix(tmp_path):
    path = tmp_path / "model.npz"
    assert temp_path(path, pid=123) == tmp_path / ".model.partial-123.npz"
    assert temp_path(path) == tmp_path / f".model.partial-{os.getpid()}.npz"
    assert temp_path(tmp_path / "sub" / "history.json", pid=7).name == ".history.partial-7.json"


def test_a_dead_writers_file_is_removed_and_a_live_ones_and_others_kept(tmp_path):
    path = tmp_path / "metrics.json"
    dead = temp_path(path, pid=dead_pid())
    mine = temp_path(path)
    live = temp_path(path, pid=os.getppid())  # the process that started pytest: alive
    other_file = temp_path(tmp_path / "history.json", pid=dead_pid())  # another path's: not this write's
    other_suffix = tmp_path / f".metrics.partial-{dead_pid()}.npz"
    not_a_pid = tmp_path / ".metrics.partial-x1.json"
    for p in (dead, mine, live, other_file, other_suffix, not_a_pid, path):
        p.write_text("x")

    remove_stale(path)

    assert not dead.exists()
    assert all(p.exists() for p in (mine, live, other_file, other_suffix, not_a_pid, path))


def test_a_missing_folder_is_no_error(tmp_path):
    remove_stale(tmp_path / "absent" / "a.npy")  # nothing to remove, nothing raised
