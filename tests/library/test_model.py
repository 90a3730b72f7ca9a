"""The model: both ways of building it, whole-network gradients, inference, and its file."""

import numpy as np
import pytest

from nn.gradcheck import numerical_gradient, relative_error
from nn.layers import Linear, ReLU, Sigmoid, Softmax
from nn.losses import one_hot
from nn.serialize import load, save
from nn.model import Sequential, activation_from, mlp
from nn.quirks import Scaled


def assert_gradients_match(model, x, y):
    """Backprop's gradient of every parameter against finite differences of the mean loss: with
    k replicas, of the sum of their mean losses (each replica's grads are its own loss's). x, y
    shared by the replicas ((n, n_in), (n, n_out)) or one batch each ((k, n, n_in), (k, n, n_out))."""
    losses, _ = model.backprop(x, y)
    assert losses.shape == (model.replicas,) and losses.dtype == np.float64
    analytic = model.flat_grads.copy()  # (k, n_params): every parameter's grad, a row per replica
    if x.ndim == 2:  # outputs_and_losses: the inference path, not backprop's own
        mean_loss = lambda: float(model.outputs_and_losses(x, y.argmax(axis=-1))[1].mean(axis=-1).sum())  # noqa: E731
        np.testing.assert_allclose(losses, model.outputs_and_losses(x, y.argmax(axis=-1))[1].mean(axis=-1), rtol=1e-12)
    else:
        mean_loss = lambda: float(model.backprop(x, y)[0].sum())  # noqa: E731
    bounds, start = {}, 0
    for name, p, g, _ in model.parameters():
        bounds[name] = start, start + p[0].size
        np.testing.assert_array_equal(g.reshape(len(g), -1), analytic[:, start : start + p[0].size])  # views of it
        start += p[0].size
    assert start == model.flat_params.shape[1]
    # nudge the contiguous (k, n_params) array the layers' parameters are views of (a replica's
    # slice of it is not contiguous, and numerical_gradient nudges through reshape(-1))
    numeric = numerical_gradient(mean_loss, model.flat_params)
    for name, (start, end) in bounds.items():
        assert relative_error(analytic[:, start:end], numeric[:, start:end]) < 1e-6, name


@pytest.mark.parametrize(
    "activation, output, loss",
    [
        ("sigmoid", "sigmoid", "quadratic"),
        ("relu", "softmax", "cross_entropy"),
        ("tanh", "sigmoid", "cross_entropy"),
        ("relu", "softmax", "quadratic"),
    ],
)
@pytest.mark.parametrize("n", [1, 6])
@pytest.mark.parametrize(
    "replicas, shared",
    [(1, True), (2, True), (2, False)],
    ids=["one network", "stack, shared batch", "stack, own batches"],
)
def test_backprop_matches_finite_differences(activation, output, loss, n, replicas, shared):
    rng = np.random.default_rng(n)
    model = mlp(
        [5, 4, 3, 3],
        activation=activation,
        output=output,
        loss=loss,
        init="xavier",
        rng=[rng, *(np.random.default_rng(100 * r + n) for r in range(1, replicas))],
        dtype=np.float64,
    )
    assert model.replicas == replicas and model.flat_params.shape == (replicas, 5 * 4 + 4 + 4 * 3 + 3 + 3 * 3 + 3)
    lead = (n,) if shared else (replicas, n)
    x = rng.normal(size=(*lead, 5))
    y = one_hot(rng.integers(0, 3, lead).ravel(), 3, np.float64).reshape(*lead, 3)
    assert_gradients_match(model, x, y)


def test_blog_form_and_sizes_form_agree():
    rng = np.random.default_rng(7)
    blog = Sequential([Linear(784, 30, rng=rng), ReLU(), Linear(30, 10, rng=rng), Sigmoid()])
    seeds = mlp([784, 30, 10], activation="relu", output="sigmoid", rng=7)
    assert blog.loss.name == seeds.loss.name == "quadratic"
    x = np.random.default_rng(1).random((3, 784))
    np.testing.assert_array_equal(blog.predict_proba(x), seeds.predict_proba(x))
    assert Sequential([Linear(4, 2), Softmax()]).loss.name == "cross_entropy"


@pytest.mark.parametrize("replicas", [1, 3])
def test_inference_shapes_and_dtypes(replicas):
    """Every inference result carries the replica axis first; each replica's figures are its own."""
    model = mlp(
        [6, 5, 4],
        activation="relu",
        output="softmax",
        init="he",
        rng=[np.random.default_rng(s) for s in range(replicas)],
    )
    x = np.random.default_rng(0).random((9, 6))
    labels = np.arange(9) % 4
    proba = model.predict_proba(x)
    assert proba.shape == (replicas, 9, 4) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=-1), 1, rtol=1e-6)
    predicted = model.predict_proba(x).argmax(axis=-1)
    assert predicted.shape == (replicas, 9) and predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted, proba.argmax(axis=-1))
    losses = model.outputs_and_losses(x, labels)[1]
    assert losses.shape == (replicas, 9)
    np.testing.assert_allclose(losses, -np.log(proba[:, np.arange(9), labels]), rtol=1e-5)
    loss, acc = model.evaluate(x, labels)
    assert loss.shape == acc.shape == (replicas,) and loss.dtype == acc.dtype == np.float64
    np.testing.assert_allclose(loss, losses.mean(axis=-1), rtol=1e-6)
    np.testing.assert_array_equal(acc, np.mean(predicted == labels, axis=-1))
    for r in range(replicas):  # replica r's numbers are those of its network alone, bit for bit
        alone = mlp([6, 5, 4], activation="relu", output="softmax", init="he", rng=np.random.default_rng(r))
        assert alone.predict_proba(x)[0].tobytes() == proba[r].tobytes()
        assert alone.outputs_and_losses(x, labels)[1][0].tobytes() == losses[r].tobytes()
        assert alone.evaluate(x, labels)[0][0] == loss[r] and alone.evaluate(x, labels)[1][0] == acc[r]
    if replicas > 1:
        assert not np.array_equal(proba[0], proba[1])


def test_bad_inputs_and_architectures():
    model = mlp([6, 4], rng=0)
    with pytest.raises(ValueError, match=r"expected shape \(n, 6\), got \(2, 5\)"):
        model.predict_proba(np.zeros((2, 5))).argmax(axis=-1)
    with pytest.raises(ValueError, match="feeds 4 values into"):
        Sequential([Linear(3, 4), ReLU(), Linear(5, 2)])
    with pytest.raises(ValueError, match="Linear layers mix dtypes"):
        Sequential([Linear(3, 4), ReLU(), Linear(4, 2, dtype=np.float64)])
    with pytest.raises(ValueError, match="Linear layers hold different numbers of replicas"):
        Sequential([Linear(3, 4, rng=[np.random.default_rng(0), np.random.default_rng(1)]), ReLU(), Linear(4, 2)])
    with pytest.raises(ValueError, match="Linear: 2 replicas, but 1 Generators to draw them from"):
        Linear(3, 4, rng=1, replicas=2)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mlp([3, 2], activation="swish")
    with pytest.raises(ValueError, match="unknown scheme 'zeros'"):
        mlp([3, 2], init="zeros")


@pytest.mark.parametrize(
    "output, loss", [("softmax", "cross_entropy"), ("sigmoid", "quadratic"), ("sigmoid", "cross_entropy")]
)
def test_outputs_and_losses_equal_the_two_separate_passes(output, loss):
    rng = np.random.default_rng(5)
    net = mlp([784, 12, 10], activation="relu", output=output, loss=loss, init="he", rng=1)
    x = rng.random((37, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 37)
    probs, losses = net.outputs_and_losses(x, labels)
    assert probs.shape == (1, 37, 10) and losses.shape == (1, 37)
    assert np.array_equal(probs, net.predict_proba(x))
    assert np.array_equal(losses, net.outputs_and_losses(x, labels)[1])


def test_dropout_rates():
    assert len(mlp([4, 3, 2], dropout=0.0).layers) == 4  # rate 0: no layer, the old model
    assert [type(layer).__name__ for layer in mlp([4, 3, 3, 2], dropout=[0, 0.1]).layers].count("Dropout") == 1
    with pytest.raises(ValueError, match="dropout lists 1 rates for 2 hidden layers"):
        mlp([4, 3, 3, 2], dropout=[0.1])


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
    assert [type(layer) for layer in again.layers] == [Linear, Scale, Linear, Softmax]
    x = np.random.default_rng(0).random((5, 3))
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))


def test_per_layer_activations_build_the_blogs_network():
    """pocket-model: 784 -> 30 (0.2 z) -> 30 (ReLU) -> 10 (0.05 z) -> 10 (sigmoid), U(-1, 1) weights."""
    net = mlp(
        [784, 30, 30, 10, 10],
        activation=[Scaled(0.2), "relu", Scaled(0.05)],
        output="sigmoid",
        loss="squared_error",
        init="uniform_pm1",
        rng=0,
        dtype=np.float64,
    )
    kinds = [layer.spec() for layer in net.layers if layer.kind != "linear"]
    assert kinds == [{"type": "scaled", "c": 0.2}, {"type": "relu"}, {"type": "scaled", "c": 0.05}, {"type": "sigmoid"}]
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


def test_an_activation_is_a_name_or_a_layer_and_each_position_gets_its_own():
    assert type(activation_from("relu")) is ReLU
    given = Scaled(0.05)
    made = activation_from(given)
    assert type(made) is Scaled and made.c == 0.05 and made is not given
    net = mlp([5, 4, 4, 2], activation=given, rng=0)
    hidden = [layer for layer in net.layers if layer.kind == "scaled"]
    assert len(hidden) == 2 and hidden[0] is not hidden[1]  # no layer object in two places
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        activation_from("swish")
    with pytest.raises(ValueError, match="Linear.* is not an activation"):
        activation_from(Linear(2, 2))
    with pytest.raises(ValueError, match=r"needs its c: pass the layer, e.g. Scaled\(...\)"):
        activation_from("scaled")


@pytest.mark.parametrize(
    "activation, output",
    [([Scaled(0.2), "relu"], "sigmoid"), ("sigmoid", "relu"), ([Scaled(-0.5), "tanh"], "relu")],
)
def test_new_activations_backprop_through_a_whole_network(activation, output):
    rng = np.random.default_rng(11)
    model = mlp(
        [5, 4, 3, 3], activation=activation, output=output, loss="quadratic", init="xavier", rng=rng, dtype=np.float64
    )
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
