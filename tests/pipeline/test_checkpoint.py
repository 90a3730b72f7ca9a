"""nn.pipeline.checkpoint: a block of seeds stopped after any epoch and resumed from its file gives the
same bits, and a checkpoint that is stale, foreign or damaged is ignored in one line, never half-loaded."""

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
HP = {
    "hidden": [24],
    "activation": "relu",
    "output": "softmax",
    "loss": "cross_entropy",
    "init": "he",
    "validation": 60,
    "seed": 5,
    "dtype": "float32",
    "monitor_test": False,
    "epochs": 12,
    "batch_size": 16,
    "lr": 0.05,
    "schedule": "cosine",
    "lr_min": 0.0,
    "step_size": 1,
    "step_gamma": 1.0,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 1e-4,
    "shift": 1,
    "elastic_alpha": 8.0,
    "elastic_sigma": 3.0,
    "dropout": 0.2,
    "early_stopping": 2,
}
CODE = {"nn/train.py": "0" * 64}
# one checkpoint holds a block of seeds trained stacked: under HP seed 5 stops early after epoch 9 (its
# best is 7) and seed 6 after epoch 11 (best 9), so a resume may find a seed stopped beside one training
SEEDS = (5, 6)
N_PARAMS = 784 * 24 + 24 + 24 * 10 + 10  # 19090


def block(hp):
    """hp's run as the block of SEEDS: one hp per seed."""
    return [{**hp, "seed": seed} for seed in SEEDS]


def digits(n=260, seed=1):
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 90, size=(n, 28, 28), dtype=np.uint8)
    for k in range(10):
        images[labels == k, 2 * k : 2 * k + 8, 4:12] = 255
    return images, labels


def made_from(hps, data=None, test=None):
    images, labels = data or digits()
    return checkpoint.fingerprint(hps, CODE, images, labels, *(test or ()))


def run(hp, path, data=None, test=None):
    """train_seeds of block(hp) with a checkpoint at `path`; returns (each seed's model file bytes,
    each seed's history JSON, log lines). A tuple of bytes and one of str: compared whole."""
    images, labels = data or digits()
    lines = []
    ckpt = Checkpoint(path, made_from(block(hp), data, test), run="r", log=lines.append)
    net, states = hparams.train_seeds(block(hp), images, labels, log=lines.append, test=test, checkpoint=ckpt)
    files = []
    for r in range(len(SEEDS)):
        serialize.save(net, path.with_name("model.npz"), replica=r)
        files.append(path.with_name("model.npz").read_bytes())
    assert all(s.failure is None for s in states)
    return tuple(files), tuple(json.dumps(s.history, sort_keys=True) for s in states), lines


def said(lines):
    """What the checkpoint said about itself."""
    return [line for line in lines if line.startswith(("resuming", "ignoring checkpoint"))]


class Killed(Exception):
    pass


def run_until(hp, path, epoch, data=None, test=None, hps=None):
    """train_seeds of block(hp) (or of hps) killed (by an exception) just after epoch `epoch`'s
    checkpoint was written."""
    images, labels = data or digits()
    hps = hps or block(hp)
    ckpt = Checkpoint(path, made_from(hps, data, test), run="r", log=lambda line: None)
    save = ckpt.save

    def save_then_die(states):
        save(states)
        if max(s.epoch for s in states) == epoch:
            raise Killed

    ckpt.save = save_then_die
    with pytest.raises(Killed):
        hparams.train_seeds(hps, images, labels, log=lambda line: None, test=test, checkpoint=ckpt)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("whole") / "ckpt.npz"
    out = run(HP, path)
    histories = [json.loads(h) for h in out[1]]
    assert all(h["stopped_early"] for h in histories), "the setting must stop early, to exercise its state"
    assert [h["epoch"][-1] for h in histories] == [9, 11], "the seeds must stop at different epochs"
    return out


def test_uninterrupted_run_is_the_run_without_checkpoints(uninterrupted, tmp_path):
    images, labels = digits()
    net, states = hparams.train_seeds(block(HP), images, labels, log=lambda line: None)
    for r, hp in enumerate(block(HP)):
        serialize.save(net, tmp_path / "plain.npz", replica=r)
        assert (tmp_path / "plain.npz").read_bytes() == uninterrupted[0][r]
        assert json.dumps(states[r].history, sort_keys=True) == uninterrupted[1][r]
        alone, history, _ = hparams.train_run(hp, images, labels, log=lambda line: None)  # and each seed alone
        serialize.save(alone, tmp_path / "alone.npz")
        assert (tmp_path / "alone.npz").read_bytes() == uninterrupted[0][r]
        assert json.dumps(history, sort_keys=True) == uninterrupted[1][r]


# 5: one epoch past a best; 8: past seed 5's final best (7); 10: seed 5 stopped (after 9), seed 6 training
@pytest.mark.parametrize("epoch", [1, 5, 8, 10])
def test_resume_after_any_epoch_gives_the_same_bits(uninterrupted, tmp_path, epoch):
    path = tmp_path / "ckpt.npz"
    run_until(HP, path, epoch)
    assert path.exists()
    weights, history, lines = run(HP, path)
    assert said(lines) == [f"resuming run r from epoch {epoch} of 12 ({path})"]
    assert weights == uninterrupted[0] and history == uninterrupted[1]


def test_resume_after_the_last_epoch_trains_no_more(uninterrupted, tmp_path):
    stopped_at = max(json.loads(h)["epoch"][-1] for h in uninterrupted[1])
    path = tmp_path / "ckpt.npz"
    run_until(HP, path, stopped_at)
    weights, history, lines = run(HP, path)
    assert said(lines) == [f"resuming run r from epoch {stopped_at} of 12 ({path})"]
    assert not any(f"epoch {stopped_at + 1}/" in line for line in lines)
    assert weights == uninterrupted[0] and history == uninterrupted[1]


def test_adam_and_full_batch_resume_too(tmp_path):
    hp = {
        **HP,
        "momentum": 0.0,
        "optimizer": "adam",
        "lr": 0.01,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "early_stopping": 0,
        "epochs": 4,
        "dropout": 0.0,
        "shift": 0,
        "elastic_alpha": 0.0,
    }
    for variant in (hp, {**hp, "batch_size": "full"}):
        whole = run(variant, tmp_path / "whole.npz")
        run_until(variant, tmp_path / "ckpt.npz", 2)
        assert run(variant, tmp_path / "ckpt.npz")[:2] == whole[:2]


def test_resume_after_seeds_failed_gives_the_same_bits_and_failures(tmp_path):
    """A block where two seeds diverge (test_stacked's setting: seed 4's validation loss is NaN after
    epoch 1, seed 2's loss in epoch 2) and two train on: killed after epoch 2 and resumed, the healthy
    seeds get the bytes of the uninterrupted block and the failed ones the same failures (message and
    finished epochs), told once more in the resumed job's log."""
    from test_hparams import TRAIN, hp as stacked_hp

    hps = [
        stacked_hp(
            seed=seed, activation={"scaled": 1.0}, hidden=[16, 16], init="xavier", lr=0.3, momentum=0.9, epochs=4
        )
        for seed in (0, 2, 4, 6)
    ]

    def train(path, log):
        ckpt = Checkpoint(path, checkpoint.fingerprint(hps, CODE, *TRAIN), run="r", log=log)
        net, states = hparams.train_seeds(hps, *TRAIN, log=log, checkpoint=ckpt)
        files = []
        for r, state in enumerate(states):
            serialize.save(net, tmp_path / "model.npz", replica=r)
            files.append(None if state.failure else (tmp_path / "model.npz").read_bytes())
        return files, [(str(s.failure), json.dumps(s.history, sort_keys=True)) for s in states]

    whole = train(tmp_path / "whole.npz", lambda line: None)
    assert [f is None for f in whole[0]] == [False, True, True, False], "two seeds must fail, two train on"
    path = tmp_path / "ckpt.npz"
    ckpt = Checkpoint(path, checkpoint.fingerprint(hps, CODE, *TRAIN), run="r", log=lambda line: None)
    save = ckpt.save

    def save_then_die(states):
        save(states)
        if max(s.epoch for s in states) == 2:
            raise Killed

    ckpt.save = save_then_die
    with pytest.raises(Killed):
        hparams.train_seeds(hps, *TRAIN, log=lambda line: None, checkpoint=ckpt)
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(np.lib.format.read_array(io.BytesIO(zf.read("meta.npy"))).tobytes())
    assert [s["failure"] is not None for s in meta["seeds"]] == [False, True, True, False]
    assert [len(s["history"]["epoch"]) for s in meta["seeds"]] == [2, 1, 0, 2]
    lines = []
    assert train(path, lines.append) == whole
    assert said(lines) == [f"resuming run r from epoch 2 of 4 ({path})"]
    assert sum(line.startswith("seed 2: training diverged") for line in lines) == 1
    assert sum(line.startswith("seed 4: training diverged") for line in lines) == 1


def test_an_ignored_checkpoint_leaves_the_run_s_generators_as_they_were(killed):
    """A file whose first seed's state is sound and whose second seed's is not is no state at all:
    after the log line, every seed's Generator still stands where a fresh start needs it."""
    rewrite(killed, lambda m: seed_epoch(m["seeds"][1], 13))
    images, labels = digits()
    hps = block(HP)
    rngs = [np.random.default_rng(seed) for seed in SEEDS]
    net = model.mlp(
        [784, 24, 10],
        activation="relu",
        output="softmax",
        init="he",
        dropout=0.2,
        rng=[np.random.default_rng(seed) for seed in SEEDS],
    )
    lines = []
    ckpt = Checkpoint(killed, made_from(hps), run="r", log=lines.append)
    assert ckpt.load(net, hparams.build_optimizer(HP, net), rngs) is None
    assert said(lines) == [f"ignoring checkpoint {killed}: epoch 13 is outside 1..12; starting run r afresh"]
    fresh = [np.random.default_rng(seed).bit_generator.state for seed in SEEDS]
    assert [g.bit_generator.state for g in rngs] == fresh


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
    assert "made from other inputs: seed 5: hyperparameter lr was 0.05, now 0.2" in line
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


def test_changed_monitored_test_images_start_afresh(tmp_path):
    """monitor_test puts the test figures of every epoch into the saved histories: a checkpoint made
    while other test images were measured is not resumed, though the training inputs are the same."""
    hp = {**HP, "monitor_test": True, "epochs": 4, "early_stopping": 0}
    old_test, new_test = digits(40, seed=2), digits(40, seed=3)
    path = tmp_path / "ckpt.npz"
    run_until(hp, path, 2, test=old_test)
    assert (
        checkpoint.difference(made_from(block(hp), test=old_test), made_from(block(hp), test=new_test))
        == "the monitored test images changed"
    )
    weights, history, lines = run(hp, path, test=new_test)
    assert said(lines) == [
        f"ignoring checkpoint {path}: made from other inputs: the monitored test images changed; starting run r afresh"
    ]
    assert (weights, history) == run(hp, tmp_path / "fresh.npz", test=new_test)[:2]
    old_labels_only = (new_test[0], new_test[1][::-1].copy())  # the labels count too
    assert (
        checkpoint.difference(made_from(block(hp), test=new_test), made_from(block(hp), test=old_labels_only))
        == "the monitored test images changed"
    )
    path.unlink()  # (that run saved epoch 4 there)
    run_until(hp, path, 2, test=new_test)  # and the same ones resume
    assert said(run(hp, path, test=new_test)[2]) == [f"resuming run r from epoch 2 of 4 ({path})"]


def test_a_hyperparameter_the_new_run_lacks_starts_afresh(tmp_path):
    """A key the checkpoint's hps hold and the job's lack counts as changed, though its value there
    ("optimizer": "sgd", the default) trains the same bits: the log line names the key."""
    hp = {**HP, "epochs": 4, "early_stopping": 0}
    assert "optimizer" not in hp
    path = tmp_path / "ckpt.npz"
    run_until(hp, path, 2, hps=block({**hp, "optimizer": "sgd"}))
    line, weights, history = ignored_line(hp, path)
    assert "made from other inputs: seed 5: hyperparameter optimizer was 'sgd', now 'absent'" in line
    assert (weights, history) == run(hp, tmp_path / "fresh.npz")[:2]


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
    "other format": (lambda p: rewrite(p, lambda m: m.update(format="x")), "not a nn-checkpoint version 3 file"),
    "version 2": (lambda p: rewrite(p, as_version_2), "not a nn-checkpoint version 3 file"),
    # the second seed's state: every seed's is checked, not only the first's
    "wrong epoch": (lambda p: rewrite(p, lambda m: seed_epoch(m["seeds"][1], 13)), "epoch 13 is outside 1..12"),
    "seeds apart": (
        lambda p: rewrite(p, lambda m: seed_epoch(m["seeds"][1], 2)),
        "its seeds in training stand at different epochs",
    ),
    "one seed": (lambda p: rewrite(p, lambda m: m["seeds"].pop()), "it holds no states for 2 seeds"),
    "short history": (
        lambda p: rewrite(p, lambda m: m["seeds"][1]["history"]["train_loss"].pop()),
        "its history 'train_loss' does not hold epochs 1..3",
    ),
    "best epoch": (
        lambda p: rewrite(p, lambda m: m["seeds"][1]["history"].update(best_epoch=4)),
        "its epoch numbers or early-stopping counter disagree",
    ),
    "rng": (
        lambda p: rewrite(p, lambda m: m["seeds"][1]["rng"].update(bit_generator="MT19937")),
        "unreadable (ValueError",
    ),
    "optimiser": (lambda p: rewrite(p, lambda m: m["optimizer"].update(t="x")), "its optimiser state is malformed"),
    "no velocity": (lambda p: rewrite(p, drop="optimizer.velocity"), "do not fit this model and optimiser"),
    "no best": (lambda p: rewrite(p, drop="best_params"), "do not fit this model and optimiser"),
    "short params": (
        lambda p: rewrite(p, replace={"params": np.zeros(7, np.float32)}),
        f"array 'params' is float32[7], this model needs float32[2, {N_PARAMS}]",
    ),
    "one seed's params": (
        lambda p: rewrite(p, replace={"params": np.zeros((1, N_PARAMS), np.float32)}),
        f"array 'params' is float32[1, {N_PARAMS}], this model needs float32[2, {N_PARAMS}]",
    ),
    "float64 params": (
        lambda p: rewrite(p, replace={"params": np.zeros((2, N_PARAMS // 2))}),
        f"array 'params' is float64[2, {N_PARAMS // 2}], this model needs float32[2, {N_PARAMS}]",
    ),
    "huge params": (
        lambda p: rewrite(p, replace={"params": np.zeros((2, N_PARAMS))}),
        f"unreadable (entry 'params.npy' declares {2 * N_PARAMS * 8 + 128} bytes, "
        f"over the {2 * N_PARAMS * 4 + serialize.NPY_HEADER_ROOM} its place allows",
    ),
    "nan params": (
        lambda p: rewrite(p, replace={"params": nan_in_row(p, "params", 1)}),
        "it holds NaN or infinite values",
    ),
    "nan velocity": (
        lambda p: rewrite(p, replace={"optimizer.velocity": nan_in_row(p, "optimizer.velocity", 1)}),
        "it holds NaN or infinite values",
    ),
    "meta not JSON": (
        lambda p: rewrite(p, replace={"meta": np.frombuffer(b"{", np.uint8)}),
        "unreadable (JSONDecodeError",
    ),
    "meta nested 100,000 deep": (
        lambda p: rewrite(p, replace={"meta": np.frombuffer(b"[" * 100_000, np.uint8)}),
        "unreadable (meta: JSON nested 100000 levels deep, over the limit of 100; refusing",
    ),
    "a folder": (lambda p: (p.unlink(), p.mkdir()), "a folder, not a file; this job saves no checkpoints"),
    "oversized": (lambda p: os.truncate(p, 100 << 20), "more than a checkpoint of this model holds"),  # sparse
}


def seed_epoch(seed: dict, epoch: int) -> None:
    """Make a saved seed's state a consistent one of `epoch` finished epochs (its lists cut to it, or
    lengthened by repeating their last figures)."""
    for key, values in seed["history"].items():
        if isinstance(values, list):
            values[:] = list(range(1, epoch + 1)) if key == "epoch" else (values + values[-1:] * epoch)[:epoch]
    seed["history"]["best_epoch"] = min(seed["history"]["best_epoch"], epoch)


def as_version_2(meta: dict) -> None:
    """The meta as version 2 wrote it: each seed's epoch and early-stopping best loss stored beside its history."""
    meta["version"] = 2
    for seed in meta["seeds"]:
        history = seed["history"]
        seed["epoch"] = len(history["epoch"])
        seed["best_loss"] = history["val_loss"][history["best_epoch"] - 1] if history["best_epoch"] else float("inf")


def nan_in_row(path, name: str, row: int):
    """The checkpoint's array `name` with one NaN in replica `row`'s row (the others finite)."""
    with zipfile.ZipFile(path) as zf:
        a = np.lib.format.read_array(io.BytesIO(zf.read(f"{name}.npy")))
    a = a.copy()
    a[row, 5] = np.nan
    assert np.isfinite(a).sum() == a.size - 1
    return a


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


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
    rewrite(killed, replace={"params": np.array([[Unpickled(marker)]], dtype=object)})
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
        shapes = {n: np.lib.format.read_array(io.BytesIO(zf.read(n))).shape for n in names if n != "meta.npy"}
    assert names == ["best_params.npy", "meta.npy", "optimizer.velocity.npy", "params.npy"]
    assert set(shapes.values()) == {(len(SEEDS), N_PARAMS)}  # a row per seed
    assert sorted(meta) == ["fingerprint", "format", "optimizer", "seeds", "version"]
    assert meta["version"] == 3 and meta["fingerprint"]["hp"] == block(HP) and sorted(meta["optimizer"]) == ["lr", "t"]
    assert len(meta["seeds"]) == len(SEEDS)
    for seed in meta["seeds"]:
        assert sorted(seed) == ["failure", "history", "rng", "timings"]  # nothing that the history says
        assert seed["history"]["epoch"] == [1, 2] and seed["failure"] is None
        assert seed["rng"]["bit_generator"] == "PCG64"
    assert meta["seeds"][0]["rng"] != meta["seeds"][1]["rng"]  # each seed its own Generator
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]
