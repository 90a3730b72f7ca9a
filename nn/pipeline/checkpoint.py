"""Epoch checkpoints: everything the next epoch depends on, so a killed run resumes with the same bits.

fit() hands its hook its TrainState (nn.train) after every finished epoch and carries on from
one handed back. A Checkpoint object ties that state to one file and to what made it:

    ckpt = Checkpoint(path, fingerprint(hp, code, images, labels), run="best", log=log)
    state = ckpt.load(model, optimizer, rng)    # None: start afresh (the log line says why)
    fit(..., state or TrainState(rng), on_epoch=ckpt.save)
    ckpt.remove()                               # the run's outputs are written: no longer needed

The file is one .npz without pickle (docs/interfaces.md): `meta` (JSON bytes: epoch, the
Generator's bit_generator.state, history and timings so far, early-stopping best loss and
epochs since the best, the optimiser's step count and lr, the fingerprint), `params` (the
model's flat parameters), `best_params` (early stopping's best weights, if any) and one
`optimizer.<buffer>` per optimiser state array. It is used only if its fingerprint (the
run's hyperparameters, a SHA-256 of the training arrays, the nn code hashes, numpy's
version) equals the job's; anything else, or anything unreadable, is ignored in one line.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from nn.fileio import MAX_JSON_BYTES, loads_json, open_regular
# the model file's bounded zip-member reader and deterministic .npz writer: one format code for both files
from nn.serialize import NPY_HEADER_ROOM, read_member, write_npz
from nn.train import HISTORY_LISTS, TrainState

FORMAT = "nn-checkpoint"
VERSION = 1
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


def fingerprint(hp: dict, code: dict, *arrays) -> dict:
    """What a checkpoint must have been made from to be resumed: the run's hyperparameters, the nn
    code hashes (the rule's `code` param), the training arrays, and numpy's version (its Generator
    and BLAS calls make the bits). JSON-normalised, as it is stored."""
    return json.loads(json.dumps({"hp": hp, "code": code, "data": digest(*arrays), "numpy": np.__version__}))


def difference(then: dict, now: dict) -> str | None:
    """Why a checkpoint made under `then` does not fit `now` (one phrase), or None."""
    if not isinstance(then, dict):
        return "it records no fingerprint"
    for key, value in now["hp"].items():
        if (then.get("hp") or {}).get(key, "absent") != value:
            return f"hyperparameter {key} was {(then.get('hp') or {}).get(key, 'absent')!r}, now {value!r}"
    if then.get("hp") != now["hp"]:
        return "its hyperparameters differ"
    if then.get("data") != now["data"]:
        return "the training data changed"
    if then.get("code") != now["code"]:
        changed = sorted(k for k in {*now["code"], *(then.get("code") or {})}
                         if (then.get("code") or {}).get(k) != now["code"].get(k))
        return f"the nn code changed ({', '.join(changed)})"
    if then.get("numpy") != now["numpy"]:
        return f"it was made with numpy {then.get('numpy')}, this is {now['numpy']}"
    return None


# --- the file --------------------------------------------------------------------------------------

class Checkpoint:
    """One run+seed's checkpoint file: save after each epoch, load once at the start, remove at the end."""

    def __init__(self, path, fingerprint: dict, run: str = "", log=print):
        self.path, self.fingerprint, self.run, self.log = Path(path), fingerprint, run, log
        self.off = False      # a folder sits where the file goes: train on, without checkpoints

    def save(self, state: TrainState) -> None:
        """Write `state` (whole: fit fills its params and optimizer) atomically: a kill mid-write
        leaves the previous checkpoint."""
        if self.off:
            return
        opt = state.optimizer
        buffers = sorted(k for k, v in opt.items() if isinstance(v, np.ndarray))
        meta = {"format": FORMAT, "version": VERSION, "fingerprint": self.fingerprint, "epoch": state.epoch,
                "rng": state.rng.bit_generator.state, "history": state.history, "timings": state.timings,
                "best_loss": state.best_loss, "since_best": state.since_best,
                "optimizer": {k: v for k, v in opt.items() if k not in buffers}}
        arrays = {"meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8),
                  "params": state.params}
        if state.best_params is not None:
            arrays["best_params"] = state.best_params
        arrays.update((f"optimizer.{k}", opt[k]) for k in buffers)
        write_npz(self.path, arrays)

    def load(self, model, optimizer, rng: np.random.Generator) -> TrainState | None:
        """The saved state if it is whole and was made from this job's fingerprint, for this model and
        optimizer (rng takes the saved Generator state); else None, after one log line saying why
        (nothing at all if there is no file). fit() puts its params and optimiser state in place."""
        if not self.path.exists() and not self.path.is_symlink():
            return None
        if self.path.is_dir():  # nothing can be saved over a folder, and it is not ours to delete
            self.off = True
            self.log(f"ignoring checkpoint {self.path}: a folder, not a file; this job saves no checkpoints "
                     f"(remove the folder to have them); starting run {self.run} afresh")
            return None
        try:
            state = self._read(model, optimizer, rng)
        except Ignored as e:
            self.log(f"ignoring checkpoint {self.path}: {e}; starting run {self.run} afresh")
            return None
        except Exception as e:  # noqa: BLE001 (whatever a damaged file raises, the run starts afresh)
            named = str(e).startswith(f"{self.path}: ")  # our readers' errors name the file already
            why = str(e).removeprefix(f"{self.path}: ") if named else f"{type(e).__name__}: {e}"
            self.log(f"ignoring checkpoint {self.path}: unreadable ({why}); starting run {self.run} afresh")
            return None
        epochs = self.fingerprint["hp"].get("epochs", "?")
        self.log(f"resuming run {self.run} from epoch {state.epoch} of {epochs} ({self.path})")
        return state

    def remove(self) -> None:
        if self.off:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _read(self, model, optimizer, rng) -> TrainState:
        """Read and check everything before anything is returned: a half-valid file is no state at all."""
        n, dtype = model.flat_params.size, model.dtype
        with open_regular(self.path) as fh:
            # meta, and at most MAX_ARRAYS arrays the model's size (zip headers fit in their headroom)
            bound = MAX_JSON_BYTES + MAX_ARRAYS * (n * dtype.itemsize + NPY_HEADER_ROOM)
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
                meta = loads_json(read_member(zf, members.pop("meta"), self.path, MAX_JSON_BYTES).tobytes(),
                                  f"{self.path}: meta")
                if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
                    raise Ignored(f"not a {FORMAT} version {VERSION} file")
                why = difference(meta.get("fingerprint"), self.fingerprint)
                if why:
                    raise Ignored(f"made from other inputs: {why}")
                buffers = set(optimizer.state)
                expected = {"params", *(f"optimizer.{b}" for b in buffers)}
                if self.fingerprint["hp"].get("early_stopping") and math.isfinite(float(meta["best_loss"])):
                    expected.add("best_params")  # early stopping keeps the best epoch's weights
                if set(members) != expected:
                    raise Ignored(f"its arrays {sorted(members)} do not fit this model and optimiser")
                arrays = {}
                for name in sorted(expected):
                    a = read_member(zf, members[name], self.path, n * dtype.itemsize + NPY_HEADER_ROOM)
                    if a.shape != (n,) or a.dtype != dtype:
                        raise Ignored(f"array {name!r} is {a.dtype}{list(a.shape)}, this model needs {dtype}[{n}]")
                    arrays[name] = a
        return _state(meta, arrays, buffers, self.fingerprint["hp"], rng)


class Ignored(ValueError):
    """A checkpoint that is readable but must not be resumed (foreign, stale, inconsistent)."""


def _state(meta: dict, arrays: dict, buffers: set, hp: dict, rng) -> TrainState:
    """The snapshot a checked file holds; Ignored if its parts do not agree with each other or with hp."""
    epoch, history, timings = meta["epoch"], meta["history"], meta["timings"]
    if type(epoch) is not int or not 1 <= epoch <= hp["epochs"]:
        raise Ignored(f"epoch {epoch!r} is outside 1..{hp['epochs']}")
    if set(history) != {*HISTORY_LISTS, "stopped_early", "best_epoch"}:
        raise Ignored("its history has other keys than fit() keeps")
    for key in HISTORY_LISTS:
        kept = not key.startswith(("val_", "test_")) or bool(hp["validation"] if key.startswith("val_")
                                                             else hp["monitor_test"])
        values = history[key]
        if not (values is None if not kept else isinstance(values, list) and len(values) == epoch
                and all(type(v) in (int, float) for v in values)):
            raise Ignored(f"its history {key!r} does not hold epochs 1..{epoch}")
    if history["epoch"] != list(range(1, epoch + 1)) or type(history["stopped_early"]) is not bool \
            or type(history["best_epoch"]) is not int or meta["since_best"] != epoch - history["best_epoch"]:
        raise Ignored("its epoch numbers or early-stopping counter disagree")
    if set(meta["optimizer"]) != {"t", "lr"} or not all(type(v) in (int, float) for v in meta["optimizer"].values()):
        raise Ignored("its optimiser state is malformed")
    if type(timings) is not dict or type(timings.get("epoch_seconds")) is not list \
            or type(timings.get("total_seconds")) not in (int, float):
        raise Ignored("its timings are malformed")
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise Ignored("it holds NaN or infinite values")
    np.random.Generator(np.random.PCG64()).bit_generator.state = meta["rng"]  # raises unless a PCG64 state
    rng.bit_generator.state = meta["rng"]
    optimizer = {**meta["optimizer"], **{b: arrays[f"optimizer.{b}"] for b in buffers}}
    return TrainState(rng=rng, epoch=epoch, history=history, timings=timings, best_loss=float(meta["best_loss"]),
                      best_params=arrays.get("best_params"), params=arrays["params"], optimizer=optimizer)
