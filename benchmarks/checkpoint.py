"""What an epoch checkpoint (nn/pipeline/checkpoint.py) costs at the `best` run's size, 784-800-800-10.

    nice .venv/bin/python benchmarks/checkpoint.py       # --repeats 5 --images 7680

Per round, alternating so that all figures see the same machine: one Checkpoint.save of the
state fit() hands its hook, one Checkpoint.load of it (every check included), and a training
pass over `--images` images with `best`'s batch size and distortions (read from config.yaml,
1 BLAS thread), scaled to the 60,000 images of one of best's epochs. Prints medians after one warm-up round
and the ratio save / epoch. The images are random pixels: an epoch's time does not depend
on their values, and the benchmark needs no MNIST.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"  # before numpy loads

import numpy as np  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nn.augment import in_words  # noqa: E402
from nn.mnist.data import to_inputs  # noqa: E402
from nn.model import mlp  # noqa: E402
from nn.pipeline.checkpoint import Checkpoint, fingerprint  # noqa: E402
from nn.pipeline.hparams import augment_settings, build_augment, build_optimizer  # noqa: E402
from nn.train import FitConfig, TrainState, fit  # noqa: E402

EPOCH_IMAGES = 60_000  # best: validation 0
BEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())["runs"]["best"]
VARIANTS = {  # name: (optimizer keys, early stopping's best weights kept)
    "best (SGD momentum)": ({"optimizer": "sgd", "momentum": 0.9}, False),
    "+ early stopping": ({"optimizer": "sgd", "momentum": 0.9}, True),
    "Adam + early stopping": ({"optimizer": "adam", "momentum": 0.0}, True),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=7680, help="images per timed training pass")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = to_inputs(rng.integers(0, 256, size=(args.images, 28, 28), dtype=np.uint8))  # (n, 784)
    labels = rng.integers(0, 10, size=args.images)
    hp = {
        "epochs": BEST["epochs"],
        "lr": 0.1,
        "weight_decay": 0.0,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "nesterov": False,
        "monitor_test": False,
    }
    load_before = os.getloadavg()[0]
    sizes = [784, *BEST["hidden"], 10]
    augment = build_augment(BEST)
    print(
        f"{'-'.join(map(str, sizes))} float32, batch {BEST['batch_size']}, {in_words(augment_settings(BEST))}, "
        f"1 BLAS thread, median of {args.repeats} rounds; 1-min load average {load_before:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'state':<24} {'MB':>5}  {'save ms':>7}  {'load ms':>7}  {'epoch s':>7}  {'save/epoch':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for name, (keys, keep_best) in VARIANTS.items():
            model = mlp(sizes, activation="relu", output="softmax", init="he", rng=rng)
            run = {**hp, **keys, "validation": 10_000 if keep_best else 0, "early_stopping": 3 if keep_best else 0}
            opt = build_optimizer(run, model)
            path = Path(folder) / "ckpt.npz"
            ckpt = Checkpoint(path, fingerprint([run], {}, x, labels), run="bench", log=lambda line: None)
            val = [0.5] * 17 if keep_best else None
            history = {
                "epoch": list(range(1, 18)),
                "lr": [0.1] * 17,
                "train_loss": [0.1] * 17,  # half-way
                "train_accuracy": [0.9] * 17,
                "val_loss": val,
                "val_accuracy": val,
                "test_loss": None,
                "test_accuracy": None,
                "stopped_early": False,
                "best_epoch": 17,
            }
            best = model.flat_params.copy() if keep_best else None
            saves, loads, epochs = [], [], []
            for _ in range(args.repeats + 1):
                state = TrainState(
                    rng,
                    history=history,
                    timings={"epoch_seconds": [1.0] * 17, "total_seconds": 17.0},
                    best_params=None if best is None else best[0],
                    params=model.flat_params[0],  # replica 0 and its rows of the optimiser state
                    optimizer={k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in opt.state_dict().items()},
                )
                start = time.perf_counter()
                ckpt.save([state])
                saves.append(time.perf_counter() - start)
                start = time.perf_counter()
                assert ckpt.load(model, opt, [rng]) is not None
                loads.append(time.perf_counter() - start)
                (done,) = fit(
                    model,
                    opt,
                    (x, labels),
                    FitConfig(epochs=1, batch_size=BEST["batch_size"], augment=augment),
                    [TrainState(rng)],
                )
                timings = done.timings
                epochs.append(timings["epoch_seconds"][0] * EPOCH_IMAGES / args.images)
            save, load, epoch = (float(np.median(v[1:])) for v in (saves, loads, epochs))
            print(
                f"{name:<24} {path.stat().st_size / 1e6:5.1f}  {1e3 * save:7.1f}  {1e3 * load:7.1f}  "
                f"{epoch:7.2f}  {100 * save / epoch:9.2f}%"
            )


if __name__ == "__main__":
    main()
