"""Training: epochs of shuffled mini-batches, validation, early stopping, and the state between epochs.

    config = FitConfig(epochs=30, batch_size=10)
    state = fit(model, SGD(model, lr=3.0), (x, labels), config, TrainState(np.random.default_rng(1)))
    state.history["train_loss"]

One numpy Generator (the state's rng), seeded once by the caller, draws the initial weights,
then each epoch's shuffle, each batch's distortions and dropout masks in a fixed order: same
seed, same bits. The TrainState is everything the next epoch depends on besides the model's
weights and the optimiser's buffers: a caller that saves it after an epoch (with those two) and
hands it back to fit carries on with the bits an uninterrupted fit would have given.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from nn.losses import one_hot


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the message names the epoch and batch.

    fit() attaches what it had: `history` and `timings` of the epochs that finished.
    """

    history: dict | None = None
    timings: dict | None = None


@dataclass(frozen=True)
class FitConfig:
    """How to train, as plain settings (nn.pipeline.hparams builds one from a run's config).

    schedule(epoch) -> lr is set on the optimiser before each epoch (None: its lr throughout).
    augment(batch, rng) -> batch is applied to each training batch (nn.augment.compose).
    early_stopping = patience > 0 stops after that many epochs without a lower validation
    loss and restores the weights of the best epoch. batch_size >= the training set is
    full-batch gradient descent: one step per epoch ("round").
    """

    epochs: int
    batch_size: int
    schedule: Callable[[int], float] | None = None
    augment: Callable | None = None
    early_stopping: int = 0


HISTORY_LISTS = ("epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                 "test_loss", "test_accuracy")


def new_history(validation: bool, monitor: bool) -> dict:
    """fit()'s history before the first epoch: per-epoch lists (val_* with a validation set,
    test_* with a monitor set, None otherwise) and two scalars."""
    kept = {"val_loss": validation, "val_accuracy": validation, "test_loss": monitor, "test_accuracy": monitor}
    return {**{k: [] if kept.get(k, True) else None for k in HISTORY_LISTS},
            "stopped_early": False, "best_epoch": 0}


@dataclass
class TrainState:
    """Where training stands after `epoch` finished epochs (0 = not started).

    rng draws shuffles, distortions and dropout masks; history and timings hold the finished
    epochs; best_loss and best_params are early stopping's. fit() fills `params` (a view of the
    model's flat parameters) and `optimizer` (its state_dict) before it calls its hook, so a
    saved state is whole; a state handed back to fit puts both into the model and optimiser.
    """

    rng: np.random.Generator
    epoch: int = 0
    history: dict | None = None
    timings: dict = field(default_factory=lambda: {"epoch_seconds": [], "total_seconds": 0.0})
    best_loss: float = math.inf
    best_params: np.ndarray | None = None       # (n_params,) copy, with early stopping
    params: np.ndarray | None = None            # (n_params,) the model's, at `epoch`
    optimizer: dict | None = None               # optimizer.state_dict() at `epoch`

    @property
    def since_best(self) -> int:
        return self.epoch - self.history["best_epoch"]

    def record(self, epoch: int) -> dict:
        """Finished epoch `epoch`'s figures (1-based): {"epoch", "lr", "train_loss", ..., "seconds"}."""
        i = epoch - 1
        record = {k: v[i] for k, v in self.history.items() if isinstance(v, list)}
        return record | {"seconds": self.timings["epoch_seconds"][i]}

    def _restore(self, model, optimizer) -> None:
        if self.params is not None:
            model.flat_params[...] = self.params
        if self.optimizer is not None:
            optimizer.load_state_dict(self.optimizer)
        self.timings = {**self.timings, "resumed_after": [*self.timings.get("resumed_after", []), self.epoch]}
        if self.best_params is not None:
            self.best_params = self.best_params.copy()


def train_epoch(model, opt, x, y, labels, batch_size, augment, rng, epoch):
    """One pass over x in a fresh random order. Returns (summed batch loss x size, correct count)."""
    n = len(x)
    if batch_size >= n and augment is None:
        # full-batch gradient descent: the order of a sum does not matter, so neither
        # shuffle nor gather: no copy of the training set per round
        return train_full_batch(model, opt, x, y, labels, epoch)
    n_batches = math.ceil(n / batch_size)
    order = rng.permutation(n)
    xb_buf = np.empty((min(batch_size, n), x.shape[1]), x.dtype)   # gather targets, reused every batch
    yb_buf = np.empty((min(batch_size, n), y.shape[1]), y.dtype)
    predicted = np.empty(n, np.intp)                                # in `order`; counted once at the end
    loss_sum = 0.0
    for b in range(n_batches):
        start, stop = b * batch_size, min((b + 1) * batch_size, n)
        idx = order[start:stop]
        # mode="clip": with the default "raise", take() buffers `out` (3x slower)
        xb = x.take(idx, axis=0, out=xb_buf[:len(idx)], mode="clip")   # (batch, 784)
        yb = y.take(idx, axis=0, out=yb_buf[:len(idx)], mode="clip")   # (batch, 10)
        if augment is not None:
            xb = augment(xb, rng)
        loss, scores = model.backprop(xb, yb)
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged: loss is {loss} at epoch {epoch + 1}, batch {b + 1} of {n_batches} "
                f"(learning rate {opt.lr:g}); try a smaller lr or another init")
        opt.step()
        loss_sum += loss * len(idx)
        scores.argmax(axis=1, out=predicted[start:stop])
    return loss_sum, int(np.count_nonzero(predicted == labels[order]))


def train_full_batch(model, opt, x, y, labels, epoch):
    """One gradient step on all of x (n, n_in) at once: train_epoch's result for batch_size >= n."""
    loss, scores = model.backprop(x, y)
    if not math.isfinite(loss):
        raise TrainingDiverged(f"training diverged: loss is {loss} at round {epoch + 1} "
                               f"(full batch, learning rate {opt.lr:g}); try a smaller lr or another init")
    opt.step()
    return loss * len(x), int(np.count_nonzero(scores.argmax(axis=1) == labels))


def fit(model, optimizer, train, config: FitConfig, state: TrainState, *, validation=None, monitor=None,
        on_epoch=None) -> TrainState:
    """Train `model` in place with `optimizer` (built on it) on train = (inputs (n, n_in), integer
    labels (n,)), as `config` says, from `state` (a fresh TrainState(rng), or one a hook saved).
    Returns the state after the last epoch.

    train_loss / train_accuracy are the averages over the epoch's batches as they were
    trained on (free to compute; Keras reports the same); validation = (inputs, labels) is
    measured after every epoch (val_*), as is monitor = (inputs, labels) (test_*, as Nielsen's
    code does, only to be plotted beside a published curve: it never chooses a model).
    The model is in training mode (Dropout on) for the training batches only.
    on_epoch(state) is called after every epoch, with the state the next epoch starts from.
    """
    x_val, val_labels = validation if validation is not None else (None, None)
    has_val = x_val is not None and len(x_val) > 0
    if config.early_stopping and not has_val:
        raise ValueError("early_stopping: needs a validation set (validation > 0)")
    x = np.asarray(train[0], model.dtype)
    y = one_hot(train[1], model.n_out, model.dtype)           # (n, 10)
    labels = np.asarray(train[1])
    if state.epoch:
        state._restore(model, optimizer)
    else:
        state.history = new_history(has_val, monitor is not None)
    history, timings, rng = state.history, state.timings, state.rng
    done_before, start_all = timings["total_seconds"], time.perf_counter()
    for epoch in range(state.epoch, state.epoch if history["stopped_early"] else config.epochs):
        start = time.perf_counter()
        if config.schedule is not None:
            optimizer.lr = config.schedule(epoch)
        # overflow to inf/NaN is caught as divergence, with a better message than a warning
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                model.train(rng)
                try:
                    loss_sum, correct = train_epoch(model, optimizer, x, y, labels, config.batch_size,
                                                    config.augment, rng, epoch)
                finally:
                    model.eval()
                record = {"epoch": epoch + 1, "lr": optimizer.lr, "train_loss": loss_sum / len(x),
                          "train_accuracy": correct / len(x)}
                if has_val:
                    record["val_loss"], record["val_accuracy"] = model.evaluate(x_val, val_labels)
                    if not math.isfinite(record["val_loss"]):
                        raise TrainingDiverged(f"training diverged: validation loss is {record['val_loss']} "
                                               f"after epoch {epoch + 1} (learning rate {optimizer.lr:g})")
                if monitor is not None:
                    record["test_loss"], record["test_accuracy"] = model.evaluate(*monitor)
        except TrainingDiverged as e:  # keep the finished epochs: their curves show the blow-up coming
            timings["total_seconds"] = done_before + time.perf_counter() - start_all
            e.history, e.timings = history, timings
            raise
        for key, value in record.items():
            history[key].append(value)
        timings["epoch_seconds"].append(time.perf_counter() - start)
        state.epoch = epoch + 1

        if not has_val:
            history["best_epoch"] = epoch + 1
        elif record["val_loss"] < state.best_loss:
            state.best_loss, history["best_epoch"] = record["val_loss"], epoch + 1
            if config.early_stopping:
                state.best_params = model.flat_params.copy()
        elif config.early_stopping and epoch + 1 - history["best_epoch"] >= config.early_stopping:
            history["stopped_early"] = True
        timings["total_seconds"] = done_before + time.perf_counter() - start_all
        if on_epoch:
            state.params, state.optimizer = model.flat_params, optimizer.state_dict()
            on_epoch(state)
        if history["stopped_early"]:
            break
    if state.best_params is not None:
        model.flat_params[...] = state.best_params
    timings["total_seconds"] = done_before + time.perf_counter() - start_all
    state.params = None  # not a copy: the model's own array, which training has moved past
    return state
