"""The model: both ways of building it, whole-network gradients, inference, and its file."""
import json
import zipfile

import numpy as np
import pytest

from nn.gradcheck import numerical_gradient, relative_error
from nn.layers import Linear, ReLU, Sigmoid, Softmax
from nn.losses import one_hot
from nn.serialize import ModelFileError, load, save, save_failed
from nn.model import Sequential, mlp


def assert_gradients_match(model, x, y):
    """Backprop's gradient of every parameter against finite differences of the mean loss."""
    model.backprop(x, y)
    analytic = {name: g.copy() for name, _, g, _ in model.parameters()}
    mean_loss = lambda: float(model.sample_losses(x, y.argmax(axis=1)).mean())  # noqa: E731
    for name, p, _, _ in model.parameters():
        assert relative_error(analytic[name], numerical_gradient(mean_loss, p)) < 1e-6, name


@pytest.mark.parametrize("activation, output, loss", [
    ("sigmoid", "sigmoid", "quadratic"), ("relu", "softmax", "cross_entropy"),
    ("tanh", "sigmoid", "cross_entropy"), ("relu", "softmax", "quadratic")])
@pytest.mark.parametrize("n", [1, 6])
def test_backprop_matches_finite_differences(activation, output, loss, n):
    rng = np.random.default_rng(n)
    model = mlp([5, 4, 3, 3], activation=activation, output=output, loss=loss, init="xavier", rng=rng,
                dtype=np.float64)
    x, y = rng.normal(size=(n, 5)), one_hot(rng.integers(0, 3, n), 3, np.float64)
    assert_gradients_match(model, x, y)


def test_blog_form_and_sizes_form_agree():
    rng = np.random.default_rng(7)
    blog = Sequential([Linear(784, 30, rng=rng), ReLU(), Linear(30, 10, rng=rng), Sigmoid()])
    seeds = mlp([784, 30, 10], activation="relu", output="sigmoid", rng=7)
    assert blog.loss.name == seeds.loss.name == "quadratic"
    x = np.random.default_rng(1).random((3, 784))
    np.testing.assert_array_equal(blog.predict_proba(x), seeds.predict_proba(x))
    assert Sequential([Linear(4, 2), Softmax()]).loss.name == "cross_entropy"


def test_inference_shapes_and_dtypes():
    model = mlp([6, 5, 4], activation="relu", output="softmax", init="he", rng=0)
    x = np.random.default_rng(0).random((9, 6))
    proba = model.predict_proba(x)
    assert proba.shape == (9, 4) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert model.predict(x).dtype == np.int64
    np.testing.assert_array_equal(model.predict(x), proba.argmax(axis=1))
    losses = model.sample_losses(x, np.arange(9) % 4)
    np.testing.assert_allclose(losses, -np.log(proba[np.arange(9), np.arange(9) % 4]), rtol=1e-5)
    loss, acc = model.evaluate(x, np.arange(9) % 4)
    assert loss == pytest.approx(losses.mean()) and acc == np.mean(model.predict(x) == np.arange(9) % 4)


def test_bad_inputs_and_architectures():
    model = mlp([6, 4], rng=0)
    with pytest.raises(ValueError, match=r"expected shape \(n, 6\), got \(2, 5\)"):
        model.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="feeds 4 values into"):
        Sequential([Linear(3, 4), ReLU(), Linear(5, 2)])
    with pytest.raises(ValueError, match="Linear layers mix dtypes"):
        Sequential([Linear(3, 4), ReLU(), Linear(4, 2, dtype=np.float64)])
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mlp([3, 2], activation="swish")
    with pytest.raises(ValueError, match="unknown scheme 'zeros'"):
        mlp([3, 2], init="zeros")


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


@pytest.mark.parametrize("replace, message", [
    ({"0.W.npy": npy_bytes(np.zeros((8, 5), np.float32))}, r"array '0.W' is float32\[8, 5\], the architecture says float32\[8, 6\]"),
    ({"2.b.npy": npy_bytes(np.zeros(3, np.float64))}, r"array '2.b' is float64\[3\]"),
    ({"2.W.npy": None}, "missing array '2.W'"),
    ({"4.W.npy": npy_bytes(np.zeros(2))}, "unexpected array '4.W'"),
    ({"0.b.npy": npy_bytes(np.full(6, np.nan, np.float32))}, "array '0.b' holds NaN or infinite"),
    ({"architecture.npy": None}, "no 'architecture' entry"),
    ({"architecture.npy": npy_bytes(np.frombuffer(b"{not json", np.uint8))}, "invalid architecture"),
    ({"architecture.npy": npy_bytes(np.frombuffer(b'{"format": "other"}', np.uint8))}, "invalid architecture .*format 'other'"),
    ({"architecture.npy": npy_bytes(np.array(["text"], dtype=object))}, "entry 'architecture.npy': holds a pickled object array"),
])
def test_load_mismatched_file(saved, replace, message):
    rewrite(saved, replace)
    with pytest.raises(ModelFileError, match=f"{saved}: {message}"):
        load(saved)


@pytest.mark.parametrize("name, index, value", [("0.W", (5, 2), np.nan), ("2.b", (1,), np.inf),
                                                ("2.W", (0, 0), -np.inf)])
def test_one_non_finite_value_among_finite_weights_is_refused_in_one_line(saved, name, index, value):
    """One NaN or inf is enough: a check weakened to 'all of them NaN' passes none of these."""
    weights = {n: a.copy() for n, a in load(saved).get_weights().items()}
    weights[name][index] = value
    rewrite(saved, {f"{name}.npy": npy_bytes(weights[name])})
    assert np.isfinite(weights[name]).sum() == weights[name].size - 1
    with pytest.raises(ModelFileError) as e:
        load(saved)
    assert str(e.value) == f"{saved}: array {name!r} holds NaN or infinite values"


def test_failed_run_file_is_refused_with_its_reason(tmp_path):
    save_failed(tmp_path / "m.npz", "training diverged at epoch 2")
    with pytest.raises(ModelFileError, match=r"m.npz: the run produced no usable model \(training diverged at epoch 2\)"):
        load(tmp_path / "m.npz")


@pytest.mark.parametrize("output, loss", [("softmax", "cross_entropy"), ("sigmoid", "quadratic"),
                                          ("sigmoid", "cross_entropy")])
def test_outputs_and_losses_equal_the_two_separate_passes(output, loss):
    rng = np.random.default_rng(5)
    net = mlp([784, 12, 10], activation="relu", output=output, loss=loss, init="he", rng=1)
    x = rng.random((37, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 37)
    probs, losses = net.outputs_and_losses(x, labels)
    assert np.array_equal(probs, net.predict_proba(x))
    assert np.array_equal(losses, net.sample_losses(x, labels))


def test_dropout_model_saves_loads_and_predicts_deterministically(tmp_path):
    model = mlp([8, 6, 5, 3], activation="relu", output="softmax", init="he", rng=3, dropout=[0.5, 0.2])
    assert repr(model).startswith("Sequential([Linear(n_in=8, n_out=6), ReLU(), Dropout(rate=0.5), Linear(")
    save(model, tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert repr(again) == repr(model)
    x = np.random.default_rng(0).random((5, 8))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x))   # eval mode: no masks
    model.train(np.random.default_rng(0))
    trained_mode = model.forward(x).copy()
    model.eval()
    assert not np.array_equal(trained_mode, model.predict_proba(x))


def test_dropout_rates():
    assert len(mlp([4, 3, 2], dropout=0.0).layers) == 4                 # rate 0: no layer, the old model
    assert [type(l).__name__ for l in mlp([4, 3, 3, 2], dropout=[0, 0.1]).layers].count("Dropout") == 1
    with pytest.raises(ValueError, match="dropout lists 1 rates for 2 hidden layers"):
        mlp([4, 3, 3, 2], dropout=[0.1])


def test_an_unknown_layer_type_is_named(saved):
    arch = json.loads(np.load(saved)["architecture"].tobytes())
    arch["layers"][1]["type"] = "maxout"
    rewrite(saved, {"architecture.npy": npy_bytes(np.frombuffer(json.dumps(arch).encode(), np.uint8))})
    with pytest.raises(ModelFileError, match="invalid architecture .unknown layer type 'maxout'"):
        load(saved)


def test_a_new_layer_is_a_class_and_a_registration(tmp_path):
    """docs/architecture.md, "Where a new part goes": save and load know it at once."""
    from nn.layers import LAYERS, Layer, register

    @register("scale")
    class Scale(Layer):
        def forward(self, x):
            return 2 * x

        def backward(self, grad, need_input_grad=True):
            return 2 * grad

    try:
        model = Sequential([Linear(3, 4, rng=0), Scale(), Linear(4, 2, rng=1), Softmax()])
        save(model, tmp_path / "m.npz")
        again = load(tmp_path / "m.npz")
    finally:
        del LAYERS["scale"]
    assert [type(l) for l in again.layers] == [Linear, Scale, Linear, Softmax]
    x = np.random.default_rng(0).random((5, 3))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))


def test_per_layer_activations_build_the_blogs_network():
    """pocket-model: 784 -> 30 (0.2 z) -> 30 (ReLU) -> 10 (0.05 z) -> 10 (sigmoid), U(-1, 1) weights."""
    net = mlp([784, 30, 30, 10, 10], activation=[{"scaled": 0.2}, "relu", {"scaled": 0.05}], output="sigmoid",
              loss="squared_error", init="uniform_pm1", rng=0, dtype=np.float64)
    kinds = [l.spec() for l in net.layers if l.kind != "linear"]
    assert kinds == [{"type": "scaled", "c": 0.2}, {"type": "relu"}, {"type": "scaled", "c": 0.05},
                     {"type": "sigmoid"}]
    assert net.loss.name == "squared_error" and net.output == "sigmoid"
    # one name for every hidden layer is the same as a list of it
    one = mlp([5, 4, 3, 2], activation="tanh", rng=3)
    listed = mlp([5, 4, 3, 2], activation=["tanh", "tanh"], rng=3)
    assert one.architecture() == listed.architecture()
    np.testing.assert_array_equal(one.flat_params, listed.flat_params)
    with pytest.raises(ValueError, match="activation lists 1 activations for 2 hidden layers"):
        mlp([5, 4, 3, 2], activation=["tanh"])
    with pytest.raises(ValueError, match="mlp: activation 'scaled' needs its c"):
        mlp([5, 4, 2], activation="scaled")


@pytest.mark.parametrize("activation, output", [
    ([{"scaled": 0.2}, "relu"], "sigmoid"), ("sigmoid", "relu"), ([{"scaled": -0.5}, "tanh"], "relu")])
def test_new_activations_backprop_through_a_whole_network(activation, output):
    rng = np.random.default_rng(11)
    model = mlp([5, 4, 3, 3], activation=activation, output=output, loss="quadratic", init="xavier", rng=rng,
                dtype=np.float64)
    x, y = rng.normal(size=(6, 5)), one_hot(rng.integers(0, 3, 6), 3, np.float64)
    assert_gradients_match(model, x, y)


def test_relu_output_needs_a_loss_on_outputs():
    assert mlp([4, 3, 2], output="relu", loss="quadratic").output == "relu"
    with pytest.raises(ValueError, match="cross_entropy needs a softmax or sigmoid output layer, not 'relu'"):
        mlp([4, 3, 2], output="relu", loss="cross_entropy")


def test_init_scale_reaches_every_linear_layer():
    net = mlp([300, 200, 10], activation="sigmoid", init="plain", init_scale=0.1, rng=0, dtype=np.float64)
    w = net.layers[0].params["W"]
    assert w.std() == pytest.approx(0.1, rel=0.02) and np.all(net.layers[0].params["b"] == 0)
    assert mlp([300, 200, 10], init="plain", rng=0).layers[0].params["W"].std() == pytest.approx(0.01, rel=0.02)
    with pytest.raises(ValueError, match="scheme 'normal' takes no scale"):
        mlp([3, 2], init="normal", init_scale=0.1)


def test_new_layers_save_and_load(tmp_path):
    net = mlp([6, 5, 4, 3], activation=[{"scaled": 0.2}, "relu_identity_grad"], output="sigmoid", rng=2)
    save(net, tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert again.architecture() == net.architecture()
    x = np.random.default_rng(0).random((4, 6))
    np.testing.assert_array_equal(again.predict_proba(x), net.predict_proba(x))
