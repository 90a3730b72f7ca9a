"""workflow/scripts/_common.run: the log every script writes, and its error discipline.

(That Snakemake 9 really runs the scripts this way is the workflow tests' job.)
"""

import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))
import _common  # noqa: E402

from nn.mnist.idx import IdxError  # noqa: E402


def after_numerics(text: str) -> str:
    """A job log without its opening numerics lines (what the job computes with; in this process,
    where numpy was imported before _common, also the warning that its bytes are not the reference's)."""
    lines = text.splitlines(keepends=True)
    assert lines[0].startswith("numerics pinned: OpenBLAS "), lines[:1]
    return "".join(lines[2:] if lines[1:2] and lines[1].startswith("WARNING: ") else lines[1:])


def fake_snakemake(tmp_path, with_log=True):
    return SimpleNamespace(rule="decode", log=[str(tmp_path / "logs" / "job.log")] if with_log else [])


def test_lines_go_to_the_log(tmp_path):
    sm = fake_snakemake(tmp_path)
    _common.run(lambda log: (log("one"), log(2)), sm)
    assert after_numerics((tmp_path / "logs" / "job.log").read_text()) == "one\n2\n"


@pytest.mark.parametrize("error", [IdxError("x.gz: bad magic 0x1234"), FileNotFoundError("x.gz: missing")])
def test_expected_errors_exit_1_with_one_message(tmp_path, capsys, error):
    def main(log):
        log("started")
        raise error

    with pytest.raises(SystemExit) as e:
        _common.run(main, fake_snakemake(tmp_path))
    message = f"error in rule decode: {error}"
    assert e.value.code == 1 and capsys.readouterr().err == f"{message}\n"
    assert after_numerics((tmp_path / "logs" / "job.log").read_text()) == f"started\n{message}\n"


def test_bugs_keep_their_traceback(tmp_path):
    def main(log):
        raise KeyError("oops")

    with pytest.raises(KeyError):
        _common.run(main, fake_snakemake(tmp_path))
    text = after_numerics((tmp_path / "logs" / "job.log").read_text())
    assert text.startswith("Traceback") and "KeyError: 'oops'" in text


def test_no_log_means_stderr(tmp_path, capsys):
    _common.run(lambda log: log("hello"), fake_snakemake(tmp_path, with_log=False))
    assert after_numerics(capsys.readouterr().err) == "hello\n"
    assert not (tmp_path / "logs").exists()


def test_snakemake_object_is_found_in_the_running_script(tmp_path, monkeypatch):
    # Snakemake injects `snakemake` into the script it runs as __main__
    monkeypatch.setattr(sys.modules["__main__"], "snakemake", fake_snakemake(tmp_path), raising=False)
    _common.run(lambda log: log("found"))
    assert after_numerics((tmp_path / "logs" / "job.log").read_text()) == "found\n"


def test_a_job_that_cannot_honour_the_pin_says_so_in_one_line(tmp_path):
    """numpy was imported before _common here (pytest), so the pin could not take effect in this
    process: its log says what it computes with and, where that is not the reference's (an AVX-512
    CPU, an unpinned kernel), why its bytes will differ, in one line each."""
    _common.run(lambda log: None, fake_snakemake(tmp_path))
    lines = (tmp_path / "logs" / "job.log").read_text().splitlines()
    why = _common.numerics.honoured()  # None only where this CPU runs the reference's numerics anyway
    assert lines[0].startswith("numerics pinned: ") and len(lines) == (1 if why is None else 2)
    if why is not None:
        assert lines[1] == f"WARNING: {why}; this job's result bytes will differ from the reference's"


def test_importing_it_outside_a_job_leaves_ctrl_c_alone():
    """The handler and hook are for jobs only: a test process (this one) keeps what it had: Python's
    own handler, or SIG_IGN where it was started in the background (as CI may start it)."""
    assert signal.getsignal(signal.SIGINT) in (signal.default_int_handler, signal.SIG_IGN)
    assert signal.getsignal(signal.SIGINT) is not _common._on_sigint
    assert sys.excepthook is not _common._excepthook


def test_ctrl_c_inside_main_logs_one_line_and_propagates(tmp_path):
    sm = SimpleNamespace(rule="train", log=[str(tmp_path / "job.log")], wildcards={"run": "a", "seed": "3"})

    def main(log):
        log("epoch 1/5")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _common.run(main, sm)
    assert (
        after_numerics((tmp_path / "job.log").read_text())
        == "epoch 1/5\ninterrupted (Ctrl-C) in rule train (run=a, seed=3); outputs not written\n"
    )


JOB = """
import os, signal, sys
from types import SimpleNamespace
snakemake = SimpleNamespace(rule="plot_run", log=[], wildcards={"run": "a"}, config={})  # as the preamble does
sys.path.insert(0, sys.argv[1])
import _common
os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the script still imports
import time
time.sleep(30)
"""


def test_ctrl_c_before_main_is_one_line_and_death_by_sigint(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    proc = subprocess.run([sys.executable, str(script), str(SCRIPTS)], capture_output=True, text=True, timeout=60)
    assert proc.stderr == "interrupted (Ctrl-C) in rule plot_run (run=a); outputs not written\n"
    assert proc.returncode == -signal.SIGINT  # as an interrupted program ends: the shell and Snakemake see SIGINT


def test_a_jobs_closing_line_is_one_write_with_its_newline(monkeypatch):
    """Snakemake and the other jobs write to the stream a job's closing line goes to (at a Ctrl-C,
    Snakemake's "Terminating processes ..."): a line written in two parts (print and sys.exit(str)
    write the text, then the newline) can get another line in between, running the two together."""
    writes = []
    monkeypatch.setattr(sys, "stderr", SimpleNamespace(write=writes.append, flush=lambda: None))
    monkeypatch.setattr(sys.modules["__main__"], "snakemake", SimpleNamespace(rule="train_1_3"), raising=False)
    _common._excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert writes == ["interrupted (Ctrl-C) in rule train_1_3; outputs not written\n"]

    def main(log):
        raise ValueError("x.gz: bad")

    with pytest.raises(SystemExit):
        _common.run(main, SimpleNamespace(rule="decode", log=[]))  # no log: its lines go to stderr too
    assert writes[-1] == "error in rule decode: x.gz: bad\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_a_log_on_a_full_disk_is_named_in_one_line(capsys):
    """/dev/full refuses every write with ENOSPC, as a full results/ refuses the log's next line."""
    sm = SimpleNamespace(rule="decode", log=["/dev/full"])
    with pytest.raises(SystemExit) as e:
        _common.run(lambda log: log("started"), sm)
    assert e.value.code == 1
    assert capsys.readouterr().err == "error in rule decode: [Errno 28] No space left on device: '/dev/full'\n"
