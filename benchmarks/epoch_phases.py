"""Where a run's training epoch goes: milliseconds per seed-epoch in each phase of nn.train.fit.

    .venv/bin/python benchmarks/epoch_phases.py [--runs pitt-sigmoid-128 nielsen-ch3-ce-l2 best ...] [--epochs 2]

For each run of config.yaml named, a fresh process pinned as the pipeline's jobs are
(nn.pipeline.numerics, one BLAS thread) trains `--epochs` epochs of one block of its seeds (the
block size the pipeline uses, nn.pipeline.blocks) on the real MNIST at ../shared/mnist, monitoring
the test set if the run does, with the library's own callables wrapped in timers:

  linear        Linear.forward and backward: the products and the bias
  activations   every activation layer's forward and backward (the sources' quirks included)
  dropout       Dropout.forward and backward (masks drawn from each seed's Generator)
  loss          the loss's value_and_grad
  optimiser     Optimizer.step: weight decay, the update, the subnormal flush
  distortions   the run's augment callable (nn.augment.compose), each batch of each seed
  monitoring    Sequential.evaluate: the validation and test sets after every epoch
  rest          the epochs' wall time less the above: batch gather and shuffle, the loop,
                divergence checks, the history's bookkeeping

A call inside another timed call (evaluate's Linear.forward) counts for the outer one only. The
figures are averages over all the epochs (the first one's allocations included) divided by the
block's seeds; the epochs' wall time is the seeds' timings summed. Checkpoints are not written.
Timings are comparable only within one invocation: the machine's load moves them all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_RUNS = ["pitt-sigmoid-128", "nielsen-ch1-100", "nielsen-ch3-ce-l2", "best"]
PHASES = ["linear", "activations", "dropout", "loss", "optimiser", "distortions", "monitoring"]

CHILD = """
import json, sys, time
from collections import defaultdict
sys.path.insert(0, {repo!r})
import nn.layers, nn.losses, nn.model, nn.optim
from nn.mnist.idx import read_idx
from nn.pipeline import hparams

spent, depth = defaultdict(float), [0]

def timed(phase, f):
    def wrapper(*args, **kwargs):
        if depth[0]:  # inside another timed call: it counts there
            return f(*args, **kwargs)
        depth[0] += 1
        start = time.perf_counter()
        try:
            return f(*args, **kwargs)
        finally:
            spent[phase] += time.perf_counter() - start
            depth[0] -= 1
    return wrapper

def wrap(cls, names, phase):
    for name in names:
        if name in vars(cls):  # a class's own method, not one it inherits (wrapped already)
            setattr(cls, name, timed(phase, vars(cls)[name]))

for kind, cls in nn.layers.LAYERS.items():
    phase = {{"linear": "linear", "dropout": "dropout"}}.get(kind, "activations")
    wrap(cls, ("forward", "backward"), phase)
for entry in nn.losses.LOSSES.values():  # a class, or {{output: class}} for a fused loss
    for cls in entry.values() if isinstance(entry, dict) else [entry]:
        wrap(cls, ("value_and_grad",), "loss")
wrap(nn.optim.Optimizer, ("step",), "optimiser")
wrap(nn.model.Sequential, ("evaluate",), "monitoring")
build_augment = hparams.build_augment
hparams.build_augment = lambda hp: (lambda a: a and timed("distortions", a))(build_augment(hp))

mnist = {mnist!r}
images, labels = read_idx(mnist + "/train-images-idx3-ubyte.gz"), read_idx(mnist + "/train-labels-idx1-ubyte.gz")
test = read_idx(mnist + "/t10k-images-idx3-ubyte.gz"), read_idx(mnist + "/t10k-labels-idx1-ubyte.gz")
hps = json.loads(sys.argv[1])
monitor = test if hps[0]["monitor_test"] else None
model, states = hparams.train_seeds(hps, images, labels, log=lambda *a: None, test=monitor)
wall = sum(sum(s.timings["epoch_seconds"]) for s in states)
print(json.dumps({{"wall": wall, "epochs": len(states[0].timings["epoch_seconds"]), **spent}}))
"""


def profile(hps: list[dict], env: dict) -> dict:
    code = CHILD.format(repo=str(REPO), mnist=str(REPO.parent / "shared" / "mnist"))
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(hps)], env=env, capture_output=True, text=True, timeout=7200
    )
    if done.returncode:
        sys.exit(f"epoch_phases: the training child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    from nn.pipeline import blocks, numerics
    from nn.pipeline import config as nnconfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    cfg = nnconfig.read(REPO / "config.yaml")
    _, runs, _ = nnconfig.load(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    numerics.pin("pinned", env)
    print(f"ms per seed-epoch, {args.epochs} epochs, pinned, 1 BLAS thread")
    print(f"{'run':<28} {'k':>2} " + " ".join(f"{p:>11}" for p in [*PHASES, "rest", "epoch"]))
    for name in args.runs:
        hp = {**nnconfig.block_hparams(runs[name]), "epochs": args.epochs}
        k = min(blocks.block_size(runs[name]), runs[name]["replicates"])
        seeds = nnconfig.seeds(runs[name])[:k]
        got = profile([{**hp, "seed": s} for s in seeds], env)
        per = 1000 / (k * got["epochs"])  # seconds of the block -> ms per seed-epoch
        cells = [got.get(p, 0.0) * per for p in PHASES]
        total = got["wall"] * per
        row = [*cells, total - sum(cells), total]
        print(f"{name:<28} {k:>2} " + " ".join(f"{c:>11.1f}" for c in row), flush=True)


if __name__ == "__main__":
    main()
