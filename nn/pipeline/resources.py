"""Resources: what one training run needs, and what a job may claim of this machine.

The readers' own bound (nn.fileio.array_bound) is the library's; here the config is checked
against the machine's memory before any job (nn.pipeline.config.check_memory) and a training
job's core claim is chosen (training_claim).
"""

from __future__ import annotations

import os

from nn.model import INFERENCE_ROWS

MNIST_TRAIN = 60_000  # images a run trains on (tiny test data has fewer: an overestimate there)
BASE_BYTES = 100 << 20  # Python, numpy and the script itself, before any data


def human(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def training_bytes(hp: dict, n_train: int = MNIST_TRAIN) -> int:
    """Peak memory of training one run, from its hyperparameters (Python ints: no overflow).

    The training set as uint8 and as floats with one-hot targets; every parameter five times
    (weights, gradients, momentum, weight-decay buffer, the best epoch's copy); one batch of
    inputs and three buffers per layer for it (forward, activation, backward), and one
    inference chunk for validation. An upper bound, measured (benchmarks/training_memory.py) as ru_maxrss of
    train_run on the real MNIST (1 epoch, momentum and early stopping on; the process also decoded the .gz):

        hidden [128], batch 128, float32        measured 284 MB   estimate 375 MB
        hidden [1024, 1024], batch 128, float32 measured 424 MB   estimate 476 MB
        hidden [128], batch "full", float32     measured 388 MB   estimate 662 MB
        hidden [256], batch 128, float64        measured 514 MB   estimate 612 MB
    """
    item = 8 if hp.get("dtype") == "float64" else 4
    sizes = [784, *hp["hidden"], 10]
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    batch = n_train if hp.get("batch_size") == "full" else min(int(hp["batch_size"]), n_train)
    data = n_train * 784 * (1 + item) + n_train * 10 * item
    if hp.get("inputs") == "max_standardise":  # its float64 copy of the images (nn.mnist.data)
        data += n_train * 784 * 8
    activations = (batch * (784 + 3 * sum(sizes[1:])) + 2 * INFERENCE_ROWS * sum(sizes)) * item
    return BASE_BYTES + data + 5 * params * item + activations


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which a cluster's cgroup narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def training_claim(blas_threads: int, cores: int | None, cpus: int) -> int:
    """Cores a training job claims from Snakemake's --cores: its BLAS threads, or more when
    --cores exceeds the machine's CPUs, so that about as many training threads run at once
    as there are CPUs (exactly as many when --cores is a multiple of them).

    Why: training is bound by the CPU's caches and memory bandwidth, so time-slicing more
    trainings than CPUs loses work. Measured on 2 CPUs (benchmarks/concurrent_trainings.py):
    four one-thread `best` trainings at once do 12 % fewer steps per second in total than
    two. The job's BLAS threads stay blas_threads whatever it claims (scripts/train.py), so
    the claim changes which jobs run side by side, never a result's bits.

    training_claim(1, 4, 2) == 2 (two trainings at a time); training_claim(1, 2, 2) == 1.
    """
    if not cores or cores <= cpus:
        return blas_threads
    at_once = max(1, cpus // blas_threads)  # trainings that fit on the CPUs
    return max(blas_threads, cores // at_once)
