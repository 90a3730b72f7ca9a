"""A run's hyperparameters (docs/interfaces.md) -> library calls, for training.

nanoGPT builds its optimiser from its config in one place; so does this module, for the
optimiser, the schedule, the augmentation and the FitConfig, and train_run ties them to
the data, the model (nn.pipeline.architecture) and an optional checkpoint. The library
(nn/*.py) never sees `hp`: the pipeline is the one place that reads it.
"""

from __future__ import annotations

import numpy as np

from nn import augment
from nn.mnist.data import check_split
from nn.optim import OPTIMIZERS, SCHEDULES, Optimizer, learning_rate
from nn.pipeline.architecture import build_model, network_inputs
from nn.train import FitConfig, TrainState, fit

# the keys train_run requires; the optional ones it reads may be absent (their defaults mean "off")
FIT_KEYS = (
    "epochs",
    "batch_size",
    "lr",
    "schedule",
    "lr_min",
    "step_size",
    "step_gamma",
    "momentum",
    "nesterov",
    "weight_decay",
    "shift",
    "early_stopping",
)
MODEL_KEYS = ("hidden", "activation", "output", "loss", "init", "validation", "seed", "dtype", "monitor_test")


def format_record(r: dict, epochs: int) -> str:
    """One log line per epoch."""
    line = (
        f"epoch {r['epoch']}/{epochs}  lr {r['lr']:.4g}  "
        f"train loss {r['train_loss']:.4f} acc {100 * r['train_accuracy']:.2f}%"
    )
    if "val_loss" in r:
        line += f"  val loss {r['val_loss']:.4f} acc {100 * r['val_accuracy']:.2f}%"
    if "test_loss" in r:
        line += f"  test acc {100 * r['test_accuracy']:.2f}%"
    return line + f"  {r['seconds']:.2f} s"


def build_optimizer(hp: dict, model) -> Optimizer:
    """The optimiser a run's hyperparameters name (hp["optimizer"], default "sgd"), on `model`.

    Keys of another optimiser left at a non-neutral value (momentum > 0 or nesterov with
    Adam, say) are an error, not silently ignored.
    """
    name = hp.get("optimizer", "sgd")
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: unknown {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    if name != "sgd" and (hp.get("momentum") or hp.get("nesterov")):
        raise ValueError(
            f"momentum/nesterov: apply to optimizer sgd only, not {name} "
            f"(momentum {hp.get('momentum')}, nesterov {hp.get('nesterov')})"
        )
    missing = [k for k in cls.KEYS if k not in hp]
    if missing:
        raise ValueError(f"hyperparameters: optimizer {name} needs key {missing[0]!r}")
    return cls(model, lr=hp["lr"], weight_decay=hp.get("weight_decay", 0.0), **{k: hp[k] for k in cls.KEYS})


def build_schedule(hp: dict):
    """epoch (0-based) -> learning rate, from hp's lr, schedule, lr_min, step_size, step_gamma, epochs."""
    if hp["schedule"] not in SCHEDULES:
        raise ValueError(f"schedule: unknown {hp['schedule']!r}; expected one of {', '.join(SCHEDULES)}")
    return lambda epoch: learning_rate(
        hp["schedule"], hp["lr"], epoch, hp["epochs"], hp["lr_min"], hp["step_size"], hp["step_gamma"]
    )


def build_augment(hp: dict):
    """A run's augmentation (nn.augment.compose of its augmentation keys), or None if all are off."""
    return augment.compose(**{k: hp[k] for k in augment.AUGMENT_KEYS if k in hp})


def augment_settings(hp: dict) -> dict:
    """The augmentation keys of a run that are switched on."""
    return augment.active(hp)


# Simard et al. 2003's elastic setting for MNIST, shown when no run distorts its images
SIMARD_ELASTIC = {"elastic_alpha": 34.0, "elastic_sigma": augment.ELASTIC_SIGMA}


def preview_settings(runs: dict) -> tuple[str | None, dict]:
    """(run name, its augmentation) for the first run in `runs` that augments its images,
    else (None, Simard's elastic setting): what the data figure shows."""
    for name, hp in runs.items():
        if augment.active(hp):
            return name, augment.active(hp)
    return None, dict(SIMARD_ELASTIC)


def fit_config(hp: dict, n_train: int) -> FitConfig:
    """How the run trains: epochs, batch size ("full" = all n_train images), schedule,
    augmentation and early stopping."""
    return FitConfig(
        epochs=hp["epochs"],
        batch_size=n_train if hp["batch_size"] == "full" else hp["batch_size"],
        schedule=build_schedule(hp),
        augment=build_augment(hp),
        early_stopping=hp["early_stopping"],
    )


def stack_seeds(hps: list[dict]) -> dict:
    """The hyperparameters a stack of seeds shares: hps must differ in `seed` alone (one run's
    seeds); the first one's, for everything but the seed. ValueError names the key that differs."""
    if not hps:
        raise ValueError("hyperparameters: no seeds to train")
    for hp in hps[1:]:
        for key in sorted({*hp, *hps[0]} - {"seed"}):
            if hp.get(key, "absent") != hps[0].get(key, "absent"):
                raise ValueError(
                    f"hyperparameters: seeds {hps[0].get('seed')} and {hp.get('seed')} differ in "
                    f"{key!r}; a stack trains one run's seeds"
                )
    return hps[0]


def train_run(hp: dict, train_images, train_labels, log=print, test=None, checkpoint=None):
    """One seed alone (a stack of one): (model, history, timings); TrainingDiverged if it diverged."""
    model, (state,) = train_seeds([hp], train_images, train_labels, log=log, test=test, checkpoint=checkpoint)
    if state.failure is not None:
        raise state.failure
    return model, state.history, state.timings


def train_seeds(hps: list[dict], train_images, train_labels, log=print, test=None, checkpoint=None):
    """A run's seeds as one stacked computation: uint8 images (n, 28, 28) and labels (n,) ->
    (model, states): the model holds one replica per seed, in the order of hps, and each
    TrainState its seed's history, timings and failure (nn.train). Each seed gets the bits it
    gets alone: its own Generator (default_rng(seed)) draws its weights, shuffles, distortions
    and masks.

    The last hp["validation"] images are held out; inputs are scaled by network_inputs (hp["inputs"],
    max_standardise over all the training images given, validation included);
    the model is mlp([784, *hidden, 10]). hp["threads"] and hp["reference"] are ignored here
    (BLAS threads must be pinned before numpy is imported). batch_size "full" = every
    training image in one batch. With hp["monitor_test"], test = (images, labels) is
    measured after every epoch (history test_*). epochs 0 returns the untrained networks.
    checkpoint: an nn.pipeline.checkpoint.Checkpoint, saved after every epoch and resumed from if it fits.
    """
    hp = stack_seeds(hps)
    missing = [k for k in MODEL_KEYS + FIT_KEYS if k not in hp]
    if missing:
        raise ValueError(f"hyperparameters: missing key {missing[0]!r} ({len(missing)} missing)")
    check_split(train_images, train_labels, "training images", "training labels")
    for key, what in (("dropout", "rates"), ("activation", "activations")):
        value = hp.get(key)
        if isinstance(value, list) and len(value) != len(hp["hidden"]):
            raise ValueError(
                f"hyperparameters: {key} lists {len(value)} {what} for {len(hp['hidden'])} hidden "
                f"layers (hidden {hp['hidden']}); give one per hidden layer, or one for all"
            )
    if hp.get("inputs", "unit") == "max_standardise" and augment.active(hp):
        raise ValueError(
            "hyperparameters: augmentation fills the edges with 0, the background of [0, 1] "
            "inputs; under inputs max_standardise the background is not 0. Use one or the other"
        )
    n_val = hp["validation"]
    if not 0 <= n_val < len(train_images):
        raise ValueError(
            f"hyperparameters: validation = {n_val} must be in [0, {len(train_images)}) "
            f"for {len(train_images)} training images"
        )
    dtype = np.dtype(hp["dtype"])
    n_train = len(train_images) - n_val
    x = network_inputs(hp, train_images, dtype)  # (n, 784), in [0, 1] by default
    rngs = [np.random.default_rng(h["seed"]) for h in hps]
    model = build_model(hp, x.shape[1], rngs)
    optimizer = build_optimizer(hp, model)
    log(f"model {model!r}, {model.replicas} seed(s) stacked: {', '.join(str(h['seed']) for h in hps)}")
    monitor = None
    if hp["monitor_test"]:
        if test is None:
            raise ValueError("hyperparameters: monitor_test is on but no test images were given")
        check_split(*test, "test images", "test labels")
        monitor = (network_inputs(hp, test[0], dtype), test[1])
    states = checkpoint.load(model, optimizer, rngs) if checkpoint else None
    seeds = [h["seed"] for h in hps]
    logged = [0] * len(hps)  # epochs of each seed in the log so far
    told = [False] * len(hps)  # whether a seed's failure is in the log

    def log_progress(states):
        for r, (seed, state) in enumerate(zip(seeds, states)):
            for epoch in range(logged[r] + 1, state.epoch + 1):
                log(f"seed {seed}: " + format_record(state.record(epoch), hp["epochs"]))
            logged[r] = state.epoch
            if state.failure is not None and not told[r]:
                told[r] = True
                log(f"seed {seed}: {state.failure}")

    if states:  # the log of the killed attempt is gone: its epochs once more, as they were
        log_progress(states)

    def on_epoch(states):  # checkpoint first: once an epoch's log line is there, so is its checkpoint
        if checkpoint:
            checkpoint.save(states)
        log_progress(states)

    states = fit(
        model,
        optimizer,
        (x[:n_train], train_labels[:n_train]),
        fit_config(hp, n_train),
        states or [TrainState(g) for g in rngs],
        validation=(x[n_train:], train_labels[n_train:]),
        monitor=monitor,
        on_epoch=on_epoch,
    )
    log_progress(states)
    return model, states
