"""Losses: values against the textbook formulas, gradients against finite differences."""

import numpy as np
import pytest

from nn.gradcheck import numerical_gradient, relative_error
from nn.losses import Quadratic, SigmoidCrossEntropy, SoftmaxCrossEntropy, SquaredError, get_loss, one_hot
from nn.quirks import LabelDifference

LOSSES = [Quadratic(), SoftmaxCrossEntropy(), SigmoidCrossEntropy(), LabelDifference(), SquaredError()]


def batch(rng, n, k=10, replicas=None):
    """Scores and one-hot targets: (n, k) each, or with `replicas` a stack (replicas, n, k) of both."""
    shape = (n, k) if replicas is None else (replicas, n, k)
    labels = rng.integers(0, k, shape[:-1])
    return rng.normal(size=shape) * 2, one_hot(labels.ravel(), k, np.float64).reshape(shape)


@pytest.mark.parametrize("shared", [False, True], ids=["own targets", "shared targets"])
@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: type(loss).__name__)
@pytest.mark.parametrize("n, k", [(1, 1), (1, 10), (3, 4), (16, 10)])
def test_gradient_matches_finite_differences(loss, n, k, shared):
    """A stack of 3 replicas: value is each one's mean loss (3,), grad the gradient of each one's mean."""
    rng = np.random.default_rng(n * 31 + k)
    z, y = batch(rng, n, k, replicas=3)
    if shared:
        y = y[0]  # one (n, k) target batch for every replica
    value, grad = loss.value_and_grad(z.copy(), y)
    assert grad.shape == z.shape
    numeric = numerical_gradient(lambda: loss.per_sample(z, y).mean(axis=-1).sum(), z)
    assert relative_error(grad, numeric) < 1e-7
    assert isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == (3,)
    np.testing.assert_allclose(value, loss.per_sample(z, y).mean(axis=-1), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: type(loss).__name__)
def test_each_replicas_loss_is_its_value_alone_bit_for_bit(loss, dtype):
    """Stacking replicas changes no replica's bits: value_and_grad of a stack, row r, is that of
    the stack of one holding row r."""
    rng = np.random.default_rng(5)
    z, y = (a.astype(dtype) for a in batch(rng, 7, 10, replicas=3))
    value, grad = loss.value_and_grad(z.copy(), y)
    for r in range(3):
        alone_value, alone_grad = loss.value_and_grad(z[r : r + 1].copy(), y[r : r + 1])
        assert alone_value.shape == (1,) and alone_value[0] == value[r]
        assert alone_grad.tobytes() == grad[r : r + 1].tobytes()
        assert loss.per_sample(z[r : r + 1], y[r : r + 1]).tobytes() == loss.per_sample(z, y)[r : r + 1].tobytes()


def test_quadratic_is_half_mean_squared_norm():
    a = np.array([[[0.5, 0.5], [1.0, 0.0]]])  # a stack of one, 2 images
    y = np.array([[1.0, 0.0], [1.0, 0.0]])
    value, grad = Quadratic().value_and_grad(a, y)
    assert value.shape == (1,) and value[0] == pytest.approx(
        (0.25 + 0.25 + 0.0) / (2 * 2)
    )  # C = 1/(2n) sum ||y - a||^2
    np.testing.assert_allclose(grad, (a - y) / 2)


def test_cross_entropies_match_naive_formulas():
    rng = np.random.default_rng(0)
    z, y = batch(rng, 5)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(SoftmaxCrossEntropy().per_sample(z, y), -np.log((p * y).sum(axis=1)), rtol=1e-12)
    a = 1 / (1 + np.exp(-z))
    bce = -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1)
    np.testing.assert_allclose(SigmoidCrossEntropy().per_sample(z, y), bce, rtol=1e-10)


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy(), SigmoidCrossEntropy()], ids=lambda loss: type(loss).__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_for_huge_logits(loss, dtype):
    z = np.array([[[1e4, -1e4, 0.0], [-1e30, 1e30, 5.0]]], dtype)
    y = np.array([[0, 1, 0], [1, 0, 0]], dtype)
    value, grad = loss.value_and_grad(z, y)
    assert value.shape == (1,) and np.isfinite(value[0]) and value[0] > 1e4 and np.all(np.isfinite(grad))


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0], np.uint8), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot([1], 10).dtype == np.float32
    with pytest.raises(ValueError, match=r"labels must be .* in \[0, 10\)"):
        one_hot([10])


def test_get_loss():
    assert isinstance(get_loss("quadratic", "softmax"), Quadratic)
    assert isinstance(get_loss("cross_entropy", "softmax"), SoftmaxCrossEntropy)
    assert isinstance(get_loss("cross_entropy", "sigmoid"), SigmoidCrossEntropy)
    with pytest.raises(ValueError, match="cross_entropy needs a softmax or sigmoid output"):
        get_loss("cross_entropy", "relu")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("hinge", "softmax")


def test_squared_error_is_the_blogs_sum_of_squares_without_a_half():
    a = np.array([[[0.5, 0.5], [1.0, 0.0]]])  # a stack of one, 2 images
    y = np.array([[1.0, 0.0], [1.0, 0.0]])
    value, grad = get_loss("squared_error", "sigmoid").value_and_grad(a.copy(), y)
    assert value.shape == (1,) and value[0] == pytest.approx(
        (0.25 + 0.25 + 0.0) / 2
    )  # mean over 2 images of sum_j (a - y)^2
    np.testing.assert_allclose(grad, 2 * (a - y) / 2)  # the blog's 2 (a - y), averaged
    assert value[0] == pytest.approx(2 * Quadratic().value_and_grad(a.copy(), y)[0][0])
