"""Training: epochs of shuffled mini-batches, validation, early stopping, and one run from its hp.

fit() works on arrays and is what tests and users call; train_run() takes one run's
hyperparameter dict (docs/interfaces.md) and the raw uint8 images, and builds the rest.
One numpy Generator, seeded once, draws the initial weights, then each epoch's shuffle,
each batch's distortions and dropout masks in a fixed order: same seed, same bits.
"""
from __future__ import annotations

import math
import time

import numpy as np

from nn.checkpoint import restore, snapshot
from nn.data import check_split, to_inputs
from nn.distort import build_augment, shift_images  # noqa: F401 (shift_images: its old home)
from nn.losses import one_hot
from nn.model import mlp
from nn.optim import build_optimizer, build_schedule


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite; the message names the epoch and batch.

    fit() attaches what it had: `history` and `timings` of the epochs that finished.
    """

    history: dict | None = None
    timings: dict | None = None


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


def fit(model, x, labels, optimizer, *, epochs: int, batch_size: int, rng: np.random.Generator,
        schedule=None, augment=None, x_val=None, val_labels=None, early_stopping: int = 0,
        callback=None, monitor=None, on_epoch_end=None, resume=None):
    """Train `model` in place on inputs x (n, n_in) and integer labels (n,). Returns (history, timings).

    optimizer: an nn.optim optimiser built on this model (nn.optim.build_optimizer(hp, model)).
    schedule(epoch) -> lr, set on the optimiser before each epoch (None: its lr throughout).
    augment(batch, rng) -> batch, applied to each training batch (nn.distort.build_augment).
    rng draws the shuffles, the augmentation and the dropout masks, in that order per batch.
    The model is in training mode (Dropout on) for the training batches only.

    train_loss / train_accuracy are the averages over the epoch's batches as they were
    trained on (free to compute; Keras reports the same); val_* are measured after the epoch.
    With early_stopping = patience > 0, training stops after that many epochs without a lower
    validation loss, and the weights of the best epoch are restored.
    monitor = (x_test, test_labels) measures test_loss / test_accuracy after every epoch, as
    Nielsen's code does, only to be plotted beside a published curve: it never chooses a model.
    batch_size >= len(x) is full-batch gradient descent: one step per epoch ("round").
    callback(record) is called after each epoch with that epoch's figures (a dict).
    on_epoch_end(state) is called after each epoch, before callback, with everything the next
    epoch depends on (nn.checkpoint.snapshot); resume = such a state (nn.checkpoint.Checkpoint.load)
    carries on after its epoch, and gives the bits an uninterrupted fit would have given.
    """
    has_val = x_val is not None and len(x_val) > 0
    if early_stopping and not has_val:
        raise ValueError("early_stopping: needs a validation set (validation > 0)")
    x = np.asarray(x, model.dtype)
    y = one_hot(labels, model.n_out, model.dtype)             # (n, 10)
    labels = np.asarray(labels)

    history = {"epoch": [], "lr": [], "train_loss": [], "train_accuracy": [],
               "val_loss": [] if has_val else None, "val_accuracy": [] if has_val else None,
               "test_loss": [] if monitor else None, "test_accuracy": [] if monitor else None,
               "stopped_early": False, "best_epoch": 0}
    timings = {"epoch_seconds": [], "total_seconds": 0.0}
    best_loss, best_params = math.inf, None           # best_params: (n_params,) copy, with early stopping
    first = 0
    if resume is not None:
        first, history, timings, best_loss, best_params = restore(resume, model, optimizer, rng)
    done_before, start_all = timings["total_seconds"], time.perf_counter()
    for epoch in range(first, first if history["stopped_early"] else epochs):
        start = time.perf_counter()
        if schedule is not None:
            optimizer.lr = schedule(epoch)
        # overflow to inf/NaN is caught as divergence, with a better message than a warning
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                model.train(rng)
                try:
                    loss_sum, correct = train_epoch(model, optimizer, x, y, labels, batch_size, augment, rng, epoch)
                finally:
                    model.eval()
                record = {"epoch": epoch + 1, "lr": optimizer.lr, "train_loss": loss_sum / len(x),
                          "train_accuracy": correct / len(x)}
                if has_val:
                    record["val_loss"], record["val_accuracy"] = model.evaluate(x_val, val_labels)
                    if not math.isfinite(record["val_loss"]):
                        raise TrainingDiverged(f"training diverged: validation loss is {record['val_loss']} "
                                               f"after epoch {epoch + 1} (learning rate {optimizer.lr:g})")
                if monitor:
                    record["test_loss"], record["test_accuracy"] = model.evaluate(*monitor)
        except TrainingDiverged as e:  # keep the finished epochs: their curves show the blow-up coming
            timings["total_seconds"] = done_before + time.perf_counter() - start_all
            e.history, e.timings = history, timings
            raise
        for key, value in record.items():
            history[key].append(value)
        record["seconds"] = time.perf_counter() - start
        timings["epoch_seconds"].append(record["seconds"])

        if not has_val:
            history["best_epoch"] = epoch + 1
        elif record["val_loss"] < best_loss:
            best_loss, history["best_epoch"] = record["val_loss"], epoch + 1
            if early_stopping:
                best_params = model.flat_params.copy()
        elif early_stopping and epoch + 1 - history["best_epoch"] >= early_stopping:
            history["stopped_early"] = True
        if on_epoch_end:  # before the epoch's log line: once a line is there, so is its checkpoint
            timings["total_seconds"] = done_before + time.perf_counter() - start_all
            on_epoch_end(snapshot(epoch + 1, model, optimizer, rng, history, timings, best_loss, best_params))
        if callback:
            callback(record)
        if history["stopped_early"]:
            break
    if best_params is not None:
        model.flat_params[...] = best_params
    timings["total_seconds"] = done_before + time.perf_counter() - start_all
    return history, timings


# the keys train_run reads; optional ones (added later, their defaults mean "off") may be absent
FIT_KEYS = ("epochs", "batch_size", "lr", "schedule", "lr_min", "step_size", "step_gamma", "momentum",
            "nesterov", "weight_decay", "shift", "early_stopping")
MODEL_KEYS = ("hidden", "activation", "output", "loss", "init", "validation", "seed", "dtype", "monitor_test")


def format_record(r: dict, epochs: int) -> str:
    """One log line per epoch."""
    line = (f"epoch {r['epoch']}/{epochs}  lr {r['lr']:.4g}  "
            f"train loss {r['train_loss']:.4f} acc {100 * r['train_accuracy']:.2f}%")
    if "val_loss" in r:
        line += f"  val loss {r['val_loss']:.4f} acc {100 * r['val_accuracy']:.2f}%"
    if "test_loss" in r:
        line += f"  test acc {100 * r['test_accuracy']:.2f}%"
    return line + f"  {r['seconds']:.2f} s"


def train_run(hp: dict, train_images, train_labels, log=print, test=None, checkpoint=None):
    """One run: uint8 images (n, 28, 28) and labels (n,) -> (model, history, timings).

    The last hp["validation"] images are held out; inputs are scaled by nn.data.to_inputs;
    the model is mlp([784, *hidden, 10]). hp["threads"] and hp["reference"] are ignored here
    (BLAS threads must be pinned before numpy is imported). batch_size "full" = every
    training image in one batch. With hp["monitor_test"], test = (images, labels) is
    measured after every epoch (history test_*). epochs 0 returns the untrained network.
    checkpoint: an nn.checkpoint.Checkpoint, saved after every epoch and resumed from if it fits.
    """
    missing = [k for k in MODEL_KEYS + FIT_KEYS if k not in hp]
    if missing:
        raise ValueError(f"hyperparameters: missing key {missing[0]!r} ({len(missing)} missing)")
    check_split(train_images, train_labels, "training images", "training labels")
    dropout = hp.get("dropout", 0.0)
    if isinstance(dropout, list) and len(dropout) != len(hp["hidden"]):
        raise ValueError(f"hyperparameters: dropout lists {len(dropout)} rates for {len(hp['hidden'])} hidden "
                         f"layers (hidden {hp['hidden']}); give one rate per hidden layer, or one number for all")
    n_val = hp["validation"]
    if not 0 <= n_val < len(train_images):
        raise ValueError(f"hyperparameters: validation = {n_val} must be in [0, {len(train_images)}) "
                         f"for {len(train_images)} training images")
    dtype = np.dtype(hp["dtype"])
    n_train = len(train_images) - n_val
    x = to_inputs(train_images, dtype)                         # (n, 784) in [0, 1]
    rng = np.random.default_rng(hp["seed"])
    model = mlp([x.shape[1], *hp["hidden"], 10], activation=hp["activation"], output=hp["output"],
                loss=hp["loss"], init=hp["init"], rng=rng, dtype=dtype, dropout=dropout)
    optimizer = build_optimizer(hp, model)
    log(f"model {model!r}")
    monitor = None
    if hp["monitor_test"]:
        if test is None:
            raise ValueError("hyperparameters: monitor_test is on but no test images were given")
        check_split(*test, "test images", "test labels")
        monitor = (to_inputs(test[0], dtype), test[1])
    batch_size = n_train if hp["batch_size"] == "full" else hp["batch_size"]
    resume = checkpoint.load(model, optimizer) if checkpoint else None
    if resume:  # the log of the killed attempt is gone: its epochs once more, as they were
        for i in range(resume["epoch"]):
            log(format_record({k: v[i] for k, v in resume["history"].items() if isinstance(v, list)}
                              | {"seconds": resume["timings"]["epoch_seconds"][i]}, hp["epochs"]))
    history, timings = fit(
        model, x[:n_train], train_labels[:n_train], optimizer, epochs=hp["epochs"], batch_size=batch_size,
        rng=rng, schedule=build_schedule(hp), augment=build_augment(hp), early_stopping=hp["early_stopping"],
        x_val=x[n_train:], val_labels=train_labels[n_train:], monitor=monitor,
        callback=lambda record: log(format_record(record, hp["epochs"])),
        on_epoch_end=checkpoint.save if checkpoint else None, resume=resume)
    return model, history, timings
