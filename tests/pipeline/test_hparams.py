"""A run's seeds trained stacked (nn.pipeline.hparams.train_seeds, one stack of replicas) give each
seed the bytes it gets trained alone (train_run): its model file, its history and its figures on a
test set, for every kind of protocol the configuration trains.

Small synthetic digits (conftest.tiny_digits): 600 training images, 200 test images. Batch sizes
are scaled to them: the sources' batches of 10,000 out of 60,000 (a few big batches a round) are
batches of 250 out of 600 here (250, 250 and a short last one of 100). The sources' protocols
(full batch, 10, 24, 10,000) train in float64 as their runs do; the others in float32.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import tiny_digits
from helpers import hp as train_hp
from nn import serialize
from nn.pipeline.architecture import network_inputs
from nn.pipeline.hparams import build_augment, preview_settings, train_run, train_seeds
from nn.train import TrainingDiverged
from nn.augment import DISTORTION_KEYS, in_words

TRAIN = tiny_digits(600, seed=1)
TEST = tiny_digits(200, seed=2)
SEEDS = (1, 2, 3)


def hp(**overrides):
    """test_train's complete hyperparameter dict, plain SGD at batch 32 for 3 epochs unless overridden."""
    return train_hp(**{"momentum": 0.0, "batch_size": 32, "epochs": 3, **overrides})


SECONDS = re.compile(r"  \d+\.\d+ s$")


def epoch_lines(lines, seed):
    """A seed's epoch and failure lines in a log, without their wall times."""
    return [SECONDS.sub("", line) for line in lines if line.startswith(f"seed {seed}: ")]


def model_bytes(model, path, replica=0):
    serialize.save(model, path, replica=replica)
    return path.read_bytes()


def assert_each_seed_as_alone(overrides, tmp_path, seeds=SEEDS):
    """Train `seeds` of one run stacked, then each alone; every seed's model file, history, log lines
    and test-set outputs and losses must be the same bytes. A seed that fails stacked must fail alone
    with the same message and history. Returns the stacked states."""
    hps = [hp(seed=seed, **overrides) for seed in seeds]
    test = TEST if hps[0]["monitor_test"] else None
    lines = []
    model, states = train_seeds(hps, *TRAIN, log=lines.append, test=test)
    assert model.replicas == len(seeds) and len(states) == len(seeds)
    x_test = network_inputs(hps[0], TEST[0], model.dtype)
    probs, losses = model.outputs_and_losses(x_test, TEST[1])
    assert probs.shape == (len(seeds), len(x_test), 10) and losses.shape == (len(seeds), len(x_test))
    for r, (seed, state) in enumerate(zip(seeds, states)):
        alone_lines = []
        if state.failure is not None:
            with pytest.raises(TrainingDiverged) as alone:
                train_run(hps[r], *TRAIN, log=alone_lines.append, test=test)
            assert str(state.failure) == str(alone.value), seed
            assert json.dumps(state.failure.history, sort_keys=True) == json.dumps(alone.value.history, sort_keys=True)
            assert epoch_lines(lines, seed) == epoch_lines(alone_lines, seed), seed
            continue
        alone, history, _ = train_run(hps[r], *TRAIN, log=alone_lines.append, test=test)
        assert alone.replicas == 1
        assert model_bytes(model, tmp_path / "stacked.npz", r) == model_bytes(alone, tmp_path / "alone.npz"), seed
        assert json.dumps(state.history, sort_keys=True) == json.dumps(history, sort_keys=True), seed
        alone_probs, alone_losses = alone.outputs_and_losses(x_test, TEST[1])
        assert alone_probs[0].tobytes() == probs[r].tobytes(), seed
        assert alone_losses[0].tobytes() == losses[r].tobytes(), seed
        assert epoch_lines(lines, seed) == epoch_lines(alone_lines, seed), seed
        assert len(epoch_lines(lines, seed)) == len(history["epoch"])
    healthy = [r for r, s in enumerate(states) if s.failure is None]
    if len(healthy) > 1:  # the seeds are other networks: a stack that trained one of them k times fails here
        assert not np.array_equal(probs[healthy[0]], probs[healthy[1]])
    return states


# float64, as the sources' own runs (config.yaml: pitt-*, blog-pocket-model, nielsen-*)
SOURCE_PROTOCOLS = {
    # pitt-sigmoid-16-16: one step a round on every training image
    "full batch": dict(
        hidden=[16, 16],
        activation="sigmoid",
        output="sigmoid",
        loss="quadratic",
        init="plain",
        init_scale=0.01,
        inputs="raw",
        lr=1.0,
        batch_size="full",
        validation=0,
    ),
    # nielsen-ch1-30: online-ish SGD, test accuracy after every epoch
    "batches of 10": dict(
        hidden=[16],
        activation="sigmoid",
        output="sigmoid",
        loss="quadratic",
        init="normal",
        inputs="div256",
        lr=3.0,
        batch_size=10,
        epochs=2,
        monitor_test=True,
    ),
    # blog-pocket-model: its four weight layers, linear activations, sum of squares, its inputs
    "batches of 24": dict(
        hidden=[16, 16, 10],
        activation=[{"scaled": 0.2}, "relu", {"scaled": 0.05}],
        output="sigmoid",
        loss="squared_error",
        init="uniform_pm1",
        inputs="max_standardise",
        lr=0.125,
        batch_size=24,
        epochs=2,
        validation=0,
    ),
    # pitt-sigmoid-128: batches of 10,000 of 60,000 -> of 250 of 600 (250, 250, 100)
    "batches of 10,000 (250 of 600)": dict(
        hidden=[32],
        activation="sigmoid",
        output="sigmoid",
        loss="quadratic",
        init="plain",
        init_scale=0.03,
        inputs="raw",
        lr=2.0,
        batch_size=250,
        validation=0,
    ),
}


@pytest.mark.parametrize("name", SOURCE_PROTOCOLS)
def test_source_protocols_train_each_seed_as_alone(name, tmp_path):
    states = assert_each_seed_as_alone({**SOURCE_PROTOCOLS[name], "dtype": "float64"}, tmp_path)
    assert all(s.failure is None for s in states)


OTHER_PROTOCOLS = {
    "momentum": dict(momentum=0.9, schedule="cosine", lr_min=0.01, monitor_test=True),
    "nesterov": dict(momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": dict(optimizer="adam", lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-4),
    "rmsprop": dict(optimizer="rmsprop", lr=1e-3, rho=0.9, eps=1e-7, hidden=[16, 8]),
    "dropout": dict(momentum=0.9, hidden=[24, 16], dropout=[0.3, 0.2]),
    "distortions": dict(
        momentum=0.9, elastic_alpha=8.0, elastic_sigma=3.0, rotate=10.0, scale=0.1, shear=5.0, translate=1.0, shift=1
    ),
}


@pytest.mark.parametrize("name", OTHER_PROTOCOLS)
def test_float32_protocols_train_each_seed_as_alone(name, tmp_path):
    states = assert_each_seed_as_alone({**OTHER_PROTOCOLS[name], "dtype": "float32"}, tmp_path)
    assert all(s.failure is None for s in states)


def test_early_stopping_stops_each_seed_at_its_own_epoch_as_alone(tmp_path):
    """A big step with momentum on 300 training images: validation loss stops improving after a
    different number of epochs for each seed (seed 2 never stops). The stack stops each seed there and
    restores its best weights while the others train on, as each would alone."""
    states = assert_each_seed_as_alone(
        dict(lr=1.0, momentum=0.9, epochs=12, early_stopping=2, validation=300), tmp_path, seeds=(0, 1, 2, 3)
    )
    last = [s.history["epoch"][-1] for s in states]
    assert len(set(last)) == len(last), f"the seeds must stop at different epochs; their last epochs: {last}"
    assert [s.history["stopped_early"] for s in states] == [True, True, False, True]
    assert last[2] == 12 and all(
        s.history["epoch"][-1] == s.history["best_epoch"] + 2 for s in states if s.history["stopped_early"]
    )


def test_a_diverging_seed_fails_alone_and_the_others_train_on_as_alone(tmp_path):
    """Linear hidden layers into softmax at lr 0.3 with momentum: seed 2's loss turns NaN in its second
    epoch, seed 4's validation loss after its first, seeds 0 and 6 train through. Each failing seed's
    failure is train_run's TrainingDiverged for it alone (message, finished epochs); the healthy
    seeds' bytes are their bytes alone."""
    states = assert_each_seed_as_alone(
        dict(activation={"scaled": 1.0}, hidden=[16, 16], init="xavier", lr=0.3, momentum=0.9, epochs=4),
        tmp_path,
        seeds=(0, 2, 4, 6),
    )
    failed = [s.failure is not None for s in states]
    assert failed == [False, True, True, False], "the mix of diverging and healthy seeds this test is about"
    assert all(isinstance(s.failure, TrainingDiverged) for s in states if s.failure is not None)
    assert re.fullmatch(
        r"training diverged: loss is (nan|inf) at epoch 2, batch \d+ of 16 \(learning rate 0\.3\); "
        r"try a smaller lr or another init",
        str(states[1].failure),
    )
    assert states[1].failure.history["epoch"] == [1]
    assert str(states[2].failure) == "training diverged: validation loss is nan after epoch 1 (learning rate 0.3)"
    assert states[2].failure.history["epoch"] == []
    assert [s.history["epoch"] for s in (states[0], states[3])] == [[1, 2, 3, 4]] * 2


def test_build_augment_is_none_when_everything_is_off():
    off = {k: 0.0 for k in DISTORTION_KEYS} | {"elastic_sigma": 4.0, "shift": 0}
    assert build_augment(off) is None
    assert build_augment({}) is None
    x = np.random.default_rng(8).random((4, 784)).astype(np.float32)
    augment = build_augment({**off, "shift": 1, "rotate": 5.0})
    assert augment(x, np.random.default_rng(0)).shape == (4, 784)
    with pytest.raises(ValueError, match="elastic_sigma: must be > 0"):
        build_augment({**off, "elastic_alpha": 5.0, "elastic_sigma": 0})


def test_preview_settings_and_their_description():
    runs = {
        "plain": {"shift": 0, "rotate": 0.0, "elastic_alpha": 0.0, "elastic_sigma": 4.0},
        "aug": {"shift": 2, "rotate": 15.0, "scale": 0.1, "elastic_alpha": 34.0, "elastic_sigma": 4.0},
    }
    assert preview_settings(runs) == (
        "aug",
        {"shift": 2, "rotate": 15.0, "scale": 0.1, "elastic_alpha": 34.0, "elastic_sigma": 4.0},
    )
    assert preview_settings({"plain": runs["plain"]}) == (None, {"elastic_alpha": 34.0, "elastic_sigma": 4.0})
    assert in_words(preview_settings(runs)[1]) == "shift ±2 px, rotate ±15°, scale ±10%, elastic α=34 σ=4"
    assert in_words({}) == "none"
