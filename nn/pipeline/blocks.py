"""The training job unit: which of a run's seeds train together, as one stacked computation.

A job trains a block of one run's seeds as a stack of networks (nn.model): the per-step work
outside the matrix products (gathers, elementwise passes, the optimiser's calls, Python) is
paid once for the whole block, not once per seed. How many seeds go in one block is decided
per run, from its own cost alone (so editing one run never regroups another):

- a seed's cost is estimated from its shapes: the products' floating-point work at its
  precision plus a fixed cost per step (estimated_seconds);
- a block holds at most as many seeds as fit in BLOCK_SECONDS of that estimate, so a long run
  still spreads over the cores and no block outlasts the rest of the pipeline (the critical
  path of the default pipeline on 2 CPUs stays the total work over the cores);
- a run's seeds are split into as few blocks as that allows, of near-equal size.

Seeds whose outputs already exist form blocks of their own, apart from the missing ones: raising
`replicates` then trains only the new seeds (the old ones' block is up to date). A job's params
hold the run's hyperparameters without its seeds (the seeds are in the output paths), so
regrouping up-to-date seeds reruns nothing. Which outputs exist is read once, by the Snakemake
process the user started (workflow/rules/train.smk keeps its plan for the jobs that parse the
workflow again on a cluster).
"""

from __future__ import annotations

import math
import re

# The scale of the estimate: the products' floating-point rates on one pinned BLAS thread (the
# rates benchmarks/floor.py prints; docs/performance.md, "The compute floor") and the fixed cost of
# a training step outside them. Only their ratios to BLOCK_SECONDS matter.
FLOPS_PER_SECOND = {"float32": 110e9, "float64": 45e9}
STEP_SECONDS = 100e-6
BLOCK_SECONDS = 240.0  # the most estimated single-seed work one block takes on
MNIST_TRAIN = 60000
N_IN, N_OUT = 784, 10


def estimated_seconds(hp: dict, n_train_images: int = MNIST_TRAIN) -> float:
    """A rough single-seed training time of a run, from its layer sizes, batches and epochs: the
    forward, weight-gradient and input-gradient products (about 6 flops per weight per image)
    at its precision, plus STEP_SECONDS per step."""
    n = n_train_images - hp.get("validation", 0)
    batch = n if hp["batch_size"] == "full" else min(int(hp["batch_size"]), n)
    sizes = [N_IN, *hp["hidden"], N_OUT]
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    flops = 6 * weights * n
    rate = FLOPS_PER_SECOND.get(hp.get("dtype", "float32"), FLOPS_PER_SECOND["float32"])
    return hp["epochs"] * (flops / rate + math.ceil(n / batch) * STEP_SECONDS)


def block_size(hp: dict) -> int:
    """The most seeds of this run one job trains: as many as fit in BLOCK_SECONDS, at least one."""
    return max(1, int(BLOCK_SECONDS // max(estimated_seconds(hp), 1e-9)))


def split(seeds: list[int], size: int) -> list[list[int]]:
    """seeds in as few consecutive blocks of at most `size` as possible, of near-equal size."""
    if not seeds:
        return []
    n_blocks = math.ceil(len(seeds) / size)
    per_block = math.ceil(len(seeds) / n_blocks)
    return [seeds[i : i + per_block] for i in range(0, len(seeds), per_block)]


def blocks(hp: dict, seeds: list[int], trained) -> list[list[int]]:
    """A run's seeds grouped into training jobs: the seeds for which trained(seed) is true (their
    outputs exist) apart from the others, each group split by block_size."""
    size = block_size(hp)
    done = [s for s in seeds if trained(s)]
    return split(done, size) + split([s for s in seeds if s not in done], size)


def rule_name(run_index: int, block: list[int]) -> str:
    """A block's Snakemake rule name: `train_` then the run's position and the block's first seed
    (a run name may hold characters a rule name cannot)."""
    return f"train_{run_index}_{block[0]}"


def label(block: list[int]) -> str:
    """A block's name in its log, benchmark and checkpoint paths: seed-3 alone, seeds-3-10 for several."""
    return f"seed-{block[0]}" if len(block) == 1 else f"seeds-{block[0]}-{block[-1]}"


SEED_IN_PATH = re.compile(r"seed-(\d+)[/\\]")


def seed_of(path: str) -> int:
    """The seed an output path names (results/runs/<run>/seed-<seed>/...)."""
    m = SEED_IN_PATH.search(str(path))
    if not m:
        raise ValueError(f"{path}: no seed-<n> folder in this output path")
    return int(m.group(1))
