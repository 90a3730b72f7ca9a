"""Training: epochs of shuffled mini-batches, validation, early stopping, and the state between epochs.

    rngs = [np.random.default_rng(seed) for seed in (1, 2, 3)]
    model = mlp([784, 30, 10], rng=rngs)                    # three seeds' networks, one stack
    config = FitConfig(epochs=30, batch_size=10)
    states = fit(model, SGD(model, lr=3.0), (x, labels), config, [TrainState(g) for g in rngs])
    states[0].history["train_loss"]

A model is a stack of replicas (nn.model); fit trains them as one computation, each with its
own TrainState. A replica's numpy Generator (its state's rng), seeded once by the caller, draws
its initial weights, then each epoch's shuffle, each batch's distortions and dropout masks in a
fixed order: same seed, same bits, whatever else shares the stack. A replica whose loss turns
NaN or infinite fails alone (its state's `failure`, the TrainingDiverged it would have raised
alone); one that early stopping ends keeps its best weights; the others train on.

The TrainStates are everything the next epoch depends on besides the model's weights and the
optimiser's buffers: a caller that saves them after an epoch (with those two) and hands them
back to fit carries on with the bits an uninterrupted fit would have given.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from nn.losses import one_hot

if TYPE_CHECKING:
    from typing import Protocol

    import numpy.typing as npt

    from nn.layers import Seeds

    # nn.model.Sequential and nn.optim's optimisers as fit uses them, described here rather than
    # imported, since a rule's code hash follows this module's imports (nn.pipeline.sources)
    class _Model(Protocol):
        replicas: int
        dtype: np.dtype
        n_out: int
        flat_params: np.ndarray

        def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
        def train(self, rng: Seeds = None) -> None: ...
        def eval(self) -> None: ...
        def evaluate(self, x: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...

    class _Optimizer(Protocol):
        lr: float

        def step(self) -> None: ...
        def state_dict(self) -> dict: ...
        def load_state_dict(self, state: dict) -> None: ...


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the message names the epoch and batch.

    fit() keeps it as the replica's `failure`, with what it had: `history` and `timings` of the
    epochs that finished.
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


HISTORY_LISTS = (
    "epoch",
    "lr",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
)


def new_history(validation: bool, monitor: bool) -> dict:
    """fit()'s history before the first epoch: per-epoch lists (val_* with a validation set,
    test_* with a monitor set, None otherwise) and two scalars."""
    kept = {"val_loss": validation, "val_accuracy": validation, "test_loss": monitor, "test_accuracy": monitor}
    return {**{k: [] if kept.get(k, True) else None for k in HISTORY_LISTS}, "stopped_early": False, "best_epoch": 0}


@dataclass
class TrainState:
    """Where one replica's training stands: everything its next epoch depends on that is not in the
    model or the optimiser, and nothing that can be computed from the rest.

    rng draws shuffles, distortions and dropout masks; history and timings hold the finished
    epochs (the history says how many: `epoch`, and which was best: early stopping's best loss is
    that epoch's val_loss); best_params is early stopping's copy of the best epoch's weights.
    `failure` is the TrainingDiverged that ended a replica whose loss blew up (None while it
    trains). fit() fills `params` (a view of the replica's row of the model's parameters) and
    `optimizer` (its rows of the optimiser's state_dict) before it calls its hook, so a saved
    state is whole; states handed back to fit put both into the model and optimiser.
    """

    rng: np.random.Generator
    history: dict | None = None  # new_history()'s, filled by fit
    timings: dict = field(default_factory=lambda: {"epoch_seconds": [], "total_seconds": 0.0})
    best_params: np.ndarray | None = None  # (n_params,) copy, with early stopping
    params: np.ndarray | None = None  # (n_params,) the replica's, at `epoch`
    optimizer: dict | None = None  # its rows of optimizer.state_dict() at `epoch`
    failure: TrainingDiverged | None = None

    @property
    def epoch(self) -> int:
        """The finished epochs (0 = not started): the history's length."""
        return 0 if self.history is None else len(self.history["epoch"])

    @property
    def training(self) -> bool:
        """Neither failed nor stopped early: it takes the next epoch."""
        return self.failure is None and not (self.history or {}).get("stopped_early")

    def record(self, epoch: int) -> dict:
        """Finished epoch `epoch`'s figures (1-based): {"epoch", "lr", "train_loss", ..., "seconds"}."""
        i = epoch - 1
        record = {k: v[i] for k, v in self.history.items() if isinstance(v, list)}
        return record | {"seconds": self.timings["epoch_seconds"][i]}

    def fail(self, message: str) -> None:
        self.failure = TrainingDiverged(message)
        self.failure.history, self.failure.timings = self.history, self.timings


def _restore(states, model, optimizer) -> None:
    """Put saved states' parameters and optimiser rows into the model and optimiser."""
    for r, state in enumerate(states):
        if state.params is not None:
            model.flat_params[r] = state.params
        state.timings = {**state.timings, "resumed_after": [*state.timings.get("resumed_after", []), state.epoch]}
        if state.failure is not None:
            state.failure.timings = state.timings
        if state.best_params is not None:
            state.best_params = state.best_params.copy()
    saved = [s.optimizer for s in states]
    if all(o is not None for o in saved):
        optimizer.load_state_dict(
            {
                **saved[0],
                **{k: np.stack([o[k] for o in saved]) for k, v in saved[0].items() if isinstance(v, np.ndarray)},
            }
        )


def _row(state_dict: dict, r: int) -> dict:
    """Replica r's share of an optimizer.state_dict(): the step count, lr and its row of each buffer."""
    return {k: (v[r] if isinstance(v, np.ndarray) else v) for k, v in state_dict.items()}


def _buffer(buffers: dict, shape, dtype):
    """A reused array per shape: an epoch alternates between full batches and one short last batch."""
    buf = buffers.get(shape)
    if buf is None:
        buf = buffers[shape] = np.empty(shape, dtype)
    return buf


def train_epoch(
    model: _Model,
    opt: _Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None,
    states: list[TrainState],
    epoch: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One pass over x, each replica in its own fresh random order. Returns (summed batch loss x
    size (k,), correct count (k,)); a replica whose loss is not finite is failed on the way."""
    n, k = len(x), model.replicas
    if batch_size >= n and augment is None:
        # full-batch gradient descent: the order of a sum does not matter, so neither
        # shuffle nor gather: every replica reads the one training set
        losses, scores = model.backprop(x, y)  # (k,), (k, n, 10)
        _fail_diverged(
            states,
            losses,
            f"training diverged: loss is {{}} at round {epoch + 1} (full batch, "
            f"learning rate {opt.lr:g}); try a smaller lr or another init",
        )
        opt.step()
        return losses * n, np.count_nonzero(scores.argmax(axis=-1) == labels, axis=-1)
    n_batches = math.ceil(n / batch_size)
    order = np.stack([s.rng.permutation(n) for s in states])  # (k, n)
    buffers = {}
    predicted = np.empty((k, n), np.intp)  # in `order`; counted once at the end
    loss_sum = np.zeros(k)
    for b in range(n_batches):
        start, stop = b * batch_size, min((b + 1) * batch_size, n)
        idx = order[:, start:stop]  # (k, batch)
        # mode="clip": with the default "raise", take() buffers `out` (3x slower)
        xb = x.take(idx, axis=0, out=_buffer(buffers, (*idx.shape, x.shape[1]), x.dtype), mode="clip")
        yb = y.take(idx, axis=0, out=_buffer(buffers, (*idx.shape, y.shape[1]), y.dtype), mode="clip")
        if augment is not None:  # each replica from its own Generator
            for r, state in enumerate(states):
                xb[r] = augment(xb[r], state.rng)
        losses, scores = model.backprop(xb, yb)  # (k,), (k, batch, 10)
        _fail_diverged(
            states,
            losses,
            f"training diverged: loss is {{}} at epoch {epoch + 1}, batch {b + 1} of "
            f"{n_batches} (learning rate {opt.lr:g}); try a smaller lr or another init",
        )
        opt.step()
        loss_sum += losses * len(idx[0])
        scores.argmax(axis=-1, out=predicted[:, start:stop])
    return loss_sum, np.count_nonzero(predicted == labels[order], axis=-1)


def _fail_diverged(states, losses, message: str) -> None:
    """Fail each replica still training whose loss is NaN or infinite, with message.format(its loss):
    the others train on."""
    for state, loss in zip(states, losses):
        if state.training and not math.isfinite(loss):
            state.fail(message.format(loss))


def fit(
    model: _Model,
    optimizer: _Optimizer,
    train: tuple[np.ndarray, np.ndarray],
    config: FitConfig,
    states: list[TrainState],
    *,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    monitor: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: Callable[[list[TrainState]], None] | None = None,
) -> list[TrainState]:
    """Train `model` (a stack of k replicas) in place with `optimizer` (built on it) on train =
    (inputs (n, n_in), integer labels (n,)), as `config` says, from `states` (k TrainStates:
    fresh ones, TrainState(rng) each, or the ones a hook saved). Returns the states after the last epoch.

    train_loss / train_accuracy are the averages over the epoch's batches as they were
    trained on (free to compute; Keras reports the same); validation = (inputs, labels) is
    measured after every epoch (val_*), as is monitor = (inputs, labels) (test_*, as Nielsen's
    code does, only to be plotted beside a published curve: it never chooses a model).
    The model is in training mode (Dropout on) for the training batches only.
    on_epoch(states) is called after every epoch, with the states the next epoch starts from.
    Timings: each replica is charged its share (1/k) of the stack's wall time while it trains.
    """
    if len(states) != model.replicas:
        raise ValueError(f"fit: {len(states)} TrainStates for a model of {model.replicas} replicas")
    has_val = validation is not None and validation[0] is not None and len(validation[0]) > 0
    if config.early_stopping and not has_val:
        raise ValueError("early_stopping: needs a validation set (validation > 0)")
    x = np.asarray(train[0], model.dtype)
    y = one_hot(train[1], model.n_out, model.dtype)  # (n, 10)
    labels = np.asarray(train[1])
    k = len(states)

    # restore: saved states' weights and optimiser rows back in place; fresh states get a history
    if any(s.epoch for s in states):
        _restore(states, model, optimizer)
    for state in states:
        if state.history is None:
            state.history = new_history(has_val, monitor is not None)

    charged = time.perf_counter()  # the wall time since then is charged to the replicas that trained
    for epoch in range(max(s.epoch for s in states), config.epochs):
        in_training = [s.training for s in states]
        if not any(in_training):
            break

        # train one epoch
        start = time.perf_counter()
        if config.schedule is not None:
            optimizer.lr = config.schedule(epoch)
        loss_sum, correct = _train(model, optimizer, x, y, labels, config, states, epoch)

        # measure: every replica's figures; one whose validation loss is not finite fails
        records = _measure(
            model, optimizer.lr, len(x), loss_sum, correct, states, epoch, validation if has_val else None, monitor
        )
        now = time.perf_counter()

        # early stopping: each replica that trained this epoch and did not fail records it, and may
        # stop; each that trained is charged its share of the wall time since the last charge
        for r, state in enumerate(states):
            if not in_training[r]:
                continue
            if state.training:
                _finish_epoch(state, records[r], (now - start) / k, config, model.flat_params[r])
            state.timings["total_seconds"] += (now - charged) / k
        charged = now

        # hand the states to the hook: whole, with their rows of the weights and optimiser buffers
        if on_epoch:
            saved = optimizer.state_dict()  # one copy of the buffers an epoch
            for r, state in enumerate(states):
                state.params, state.optimizer = model.flat_params[r], _row(saved, r)
            on_epoch(states)

    # the best epoch's weights back, for the replicas early stopping kept them for
    for r, state in enumerate(states):
        if state.best_params is not None:
            model.flat_params[r] = state.best_params
        state.params = None  # not a copy: the model's own row, which training has moved past
    return states


# overflow to inf/NaN is caught as divergence, with a better message than a warning
@np.errstate(over="ignore", invalid="ignore")
def _train(model, optimizer, x, y, labels, config, states, epoch):
    """One epoch of every replica, in training mode (Dropout on) for its batches only."""
    model.train([s.rng for s in states])
    try:
        return train_epoch(model, optimizer, x, y, labels, config.batch_size, config.augment, states, epoch)
    finally:
        model.eval()


@np.errstate(over="ignore", invalid="ignore")
def _measure(model, lr, n, loss_sum, correct, states, epoch, validation, monitor) -> list:
    """A finished epoch's figures, a record per replica (a failed one's are never used)."""
    records = [
        {"epoch": epoch + 1, "lr": lr, "train_loss": float(loss_sum[r] / n), "train_accuracy": int(correct[r]) / n}
        for r in range(len(states))
    ]
    if validation is not None:
        val_loss, val_accuracy = model.evaluate(*validation)
        for r, record in enumerate(records):
            record["val_loss"], record["val_accuracy"] = float(val_loss[r]), float(val_accuracy[r])
        _fail_diverged(
            states,
            [record["val_loss"] for record in records],
            f"training diverged: validation loss is {{}} after epoch {epoch + 1} (learning rate {lr:g})",
        )
    if monitor is not None:
        test_loss, test_accuracy = model.evaluate(*monitor)
        for r, record in enumerate(records):
            record["test_loss"], record["test_accuracy"] = float(test_loss[r]), float(test_accuracy[r])
    return records


def _finish_epoch(state, record, seconds, config, params) -> None:
    """Append a finished epoch to a replica's history. Early stopping: the epoch with the lowest
    validation loss so far is the best (its weights kept); `early_stopping` epochs after it, stop."""
    history = state.history
    best = history["best_epoch"]
    best_loss = history["val_loss"][best - 1] if best and "val_loss" in record else math.inf
    for key, value in record.items():
        history[key].append(value)
    state.timings["epoch_seconds"].append(seconds)
    epoch = record["epoch"]
    if "val_loss" not in record:
        history["best_epoch"] = epoch
    elif record["val_loss"] < best_loss:
        history["best_epoch"] = epoch
        if config.early_stopping:
            state.best_params = params.copy()
    elif config.early_stopping and epoch - best >= config.early_stopping:
        history["stopped_early"] = True
