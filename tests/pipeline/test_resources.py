"""nn.pipeline.resources: a training's memory estimate and how many trainings run at once."""

import pytest


def test_training_memory_estimate_matches_the_measured_default_run():
    from nn.pipeline.resources import training_bytes

    hp = {"hidden": [128], "batch_size": 128, "dtype": "float32"}
    # an upper bound within 1.5x of the measured peak, 284 MB (nn/pipeline/resources.py docstring)
    assert 284e6 <= training_bytes(hp) <= 1.5 * 284e6
    assert training_bytes({**hp, "batch_size": "full"}) > training_bytes(hp)
    assert training_bytes({**hp, "dtype": "float64"}) > training_bytes(hp)


@pytest.mark.parametrize(
    "blas, cores, cpus, claim",
    [
        (1, 4, 2, 2),  # the README's --cores 4 on this 2-CPU machine: two trainings at a time
        (1, 2, 2, 1),
        (1, 1, 2, 1),
        (1, None, 2, 1),  # --cores within the CPUs: the BLAS threads
        (1, 8, 2, 4),
        (2, 4, 2, 4),
        (1, 3, 2, 1),
        (2, 16, 8, 4),
        (4, 8, 2, 8),
    ],
)
def test_training_claim_keeps_trainings_at_once_within_the_cpus(blas, cores, cpus, claim):
    from nn.pipeline.resources import training_claim

    assert training_claim(blas, cores, cpus) == claim
    if cores and cores > cpus:  # well under twice as many training threads at once as CPUs (--cores 4: 2, not 4)
        assert (cores // claim) * blas < 2 * max(cpus, blas)
