"""nn.pipeline.blocks: which of a run's seeds train together, their names, and the seed in an output path.

Through Snakemake (the train rule's blocks): tests/workflow/test_workflow.py.
"""

import math

import pytest

from nn.pipeline import blocks

HP = {"hidden": [100], "batch_size": 100, "epochs": 10, "validation": 10000, "dtype": "float32"}


def test_the_estimate_is_the_products_work_at_its_precision_plus_a_cost_per_step():
    n = 60000 - 10000
    weights = 784 * 100 + 100 * 10
    steps = n // 100
    for dtype in ("float32", "float64"):
        expected = 10 * (6 * weights * n / blocks.FLOPS_PER_SECOND[dtype] + steps * blocks.STEP_SECONDS)
        assert blocks.estimated_seconds({**HP, "dtype": dtype}) == pytest.approx(expected)
    full = blocks.estimated_seconds({**HP, "batch_size": "full"})
    assert full == pytest.approx(10 * (6 * weights * n / blocks.FLOPS_PER_SECOND["float32"] + blocks.STEP_SECONDS))
    # more epochs, wider layers, float64 and smaller batches each cost more
    assert blocks.estimated_seconds({**HP, "epochs": 20}) == pytest.approx(2 * blocks.estimated_seconds(HP))
    assert blocks.estimated_seconds({**HP, "hidden": [800]}) > blocks.estimated_seconds(HP)
    assert blocks.estimated_seconds({**HP, "dtype": "float64"}) > blocks.estimated_seconds(HP)
    assert blocks.estimated_seconds({**HP, "batch_size": 10}) > blocks.estimated_seconds(HP)
    assert blocks.estimated_seconds(HP, n_train_images=20000) < blocks.estimated_seconds(HP)


def test_a_block_holds_as_many_seeds_as_fit_in_its_time_and_at_least_one():
    cheap = {**HP, "epochs": 1}
    size = blocks.block_size(cheap)
    assert size == int(blocks.BLOCK_SECONDS // blocks.estimated_seconds(cheap)) and size > 1
    assert (size + 1) * blocks.estimated_seconds(cheap) > blocks.BLOCK_SECONDS >= size * blocks.estimated_seconds(cheap)
    huge = {**HP, "hidden": [4000, 4000], "epochs": 500}
    assert blocks.estimated_seconds(huge) > blocks.BLOCK_SECONDS and blocks.block_size(huge) == 1
    assert blocks.block_size({**HP, "epochs": 0}) >= 1  # no work: no division by zero


@pytest.mark.parametrize("n", range(0, 13))
@pytest.mark.parametrize("size", [1, 2, 3, 5, 12])
def test_split_keeps_the_seeds_in_order_in_as_few_blocks_as_the_size_allows(n, size):
    seeds = [10 + 3 * i for i in range(n)]
    parts = blocks.split(seeds, size)
    assert [s for part in parts for s in part] == seeds
    assert len(parts) == math.ceil(n / size)
    assert all(0 < len(part) <= size for part in parts)
    if parts:
        assert max(map(len, parts)) - min(map(len, parts)) < max(2, len(parts))  # near-equal, not 5 + 1


def test_trained_seeds_form_blocks_apart_from_the_missing_ones():
    many = {**HP, "epochs": 1}
    size = blocks.block_size(many)
    seeds = list(range(1, 2 * size + 2))
    done = set(seeds[::2])
    grouped = blocks.blocks(many, seeds, lambda s: s in done)
    assert sorted(s for part in grouped for s in part) == seeds
    assert all(set(part) <= done or not set(part) & done for part in grouped)
    assert [s for part in grouped if set(part) <= done for s in part] == sorted(done)
    assert blocks.blocks(many, seeds, lambda s: False) == blocks.split(seeds, size)
    assert blocks.blocks(many, [], lambda s: True) == []


def test_a_blocks_names_and_the_seed_of_an_output_path():
    assert blocks.rule_name(4, [7, 8, 9]) == "train_4_7"
    assert blocks.label([3]) == "seed-3"
    assert blocks.label([3, 4, 10]) == "seeds-3-10"
    assert blocks.seed_of("results/runs/a-b/seed-12/model.npz") == 12
    assert blocks.seed_of("results\\runs\\a\\seed-5\\history.json") == 5
    with pytest.raises(ValueError, match="results/runs/a/model.npz: no seed-<n> folder"):
        blocks.seed_of("results/runs/a/model.npz")
