"""nn.serialize: the model file (.npz, no pickle): exact round trips, one replica of a stack, and every
bad file refused in one line, within bounds."""

import io
import json
import zipfile

import numpy as np
import pytest

from helpers import DEEP, MB, npy_with_header, peak_bytes
from nn.serialize import ModelFileError, load, save, save_failed
from nn.model import mlp
from nn.quirks import Scaled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip_is_exact(tmp_path, dtype):
    model = mlp([8, 6, 3], activation="tanh", output="softmax", init="he", rng=3, dtype=dtype)
    save(model, tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert repr(again) == repr(model) and again.dtype == dtype
    x = np.random.default_rng(0).random((5, 8))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    save(again, tmp_path / "again.npz")
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "m.npz").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_writes_one_replica_of_a_stack_as_its_network_alone(tmp_path, dtype):
    """save(model, path, replica=r) is the file of replica r's network built alone; load gives a stack of one."""
    seeds = (3, 4, 5)
    stack = mlp(
        [8, 6, 3],
        activation="tanh",
        output="softmax",
        init="he",
        rng=[np.random.default_rng(s) for s in seeds],
        dtype=dtype,
    )
    x = np.random.default_rng(0).random((5, 8))
    files = []
    for r, seed in enumerate(seeds):
        save(stack, tmp_path / f"stack-{r}.npz", replica=r)
        alone = mlp(
            [8, 6, 3], activation="tanh", output="softmax", init="he", rng=np.random.default_rng(seed), dtype=dtype
        )
        save(alone, tmp_path / f"alone-{r}.npz")
        files.append((tmp_path / f"stack-{r}.npz").read_bytes())
        assert files[-1] == (tmp_path / f"alone-{r}.npz").read_bytes()
        again = load(tmp_path / f"stack-{r}.npz")
        assert again.replicas == 1 and again.flat_params.shape == (1, stack.flat_params.shape[1])
        np.testing.assert_array_equal(again.predict_proba(x)[0], stack.predict_proba(x)[r])
    assert len(set(files)) == len(seeds)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    save(mlp([8, 6, 3], rng=0), path)
    return path


def rewrite(path, replace):
    """Copy the .npz with some entries replaced (bytes) or removed (None)."""
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    entries.update(replace)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            if data is not None:
                zf.writestr(name, data)


def npy_bytes(array):
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_load_truncated_file(saved):
    saved.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match=f"{saved}: not a readable model .npz"):
        load(saved)


def test_load_missing_file_or_other_format(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "absent.npz")
    (tmp_path / "array.npz").write_bytes(npy_bytes(np.zeros(3)))
    with pytest.raises(ModelFileError, match=r"array.npz: holds a single array \(.npy\), not a model .npz$"):
        load(tmp_path / "array.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match="text.npz: not a readable model"):
        load(tmp_path / "text.npz")
    # an image passed where a model belongs: said plainly, not numpy's "contains pickled data"
    (tmp_path / "digit.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(ModelFileError, match=r"digit.png: not a readable model .npz \(not a zip archive\)$"):
        load(tmp_path / "digit.png")


@pytest.mark.parametrize(
    "replace, message",
    [
        (
            {"0.W.npy": npy_bytes(np.zeros((8, 5), np.float32))},
            r"array '0.W' is float32\[8, 5\], the architecture says float32\[8, 6\]",
        ),
        ({"2.b.npy": npy_bytes(np.zeros(3, np.float64))}, r"array '2.b' is float64\[3\]"),
        ({"2.W.npy": None}, "missing array '2.W'"),
        ({"4.W.npy": npy_bytes(np.zeros(2))}, "unexpected array '4.W'"),
        ({"0.b.npy": npy_bytes(np.full(6, np.nan, np.float32))}, "array '0.b' holds NaN or infinite"),
        ({"architecture.npy": None}, "no 'architecture' entry"),
        ({"architecture.npy": npy_bytes(np.frombuffer(b"{not json", np.uint8))}, "invalid architecture"),
        (
            {"architecture.npy": npy_bytes(np.frombuffer(b'{"format": "other"}', np.uint8))},
            "invalid architecture .*format 'other'",
        ),
        (
            {"architecture.npy": npy_bytes(np.array(["text"], dtype=object))},
            "entry 'architecture.npy': holds a pickled object array",
        ),
    ],
)
def test_load_mismatched_file(saved, replace, message):
    rewrite(saved, replace)
    with pytest.raises(ModelFileError, match=f"{saved}: {message}"):
        load(saved)


@pytest.mark.parametrize(
    "name, index, value", [("0.W", (5, 2), np.nan), ("2.b", (1,), np.inf), ("2.W", (0, 0), -np.inf)]
)
def test_one_non_finite_value_among_finite_weights_is_refused_in_one_line(saved, name, index, value):
    """One NaN or inf is enough: a check weakened to 'all of them NaN' passes none of these."""
    weights = {n: a[0].copy() for n, a in load(saved).get_weights().items()}  # a stack of one: its network
    weights[name][index] = value
    rewrite(saved, {f"{name}.npy": npy_bytes(weights[name])})
    assert np.isfinite(weights[name]).sum() == weights[name].size - 1
    with pytest.raises(ModelFileError) as e:
        load(saved)
    assert str(e.value) == f"{saved}: array {name!r} holds NaN or infinite values"


def test_failed_run_file_is_refused_with_its_reason(tmp_path):
    save_failed(tmp_path / "m.npz", "training diverged at epoch 2")
    with pytest.raises(
        ModelFileError, match=r"m.npz: the run produced no usable model \(training diverged at epoch 2\)"
    ):
        load(tmp_path / "m.npz")


def test_dropout_model_saves_loads_and_predicts_deterministically(tmp_path):
    model = mlp([8, 6, 5, 3], activation="relu", output="softmax", init="he", rng=3, dropout=[0.5, 0.2])
    assert repr(model).startswith("Sequential([Linear(n_in=8, n_out=6), ReLU(), Dropout(rate=0.5), Linear(")
    save(model, tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert repr(again) == repr(model)
    x = np.random.default_rng(0).random((5, 8))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x))  # eval mode: no masks
    model.train([np.random.default_rng(0)])
    trained_mode = model.forward(x).copy()
    model.eval()
    assert not np.array_equal(trained_mode, model.predict_proba(x))


def test_an_unknown_layer_type_is_named(saved):
    arch = json.loads(np.load(saved)["architecture"].tobytes())
    arch["layers"][1]["type"] = "maxout"
    rewrite(saved, {"architecture.npy": npy_bytes(np.frombuffer(json.dumps(arch).encode(), np.uint8))})
    with pytest.raises(ModelFileError, match="invalid architecture .unknown layer type 'maxout'"):
        load(saved)


def test_new_layers_save_and_load(tmp_path):
    net = mlp([6, 5, 4, 3], activation=[Scaled(0.2), "relu_identity_grad"], output="sigmoid", rng=2)
    save(net, tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert again.architecture() == net.architecture()
    x = np.random.default_rng(0).random((4, 6))
    np.testing.assert_array_equal(again.predict_proba(x), net.predict_proba(x))


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.npz"
    save(mlp([784, 16, 10], rng=0), path)
    return path


def replace_entry(path, name, write) -> None:
    """Rewrite the model .npz with entry `name` produced by write(zipfile, name)."""
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist() if n != name}
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
        write(zf, name)


def test_a_weight_entry_header_claiming_terabytes_is_refused(model_file):
    replace_entry(model_file, "0.W.npy", lambda zf, n: zf.writestr(n, npy_with_header((10**9, 784), "<f4", bytes(64))))
    peak, message = peak_bytes(lambda: load(model_file))
    assert message == (
        f"{model_file}: entry '0.W.npy': header declares 3136000000000 data bytes [1000000000, 784], the file holds 64"
    )
    assert peak < 5 * MB


def test_a_deflate_bomb_inside_a_model_is_refused_before_inflating(model_file):
    def write(zf, name):
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as f:
            f.write(npy_with_header((200 * MB // 4,), "<f4"))
            for _ in range(200):
                f.write(bytes(MB))

    replace_entry(model_file, "0.W.npy", write)
    assert model_file.stat().st_size < 2 * MB
    peak, message = peak_bytes(lambda: load(model_file))
    assert message.startswith(f"{model_file}: entry '0.W.npy' declares 209715328 bytes, over the ")
    assert message.endswith(" its place allows; refusing")
    assert peak < 5 * MB


def test_an_architecture_entry_over_1_mb_is_refused(model_file):
    huge = np.frombuffer(json.dumps({"pad": "x" * (2 * MB)}).encode(), np.uint8)
    buf = io.BytesIO()
    np.save(buf, huge)
    replace_entry(model_file, "architecture.npy", lambda zf, n: zf.writestr(n, buf.getvalue()))
    with pytest.raises(
        ModelFileError, match=r"entry 'architecture.npy' declares \d+ bytes, over the 1048576 its place"
    ):
        load(model_file)


def test_an_architecture_declaring_a_huge_layer_is_refused_before_building(model_file):
    arch = {
        "format": "nn-sequential",
        "version": 1,
        "dtype": "float32",
        "loss": "cross_entropy",
        "output": "softmax",
        "layers": [
            {"type": "linear", "n_in": 784, "n_out": 100_000_000},
            {"type": "relu"},
            {"type": "linear", "n_in": 100_000_000, "n_out": 10},
            {"type": "softmax"},
        ],
    }
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(arch).encode(), np.uint8))
    replace_entry(model_file, "architecture.npy", lambda zf, n: zf.writestr(n, buf.getvalue()))
    peak, message = peak_bytes(lambda: load(model_file))
    assert message.startswith(
        f"{model_file}: invalid architecture (it declares 318000000040 bytes of parameters, over the bound of "
    )
    assert peak < 5 * MB


def test_a_model_whose_architecture_is_nested_100000_deep_is_refused_in_one_line(model_file):
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(b'{"layers": ' + DEEP + b"}", np.uint8))
    replace_entry(model_file, "architecture.npy", lambda zf, n: zf.writestr(n, buf.getvalue()))
    with pytest.raises(ModelFileError) as e:
        load(model_file)
    assert str(e.value) == (
        f"{model_file}: architecture: JSON nested 100001 levels deep, over the limit of 100; refusing to parse it"
    )
