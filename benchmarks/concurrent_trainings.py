"""How much training gets done when several one-thread trainings share the machine's CPUs:
the measurement behind nn.pipeline.resources.training_claim (two trainings at a time under `--cores 4`
on 2 CPUs, not four).

    .venv/bin/python benchmarks/concurrent_trainings.py        # --at-once 1 2 4 --steps 200

For each count k, k processes start together, each running `--steps` training steps of
`best`'s network, batch size and distortions (read from config.yaml; 1 BLAS thread, SGD with
momentum, random pixels: a step's time does not depend on them). Each process reports its
median seconds per step; the total throughput is the sum of 1 / median over the k processes.
Prints steps per second in total for each k and the ratio to the best k.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker(steps: int) -> None:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"  # before numpy loads
    import numpy as np
    import yaml

    sys.path.insert(0, str(REPO))
    from nn.losses import one_hot
    from nn.model import mlp
    from nn.pipeline.hparams import build_augment, build_optimizer

    best = yaml.safe_load((REPO / "config.yaml").read_text())["runs"]["best"]
    rng = np.random.default_rng(os.getpid())
    model = mlp(
        [784, *best["hidden"], 10], activation="relu", output="softmax", loss="cross_entropy", init="he", rng=rng
    )
    opt = build_optimizer({"lr": 0.1, "momentum": 0.9, "nesterov": False}, model)
    augment = build_augment(best)
    batch = best["batch_size"]
    x = rng.random((batch * 64, 784), dtype=np.float32)  # (n, 784)
    y = one_hot(rng.integers(0, 10, len(x)), 10).astype(np.float32)
    times = []
    for s in range(steps):
        rows = slice((s % 64) * batch, (s % 64 + 1) * batch)
        start = time.perf_counter()
        xb = augment(x[rows], rng) if augment else x[rows]
        model.backprop(xb, y[rows])
        opt.step()
        times.append(time.perf_counter() - start)
    print(json.dumps(float(np.median(times[steps // 10 :]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--at-once", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.steps)
    print(f"{os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.1f}; best's step, 1 BLAS thread each")
    totals = {}
    for k in args.at_once:
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", "--steps", str(args.steps)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(k)
        ]
        medians = [json.loads(p.communicate(timeout=3600)[0]) for p in procs]
        totals[k] = sum(1 / m for m in medians)
        print(
            f"{k} at once: median ms/step per process {', '.join(f'{1e3 * m:.1f}' for m in medians)}; "
            f"{totals[k]:.0f} steps/s in total"
        )
    top = max(totals.values())
    print("total throughput / best: " + ", ".join(f"{k} at once {t / top:.2f}" for k, t in totals.items()))


if __name__ == "__main__":
    main()
