"""How fast does nn train, and how close is that to the matrix products it cannot avoid?

    .venv/bin/python benchmarks/train_speed.py [--repeats 5] [--threads 1 2] [--batches 32 128] [--no-extras]

For each BLAS thread count (a fresh process each: OpenBLAS reads its thread count when
numpy is imported) and each batch size, it times epochs of the 60,000 MNIST training images
through a 784-128-10 ReLU network with softmax cross-entropy, float32, SGD with momentum,
and, in the same process, the bare matmuls that epoch needs (forward x W1, h W2; backward
h^T g2, g2 W2^T, x^T g1; no gradient for the pixels). It prints medians of the repeats and
the ratio epoch / matmul: what the Python, gather, activations and optimiser cost on top.
A last row per thread count times Nielsen's 784-30-10 sigmoid network at batch 10 on 50,000
images, where per-batch Python overhead matters most.

The "matmuls + SGD update" row is a floor: the same bare matmuls with, after each batch, SGD
with momentum's update (nn.optim.SGD's four numpy passes over the 101,770 parameters) and
nothing else: no gather, loss, activation or bias. No epoch of SGD with momentum written in
numpy passes can be faster than it, so its ratio says which targets are out of reach.

Extras (1 thread only; off with --no-extras): the same 784-128-10 epoch at batch 128 with one
ingredient switched on (dropout 0.2, Adam, RMSprop, affine or elastic distortions), against the
same matmul baseline, and the cost of each augmentation alone per batch of 128 images.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np  # safe in the parent too: only the children, with their thread counts, do BLAS work

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "mnist"


def load_images(n=60000):
    """The real training set if it is at ../shared/mnist, else random pixels (speed is the same)."""
    from nn.mnist.data import decode_split

    if (MNIST / "train-images-idx3-ubyte.gz").exists():
        return decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def matmul_epoch(x, batch, w1, w2, update=None):
    """Seconds for one epoch's worth of the matmuls fit() does for a 784-128-10 net, nothing else
    (but update() after each batch, if given)."""
    start = time.perf_counter()
    for s in range(0, len(x), batch):
        xb = x[s : s + batch]  # (batch, 784)
        h = xb @ w1  # (batch, 128)
        g2 = h @ w2  # (batch, 10), stands in for dLoss/dz
        h.T @ g2  # (128, 10)   dW2
        g1 = g2 @ w2.T  # (batch, 128) dLoss/dh
        xb.T @ g1  # (784, 128)  dW1
        if update:
            update()
    return time.perf_counter() - start


def sgd_update(n_params: int, lr=0.05, mu=0.9):
    """SGD with momentum's update as nn.optim.SGD makes it (four passes over every parameter), on
    arrays of n_params float32 with a fixed gradient: the part of a step no rewrite of the
    Python around it can remove."""
    rng = np.random.default_rng(0)
    p, v = rng.standard_normal(n_params, np.float32), np.zeros(n_params, np.float32)
    grad = rng.standard_normal(n_params, np.float32) * 1e-3
    g = np.empty_like(grad)

    def update():
        np.multiply(grad, lr, out=g)  # g *= lr (on a fresh gradient)
        v.__imul__(mu)
        v.__isub__(g)
        p.__iadd__(v)

    return update


# name -> (optimiser, dropout, augmentation keys): one ingredient on at a time
EXTRAS = {
    "+ dropout 0.2": ("sgd", 0.2, {}),
    "+ Adam": ("adam", 0.0, {}),
    "+ RMSprop": ("rmsprop", 0.0, {}),
    "+ shift 2": ("sgd", 0.0, {"shift": 2}),
    "+ affine": ("sgd", 0.0, {"rotate": 15.0, "scale": 0.15, "shear": 10.0, "translate": 1.0}),
    "+ elastic": ("sgd", 0.0, {"elastic_alpha": 34.0, "elastic_sigma": 4.0}),
    "+ affine + elastic": ("sgd", 0.0, {"rotate": 15.0, "scale": 0.15, "elastic_alpha": 34.0, "elastic_sigma": 4.0}),
}
HP = {"momentum": 0.9, "nesterov": False, "beta1": 0.9, "beta2": 0.999, "rho": 0.9, "eps": 1e-7, "weight_decay": 0.0}


def measure_extras(x, labels, repeats, batch=128):
    """Rows for EXTRAS at one batch size, each ratio against matmuls timed alternately with it."""
    from nn.model import mlp
    from nn.pipeline.hparams import build_augment, build_optimizer
    from nn.train import FitConfig, TrainState, fit

    rows = []
    for name, (optimizer, dropout, augmentation) in EXTRAS.items():
        rng = np.random.default_rng(0)
        model = mlp([784, 128, 10], activation="relu", output="softmax", init="he", rng=rng, dropout=dropout)
        w1, w2 = (layer.params["W"][0].copy() for layer in model.layers if "W" in layer.params)
        hp = {
            **HP,
            "optimizer": optimizer,
            "lr": 0.05 if optimizer == "sgd" else 1e-3,
            "momentum": 0.9 if optimizer == "sgd" else 0.0,
        }
        augment = build_augment(augmentation)
        epochs, matmuls = [], []
        for _ in range(repeats + 1):
            timings = fit(
                model,
                build_optimizer(hp, model),
                (x, labels),
                FitConfig(epochs=1, batch_size=batch, augment=augment),
                [TrainState(rng)],
            )[0].timings
            epochs.append(timings["epoch_seconds"][0])
            matmuls.append(matmul_epoch(x, batch, w1, w2))
        rows.append(
            {
                "threads": 1,
                "net": name,
                "batch": batch,
                "images": len(x),
                "epoch_s": float(np.median(epochs[1:])),
                "matmul_s": float(np.median(matmuls[1:])),
            }
        )
    return rows


def augmentation_costs(x, repeats, batch=128):
    """Microseconds per batch of `batch` images for each augmentation alone (median of rounds)."""
    import time as _time

    from nn.pipeline.hparams import build_augment

    rng = np.random.default_rng(0)
    xb = x[:batch].copy()
    out = {}
    for name, (_, _, augmentation) in EXTRAS.items():
        if not augmentation:
            continue
        augment = build_augment(augmentation)
        rounds = []
        for _ in range(repeats + 1):
            start = _time.perf_counter()
            for _ in range(50):
                augment(xb, rng)
            rounds.append((_time.perf_counter() - start) / 50 * 1e6)
        out[name.removeprefix("+ ")] = float(np.median(rounds[1:]))
    return out


def measure(threads, batches, repeats):
    """Runs in the child process; returns rows of figures.

    Training epochs and matmul epochs alternate, so both see the same machine: on a shared
    computer the load drifts, and the ratio is what matters.
    """
    from nn.mnist.data import to_inputs
    from nn.model import mlp
    from nn.optim import SGD
    from nn.train import FitConfig, TrainState, fit

    images, labels = load_images()
    x = to_inputs(images)  # (60000, 784) float32
    rows = []
    for batch in batches:
        rng = np.random.default_rng(0)
        model = mlp([784, 128, 10], activation="relu", output="softmax", init="he", rng=rng)
        w1, w2 = model.layers[0].params["W"][0].copy(), model.layers[2].params["W"][0].copy()
        epochs, matmuls = [], []
        for r in range(repeats + 1):  # the first round warms caches up
            timings = fit(
                model,
                SGD(model, lr=0.05, momentum=0.9),
                (x, labels),
                FitConfig(epochs=1, batch_size=batch),
                [TrainState(rng)],
            )[0].timings
            epochs.append(timings["epoch_seconds"][0])
            matmuls.append(matmul_epoch(x, batch, w1, w2))
        rows.append(
            {
                "threads": threads,
                "net": "784-128-10 relu/CE",
                "batch": batch,
                "images": len(x),
                "epoch_s": float(np.median(epochs[1:])),
                "matmul_s": float(np.median(matmuls[1:])),
            }
        )
        update = sgd_update(model.flat_params.size)
        floors, matmuls = [], []
        for r in range(repeats + 1):
            floors.append(matmul_epoch(x, batch, w1, w2, update))
            matmuls.append(matmul_epoch(x, batch, w1, w2))
        rows.append(
            {
                "threads": threads,
                "net": "matmuls + SGD update",
                "batch": batch,
                "images": len(x),
                "epoch_s": float(np.median(floors[1:])),
                "matmul_s": float(np.median(matmuls[1:])),
            }
        )
    rng = np.random.default_rng(0)
    model = mlp([784, 30, 10], activation="sigmoid", output="sigmoid", loss="quadratic", rng=rng)
    timings = fit(
        model,
        SGD(model, lr=3.0),
        (x[:50000], labels[:50000]),
        FitConfig(epochs=repeats + 1, batch_size=10),
        [TrainState(rng)],
    )[0].timings
    rows.append(
        {
            "threads": threads,
            "net": "784-30-10 sigmoid/quad",
            "batch": 10,
            "images": 50000,
            "epoch_s": float(np.median(timings["epoch_seconds"][1:])),
            "matmul_s": None,
        }
    )
    return rows, x


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--no-extras", action="store_true", help="skip dropout/Adam/RMSprop/distortion rows")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # internal: the thread count of this process
    args = parser.parse_args()
    if args.child:
        rows, x = measure(args.child, args.batches, args.repeats)
        costs = {}
        if args.child == 1 and not args.no_extras:
            rows += measure_extras(x, load_images()[1], args.repeats)
            costs = augmentation_costs(x, args.repeats)
        print(json.dumps({"rows": rows, "augmentation_us": costs}))
        return

    load_before = os.getloadavg()[0]  # a shared machine: say how busy it was
    rows, costs = [], {}
    for threads in args.threads:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(threads),
            "--repeats",
            str(args.repeats),
            "--batches",
            *map(str, args.batches),
            *(["--no-extras"] if args.no_extras else []),
        ]
        child = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
        rows += child["rows"]
        costs.update(child["augmentation_us"])

    print(
        f"median of {args.repeats} epochs; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
        f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs"
    )
    print(
        f"{'threads':>7}  {'network':<22} {'batch':>5}  {'s/epoch':>8}  {'images/s':>9}  {'matmul s':>8}  {'ratio':>5}"
    )
    for r in rows:
        matmul = (
            f"{r['matmul_s']:8.3f}  {r['epoch_s'] / r['matmul_s']:5.2f}" if r["matmul_s"] else f"{'-':>8}  {'-':>5}"
        )
        print(
            f"{r['threads']:>7}  {r['net']:<22} {r['batch']:>5}  {r['epoch_s']:8.3f}  "
            f"{r['images'] / r['epoch_s']:9.0f}  {matmul}"
        )
    if costs:
        print(
            "augmentation alone, µs per batch of 128 (1 thread): "
            + ", ".join(f"{name} {us:.0f}" for name, us in costs.items())
        )


if __name__ == "__main__":
    main()
