"""Hostile inputs the module tests do not already build (docs/faults.md lists which test covers each).

Fast: no Snakemake. A download is fetched from a local folder or an HTTP server on
127.0.0.1; a full disk is the kernel's RLIMIT_FSIZE in a child process.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import REPO, idx_bytes
from nn import fileio
from nn.mnist.download import DownloadError, fetch

NAME = "t10k-labels-idx1-ubyte.gz"
PAYLOAD = idx_bytes(np.arange(50, dtype=np.uint8) % 10)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = dict(timeout=0.5, retries=1, backoff=0.01, max_bytes=100_000)


def refused(mirror, dest):
    """fetch must fail naming the mirror, and leave the destination folder empty."""
    with pytest.raises(DownloadError) as e:
        fetch(NAME, [mirror], SHA, dest, log=lambda line: None, **FAST)
    assert list(dest.parent.iterdir()) == []
    message = str(e.value)
    assert message.splitlines()[0] == f"could not download {NAME}: every mirror failed (1 tried)"
    return message


@pytest.fixture
def dest(tmp_path):
    (tmp_path / "out").mkdir()
    return tmp_path / "out" / NAME


def test_truncated_gzip_is_refused(tmp_path, dest):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / NAME).write_bytes(gzip.compress(PAYLOAD, mtime=0)[:-12])
    message = refused(str(tmp_path / "m"), dest)
    assert f"  {tmp_path / 'm'}: not a valid gzip stream" in message


class EmptyBody(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_empty_body_with_status_200_is_refused(dest):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EmptyBody)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        message = refused(url, dest)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert f"  {url}: not a gzip file (starts with 0xnothing)" in message


# ---------------------------------------------------------------- a full disk

WRITERS = {
    "json": "fileio.write_json(path, list(range(5000)))",
    "npy": "fileio.save_npy(path, np.zeros(5000))",
    "model": "serialize.save(model.mlp([784, 16, 10]), path)",
    "png": "figures.run_failed(path, 'a title', 'a reason')",
}


@pytest.mark.parametrize("kind", WRITERS)
def test_full_disk_keeps_the_old_file_and_leaves_no_temp(tmp_path, kind):
    """Every writer goes through nn.fileio.atomic_path: the old file survives, the error names it."""
    path = tmp_path / f"out.{kind}"
    path.write_bytes(b"the previous, good version")
    code = (
        # no bytecode written under the limit: CPython installs a .pyc cut short by it (it does not check
        # the length written), and every later process that imports that module then fails
        f"import resource, sys; sys.dont_write_bytecode = True; sys.path.insert(0, {str(REPO)!r}); "
        "import numpy as np; from nn import fileio, model, serialize; from nn.report import figures; "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000)); "
        f"path = {str(path)!r}; {WRITERS[kind]}"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("OSError: ") and str(path) in last, last
    assert path.read_bytes() == b"the previous, good version"
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "a temp file was left"


def test_the_next_write_removes_a_killed_writers_temp_file_not_a_live_ones(tmp_path):
    """SIGKILL mid-write leaves `.<stem>.partial-<pid><suffix>` (tests/faults/test_crash.py met one in
    results/raw/); the next write of the same file removes it if that process is gone."""
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".t10k-labels-idx1-ubyte.partial-{gone}.gz"
        busy = tmp_path / f".t10k-labels-idx1-ubyte.partial-{live.pid}.gz"
        other = tmp_path / f".t10k-images-idx3-ubyte.partial-{gone}.gz"  # another file's: not this write's
        for p in (stale, busy, other):
            p.write_bytes(b"half")
        fileio.write_bytes(tmp_path / "t10k-labels-idx1-ubyte.gz", b"whole")
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([busy.name, other.name, "t10k-labels-idx1-ubyte.gz"])
