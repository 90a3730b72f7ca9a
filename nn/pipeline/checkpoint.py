"""Epoch checkpoints: everything the next epoch depends on, so a killed job resumes with the same bits.

fit() hands its hook the TrainStates of its stack of seeds (nn.train) after every finished
epoch and carries on from ones handed back. A Checkpoint object ties those states to one file
and to what made it:

    ckpt = Checkpoint(path, fingerprint(hps, code, images, labels, *test), run="best", log=log)
    states = ckpt.load(model, optimizer, rngs)  # None: start afresh (the log line says why)
    fit(..., states or [TrainState(g) for g in rngs], on_epoch=ckpt.save)
    ckpt.remove()                               # the seeds' outputs are written: no longer needed

The file is one .npz without pickle (docs/interfaces.md): `meta` (JSON bytes: the fingerprint
and, per seed, its Generator state, history and timings so far and its failure (the history says
its epoch and early stopping's best loss), and the optimiser's step count and lr), `params` (the
stack's parameters, a row per seed), `best_params` (early stopping's best weights, if any) and
one `optimizer.<buffer>` per optimiser state array. It is used only if its fingerprint (every
seed's hyperparameters, a SHA-256 of the training arrays and of the monitored test images, the nn
code hashes, numpy's version) equals the job's; anything else, or anything unreadable, is ignored
in one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from nn.fileio import MAX_JSON_BYTES, loads_json, open_regular

# the model file's bounded zip-member reader and deterministic .npz writer: one format code for both files
from nn.serialize import NPY_HEADER_ROOM, read_member, write_npz
from nn.train import HISTORY_LISTS, TrainState

FORMAT = "nn-checkpoint"
VERSION = 3  # of the stored fields: a file of another version is ignored, and the run starts afresh
MAX_ARRAYS = 5  # params, best_params, and at most 3 optimiser buffers


# --- what made it --------------------------------------------------------------------------------


def digest(*arrays) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes (the training data as the job loaded it)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def fingerprint(hps: list[dict], code: dict, images, labels, *monitored) -> dict:
    """What a checkpoint must have been made from to be resumed: every seed's hyperparameters, the
    nn code hashes (the rule's `code` param), the training arrays, the test arrays measured after
    every epoch (monitor_test: their figures are in the saved histories), and numpy's version (its
    Generator and BLAS calls make the bits). JSON-normalised, as it is stored."""
    return json.loads(
        json.dumps(
            {
                "hp": list(hps),
                "code": code,
                "data": digest(images, labels),
                "monitored": digest(*monitored),
                "numpy": np.__version__,
            }
        )
    )


def _hp_difference(then, now: list) -> str | None:
    if not isinstance(then, list) or len(then) != len(now):
        return f"it holds {len(then) if isinstance(then, list) else 'no list of'} seeds, this job trains {len(now)}"
    for old, new in zip(then, now):
        old = old if isinstance(old, dict) else {}
        for key in sorted({*old, *new}):  # a key either side lacks counts as changed
            if old.get(key, "absent") != new.get(key, "absent"):
                return (
                    f"seed {new.get('seed')}: hyperparameter {key} was {old.get(key, 'absent')!r}, "
                    f"now {new.get(key, 'absent')!r}"
                )
    return None


def difference(then: dict, now: dict) -> str | None:
    """Why a checkpoint made under `then` does not fit `now` (one phrase), or None."""
    if not isinstance(then, dict):
        return "it records no fingerprint"
    why = _hp_difference(then.get("hp"), now["hp"])
    if why:
        return why
    if then.get("data") != now["data"]:
        return "the training data changed"
    if then.get("monitored") != now["monitored"]:
        return "the monitored test images changed"
    if then.get("code") != now["code"]:
        changed = sorted(
            k
            for k in {*now["code"], *(then.get("code") or {})}
            if (then.get("code") or {}).get(k) != now["code"].get(k)
        )
        return f"the nn code changed ({', '.join(changed)})"
    if then.get("numpy") != now["numpy"]:
        return f"it was made with numpy {then.get('numpy')}, this is {now['numpy']}"
    return None


# --- the file --------------------------------------------------------------------------------------


class Checkpoint:
    """One block of seeds' checkpoint file: save after each epoch, load once at the start, remove at the end."""

    def __init__(self, path, fingerprint: dict, run: str = "", log=print):
        self.path, self.fingerprint, self.run, self.log = Path(path), fingerprint, run, log
        self.off = False  # a folder sits where the file goes: train on, without checkpoints

    def save(self, states: list[TrainState]) -> None:
        """Write `states` (whole: fit fills their params and optimizer) atomically: a kill mid-write
        leaves the previous checkpoint."""
        if self.off:
            return
        opt = states[0].optimizer
        buffers = sorted(k for k, v in opt.items() if isinstance(v, np.ndarray))
        seeds = [
            {
                "rng": s.rng.bit_generator.state,
                "history": s.history,
                "timings": s.timings,
                "failure": None if s.failure is None else str(s.failure),
            }
            for s in states
        ]
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "fingerprint": self.fingerprint,
            "seeds": seeds,
            "optimizer": {k: v for k, v in opt.items() if k not in buffers},
        }
        arrays = {
            "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8),
            "params": np.stack([s.params for s in states]),
        }
        if any(s.best_params is not None for s in states):
            arrays["best_params"] = np.stack([s.params if s.best_params is None else s.best_params for s in states])
        arrays.update((f"optimizer.{k}", np.stack([s.optimizer[k] for s in states])) for k in buffers)
        write_npz(self.path, arrays)

    def load(self, model, optimizer, rngs: list) -> list[TrainState] | None:
        """The saved states if the file is whole and was made from this job's fingerprint, for this
        model and optimizer (each rng takes its seed's saved Generator state); else None, after one
        log line saying why (nothing at all if there is no file). fit() puts their params and
        optimiser rows in place."""
        if not self.path.exists() and not self.path.is_symlink():
            return None
        if self.path.is_dir():  # nothing can be saved over a folder, and it is not ours to delete
            self.off = True
            self.log(
                f"ignoring checkpoint {self.path}: a folder, not a file; this job saves no checkpoints "
                f"(remove the folder to have them); starting run {self.run} afresh"
            )
            return None
        try:
            states = self._read(model, optimizer, rngs)
        except Ignored as e:
            self.log(f"ignoring checkpoint {self.path}: {e}; starting run {self.run} afresh")
            return None
        except Exception as e:  # noqa: BLE001 (whatever a damaged file raises, the run starts afresh)
            named = str(e).startswith(f"{self.path}: ")  # our readers' errors name the file already
            why = str(e).removeprefix(f"{self.path}: ") if named else f"{type(e).__name__}: {e}"
            self.log(f"ignoring checkpoint {self.path}: unreadable ({why}); starting run {self.run} afresh")
            return None
        epochs = self.fingerprint["hp"][0].get("epochs", "?")
        self.log(f"resuming run {self.run} from epoch {max(s.epoch for s in states)} of {epochs} ({self.path})")
        return states

    def remove(self) -> None:
        if self.off:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _read(self, model, optimizer, rngs) -> list[TrainState]:
        """Read and check everything before anything is returned: a half-valid file is no state at all."""
        k, n, dtype = model.replicas, model.flat_params.shape[1], model.dtype
        with open_regular(self.path) as fh:
            # meta, and at most MAX_ARRAYS arrays the stack's size (zip headers fit in their headroom)
            bound = MAX_JSON_BYTES + MAX_ARRAYS * (k * n * dtype.itemsize + NPY_HEADER_ROOM)
            size = os.fstat(fh.fileno()).st_size
            if size > bound:
                raise Ignored(f"{size} bytes, more than a checkpoint of this model holds ({bound}); not read")
            if fh.read(4) != b"PK\x03\x04":
                raise Ignored("not a checkpoint (not a zip archive)")
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf:
                members = {info.filename.removesuffix(".npy"): info for info in zf.infolist()}
                if "meta" not in members:
                    raise Ignored("not a checkpoint (no 'meta' entry)")
                meta = loads_json(
                    read_member(zf, members.pop("meta"), self.path, MAX_JSON_BYTES).tobytes(), f"{self.path}: meta"
                )
                if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
                    raise Ignored(f"not a {FORMAT} version {VERSION} file")
                why = difference(meta.get("fingerprint"), self.fingerprint)
                if why:
                    raise Ignored(f"made from other inputs: {why}")
                buffers = set(optimizer.state)
                expected = {"params", *(f"optimizer.{b}" for b in buffers)}
                seeds = meta.get("seeds") if isinstance(meta.get("seeds"), list) else []
                if self.fingerprint["hp"][0].get("early_stopping") and any(map(_has_best, seeds)):
                    expected.add("best_params")  # early stopping keeps the best epoch's weights
                if set(members) != expected:
                    raise Ignored(f"its arrays {sorted(members)} do not fit this model and optimiser")
                arrays = {}
                for name in sorted(expected):
                    a = read_member(zf, members[name], self.path, k * n * dtype.itemsize + NPY_HEADER_ROOM)
                    if a.shape != (k, n) or a.dtype != dtype:
                        raise Ignored(f"array {name!r} is {a.dtype}{list(a.shape)}, this model needs {dtype}[{k}, {n}]")
                    arrays[name] = a
        return _states(meta, arrays, buffers, self.fingerprint["hp"][0], rngs)


class Ignored(ValueError):
    """A checkpoint that is readable but must not be resumed (foreign, stale, inconsistent)."""


def _has_best(seed) -> bool:
    """Whether a saved seed has had a best epoch (early stopping then keeps its weights)."""
    history = seed.get("history") if isinstance(seed, dict) else None
    best = history.get("best_epoch") if isinstance(history, dict) else None
    return type(best) is int and best > 0


def _states(meta: dict, arrays: dict, buffers: set, hp: dict, rngs) -> list[TrainState]:
    """The snapshot a checked file holds; Ignored if its parts do not agree with each other or with hp.
    Every seed is checked before any Generator takes its saved state: an ignored file moves nothing."""
    seeds = meta.get("seeds")
    if not isinstance(seeds, list) or len(seeds) != len(rngs):
        raise Ignored(f"it holds no states for {len(rngs)} seeds")
    if set(meta["optimizer"]) != {"t", "lr"} or not all(type(v) in (int, float) for v in meta["optimizer"].values()):
        raise Ignored("its optimiser state is malformed")
    states = []
    for r, seed in enumerate(seeds):
        if not isinstance(seed, dict):
            raise Ignored("its per-seed states are malformed")
        failure = seed.get("failure")
        state = _state(seed, hp, failed=failure is not None)
        if failure is not None:
            state.fail(str(failure))
        # a failed seed's numbers are NaN by nature; a stopped one's are never read again but its best
        elif state.training and not all(np.isfinite(a[r]).all() for a in arrays.values()):
            raise Ignored("it holds NaN or infinite values")
        state.params = arrays["params"][r]
        if "best_params" in arrays and state.history["best_epoch"] > 0:
            state.best_params = arrays["best_params"][r]
            if not np.isfinite(state.best_params).all():
                raise Ignored("it holds NaN or infinite values")
        state.optimizer = {**meta["optimizer"], **{b: arrays[f"optimizer.{b}"][r] for b in buffers}}
        states.append(state)
    if len({s.epoch for s in states if s.training}) > 1:
        raise Ignored("its seeds in training stand at different epochs")
    for state, seed, rng in zip(states, seeds, rngs):
        rng.bit_generator.state = seed["rng"]
        state.rng = rng
    return states


def _state(seed: dict, hp: dict, failed: bool) -> TrainState:
    """One seed's saved state, checked against hp; its Generator is a stand-in until _states sets the run's."""
    history, timings = seed.get("history"), seed.get("timings")
    if not isinstance(history, dict) or set(history) != {*HISTORY_LISTS, "stopped_early", "best_epoch"}:
        raise Ignored("its history has other keys than fit() keeps")
    epoch = len(history["epoch"]) if isinstance(history["epoch"], list) else None  # finished epochs
    if epoch is None or not (0 if failed else 1) <= epoch <= hp["epochs"]:
        raise Ignored(f"epoch {epoch!r} is outside 1..{hp['epochs']}")
    for key in HISTORY_LISTS:
        kept = not key.startswith(("val_", "test_")) or bool(
            hp["validation"] if key.startswith("val_") else hp["monitor_test"]
        )
        values = history[key]
        if not (
            values is None
            if not kept
            else isinstance(values, list) and len(values) == epoch and all(type(v) in (int, float) for v in values)
        ):
            raise Ignored(f"its history {key!r} does not hold epochs 1..{epoch}")
    if (
        history["epoch"] != list(range(1, epoch + 1))
        or type(history["stopped_early"]) is not bool
        or type(history["best_epoch"]) is not int
        or not 0 <= history["best_epoch"] <= epoch
    ):
        raise Ignored("its epoch numbers or early-stopping counter disagree")
    if (
        type(timings) is not dict
        or type(timings.get("epoch_seconds")) is not list
        or type(timings.get("total_seconds")) not in (int, float)
    ):
        raise Ignored("its timings are malformed")
    saved = np.random.Generator(np.random.PCG64())
    saved.bit_generator.state = seed.get("rng")  # raises unless a PCG64 state
    return TrainState(rng=saved, history=history, timings=timings)
