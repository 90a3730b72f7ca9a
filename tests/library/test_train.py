"""Training: it learns, it is reproducible, it fails loudly, and it reaches the blog's figure on MNIST."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import hp
from nn.mnist.data import decode_split, to_inputs
from nn.layers import Linear, ReLU, Sigmoid, Tanh
from nn.model import Sequential, mlp
from nn.optim import SGD
from nn.train import FitConfig, TrainingDiverged, TrainState, fit
from nn.augment import shift_images
from nn.pipeline.hparams import train_run

MNIST = Path(__file__).resolve().parents[3] / "shared" / "mnist"


def blocks(n, seed):
    """Learnable fake digits: class k lights a block at its own place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for k in range(10):
        r, c = 2 + 8 * (k // 4), 2 + 6 * (k % 4)
        images[labels == k, r : r + 6, c : c + 6] = 255
    return images, labels


def evaluate_one(model, x, labels):
    """evaluate() of a stack of one, as (loss, accuracy) floats: the figures its history records."""
    loss, accuracy = model.evaluate(x, labels)
    assert loss.shape == accuracy.shape == (1,)
    return float(loss[0]), float(accuracy[0])


def test_learns_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    labels = np.array([0, 1, 1, 0])
    model = Sequential(
        [
            Linear(2, 8, init="xavier", rng=1, dtype=np.float64),
            Tanh(),
            Linear(8, 2, init="xavier", rng=2, dtype=np.float64),
            Sigmoid(),
        ]
    )
    fit(
        model,
        SGD(model, lr=2.0),
        (x, labels),
        FitConfig(epochs=1000, batch_size=4),
        [TrainState(np.random.default_rng(0))],
    )
    np.testing.assert_array_equal(model.predict_proba(x).argmax(axis=-1), [labels])


def test_fits_100_random_examples():
    rng = np.random.default_rng(0)
    x, labels = rng.random((100, 20)).astype(np.float32), rng.integers(0, 10, 100)
    model = mlp([20, 64, 10], activation="relu", output="softmax", init="he", rng=rng)
    (state,) = fit(
        model, SGD(model, lr=0.05, momentum=0.9), (x, labels), FitConfig(epochs=300, batch_size=10), [TrainState(rng)]
    )
    history = state.history
    assert np.mean(model.predict_proba(x).argmax(axis=-1) == labels) == 1.0
    assert history["train_loss"][-1] < history["train_loss"][0] / 10


def test_train_run_history_and_log():
    images, labels = blocks(400, seed=1)
    lines = []
    model, history, timings = train_run(hp(epochs=3, schedule="cosine", lr_min=0.01), images, labels, log=lines.append)
    assert sorted(history) == [
        "best_epoch",
        "epoch",
        "lr",
        "stopped_early",
        "test_accuracy",
        "test_loss",
        "train_accuracy",
        "train_loss",
        "val_accuracy",
        "val_loss",
    ]
    assert history["epoch"] == [1, 2, 3] and len(history["val_loss"]) == 3 and len(timings["epoch_seconds"]) == 3
    assert history["lr"][0] == 0.1 and history["lr"][2] < history["lr"][1] < 0.1
    assert history["val_accuracy"][-1] > 0.9  # the blocks are easy; near chance means it did not learn
    assert lines[0].startswith("model Sequential([Linear(n_in=784, n_out=16), ReLU()")
    assert lines[0].endswith("1 seed(s) stacked: 0")
    assert lines[1].startswith("seed 0: epoch 1/3  lr 0.1  train loss ") and "val loss" in lines[1]
    x = to_inputs(images[-100:])  # the held-out images are the LAST 100
    assert evaluate_one(model, x, labels[-100:]) == (history["val_loss"][-1], history["val_accuracy"][-1])


def test_no_validation():
    images, labels = blocks(200, seed=1)
    _, history, _ = train_run(hp(validation=0, epochs=1), images, labels, log=lambda line: None)
    assert history["val_loss"] is None and history["best_epoch"] == 1


@pytest.mark.parametrize(
    "overrides",
    [
        dict(),
        dict(shift=2, nesterov=True, weight_decay=1e-3, dtype="float64"),
        dict(
            optimizer="adam",
            lr=1e-3,
            momentum=0.0,
            dropout=0.3,
            rotate=10,
            scale=0.1,
            shear=5,
            translate=1.0,
            elastic_alpha=8.0,
            elastic_sigma=3.0,
            schedule="cosine",
        ),
        dict(
            optimizer="rmsprop", lr=1e-3, momentum=0.0, hidden=[16, 8], dropout=[0.2, 0.1], shift=1, elastic_alpha=5.0
        ),
    ],
)
def test_same_seed_same_bits_other_seed_other_weights(overrides):
    images, labels = blocks(300, seed=2)
    runs = [train_run(hp(seed=s, **overrides), images, labels, log=lambda line: None) for s in (5, 5, 6)]
    (m1, h1, _), (m2, h2, _), (m3, _, _) = runs
    assert h1 == h2
    for (name, p1, _, _), (_, p2, _, _), (_, p3, _, _) in zip(m1.parameters(), m2.parameters(), m3.parameters()):
        assert p1.tobytes() == p2.tobytes(), name
        assert not np.array_equal(p1, p3), name


def test_dropout_is_on_for_training_batches_only():
    images, labels = blocks(400, seed=1)
    model, history, _ = train_run(hp(dropout=0.5, hidden=[32], epochs=2), images, labels, log=lambda line: None)
    assert "Dropout(rate=0.5)" in repr(model) and not any(layer.training for layer in model.layers)
    x = to_inputs(images[-100:])  # validation was measured in eval mode: the same figures again
    assert evaluate_one(model, x, labels[-100:]) == (history["val_loss"][-1], history["val_accuracy"][-1])


def test_schedules_drive_every_optimizer():
    images, labels = blocks(200, seed=1)
    for name in ("sgd", "adam", "rmsprop"):
        _, history, _ = train_run(
            hp(optimizer=name, momentum=0.0, lr=0.01, schedule="step", step_size=1, step_gamma=0.5, epochs=3),
            images,
            labels,
            log=lambda line: None,
        )
        assert history["lr"] == [0.01, 0.005, 0.0025], name


def test_divergence_names_epoch_and_batch():
    images, labels = blocks(200, seed=3)
    # a deep ReLU net with a huge step: activations overflow float32 within a few batches
    with pytest.raises(
        TrainingDiverged, match=r"loss is (nan|inf) at epoch 1, batch \d+ of 7 \(learning rate 10000\)"
    ) as e:
        train_run(hp(hidden=[64, 64, 64], lr=1e4), images, labels, log=lambda line: None)
    assert e.value.history["epoch"] == [] and e.value.timings["total_seconds"] > 0  # what finished: nothing


def test_divergence_keeps_the_epochs_that_finished():
    """fit never raises TrainingDiverged: the diverging replica gets it as its `failure`, with the
    epochs that finished, and the other replicas of the stack train on, undisturbed."""
    images, labels = blocks(200, seed=3)
    x = to_inputs(images)

    def rngs():
        return [np.random.default_rng(s) for s in (0, 1)]

    def build():
        return mlp([784, 16, 10], activation="relu", output="softmax", loss="cross_entropy", init="he", rng=rngs())

    model = build()

    def blow_up(states):  # after epoch 1, replica 1's weights are such that no float32 product survives
        if states[1].epoch == 1:
            for layer in model.layers:
                for p in getattr(layer, "params", {}).values():
                    p[1] *= np.float32(1e30)

    states = fit(
        model,
        SGD(model, lr=0.1),
        (x, labels),
        FitConfig(epochs=3, batch_size=32),
        [TrainState(g) for g in rngs()],
        on_epoch=blow_up,
    )
    healthy, failed = states
    assert isinstance(failed.failure, TrainingDiverged) and not failed.training
    assert "at epoch 2, batch 1 of" in str(failed.failure)
    assert failed.failure.history["epoch"] == [1] and len(failed.failure.timings["epoch_seconds"]) == 1
    assert failed.epoch == 1 and failed.history is failed.failure.history
    assert healthy.failure is None and healthy.history["epoch"] == [1, 2, 3]
    undisturbed = build()  # replica 0 without the blow-up beside it: the same bits
    fit(
        undisturbed,
        SGD(undisturbed, lr=0.1),
        (x, labels),
        FitConfig(epochs=3, batch_size=32),
        [TrainState(g) for g in rngs()],
    )
    assert undisturbed.flat_params[0].tobytes() == model.flat_params[0].tobytes()
    with pytest.raises(ValueError, match="fit: 1 TrainStates for a model of 2 replicas"):
        fit(model, SGD(model, lr=0.1), (x, labels), FitConfig(epochs=1, batch_size=32), [TrainState(rngs()[0])])


def test_saturating_training_raises_no_warning():
    images, labels = blocks(200, seed=3)
    # ReLU into a sigmoid with N(0, 1) weights on 784 inputs: logits in the hundreds, sigmoid pinned
    # at 0 or 1. The seeds' np.exp warned of overflow here; nothing may warn (warnings are errors).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, history, _ = train_run(
            hp(
                activation="relu",
                output="sigmoid",
                loss="quadratic",
                init="normal",
                lr=3.0,
                momentum=0.0,
                batch_size=10,
            ),
            images,
            labels,
            log=lambda line: None,
        )
    assert all(np.isfinite(history["train_loss"] + history["val_loss"]))


def test_early_stopping_restores_best_weights():
    images, labels = blocks(300, seed=4)
    # 50 training images, a big step with momentum: validation loss soon stops improving
    model, history, _ = train_run(
        hp(lr=1.0, epochs=40, early_stopping=2, validation=250, hidden=[64]), images, labels, log=lambda line: None
    )
    best = history["best_epoch"]
    assert history["stopped_early"] and len(history["epoch"]) == best + 2 < 40
    assert min(history["val_loss"]) == history["val_loss"][best - 1]
    loss, _ = evaluate_one(model, to_inputs(images[-250:]), labels[-250:])
    assert loss == history["val_loss"][best - 1]


def test_early_stopping_needs_validation():
    images, labels = blocks(100, seed=4)
    with pytest.raises(ValueError, match="early_stopping: needs a validation set"):
        train_run(hp(validation=0, early_stopping=3), images, labels, log=lambda line: None)


def test_bad_hyperparameters_and_data():
    images, labels = blocks(50, seed=5)
    with pytest.raises(ValueError, match="missing key 'lr'"):
        train_run({k: v for k, v in hp().items() if k != "lr"}, images, labels)
    with pytest.raises(ValueError, match=r"validation = 50 must be in \[0, 50\)"):
        train_run(hp(validation=50), images, labels)
    with pytest.raises(ValueError, match="training images: images must be uint8"):
        train_run(hp(), images.astype(np.float32), labels)
    with pytest.raises(ValueError, match=r"dropout lists 1 rates for 2 hidden layers \(hidden \[16, 8\]\)"):
        train_run(hp(hidden=[16, 8], dropout=[0.2], validation=10), images, labels)
    with pytest.raises(ValueError, match="momentum/nesterov: apply to optimizer sgd only, not rmsprop"):
        train_run(hp(optimizer="rmsprop", validation=10), images, labels)  # hp() has momentum 0.9


def test_shift_images_matches_a_per_image_reference():
    rng = np.random.default_rng(0)
    x = rng.random((50, 784)).astype(np.float32)
    shifted = shift_images(x, 2, np.random.default_rng(1))
    dy, dx = np.random.default_rng(1).integers(-2, 3, size=(2, 50))
    for i in range(50):  # slow and obvious: zero canvas, paste the image at its offset
        canvas = np.zeros((32, 32), np.float32)
        canvas[2 + dy[i] : 30 + dy[i], 2 + dx[i] : 30 + dx[i]] = x[i].reshape(28, 28)
        np.testing.assert_array_equal(shifted[i].reshape(28, 28), canvas[2:30, 2:30])
    assert len({(a, b) for a, b in zip(dy, dx)}) > 10  # the shifts do vary


@pytest.fixture(scope="module")
def mnist():
    if not (MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST}")
    train = decode_split(MNIST / "train-images-idx3-ubyte.gz", MNIST / "train-labels-idx1-ubyte.gz")
    test = decode_split(MNIST / "t10k-images-idx3-ubyte.gz", MNIST / "t10k-labels-idx1-ubyte.gz")
    return train, test


@pytest.mark.slow
def test_blog_network_one_epoch_on_real_mnist(mnist):
    (images, labels), (test_images, test_labels) = mnist
    # the blog's form, ReLU hidden and sigmoid output, quadratic cost; N(0, 1) would saturate it
    rng = np.random.default_rng(0)
    model = Sequential([Linear(784, 30, init="he", rng=rng), ReLU(), Linear(30, 10, init="he", rng=rng), Sigmoid()])
    fit(model, SGD(model, lr=0.5), (to_inputs(images), labels), FitConfig(epochs=1, batch_size=10), [TrainState(rng)])
    _, accuracy = evaluate_one(model, to_inputs(test_images), test_labels)
    assert accuracy >= 0.85


@pytest.mark.slow
def test_nielsen_network_one_epoch_on_real_mnist(mnist):
    (images, labels), (test_images, test_labels) = mnist
    # Nielsen's network: [784, 30, 10] sigmoid, quadratic cost, N(0, 1) init, batch 10, eta 3.0
    model, _, _ = train_run(
        hp(
            hidden=[30],
            activation="sigmoid",
            output="sigmoid",
            loss="quadratic",
            init="normal",
            lr=3.0,
            momentum=0.0,
            batch_size=10,
            epochs=1,
            validation=10000,
        ),
        images,
        labels,
        log=lambda line: None,
    )
    _, accuracy = evaluate_one(model, to_inputs(test_images), test_labels)
    assert accuracy >= 0.85


def test_full_batch_steps_on_the_training_set_itself_once_per_round():
    images, labels = blocks(300, seed=4)
    x = to_inputs(images)
    model = mlp([784, 8, 10], activation="sigmoid", output="sigmoid", loss="quadratic", init="scaled_normal", rng=0)
    seen, backprop = [], model.backprop
    model.backprop = lambda xb, yb: (seen.append(xb), backprop(xb, yb))[1]
    (state,) = fit(
        model,
        SGD(model, lr=1.0),
        (x, labels),
        FitConfig(epochs=3, batch_size=len(x)),
        [TrainState(np.random.default_rng(0))],
    )
    history = state.history
    assert len(seen) == 3 and all(xb is x for xb in seen)  # no shuffle, no gather, no copy
    assert history["train_loss"][2] < history["train_loss"][0]


def test_batch_size_full_and_untrained_runs():
    images, labels = blocks(300, seed=5)
    _, history, _ = train_run(hp(batch_size="full", epochs=2, validation=0), images, labels, log=lambda s: None)
    assert history["epoch"] == [1, 2]
    model, history, _ = train_run(hp(epochs=0), images, labels, log=lambda s: None)
    assert history["epoch"] == [] and history["best_epoch"] == 0
    untouched = mlp([784, 16, 10], activation="relu", output="softmax", init="he", rng=np.random.default_rng(0))
    for (_, a, _, _), (_, b, _, _) in zip(model.parameters(), untouched.parameters()):
        np.testing.assert_array_equal(a, b)


def test_monitor_test_records_test_figures_and_changes_nothing_else():
    images, labels = blocks(400, seed=6)
    test = blocks(100, seed=7)
    plain, h0, _ = train_run(hp(epochs=3), images, labels, log=lambda s: None)
    lines = []
    watched, h1, _ = train_run(hp(epochs=3, monitor_test=True), images, labels, log=lines.append, test=test)
    assert len(h1["test_accuracy"]) == len(h1["test_loss"]) == 3 and h0["test_accuracy"] is None
    assert {k: v for k, v in h1.items() if not k.startswith("test_")} == {
        k: v for k, v in h0.items() if not k.startswith("test_")
    }
    for (_, a, _, _), (_, b, _, _) in zip(plain.parameters(), watched.parameters()):
        np.testing.assert_array_equal(a, b)  # measuring never steers training
    assert h1["test_accuracy"][-1] == evaluate_one(watched, to_inputs(test[0]), test[1])[1]
    assert "test acc" in lines[-1]
    with pytest.raises(ValueError, match="monitor_test is on but no test images"):
        train_run(hp(monitor_test=True), images, labels, log=lambda s: None)


def test_full_batch_monitor_and_zero_epochs_work_with_every_optimizer():
    images, labels = blocks(300, seed=7)
    test = blocks(50, seed=8)
    for name in ("sgd", "adam", "rmsprop"):
        model, history, _ = train_run(
            hp(optimizer=name, momentum=0.0, lr=0.01, batch_size="full", epochs=2, monitor_test=True, dropout=0.2),
            images,
            labels,
            log=lambda line: None,
            test=test,
        )
        assert (
            len(history["test_accuracy"]) == 2
            and history["test_loss"][-1] == evaluate_one(model, to_inputs(test[0]), test[1])[0]
        )
    model, history, _ = train_run(hp(epochs=0), images, labels, log=lambda line: None)
    assert history["epoch"] == [] and model.predict_proba(to_inputs(images[:3])).argmax(axis=-1).shape == (
        1,
        3,
    )  # a stack of one


def test_source_keys_at_their_defaults_train_todays_bits():
    images, labels = blocks(300, seed=8)
    today, h0, _ = train_run(hp(), images, labels, log=lambda s: None)
    same, h1, _ = train_run(
        hp(inputs="unit", init_scale=None, test_subset=0, activation=["relu"]), images, labels, log=lambda s: None
    )
    assert h0 == h1 and today.flat_params.tobytes() == same.flat_params.tobytes()


@pytest.mark.parametrize(
    "overrides",
    [
        # pocket-model: four weight layers, 0.2 z / ReLU / 0.05 z / sigmoid, U(-1, 1), sum of squares, its inputs
        dict(
            hidden=[30, 30, 10],
            activation=[{"scaled": 0.2}, "relu", {"scaled": 0.05}],
            output="sigmoid",
            loss="squared_error",
            init="uniform_pm1",
            inputs="max_standardise",
            momentum=0.0,
            dtype="float64",
        ),
        # the notebook's ReLU run: plain 0.01 init, ReLU output whose gradient passes straight through, raw pixels
        dict(
            activation="relu_identity_grad",
            output="relu_identity_grad",
            loss="quadratic",
            init="plain",
            init_scale=0.01,
            inputs="raw",
            lr=1e-5,
            momentum=0.0,
        ),
        dict(
            activation="sigmoid",
            output="sigmoid",
            loss="quadratic",
            init="normal",
            inputs="div256",
            lr=3.0,
            momentum=0.0,
        ),
    ],
)
def test_the_sources_networks_train_and_are_measured_on_inputs_scaled_alike(overrides):
    images, labels = blocks(300, seed=9)
    test = blocks(60, seed=10)
    model, history, _ = train_run(
        hp(epochs=2, monitor_test=True, **overrides), images, labels, log=lambda s: None, test=test
    )
    assert all(np.isfinite(history["train_loss"]))
    x_test = to_inputs(test[0], model.dtype, scaling=overrides["inputs"])  # the test set with its own scaling
    assert history["test_accuracy"][-1] == evaluate_one(model, x_test, test[1])[1]
    x_val = to_inputs(images, model.dtype, scaling=overrides["inputs"])[-100:]  # scaled with all training images
    assert (history["val_loss"][-1], history["val_accuracy"][-1]) == evaluate_one(model, x_val, labels[-100:])


def test_source_keys_that_cannot_work_are_refused():
    images, labels = blocks(50, seed=5)
    with pytest.raises(ValueError, match=r"activation lists 1 activations for 2 hidden layers \(hidden \[16, 8\]\)"):
        train_run(hp(hidden=[16, 8], activation=["relu"], validation=10), images, labels)
    with pytest.raises(ValueError, match="augmentation fills the edges with 0"):
        train_run(hp(inputs="max_standardise", shift=1, validation=10), images, labels)
    with pytest.raises(ValueError, match="scheme 'he' takes no scale"):
        train_run(hp(init_scale=0.1, validation=10), images, labels)
