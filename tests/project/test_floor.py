"""benchmarks/floor.py: which products an epoch needs, the Snakemake log's elapsed time, one small run."""

import importlib.util
import json
import subprocess
import sys

import yaml

from conftest import REPO

spec = importlib.util.spec_from_file_location("floor", REPO / "benchmarks" / "floor.py")
floor = importlib.util.module_from_spec(spec)
spec.loader.exec_module(floor)


def hp(**over):
    return {"hidden": [128], "batch_size": 128, "validation": 10000, "dtype": "float32", "epochs": 1, **over}


def test_an_epoch_has_every_full_batch_the_short_one_and_no_pixel_gradient():
    products = dict(floor.epoch_products(hp()))
    assert products[("forward", 128, 784, 128, "float32")] == 390  # 50,000 = 390 x 128 + 80
    assert products[("weight_grad", 80, 784, 128, "float32")] == 1
    assert products[("input_grad", 80, 128, 10, "float32")] == 1
    assert not [p for p in products if p[0] == "input_grad" and p[2] == 784]
    assert len(products) == 10  # 5 products x 2 batch shapes
    # seconds = rows x n_in x n_out: the floor is every training image through every product once
    flops = {p: p[1] * p[2] * p[3] for p in products}
    assert floor.floor_per_epoch(hp(), flops) == 50000 * (2 * 784 * 128 + 3 * 128 * 10)


def test_full_batch_and_a_batch_beyond_the_training_set_are_one_batch_of_it():
    for batch_size in ("full", 100000):
        assert floor.epoch_batches(hp(batch_size=batch_size, validation=0)) == [(60000, 1)]
    net = hp(hidden=[16, 16], batch_size="full", validation=0, dtype="float64")
    assert len(floor.epoch_products(net)) == 8  # 3 forward, 3 weight, 2 input
    assert floor.epoch_products(hp(epochs=0)) == []


LOG = """Assuming unrestricted shared filesystem usage.
  Date: 2026-12-06 22:44:28
Building DAG of jobs...
[Sun Dec  6 22:44:29 2026]
localrule download:
[Sun Dec  6 23:10:05 2026]
Finished jobid: 0 (Rule: all)
230 of 230 steps (100%) done
"""


def test_the_elapsed_time_is_snakemakes_own_else_from_the_date_header_to_the_last_stamp(tmp_path):
    log = tmp_path / "a.snakemake.log"
    log.write_text(LOG + "Elapsed time: 1:02:03.500000\n")
    assert floor.snakemake_elapsed(log) == (3723.5, True)
    log.write_text(LOG)
    assert floor.snakemake_elapsed(log) == (25 * 60 + 37, True)
    log.write_text(LOG.replace("230 of 230 steps (100%) done", "229 of 230 steps (99%) done"))
    assert floor.snakemake_elapsed(log) == (25 * 60 + 37, False)


def test_a_small_project_gives_its_table(tmp_path):
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    config = dict(
        download={"mirrors": ["../shared/mnist"], "sha256": {name: "0" * 64 for name in names}},
        runs={
            "tiny": {
                "hidden": [8],
                "batch_size": 300,
                "epochs": 2,
                "validation": 59000,
                "replicates": 2,
                "dtype": "float64",
            },
            "idle": {"hidden": [8], "epochs": 1},
        },
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "timings.csv").write_text(
        "run,seed,train_seconds,epoch_seconds,resumed_after\ntiny,1,1.5,0.5 0.7,\ntiny,2,2.5,0.9 1.1,1\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "floor.py"),
            "--directory",
            str(tmp_path),
            "--repeats",
            "1",
            "--elapsed",
            "10",
            "--cores",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(proc.stdout)
    (run,) = out["runs"]
    assert (run["run"], run["seeds"], run["epochs_run"], run["n_train"]) == ("tiny", 2, 4, 1000)
    assert run["training_cpu_s"] == 4.0 and run["s_per_epoch"] == 0.8
    assert len(out["products"]) == 10  # 1,000 = 3 x 300 + 100
    assert run["floor_s_per_epoch"] > 0 and run["ratio"] == run["s_per_epoch"] / run["floor_s_per_epoch"]
    assert run["floor_cpu_s"] == 4 * run["floor_s_per_epoch"]
    assert out["not_trained"] == ["idle"]
    assert out["pipeline"]["floor_s"] == out["floor_cpu_s"] / 2
    assert out["machine"]["blas_threads"] == 1 and out["numerics"] == "pinned"
