"""Does nn.predict's preprocessing cost accuracy? MNIST test digits rendered as image files vs the originals.

    .venv/bin/python benchmarks/predict_accuracy.py [--model results/runs/best/model.npz] [--n 10000]

Each of the first n test digits is drawn as a PNG or JPEG file in the forms of
tests/test_predict.py (28×28 grey; 64×64 black on white; 300×200 blue on yellow; 300×200
yellow on navy as JPEG), read back through nn.predict.classify, and scored against its label;
beside it, the same model on the 28×28 originals. Without --model it first trains a
784-128-10 ReLU softmax network on all 60,000 training images (5 epochs, seed 1, ~1 min).
Needs ../shared/mnist beside the repo. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import SHARED_MNIST  # noqa: E402
from test_predict import VARIANTS, render  # noqa: E402  (one definition of "rendered")

from nn.data import to_inputs  # noqa: E402
from nn.idx import read_idx  # noqa: E402
from nn.model import mlp  # noqa: E402
from nn.predict import classify, load_model  # noqa: E402
from nn.optim import SGD  # noqa: E402
from nn.train import fit  # noqa: E402


def trained_model():
    x = read_idx(SHARED_MNIST / "train-images-idx3-ubyte.gz")
    y = read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")
    net = mlp([784, 128, 10], activation="relu", output="softmax", init="he", rng=1)
    fit(net, to_inputs(x), y, SGD(net, lr=0.1, momentum=0.9), epochs=5, batch_size=128, rng=np.random.default_rng(1))
    return net, "784-128-10 relu softmax, 5 epochs on 60,000, seed 1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model .npz; default: train a small one first")
    parser.add_argument("--n", type=int, default=10000, help="how many test digits (from the first)")
    args = parser.parse_args()
    net, name = (load_model(args.model), args.model) if args.model else trained_model()
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")[:args.n]
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")[:args.n]
    report = {"model": name, "n": len(labels),
              "originals_28x28": float(np.mean(net.predict(to_inputs(images, net.dtype)) == labels))}
    with tempfile.TemporaryDirectory() as tmp:
        for variant, spec in VARIANTS.items():
            folder = Path(tmp) / str(len(report))
            folder.mkdir()
            paths = [folder / f"{i:05d}.{spec[-1].lower()}" for i in range(len(images))]
            for path, digit in zip(paths, images):
                path.write_bytes(render(digit, *spec))
            start = time.perf_counter()
            results = classify(net, paths)
            seconds = time.perf_counter() - start
            predicted = np.array([-1 if r.error else r.predicted for r in results])
            report[variant] = {"accuracy": float(np.mean(predicted == labels)),
                               "errors": int(sum(r.error is not None for r in results)),
                               "ms_per_image": round(1000 * seconds / len(paths), 2)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
