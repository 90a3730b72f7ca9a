"""nn.pipeline.folders: the output folders, checked before any job.

Through the Snakefile: tests/faults/test_faults_config.py (a file where a folder belongs) and
tests/faults/test_faults.py (a read-only folder).
"""

from __future__ import annotations

import os

import pytest

from nn.pipeline.folders import check_folders, check_writable


def test_a_file_where_a_folder_belongs_is_named(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    check_folders([tmp_path / "elsewhere" / "runs"])  # missing folders are fine: they are made later
    with pytest.raises(OSError) as e:
        check_folders([tmp_path / "elsewhere", tmp_path / "results" / "runs" / "a"])
    assert e.value.strerror == (
        f"Output folder {tmp_path / 'results'} is a file, not a folder; move it away and run again: nothing was changed"
    )


def test_a_read_only_folder_is_named_and_nothing_is_left(tmp_path, monkeypatch):
    """The folder a file cannot be made in is named. As root, chmod does not stop a write, so the
    refusal is the one the kernel gives a non-root user: PermissionError from the file's creation."""
    import tempfile

    frozen = tmp_path / "runs" / "a"
    frozen.mkdir(parents=True)
    check_writable(tmp_path)
    real = tempfile.NamedTemporaryFile

    def refuse_in_frozen(*args, dir=None, **kwargs):
        if os.fspath(dir) == os.fspath(frozen):
            raise PermissionError(13, "Permission denied", os.path.join(dir, ".write-test-x"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse_in_frozen)
    with pytest.raises(OSError) as e:
        check_writable(tmp_path)
    assert e.value.strerror == (
        f"Output folder {frozen} is not writable (Permission denied); "
        "make it writable and run again: nothing was changed"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "runs"]
