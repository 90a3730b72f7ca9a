"""Layers: forward values against their formulas, backward against finite differences."""

import numpy as np
import pytest

from nn.gradcheck import numerical_gradient, relative_error
from nn.layers import LAYERS, Dropout, Linear, ReLU, Sigmoid, Softmax, Tanh, sigmoid
from nn.quirks import ReLUPassThrough, Scaled

SHAPES = [(1, 1, 1), (1, 5, 3), (4, 7, 2), (9, 3, 6)]  # (batch, n_in, n_out), batch 1 included
K = 2  # replicas in a stack (nn.layers): every layer takes (k, batch, n) inputs
TOL = 1e-7


def inputs(rng, shape, away_from_zero=False):
    x = rng.normal(size=shape)
    if away_from_zero:  # ReLU's kink at 0 has no derivative; keep the nudges clear of it
        x += np.sign(x) * 0.1
    return x


def check_backward(layer, x, rng):
    """Compare layer.backward with finite differences of L = sum(forward(x) * R)."""
    out = layer.forward(x)
    r = rng.normal(size=out.shape)  # dL/dout for a random linear functional
    dx = layer.backward(r).copy()
    if dx.ndim > x.ndim:  # a batch shared by the replicas: each gets its own dL/dx, and L sums them
        dx = dx.sum(axis=0)
    analytic = {"x": dx, **{k: g.copy() for k, g in layer.grads.items()}}
    loss = lambda: float(np.sum(layer.forward(x) * r))  # noqa: E731
    numeric = {"x": numerical_gradient(loss, x), **{k: numerical_gradient(loss, p) for k, p in layer.params.items()}}
    for name in numeric:
        assert relative_error(analytic[name], numeric[name]) < TOL, name


@pytest.mark.parametrize("shared", [False, True], ids=["own batches", "shared batch"])
@pytest.mark.parametrize("batch, n_in, n_out", SHAPES)
def test_linear_gradients(batch, n_in, n_out, shared):
    """A stack of K replicas, each with its own batch (k, batch, n_in), or one (batch, n_in) they share."""
    rng = np.random.default_rng(batch * 100 + n_in)
    layer = Linear(n_in, n_out, init="normal", rng=[np.random.default_rng(s) for s in range(K)], dtype=np.float64)
    assert layer.params["W"].shape == (K, n_in, n_out) and layer.params["b"].shape == (K, n_out)
    check_backward(layer, inputs(rng, (batch, n_in) if shared else (K, batch, n_in)), rng)


@pytest.mark.parametrize("shared", [False, True], ids=["own batches", "shared batch"])
def test_each_replica_of_a_linear_stack_is_the_layer_alone_bit_for_bit(shared):
    """Replica r's weights come from its own Generator, and its forward and backward values are the
    bits of a stack of one made from that Generator alone."""
    rng = np.random.default_rng(7)
    x = inputs(rng, (5, 4) if shared else (3, 5, 4)).astype(np.float32)
    grad = inputs(rng, (3, 5, 6)).astype(np.float32)
    stack = Linear(4, 6, init="he", rng=[np.random.default_rng(s) for s in (11, 12, 13)])
    out, dx = stack.forward(x).copy(), stack.backward(grad).copy()
    for r, seed in enumerate((11, 12, 13)):
        alone = Linear(4, 6, init="he", rng=np.random.default_rng(seed))
        assert alone.params["W"].shape == (1, 4, 6)
        np.testing.assert_array_equal(stack.params["W"][r], alone.params["W"][0])
        xr = x if shared else x[r : r + 1]
        assert alone.forward(xr)[0].tobytes() == out[r].tobytes()
        assert alone.backward(grad[r : r + 1])[0].tobytes() == dx[r].tobytes()
        for key in ("W", "b"):
            assert alone.grads[key][0].tobytes() == stack.grads[key][r].tobytes(), key


@pytest.mark.parametrize("cls", [Sigmoid, Tanh, ReLU, Softmax])
@pytest.mark.parametrize("batch, width", [(1, 1), (1, 4), (5, 3), (8, 10)])
def test_activation_gradients(cls, batch, width):
    rng = np.random.default_rng(batch * 10 + width)
    check_backward(cls(), inputs(rng, (K, batch, width), away_from_zero=cls is ReLU) * 3, rng)


def test_linear_first_layer_skips_input_gradient():
    layer = Linear(3, 2, rng=0, dtype=np.float64)
    layer.forward(np.ones((4, 3)))  # a stack of one, a shared batch
    assert layer.backward(np.ones((1, 4, 2)), need_input_grad=False) is None
    np.testing.assert_allclose(layer.grads["W"], np.full((1, 3, 2), 4.0))
    np.testing.assert_allclose(layer.grads["b"], np.full((1, 2), 4.0))


def test_activation_values():
    z = np.array([[-2.0, 0.0, 0.5, 3.0]])
    np.testing.assert_allclose(Sigmoid().forward(z), 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(Tanh().forward(z), np.tanh(z))
    np.testing.assert_array_equal(ReLU().forward(z), [[0, 0, 0.5, 3]])
    s = Softmax().forward(z)
    np.testing.assert_allclose(s, np.exp(z) / np.exp(z).sum(), rtol=1e-12)
    stacked = np.stack([z, 2 * z])  # (k, batch, classes): each row on its own
    np.testing.assert_allclose(Softmax().forward(stacked)[1], np.exp(2 * z) / np.exp(2 * z).sum(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_softmax_extreme_inputs_are_finite_without_warnings(dtype):
    z = np.array([[-1e30, -1000, -88, 0, 88, 1000, 1e30]], dtype)  # warnings are errors in pytest
    s = sigmoid(z)
    assert s.dtype == dtype and np.all(np.isfinite(s)) and s[0, 0] == 0 and s[0, -1] == 1
    p = Softmax().forward(z)
    assert np.all(np.isfinite(p)) and p[0, -1] == 1


def test_layers_keep_dtype():
    x = np.ones((2, 3), np.float32)
    layer = Linear(3, 4, init="he", rng=0)
    assert layer.forward(x).dtype == np.float32
    for act in (Sigmoid(), Tanh(), ReLU(), Softmax()):
        assert act.forward(x).dtype == np.float32


class SameDraws:
    """Stands in for a Generator: every draw is the same fixed uniforms, so the mask is fixed
    across the gradient check's many forward passes."""

    def __init__(self, uniforms):
        self.uniforms = uniforms

    def random(self, shape, dtype):
        return self.uniforms.reshape(shape).astype(dtype)


@pytest.mark.parametrize("batch, width", [(1, 1), (5, 3), (8, 10)])
def test_dropout_gradients_with_a_fixed_mask(batch, width):
    rng = np.random.default_rng(batch + width)
    layer = Dropout(0.4)
    layer.set_mode(True, [SameDraws(rng.random((batch, width))) for _ in range(K)])  # one per replica
    check_backward(layer, inputs(rng, (K, batch, width)), rng)


def test_dropout_is_inverted_and_off_in_eval_mode():
    x = np.ones((1, 2000, 50), np.float32)  # a stack of one
    layer = Dropout(0.2)
    assert layer.forward(x) is x  # eval mode (the default): the identity
    layer.set_mode(True, np.random.default_rng(0))
    out = layer.forward(x)
    assert out.dtype == np.float32 and set(np.unique(out)) == {0, np.float32(1 / 0.8)}
    assert abs(np.mean(out == 0) - 0.2) < 0.005  # 100,000 draws: 4 standard errors is 0.005
    assert abs(out.mean() - 1) < 0.01  # survivors scaled: the expectation is kept
    grad = layer.backward(np.full_like(x, 3.0))
    np.testing.assert_array_equal(grad, 3.0 * out)  # the same mask on the way back
    layer.set_mode(False)
    assert layer.forward(x) is x and layer.backward(x) is x
    with pytest.raises(ValueError, match=r"Dropout: rate must be in \[0, 1\), got 1"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="training mode needs a numpy Generator"):
        Dropout(0.5).set_mode(True)


def test_dropout_draws_each_replicas_mask_from_its_own_generator():
    x = np.ones((3, 40, 7), np.float32)
    layer = Dropout(0.5)
    layer.set_mode(True, [np.random.default_rng(s) for s in (4, 5, 6)])
    out = layer.forward(x).copy()
    for r, seed in enumerate((4, 5, 6)):
        alone = Dropout(0.5)
        alone.set_mode(True, np.random.default_rng(seed))
        assert alone.forward(x[r : r + 1])[0].tobytes() == out[r].tobytes()
    assert not np.array_equal(out[0], out[1])  # not one mask for all
    layer.set_mode(True, [np.random.default_rng(0)] * 2)
    with pytest.raises(ValueError, match="Dropout: 2 Generators for 3 replicas"):
        layer.forward(x)


def test_every_layer_type_round_trips_through_its_spec():
    layers = [
        Linear(3, 2, rng=0),
        Dropout(0.3),
        Scaled(0.2),
        *(cls() for cls in (Sigmoid, Tanh, ReLU, ReLUPassThrough, Softmax)),
    ]
    assert sorted(LAYERS) == sorted(layer.spec()["type"] for layer in layers)
    for layer in layers:
        again = LAYERS[layer.spec()["type"]].from_spec(layer.spec(), np.float32)
        assert type(again) is type(layer) and again.spec() == layer.spec()
