"""Try one training recipe on the VALIDATION split (never the test set) and print what it bought.

    .venv/bin/python benchmarks/recipe.py hidden=[800,800] epochs=10 elastic_alpha=34 [name=label]

Starts from config.yaml's `defaults:` (filled from the schema: validation 10000, i.e. train on
the first 50,000 training images and measure on the last 10,000), applies the key=value
overrides (values parsed as YAML), trains with nn.train.train_run and prints one JSON line:
the recipe, the validation accuracy after each epoch, the best one, and the training seconds.
The test images are not loaded. BLAS threads: set OPENBLAS_NUM_THREADS before running.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "mnist"
sys.path.insert(0, str(REPO))

from nn import config as nnconfig  # noqa: E402
from nn.data import decode_split  # noqa: E402
from nn.train import train_run  # noqa: E402


def recipe(overrides: list[str]) -> tuple[str, dict, dict]:
    """(name, full hyperparameter dict, the overrides) from config.yaml's defaults and key=value items."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    name, changes = "recipe", {}
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "name":
            name = value
        else:
            changes[key] = yaml.safe_load(value)
    config["runs"] = {name: changes}
    config["sweeps"] = {}
    _, runs, _ = nnconfig.load(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
    hp = runs[name]
    if not hp["validation"]:
        raise SystemExit("recipe.py measures on the validation split: validation must be > 0")
    return name, hp, changes


def main():
    name, hp, changes = recipe(sys.argv[1:])
    images, labels = decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    _, history, timings = train_run(hp, images, labels, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps({"name": name, "recipe": changes, "val_accuracy": history["val_accuracy"],
                      "best_val_accuracy": max(history["val_accuracy"]),
                      "last_val_accuracy": history["val_accuracy"][-1],
                      "train_seconds": round(timings["total_seconds"], 1)}), flush=True)


if __name__ == "__main__":
    main()
