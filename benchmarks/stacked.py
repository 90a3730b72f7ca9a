"""What training a run's seeds as one stack buys: seconds per seed-epoch alone and stacked.

    .venv/bin/python benchmarks/stacked.py [--runs nielsen-ch1-30 pitt-sigmoid-128 ...] [--epochs 1] [--repeats 2]

For each run of config.yaml named (default: one of each kind of shape the default pipeline
trains), it trains `--epochs` epochs of k seeds as one stack (nn.pipeline.hparams.train_seeds on
the real MNIST training set at ../shared/mnist) for k = 1 and k = the run's block size
(nn.pipeline.blocks.block_size, capped at its replicates), in fresh processes pinned as the
pipeline's jobs are (nn.pipeline.numerics, one BLAS thread), alternating, and prints the median
seconds per seed-epoch of each (the epochs' wall time from the seeds' timings: loading the data
and building the model are left out) and their ratio. Each process trains the same seeds; the timings are
comparable only within one invocation (the machine's load moves them all).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_RUNS = ["nielsen-ch1-30", "nielsen-ch1-100", "pitt-sigmoid-128", "keras-mnist-mlp", "pitt-sigmoid-16-16"]

CHILD = """
import json, sys
sys.path.insert(0, {repo!r})
from nn.mnist.idx import read_idx
from nn.pipeline import hparams
images = read_idx({mnist!r} + "/train-images-idx3-ubyte.gz")
labels = read_idx({mnist!r} + "/train-labels-idx1-ubyte.gz")
hps = json.loads(sys.argv[1])
model, states = hparams.train_seeds(hps, images, labels, log=lambda *a: None)
print(json.dumps(sum(s.timings["total_seconds"] for s in states)))   # the epochs' wall time, set-up left out
"""


def seconds(hps: list[dict], env: dict) -> float:
    code = CHILD.format(repo=str(REPO), mnist=str(REPO.parent / "shared" / "mnist"))
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(hps)], env=env, capture_output=True, text=True, check=True, timeout=3600
    ).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:

    from nn.pipeline import blocks, numerics
    from nn.pipeline import config as nnconfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cfg = nnconfig.read(REPO / "config.yaml")
    _, runs, _ = nnconfig.load(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    numerics.pin("pinned", env)
    print(f"{'run':<22} {'k':>3} {'alone s/seed-epoch':>19} {'stacked s/seed-epoch':>21} {'ratio':>6}")
    for name in args.runs:
        hp = {**nnconfig.block_hparams(runs[name]), "epochs": args.epochs, "monitor_test": False}
        k = min(blocks.block_size(runs[name]), runs[name]["replicates"])
        seeds = nnconfig.seeds(runs[name])[:k]
        alone, stacked = [], []
        for _ in range(args.repeats):
            alone.append(seconds([{**hp, "seed": seeds[0]}], env) / args.epochs)
            stacked.append(seconds([{**hp, "seed": s} for s in seeds], env) / (k * args.epochs))
        a, s = statistics.median(alone), statistics.median(stacked)
        print(f"{name:<22} {k:>3} {a:>19.3f} {s:>21.3f} {a / s:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
