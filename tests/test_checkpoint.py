"""nn.pipeline.checkpoint: a run stopped after any epoch and resumed from its file gives the same bits,
and a checkpoint that is stale, foreign or damaged is ignored in one line, never half-loaded."""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

from nn import model, serialize
from nn.pipeline import checkpoint, hparams
from nn.pipeline.checkpoint import Checkpoint

# momentum, shift + an elastic distortion, dropout and early stopping: every piece of state
HP = {"hidden": [24], "activation": "relu", "output": "softmax", "loss": "cross_entropy", "init": "he",
      "validation": 60, "seed": 5, "dtype": "float32", "monitor_test": False, "epochs": 12, "batch_size": 16,
      "lr": 0.05, "schedule": "cosine", "lr_min": 0.0, "step_size": 1, "step_gamma": 1.0, "momentum": 0.9,
      "nesterov": False, "weight_decay": 1e-4, "shift": 1, "elastic_alpha": 8.0, "elastic_sigma": 3.0,
      "dropout": 0.2, "early_stopping": 2}
CODE = {"nn/train.py": "0" * 64}


def digits(n=260, seed=1):
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 90, size=(n, 28, 28), dtype=np.uint8)
    for k in range(10):
        images[labels == k, 2 * k: 2 * k + 8, 4:12] = 255
    return images, labels


def run(hp, path, data=None):
    """train_run with a checkpoint at `path`; returns (model file bytes, history JSON, log lines)."""
    images, labels = data or digits()
    lines = []
    ckpt = Checkpoint(path, checkpoint.fingerprint(hp, CODE, images, labels), run="r", log=lines.append)
    net, history, _ = hparams.train_run(hp, images, labels, log=lines.append, checkpoint=ckpt)
    serialize.save(net, path.with_name("model.npz"))
    return path.with_name("model.npz").read_bytes(), json.dumps(history, sort_keys=True), lines


def said(lines):
    """What the checkpoint said about itself."""
    return [l for l in lines if l.startswith(("resuming", "ignoring checkpoint"))]


class Killed(Exception):
    pass


def run_until(hp, path, epoch, data=None):
    """train_run killed (by an exception) just after epoch `epoch`'s checkpoint was written."""
    images, labels = data or digits()
    ckpt = Checkpoint(path, checkpoint.fingerprint(hp, CODE, images, labels), run="r", log=lambda l: None)
    save = ckpt.save

    def save_then_die(state):
        save(state)
        if state.epoch == epoch:
            raise Killed

    ckpt.save = save_then_die
    with pytest.raises(Killed):
        hparams.train_run(hp, images, labels, log=lambda l: None, checkpoint=ckpt)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("whole") / "ckpt.npz"
    out = run(HP, path)
    assert json.loads(out[1])["stopped_early"], "the setting must stop early, to exercise its state"
    return out


def test_uninterrupted_run_is_the_run_without_checkpoints(uninterrupted, tmp_path):
    images, labels = digits()
    net, history, _ = hparams.train_run(HP, images, labels, log=lambda l: None)
    serialize.save(net, tmp_path / "plain.npz")
    assert (tmp_path / "plain.npz").read_bytes() == uninterrupted[0]
    assert json.dumps(history, sort_keys=True) == uninterrupted[1]


@pytest.mark.parametrize("epoch", [1, 5, 8])  # 5: one epoch past a best; 8: past the final best (7)
def test_resume_after_any_epoch_gives_the_same_bits(uninterrupted, tmp_path, epoch):
    path = tmp_path / "ckpt.npz"
    run_until(HP, path, epoch)
    assert path.exists()
    weights, history, lines = run(HP, path)
    assert said(lines) == [f"resuming run r from epoch {epoch} of 12 ({path})"]
    assert weights == uninterrupted[0] and history == uninterrupted[1]


def test_resume_after_the_last_epoch_trains_no_more(uninterrupted, tmp_path):
    stopped_at = json.loads(uninterrupted[1])["epoch"][-1]
    path = tmp_path / "ckpt.npz"
    run_until(HP, path, stopped_at)
    weights, history, lines = run(HP, path)
    assert said(lines) == [f"resuming run r from epoch {stopped_at} of 12 ({path})"]
    assert not any(l.startswith(f"epoch {stopped_at + 1}/") for l in lines)
    assert weights == uninterrupted[0] and history == uninterrupted[1]


def test_adam_and_full_batch_resume_too(tmp_path):
    hp = {**HP, "momentum": 0.0, "optimizer": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
          "early_stopping": 0, "epochs": 4, "dropout": 0.0, "shift": 0, "elastic_alpha": 0.0}
    for variant in (hp, {**hp, "batch_size": "full"}):
        whole = run(variant, tmp_path / "whole.npz")
        run_until(variant, tmp_path / "ckpt.npz", 2)
        assert run(variant, tmp_path / "ckpt.npz")[:2] == whole[:2]


# ---------------------------------------------------------------- stale and damaged files

def ignored_line(hp, path, data=None):
    """Train with `path` in place; assert it was ignored in exactly one line and return that line."""
    weights, history, lines = run(hp, path, data)
    lines = said(lines)
    assert len(lines) == 1 and lines[0].startswith(f"ignoring checkpoint {path}: "), lines
    assert lines[0].endswith("; starting run r afresh")
    return lines[0], weights, history


@pytest.fixture
def killed(tmp_path):
    path = tmp_path / "ckpt.npz"
    run_until(HP, path, 3)
    return path


def test_changed_hyperparameter_starts_afresh(killed):
    line, weights, history = ignored_line({**HP, "lr": 0.2}, killed)
    assert "made from other inputs: hyperparameter lr was 0.05, now 0.2" in line
    assert (weights, history) == run({**HP, "lr": 0.2}, killed.with_name("fresh.npz"))[:2]


def test_changed_data_starts_afresh(killed):
    images, labels = digits()
    images[0, 0, 0] ^= 1
    line, *_ = ignored_line(HP, killed, (images, labels))
    assert "made from other inputs: the training data changed" in line


def test_changed_code_starts_afresh(killed, monkeypatch):
    monkeypatch.setattr(f"{__name__}.CODE", {"nn/train.py": "1" * 64})
    line, *_ = ignored_line(HP, killed)
    assert "made from other inputs: the nn code changed (nn/train.py)" in line


def test_other_numpy_starts_afresh(killed, monkeypatch):
    monkeypatch.setattr(np, "__version__", "0.0.1")
    line, *_ = ignored_line(HP, killed)
    assert f"made from other inputs: it was made with numpy {np.version.version}, this is 0.0.1" in line


def rewrite(path, edit_meta=None, drop=None, replace=None):
    """Rewrite a checkpoint's entries: edit_meta(meta dict), drop an entry, replace {name: array}."""
    with zipfile.ZipFile(path) as zf:
        arrays = {n.removesuffix(".npy"): np.lib.format.read_array(io.BytesIO(zf.read(n))) for n in zf.namelist()}
    if edit_meta:
        meta = json.loads(arrays["meta"].tobytes())
        edit_meta(meta)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    arrays.pop(drop, None)
    arrays.update(replace or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, allow_pickle=a.dtype.hasobject)
            zf.writestr(f"{name}.npy", buf.getvalue())


class Unpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


DAMAGES = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "unreadable"),
    "garbage": (lambda p: p.write_bytes(b"not a zip at all"), "not a checkpoint (not a zip archive)"),
    "empty": (lambda p: p.write_bytes(b""), "not a checkpoint (not a zip archive)"),
    "flipped byte": (lambda p: p.write_bytes(flip(p.read_bytes(), -5000)), "unreadable (BadZipFile: Bad CRC-32"),
    "a model file": (lambda p: serialize.save(model.mlp([784, 24, 10]), p), "not a checkpoint (no 'meta' entry)"),
    "other format": (lambda p: rewrite(p, lambda m: m.update(format="x")), "not a nn-checkpoint version 1 file"),
    "wrong epoch": (lambda p: rewrite(p, lambda m: m.update(epoch=13)), "epoch 13 is outside 1..12"),
    "short history": (lambda p: rewrite(p, lambda m: m["history"]["train_loss"].pop()),
                      "its history 'train_loss' does not hold epochs 1..3"),
    "patience": (lambda p: rewrite(p, lambda m: m.update(since_best=m["since_best"] + 1)),
                 "its epoch numbers or early-stopping counter disagree"),
    "rng": (lambda p: rewrite(p, lambda m: m["rng"].update(bit_generator="MT19937")), "unreadable (ValueError"),
    "optimiser": (lambda p: rewrite(p, lambda m: m["optimizer"].update(t="x")), "its optimiser state is malformed"),
    "no velocity": (lambda p: rewrite(p, drop="optimizer.velocity"), "do not fit this model and optimiser"),
    "no best": (lambda p: rewrite(p, drop="best_params"), "do not fit this model and optimiser"),
    "short params": (lambda p: rewrite(p, replace={"params": np.zeros(7, np.float32)}),
                     "array 'params' is float32[7], this model needs float32[19090]"),
    "float64 params": (lambda p: rewrite(p, replace={"params": np.zeros(19090 // 2)}),
                       "array 'params' is float64[9545], this model needs float32[19090]"),
    "huge params": (lambda p: rewrite(p, replace={"params": np.zeros(19090)}),
                    "unreadable (entry 'params.npy' declares 152848 bytes, over the 141896 its place allows"),
    "nan params": (lambda p: rewrite(p, replace={"params": np.full(19090, np.nan, np.float32)}),
                   "it holds NaN or infinite values"),
    "meta not JSON": (lambda p: rewrite(p, replace={"meta": np.frombuffer(b"{", np.uint8)}),
                      "unreadable (JSONDecodeError"),
    "meta nested 100,000 deep": (lambda p: rewrite(p, replace={"meta": np.frombuffer(b"[" * 100_000, np.uint8)}),
                                 "unreadable (meta: JSON nested 100000 levels deep, over the limit of 100; refusing"),
    "a folder": (lambda p: (p.unlink(), p.mkdir()), "a folder, not a file; this job saves no checkpoints"),
    "oversized": (lambda p: os.truncate(p, 100 << 20), "more than a checkpoint of this model holds"),  # sparse
}


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("name", DAMAGES)
def test_damaged_or_foreign_checkpoint_is_ignored_in_one_line(killed, uninterrupted, name):
    damage, message = DAMAGES[name]
    damage(killed)
    line, weights, history = ignored_line(HP, killed)
    assert message in line, line
    assert (weights, history) == uninterrupted[:2]
    if name == "a folder":  # trained through without saving over it, and left alone
        assert killed.is_dir()


def test_pickled_entry_is_refused_never_unpickled(killed, uninterrupted, tmp_path):
    marker = tmp_path / "unpickled"
    rewrite(killed, replace={"params": np.array([Unpickled(marker)], dtype=object)})
    line, weights, history = ignored_line(HP, killed)
    assert "holds a pickled object array; refusing to unpickle it" in line
    assert not marker.exists()
    assert (weights, history) == uninterrupted[:2]


def test_no_file_means_a_silent_fresh_start(tmp_path, uninterrupted):
    lines = run(HP, tmp_path / "none.npz")[2]
    assert said(lines) == []


def test_save_is_atomic_and_bounded_by_the_model(tmp_path):
    """The file holds exactly the documented entries; a stale temp never stands at the path."""
    path = tmp_path / "ckpt.npz"
    run_until(HP, path, 2)
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        meta = json.loads(np.lib.format.read_array(io.BytesIO(zf.read("meta.npy"))).tobytes())
    assert names == ["best_params.npy", "meta.npy", "optimizer.velocity.npy", "params.npy"]
    assert sorted(meta) == ["best_loss", "epoch", "fingerprint", "format", "history", "optimizer", "rng",
                            "since_best", "timings", "version"]
    assert meta["epoch"] == 2 and meta["fingerprint"]["hp"] == HP and meta["rng"]["bit_generator"] == "PCG64"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
