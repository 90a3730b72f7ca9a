"""Is nn.pipeline.resources.training_bytes an upper bound of a run's real peak memory? Measured, one run per process.

    .venv/bin/python benchmarks/training_memory.py

For each configuration, a fresh Python process loads the real MNIST training set
(../shared/mnist), trains one epoch with nn.pipeline.hparams.train_run (momentum 0.9, weight decay,
early stopping on: every buffer the optimiser keeps), and reports its ru_maxrss beside the
estimate the config check uses. Prints one JSON line per configuration, then the ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = [([128], 128, "float32"), ([1024, 1024], 128, "float32"), ([128], "full", "float32"), ([256], 128, "float64")]

CHILD = """
import json, resource, sys
from nn.mnist.data import decode_split
from nn.pipeline.resources import training_bytes
from nn.pipeline.hparams import train_run
hidden, batch, dtype = json.loads(sys.argv[1])
hp = {"hidden": hidden, "activation": "relu", "output": "softmax", "loss": "cross_entropy", "init": "he",
      "lr": 0.1, "schedule": "constant", "lr_min": 0.0, "step_size": 1, "step_gamma": 1.0, "momentum": 0.9,
      "nesterov": False, "weight_decay": 1e-4, "batch_size": batch, "epochs": 1, "shift": 0, "validation": 10000,
      "early_stopping": 2, "seed": 0, "threads": 1, "dtype": dtype, "monitor_test": False, "reference": None}
m = sys.argv[2]
images, labels = decode_split(m + "/train-images-idx3-ubyte.gz", m + "/train-labels-idx1-ubyte.gz")
train_run(hp, images, labels, log=lambda s: None)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"hidden": hidden, "batch_size": batch, "dtype": dtype, "measured_mb": round(peak / 1e6),
                  "estimate_mb": round(training_bytes(hp) / 1e6)}))
"""


def main():
    mnist = REPO.parent / "shared" / "mnist"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for config in CONFIGS:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(config), str(mnist)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        row = json.loads(out)
        row["estimate_over_measured"] = round(row["estimate_mb"] / row["measured_mb"], 2)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
