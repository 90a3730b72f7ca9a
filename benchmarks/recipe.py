"""Try one training recipe on the VALIDATION split (never the test set) and print what it bought.

    .venv/bin/python benchmarks/recipe.py [--record benchmarks/recipes.jsonl] hidden=[800,800] epochs=10 \
        elastic_alpha=34 [name=label]

Starts from config.yaml's `defaults:` (filled from the schema: validation 10000, i.e. train on
the first 50,000 training images and measure on the last 10,000), applies the key=value
overrides (values parsed as YAML), trains with nn.pipeline.hparams.train_run and prints one JSON line:
the recipe, the validation accuracy after each epoch, the best one, and the training seconds.
The test images are not loaded. BLAS threads: set OPENBLAS_NUM_THREADS before running (unset: 2).
With --record, the line is also appended to that recipe log (nn.report.recipes), which the report plots as
accuracy against training seconds; it counts as timed on a loaded machine when the 1-minute load
average at its end exceeds its own threads by more than half a core.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "mnist"
sys.path.insert(0, str(REPO))

from nn.pipeline import config as nnconfig  # noqa: E402
from nn.report import recipes  # noqa: E402
from nn.mnist.data import decode_split  # noqa: E402
from nn.pipeline.hparams import train_run  # noqa: E402


def recipe(overrides: list[str]) -> tuple[str, dict, dict]:
    """(name, full hyperparameter dict, the overrides) from config.yaml's defaults and key=value items."""
    config = nnconfig.read(REPO / "config.yaml")
    name, changes = "recipe", {}
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "name":
            name = value
        else:
            changes[key] = yaml.safe_load(value)
    config["runs"] = {name: changes}
    config["sweeps"], config["comparisons"] = {}, []
    _, runs, _ = nnconfig.load(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    hp = runs[name]
    if not hp["validation"]:
        raise SystemExit("recipe.py measures on the validation split: validation must be > 0")
    return name, hp, changes


def main():
    args = sys.argv[1:]
    record = None
    if args[:1] == ["--record"]:
        if len(args) < 2:
            raise SystemExit("recipe.py: --record needs a file (benchmarks/recipes.jsonl)")
        record, args = args[1], args[2:]
    name, hp, changes = recipe(args)
    images, labels = decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    _, history, timings = train_run(hp, images, labels, log=lambda line: print(line, file=sys.stderr, flush=True))
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))
    load = os.getloadavg()[0]
    result = {
        "name": name,
        "recipe": {**changes, "epochs": hp["epochs"]},
        "epochs": len(history["val_accuracy"]),
        "val_accuracy": history["val_accuracy"],
        "best_val_accuracy": max(history["val_accuracy"]),
        "last_val_accuracy": history["val_accuracy"][-1],
        "train_seconds": round(timings["total_seconds"], 1),
        "threads": threads,
        "seed": hp["seed"],
        "load": round(load, 2),
        "loaded": load > threads + 0.5,
        "date": datetime.date.today().isoformat(),
    }
    print(json.dumps(result), flush=True)
    if record:
        recipes.append(record, {k: v for k, v in result.items() if k != "val_accuracy"})


if __name__ == "__main__":
    main()
