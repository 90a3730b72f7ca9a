"""What does pinning the numerics cost? Seconds per epoch, pinned against native, side by side.

    .venv/bin/python benchmarks/pinning_cost.py [--rounds 3] [--images 10000] [--epochs 2]

Two networks, each as config.yaml runs it (nn.pipeline.config expands the run,
nn.pipeline.hparams.train_run trains it, 1 BLAS thread), on the first --images training
images, without validation or test monitoring so that only training epochs are timed:
- best: 784-800-800-10 ReLU, softmax, SGD momentum 0.9, cosine, batch 128, elastic and
  affine distortions (config.yaml runs.best);
- nielsen-ch1-30: 784-30-10 sigmoid, quadratic cost, batch 10 (reproductions/nielsen-book.yaml,
  float64 and inputs k/256 since the sources' reproductions).
Settings, each in a fresh process (numpy and OpenBLAS read them at import):
- pinned: nn.pipeline.numerics.pin("pinned"): OpenBLAS's Haswell kernel, numpy capped at X86_V3;
- native: pin("native"), which removes OPENBLAS_CORETYPE and NPY_DISABLE_CPU_FEATURES in that
  child's environment alone, so OpenBLAS and numpy pick their fastest code for this CPU.
Rounds interleave the settings (pinned first in odd rounds, native first in even ones), so a
slow minute on a shared machine hits both. Per child: the mean of its epochs after the first
(warm buffers), in wall seconds and in the child's CPU seconds (less sensitive to other work
on a shared machine: one BLAS thread, so CPU time is the work done); per setting: the median
over rounds. Prints the CPU, each setting's numpy targets and OpenBLAS kernel, and the ratio
pinned / native per network.

Measured before the nn/ re-layout, when nielsen-ch1-30 was float32 (2-core AMD EPYC Zen 4
VM, KVM, AVX-512; numpy 2.4.6, scipy-openblas 0.3.31.188.0; load 1.3 at the start;
--rounds 5 --images 10000 --epochs 3): pinned = numpy X86_V3 + OpenBLAS Haswell,
native = numpy X86_V3 X86_V4 AVX512_ICL + OpenBLAS SkylakeX.
    best            1.053 s/epoch pinned, 1.054 native: 1.00
    nielsen-ch1-30  0.071 s/epoch pinned, 0.050 native: 1.42
At batch 10 the products are tiny and both the SkylakeX kernel and numpy's AVX-512 loops
help (separately, each about 10-15 %, in a noisy split); at best's sizes neither does.
Under load (about 5 on the 2 cores) the same command gave 1.01 and 1.18 in CPU seconds.
After the re-layout (nielsen-ch1-30 float64; load 0.5 at the start), same command:
    best            1.262 s/epoch pinned, 1.246 native: 1.01 (CPU seconds 1.01)
    nielsen-ch1-30  0.109 s/epoch pinned, 0.095 native: 1.15 (CPU seconds 1.17)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MNIST = REPO.parent / "shared" / "mnist"
NETWORKS = ("best", "nielsen-ch1-30")
SETTINGS = ("pinned", "native")


def child(network: str, n_images: int, epochs: int) -> None:
    """In the child: train `network` for `epochs` on n_images; print one JSON line."""

    sys.path.insert(0, str(REPO))
    from nn.mnist.data import decode_split
    from nn.pipeline import config as nnconfig
    from nn.pipeline import numerics
    from nn.pipeline.hparams import train_run

    cfg = nnconfig.read(REPO / "config.yaml")
    cfg["sweeps"], cfg["comparisons"] = {}, []
    run = {k: v for k, v in cfg["runs"][network].items() if k != "reference"}  # its measure may need monitoring
    cfg["runs"] = {network: {**run, "epochs": epochs, "validation": 0, "monitor_test": False}}
    _, runs, _ = nnconfig.load(cfg, REPO / "workflow" / "schemas" / "config.schema.yaml")
    hp = nnconfig.seed_hparams(runs[network], runs[network]["seed"])
    if (MNIST / "train-images-idx3-ubyte.gz").exists():
        images, labels = decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    else:  # speed does not depend on the pixels
        import numpy as np

        rng = np.random.default_rng(0)
        images, labels = rng.integers(0, 256, (n_images, 28, 28), np.uint8), rng.integers(0, 10, n_images, np.uint8)
    marks = []  # this process's CPU time at each log line: the model line, then one per epoch
    _, _, timings = train_run(
        hp, images[:n_images], labels[:n_images], log=lambda line: marks.append(time.process_time())
    )
    print(
        json.dumps(
            {
                "epoch_seconds": timings["epoch_seconds"],
                "cpu_seconds": [b - a for a, b in zip(marks, marks[1:])],
                "active": numerics.active_targets(),
                "kernel": numerics.blas_info()["corename"],
            }
        )
    )


def run_child(setting: str, network: str, args) -> dict:
    env = dict(os.environ)
    from nn.pipeline import numerics  # no numpy: safe in the parent

    numerics.pin(setting, env)  # native: OPENBLAS_CORETYPE removed in this child's environment only
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", network, "--images", str(args.images), "--epochs", str(args.epochs)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{setting} {network}: {proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=2, help="per child; the first is not timed (>= 2)")
    parser.add_argument("--child", choices=NETWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.images, args.epochs)
    if args.epochs < 2:
        parser.error("--epochs must be >= 2: the first epoch is a warm-up")
    sys.path.insert(0, str(REPO))
    from nn.pipeline import numerics

    seconds = {(s, n): [] for s in SETTINGS for n in NETWORKS}
    cpu = {(s, n): [] for s in SETTINGS for n in NETWORKS}
    seen = {}
    for r in range(args.rounds):
        for setting in SETTINGS if r % 2 == 0 else SETTINGS[::-1]:
            for network in NETWORKS:
                out = run_child(setting, network, args)
                seconds[setting, network].append(statistics.fmean(out["epoch_seconds"][1:]))
                cpu[setting, network].append(statistics.fmean(out["cpu_seconds"][1:]))
                seen[setting] = (out["active"], out["kernel"])
                print(
                    f"round {r + 1} {setting:<6} {network:<15} {seconds[setting, network][-1]:.3f} s/epoch",
                    file=sys.stderr,
                    flush=True,
                )
    print(
        f"CPU: {numerics.cpu_model()}; {args.images} images, {args.epochs - 1} timed epochs per child, "
        f"{args.rounds} rounds, 1 BLAS thread"
    )
    for setting, (active, kernel) in seen.items():
        print(f"{setting}: numpy targets {' '.join(active)}, OpenBLAS kernel {kernel}")
    for what, table in (("wall", seconds), ("CPU", cpu)):
        print(f"{'network':<16}{what + ' s/epoch pinned':>22}{'native':>10}{'pinned/native':>15}")
        for network in NETWORKS:
            p, n = (statistics.median(table[s, network]) for s in SETTINGS)
            print(
                f"{network:<16}{p:>22.3f}{n:>10.3f}{p / n:>15.3f}   "
                f"(rounds: pinned {', '.join(f'{x:.3f}' for x in table['pinned', network])}; "
                f"native {', '.join(f'{x:.3f}' for x in table['native', network])})"
            )


if __name__ == "__main__":
    main()
