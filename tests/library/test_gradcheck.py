"""nn.gradcheck: central differences against derivatives known in closed form, and the scale-free error."""

import numpy as np
import pytest

from nn.gradcheck import numerical_gradient, relative_error


def test_the_numerical_gradient_of_a_cubic_is_its_derivative_and_x_is_left_as_it_was():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**3) + 2 * np.sum(x)), x)
    assert np.allclose(grad, 3 * before**2 + 2, rtol=1e-6, atol=1e-8)
    assert np.array_equal(x, before)  # every nudge undone


def test_a_slice_of_a_stack_is_nudged_in_place_not_a_copy():
    stack = np.random.default_rng(5).normal(size=(2, 3, 3))
    replica = stack[1, :, ::2]  # not contiguous
    grad = numerical_gradient(lambda: float(np.sum(np.sin(stack[1]))), replica)
    assert grad.shape == replica.shape
    assert np.allclose(grad, np.cos(replica), atol=1e-8)


def test_a_wrong_gradient_is_told_apart_from_a_right_one():
    x = np.linspace(-1, 1, 7)
    numerical = numerical_gradient(lambda: float(np.sum(np.tanh(x))), x)
    assert relative_error(numerical, 1 - np.tanh(x) ** 2) < 1e-8
    assert relative_error(numerical, 1 - np.tanh(x)) > 1e-2


@pytest.mark.parametrize("scale", [1e-9, 1.0, 1e9])
def test_relative_error_is_scale_free(scale):
    a = np.array([1.0, -2.0, 3.0]) * scale
    assert relative_error(a, a) == 0.0
    assert relative_error(a, 2 * a) == pytest.approx(1 / 3)  # max |a| / max 3|a|


def test_relative_error_of_zeros_is_zero_not_nan():
    assert relative_error(np.zeros(4), np.zeros(4)) == 0.0
