"""A real full disk (issue 22): results/ on a small tmpfs, and each kind of writer meets ENOSPC.

The small pipeline (conftest.small_config) runs once on the big disk (`small_pipeline`): the sizes
of its files are known. For each writer (download's .gz, decode's .npy, a checkpoint, a model.npz,
a figure, the report) a copy of that pipeline without the writer's job outputs gets its results/
moved onto a fresh tmpfs, and a ballast file leaves free less than the writer needs: what the job
writes before it, one page for the job's log, and half the writer's own file. `snakemake` then
fails the job in one line naming the file and saying no space is left, leaves no partial file and
no temporary one; after the ballast is deleted the same command completes, and every result file
is byte for byte an uninterrupted run's (conftest.result_files).

Mounting needs root with CAP_SYS_ADMIN; where `mount -t tmpfs` fails (a container without it)
every case is skipped with mount's own message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import Workflow, differences

pytestmark = pytest.mark.slow

PAGE = 4096  # tmpfs allocates whole pages; a folder takes none


def pages(n_bytes: int) -> int:
    return -(-n_bytes // PAGE)


class SmallDisk:
    """A tmpfs mounted on `folder` (which must exist), `size` bytes, with a ballast file to fill it."""

    def __init__(self, folder: Path, size: int):
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (no CAP_SYS_ADMIN in a container?): {proc.stderr.strip()}")
        self.folder, self.ballast = folder, folder / "ballast"

    def free(self) -> int:
        st = os.statvfs(self.folder)
        return st.f_bavail * st.f_frsize

    def leave(self, free: int) -> None:
        """Write a ballast file so that exactly `free` bytes stay free."""
        assert free % PAGE == 0 and self.free() >= free
        with open(self.ballast, "ab") as f:
            f.write(b"\xff" * (self.free() - free))
        assert self.free() == free

    def unfill(self) -> None:
        self.ballast.unlink()

    def umount(self) -> None:
        if subprocess.run(["umount", str(self.folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(self.folder)], check=True)  # busy (a job left behind): detach


@dataclass
class Writer:
    rule: str
    target: list[str]  # the job's outputs: what the command asks for, removed from the copy
    written: str  # the file that meets the full disk
    needs: str = ""  # a file of the finished pipeline no larger than `written` (default: written)
    before: list[str] = field(default_factory=list)  # what the job writes before it, all of which must fit
    also: int = 0  # pages it writes before it that no finished run keeps (a checkpoint)


TRAIN_A = [
    "results/runs/a/seed-3/model.npz",
    "results/runs/a/seed-3/history.json",
    "results/runs/a/seed-3/timings.json",
]
FIGURES_A = [
    f"results/runs/a/{n}.png"
    for n in ("confusion", "curves", "predictions", "worst_errors", "near_misses", "first_output")
]
REPORT = [
    "results/report/val_curves.png",
    "results/report/comparison.png",
    "results/report/recipes.png",
    "results/report/published-b.png",
    "results/summary.csv",
    "results/seeds.csv",
    "results/timings.csv",
    "results/ledger.md",
    "results/provenance.json",
]  # in the order the job writes them, before the page
WRITERS = {
    "download": Writer(
        "download", ["results/raw/train-images-idx3-ubyte.gz"], "results/raw/train-images-idx3-ubyte.gz"
    ),
    "decode": Writer(
        "decode", ["results/data/train-images.npy", "results/data/train-labels.npy"], "results/data/train-images.npy"
    ),
    # the checkpoint (results/checkpoints/, removed by a finished job) holds the model's weights and more
    "checkpoint": Writer(
        "train_0_3", TRAIN_A, "results/checkpoints/a/seed-3.npz", needs="results/runs/a/seed-3/model.npz"
    ),
    # written after the checkpoint, which a finished run does not keep: room for the model's weights
    # (run a's are 200 kB: the checkpoint holds them too) and up to 16 kB of training state beside them
    "model": Writer("train_0_3", TRAIN_A, "results/runs/a/seed-3/model.npz", also=pages(784 * 64 * 4) + 4),
    "figure": Writer("plot_run", FIGURES_A, "results/runs/a/confusion.png"),
    "report": Writer("report", ["results/report.html", *REPORT], "results/report.html", before=REPORT),
}


@pytest.fixture
def on_small_disk(small_pipeline, tmp_path):
    """A copy of the finished small pipeline whose results/ is a tmpfs with 1 MB to spare."""
    work = tmp_path / "work"
    subprocess.run(["cp", "-a", str(small_pipeline.workdir), str(work)], check=True)
    results, held = work / "results", work / "results-on-disk"
    results.rename(held)
    results.mkdir()
    size = sum(pages(p.stat().st_size) for p in held.rglob("*") if p.is_file()) * PAGE + (1 << 20)
    disk = SmallDisk(results, size)
    try:
        subprocess.run(["cp", "-a", f"{held}/.", str(results)], check=True)
        shutil.rmtree(held)
        yield Workflow(work, small_pipeline.config), disk
    finally:
        disk.umount()


@pytest.mark.parametrize("kind", list(WRITERS))
def test_a_full_disk_fails_the_writer_in_one_line_and_a_rerun_completes(kind, small_pipeline, on_small_disk):
    writer = WRITERS[kind]
    wf, disk = on_small_disk
    for path in writer.target:
        wf.path(path).unlink()
    command = ["--cores", "1", *writer.target]
    before = sum(pages(small_pipeline.path(p).stat().st_size) for p in writer.before) + writer.also
    disk.leave(PAGE * (before + 1 + pages(small_pipeline.path(writer.needs or writer.written).stat().st_size) // 2))
    proc = wf.run(*command, check=False)
    rc, out = proc.returncode, proc.stderr
    assert rc == 1, out[-3000:]
    line = f"error in rule {writer.rule}: [Errno 28] No space left on device: '{writer.written}'"
    assert line in out.splitlines(), out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert not wf.path(writer.written).exists(), "a partial file at the output path"
    assert [p for p in writer.target if wf.path(p).exists()] == [], "a failed job's outputs must go"
    assert [str(p) for p in wf.path("results").rglob("*") if ".partial-" in p.name] == [], "a temporary file stayed"
    if writer.also:  # the estimate held: the checkpoint (kept: it is no output) fitted in it
        assert pages(wf.path("results/checkpoints/a/seed-3.npz").stat().st_size) <= writer.also

    disk.unfill()
    wf.run(*command)
    if writer.also:  # the checkpoint written before the full disk is used
        assert "resuming run a from epoch 1 of 1" in wf.path("results/logs/train/a/seed-3.log").read_text()
    assert differences(wf, small_pipeline) == []
