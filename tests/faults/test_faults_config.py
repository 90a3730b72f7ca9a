"""Config, output-folder and mirror faults through Snakemake: one line before any job, nothing written.

Each test writes the config file as text (YAML as a user types it: `1e-3`, `10.0`, a key
twice) and runs the real workflow on the tiny data.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading

import pytest
import yaml

from conftest import Workflow, tiny_config
from nn.pipeline.resources import usable_cpus

pytestmark = pytest.mark.slow


@pytest.fixture
def wf(tmp_path, tiny_mirror) -> Workflow:
    mirror, sums = tiny_mirror
    cfg = tiny_config(mirror, sums)
    cfg["runs"], cfg["sweeps"], cfg["comparisons"] = {"a": {"epochs": 1}}, {}, []
    (tmp_path / "work").mkdir()
    return Workflow(tmp_path / "work", cfg)


def with_text(wf: Workflow, old: str, new: str) -> None:
    text = wf.configfile.read_text()
    assert old in text, (old, text)
    wf.configfile.write_text(text.replace(old, new, 1))


def refused(wf: Workflow, message: str) -> None:
    """Snakemake stops with `message` as one line, before any job, and writes nothing."""
    proc = wf.run("--cores", "2", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if message in line]
    assert lines == [message] or lines == [f"Config error: {message}"], proc.stderr
    assert "Traceback" not in proc.stderr and "Error in rule" not in proc.stderr
    assert not wf.path(".snakemake/metadata").exists() or not any(wf.path(".snakemake/metadata").iterdir())


def test_a_run_written_twice_is_stopped_naming_the_key_and_lines(wf):
    with_text(wf, "runs:\n  a:\n", "runs:\n  a:\n    lr: 0.5\n  a:\n")
    lines = wf.configfile.read_text().splitlines()
    first, second = [i + 1 for i, line in enumerate(lines) if line == "  a:"]
    refused(wf, f"{wf.configfile}: key 'a' is written twice in one mapping (lines {first} and {second}); keep one")
    assert not wf.path("results").exists()


def test_a_network_too_big_for_memory_is_stopped_with_the_estimate(wf):
    with_text(wf, "    epochs: 1\n", "    epochs: 1\n    hidden: [100000000]\n")
    proc = wf.run("--cores", "2", check=False)
    assert (
        proc.returncode == 1
        and "Config error: runs.a: training needs about 4.9 TB of memory "
        "(hidden [100000000], batch_size 32, float32); this machine has"
        in proc.stderr
    ), proc.stderr
    assert not wf.path("results").exists()


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_non_finite_weight_decay_is_refused(wf, value):
    with_text(wf, "    epochs: 1\n", f"    epochs: 1\n    weight_decay: {value}\n")
    shown = {".nan": "nan", ".inf": "inf", "-.inf": "-inf"}[value]
    refused(wf, f"runs.a.weight_decay: {shown} is not a finite number")
    assert not wf.path("results").exists()


def test_results_being_a_plain_file_is_one_line_and_left_alone(wf):
    wf.path("results").write_text("my notes\n")
    refused(wf, "Output folder results is a file, not a folder; move it away and run again: nothing was changed")
    assert wf.path("results").read_text() == "my notes\n"


def test_a_run_folder_being_a_plain_file_is_one_line(wf):
    wf.path("results/runs").mkdir(parents=True)
    wf.path("results/runs/a").write_text("x")
    refused(wf, "Output folder results/runs/a is a file, not a folder; move it away and run again: nothing was changed")
    assert sorted(p.name for p in wf.path("results").rglob("*")) == ["a", "runs"]


def test_whole_floats_and_yaml11_exponents_train_as_meant(wf):
    """epochs: 1.0, batch_size: 32.0 and lr: 1e-3 (a string to YAML 1.1) train like 1, 32 and 0.001."""
    with_text(wf, "    epochs: 1\n", "    epochs: 1.0\n    batch_size: 32.0\n    lr: 1e-3\n    threads: 1000\n")
    assert yaml.safe_load(wf.configfile.read_text())["runs"]["a"]["lr"] == "1e-3"
    proc = wf.run("--cores", "2", "results/runs/a/seed-3/history.json")
    cpus = min(usable_cpus(), 1000)
    assert f"WARNING: runs.a.threads: 1000 is more than the {cpus} CPUs here; using {cpus}" in proc.stderr
    history = json.loads(wf.path("results/runs/a/seed-3/history.json").read_text())
    assert history["epoch"] == [1] and history["lr"] == [0.001]
    log = wf.path("results/logs/train/a/seed-3.log").read_text()
    assert "seed 3: epoch 1/1 " in log and "Traceback" not in log


def test_mirror_credentials_are_written_nowhere(wf, tiny_mirror):
    """A password-protected mirror (HTTP Basic on 127.0.0.1): used, then absent from every file."""
    folder, _ = tiny_mirror
    expected = "Basic " + base64.b64encode(b"me:s3cret-pw").decode()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.headers.get("Authorization") != expected:
                self.send_error(401)
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://me:s3cret-pw@127.0.0.1:{server.server_address[1]}/"
        cfg = wf.config
        cfg["mnist_mirror"] = None
        cfg["download"]["mirrors"] = [f"http://me:wrong@127.0.0.1:{server.server_address[1]}/", url]
        wf.write_config(cfg)
        proc = wf.run("--cores", "2")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert wf.path("results/report.html").exists()
    log = wf.path("results/logs/download/train-images-idx3-ubyte.log").read_text()
    assert "http://***@127.0.0.1" in log and "HTTP 401" in log
    leaks = [
        str(p)
        for p in [*wf.path("results").rglob("*"), *wf.path(".snakemake").rglob("*")]
        if p.is_file() and (b"s3cret" in p.read_bytes() or b"wrong@" in p.read_bytes())
    ]
    assert leaks == []
    assert "s3cret" not in proc.stdout + proc.stderr
