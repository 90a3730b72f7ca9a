"""Seconds per epoch of ONE model trained for several consecutive epochs (784-128-10, ReLU, softmax
cross-entropy, SGD momentum 0.9, lr 0.1, 1 BLAS thread), at batch 32 and 128.

    .venv/bin/python benchmarks/consecutive_epochs.py [epochs=5]

train_speed.py times fresh models; this shows what builds up over a run, such as the subnormal
velocities of always-blank pixels that once slowed every step (docs/performance.md).
"""

import os
import sys
import time
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"  # before numpy loads
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "mnist"
sys.path.insert(0, str(REPO))
from nn import train  # noqa: E402
from nn.mnist.data import decode_split, to_inputs  # noqa: E402
from nn.losses import one_hot  # noqa: E402


def main(epochs: int) -> None:
    images, labels = decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    x, y = to_inputs(images, np.float32), one_hot(labels, 10, np.float32)
    for batch in (32, 128):
        rng = np.random.default_rng(0)
        model = train.mlp([784, 128, 10], activation="relu", output="softmax", loss="cross_entropy", init="he", rng=rng)
        opt = train.build_optimizer(
            {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}, model
        )
        model.train(rng)
        seconds = []
        for epoch in range(epochs):
            start = time.perf_counter()
            train.train_epoch(model, opt, x, y, labels, batch, None, rng, epoch)
            seconds.append(time.perf_counter() - start)
        print(f"batch {batch:4d}: " + ", ".join(f"{s:.3f}" for s in seconds) + " s/epoch", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1].partition("=")[2]) if len(sys.argv) > 1 else 5)
