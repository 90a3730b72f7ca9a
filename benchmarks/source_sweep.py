"""Sweep a source's unpublished parameters and choose by its published TRAINING COST, never its test figure.

    .venv/bin/python benchmarks/source_sweep.py pitt-sigmoid-128 --costs 0:0.445 19:0.1078 99:0.0431 \
        --grid lr=0.5,1,2 init_scale=0.01,0.03,0.1 [--dtype float32] [--record benchmarks/sweeps.jsonl]

Takes the run from config.yaml (its protocol: network, inputs, rounds), sets each grid point,
trains it with the pipeline's own nn.pipeline.hparams.train_run on all 60,000 training images
(../shared/mnist), and prints one JSON line per point: the training cost after each published
round, the distance to the published costs (sum of squared log ratios), and the test accuracy
after the last round, which is shown as the band the whole range gives and never used to choose.
The last line names the point whose costs are nearest the published ones.

"Cost after training round r" (the notebook prints it after round r's update) is our loss on the
training images with the weights after round r: the train_loss of round r + 2 (a full-batch
round's loss is computed on the weights it starts from), and for the last round the loss after it.
--dtype float32 (default) halves the time; the chosen point then runs at the source's precision
(float64) in the pipeline. BLAS threads: OPENBLAS_NUM_THREADS (unset: 1).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "mnist"
sys.path.insert(0, str(REPO))

from nn.mnist.data import decode_split  # noqa: E402
from nn.pipeline import config as nnconfig  # noqa: E402
from nn.pipeline.architecture import network_inputs  # noqa: E402
from nn.pipeline.hparams import train_run  # noqa: E402


def parse_grid(items: list[str]) -> dict:
    grid = {}
    for item in items:
        key, _, values = item.partition("=")
        grid[key] = [yaml.safe_load(v) for v in values.split(",")]
    return grid


def costs_after_rounds(history: dict, final_cost: float, rounds: list[int]) -> dict[int, float]:
    """{round r (0-based): the training cost on the weights after round r}."""
    losses, out = history["train_loss"], {}
    for r in rounds:
        out[r] = final_cost if r + 1 == len(losses) else losses[r + 1]
    return out


def distance(ours: dict[int, float], published: dict[int, float]) -> float:
    return (
        sum(math.log(ours[r] / c) ** 2 for r, c in published.items())
        if all(v > 0 and math.isfinite(v) for v in ours.values())
        else math.inf
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument(
        "--costs", nargs="+", required=True, help="round:cost, rounds 0-based as the source prints them"
    )
    parser.add_argument("--grid", nargs="+", required=True, help="key=v1,v2,...")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--record", type=Path)
    args = parser.parse_args()
    published = {int(r): float(c) for r, c in (item.split(":") for item in args.costs)}
    grid = parse_grid(args.grid)

    config = nnconfig.read(REPO / "config.yaml")
    config["sweeps"], config["comparisons"] = {}, []
    config["runs"], config["extras"] = {args.run: config["runs"][args.run]}, True
    _, runs, _ = nnconfig.load(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    base = runs[args.run]
    images, labels = decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    test = decode_split(MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz")
    results = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values))
        hp = {**base, **point, "dtype": args.dtype, "monitor_test": False, "seed": base["seed"]}
        start = time.perf_counter()
        try:
            model, history, _ = train_run(hp, images, labels, log=lambda line: None)
        except ValueError as e:  # TrainingDiverged and bad settings alike: a point that gives no model
            line = {"run": args.run, "point": point, "error": str(e).splitlines()[0]}
        else:
            n_train = len(images) - hp["validation"]
            x = network_inputs(hp, images[:n_train], model.dtype)
            (final_cost,), _ = model.evaluate(x, labels[:n_train])
            ours = costs_after_rounds(history, final_cost, sorted(published))
            _, (test_accuracy,) = model.evaluate(network_inputs(hp, test[0], model.dtype), test[1])
            line = {
                "run": args.run,
                "point": point,
                "costs": {str(r): round(c, 5) for r, c in ours.items()},
                "distance": round(distance(ours, published), 5),
                "test_accuracy": round(test_accuracy, 4),
                "dtype": args.dtype,
                "seconds": round(time.perf_counter() - start, 1),
            }
        results.append(line)
        print(json.dumps(line), flush=True)
        if args.record:
            with open(args.record, "a", encoding="utf-8") as f:
                f.write(json.dumps(line, sort_keys=True) + "\n")
    scored = [r for r in results if "distance" in r and math.isfinite(r["distance"])]
    if scored:
        best = min(scored, key=lambda r: r["distance"])
        band = [r["test_accuracy"] for r in scored]
        print(
            json.dumps(
                {
                    "run": args.run,
                    "chosen_by_cost": best["point"],
                    "its_costs": best["costs"],
                    "published_costs": {str(r): c for r, c in published.items()},
                    "test_accuracy_band_over_grid": [min(band), max(band)],
                    "points": len(results),
                    "without_a_model": len(results) - len(scored),
                }
            )
        )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
