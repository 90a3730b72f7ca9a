"""SGD updates against hand-worked steps; schedules against their formulas."""
import math

import numpy as np
import pytest

from nn.layers import Linear
from nn.model import Sequential
from nn.optim import SGD, learning_rate


def one_layer(w=2.0, b=1.0):
    """A 1x1 Linear layer with known weight and bias, and gradient 0.5 on both."""
    model = Sequential([Linear(1, 1, init=None, dtype=np.float64)])
    layer = model.layers[0]
    layer.params["W"][...] = w
    layer.params["b"][...] = b
    return model, layer


def steps(optimizer, layer, n, grad=0.5):
    out = []
    for _ in range(n):
        layer.grads["W"][...] = grad
        layer.grads["b"][...] = grad
        optimizer.step()
        out.append((layer.params["W"].item(), layer.params["b"].item()))
    return out


def test_plain_sgd():
    model, layer = one_layer()
    assert steps(SGD(model, lr=0.1), layer, 2) == [pytest.approx((1.95, 0.95)), pytest.approx((1.90, 0.90))]


def test_classical_momentum():
    model, layer = one_layer()
    # v1 = -0.05, w = 1.95; v2 = 0.9 * -0.05 - 0.05 = -0.095, w = 1.855
    assert steps(SGD(model, lr=0.1, momentum=0.9), layer, 2)[1][0] == pytest.approx(1.855)


def test_nesterov_momentum():
    model, layer = one_layer()
    # w += mu v_new - lr g: step 1 -> 2 + 0.9 * -0.05 - 0.05 = 1.905; step 2 -> 1.905 + 0.9 * -0.095 - 0.05
    w = [s[0] for s in steps(SGD(model, lr=0.1, momentum=0.9, nesterov=True), layer, 2)]
    assert w == [pytest.approx(1.905), pytest.approx(1.905 - 0.0855 - 0.05)]


def test_weight_decay_shrinks_weights_not_biases():
    model, layer = one_layer(w=2.0, b=1.0)
    (w, b), = steps(SGD(model, lr=0.1, weight_decay=0.5), layer, 1, grad=0.0)
    assert w == pytest.approx(2.0 - 0.1 * 0.5 * 2.0) and b == 1.0


def test_momentum_out_of_range():
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1"):
        SGD(one_layer()[0], lr=0.1, momentum=1)


def test_schedules():
    assert [learning_rate("constant", 0.5, e, 3) for e in range(3)] == [0.5, 0.5, 0.5]
    assert [learning_rate("linear", 1.0, e, 5, lr_min=0.2) for e in range(5)] == pytest.approx([1, 0.8, 0.6, 0.4, 0.2])
    assert learning_rate("linear", 1.0, 0, 1, lr_min=0.2) == 1.0
    assert [learning_rate("step", 1.0, e, 6, step_size=2, step_gamma=0.5) for e in range(6)] == [1, 1, .5, .5, .25, .25]
    cosine = [learning_rate("cosine", 1.0, e, 4, lr_min=0.1) for e in range(4)]
    assert cosine == pytest.approx([0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
    assert cosine[0] == 1.0 and cosine[-1] > 0.1
    with pytest.raises(ValueError, match="unknown 'cyclic'"):
        learning_rate("cyclic", 1.0, 0, 1)
