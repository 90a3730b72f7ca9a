"""nn.quirks: what the sources did that a textbook would not, each part in the registries under
its name, defined in nn.quirks, and computing what the source computed."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from test_init import check_law
from test_layers import check_backward, inputs

from conftest import REPO
from nn.init import INITS, init_weights, takes_scale
from nn.layers import ACTIVATIONS, LAYERS, ReLU
from nn.losses import LOSSES, get_loss, one_hot, per_replica
from nn.quirks import LabelDifference, ReLUPassThrough, Scaled, plain, uniform_pm1

# the registries' names in their order: the config schema's lists and the error messages that
# list the choices show this order
ORDER = {
    "ACTIVATIONS": ["sigmoid", "tanh", "relu", "relu_identity_grad", "scaled", "softmax"],
    "LAYERS": ["linear", "sigmoid", "tanh", "relu", "relu_identity_grad", "scaled", "softmax", "dropout"],
    "LOSSES": ["quadratic", "cross_entropy", "label_difference", "squared_error"],
    "INITS": ["normal", "scaled_normal", "xavier", "he", "plain", "uniform_pm1"],
}
# each quirk: its registry, its name there, what it is
QUIRKS = [
    (ACTIVATIONS, "relu_identity_grad", ReLUPassThrough),
    (LAYERS, "relu_identity_grad", ReLUPassThrough),
    (ACTIVATIONS, "scaled", Scaled),
    (LAYERS, "scaled", Scaled),
    (LOSSES, "label_difference", LabelDifference),
    (INITS, "plain", plain),
    (INITS, "uniform_pm1", uniform_pm1),
]


@pytest.mark.parametrize("registry, name, quirk", QUIRKS, ids=lambda v: v if isinstance(v, str) else "")
def test_each_quirk_is_registered_under_its_name_and_lives_in_nn_quirks(registry, name, quirk):
    assert registry[name] is quirk
    assert quirk.__module__ == "nn.quirks"
    if registry is LOSSES:
        assert quirk.name == name  # the loss's name in a model file
    elif registry is not INITS:
        assert quirk.kind == name  # the layer's type in a model file


def test_the_registries_hold_their_names_in_their_order():
    assert {
        "ACTIVATIONS": list(ACTIVATIONS),
        "LAYERS": list(LAYERS),
        "LOSSES": list(LOSSES),
        "INITS": list(INITS),
    } == ORDER


@pytest.mark.parametrize("module", ["nn.layers", "nn.losses", "nn.init", "nn.quirks", "nn.serialize", "nn.model"])
def test_the_registries_hold_the_quirks_whichever_module_is_imported_first(module):
    """A fresh interpreter that imports one module first: no import cycle breaks it, and every registry
    then holds the quirks in the order above."""
    code = (
        f"import {module}; import json\n"
        "from nn.layers import ACTIVATIONS, LAYERS; from nn.losses import LOSSES; from nn.init import INITS\n"
        "print(json.dumps({'ACTIVATIONS': list(ACTIVATIONS), 'LAYERS': list(LAYERS), 'LOSSES': list(LOSSES),"
        " 'INITS': list(INITS)}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ORDER


@pytest.mark.parametrize("module", ["nn.layers", "nn.serialize"])
def test_a_saved_quirk_layer_loads_in_a_fresh_interpreter(tmp_path, module):
    """nn.serialize rebuilds a layer from LAYERS[type]: a process that imports nothing but it finds
    relu_identity_grad and scaled."""
    from nn.model import mlp
    from nn.serialize import save

    net = mlp(
        [6, 5, 4, 3],
        activation=[Scaled(0.2), "relu_identity_grad"],
        output="relu_identity_grad",
        loss="quadratic",
        rng=2,
        dtype=np.float64,
    )
    save(net, tmp_path / "m.npz")
    np.save(tmp_path / "params.npy", net.flat_params)
    code = (
        f"import {module}; import numpy as np; from nn.serialize import load\n"
        f"m = load({str(tmp_path / 'm.npz')!r})\n"
        f"assert [l.kind for l in m.layers if l.kind != 'linear'] == ['scaled', 'relu_identity_grad', "
        f"'relu_identity_grad'], m.layers\n"
        f"assert m.flat_params.tobytes() == np.load({str(tmp_path / 'params.npy')!r}).tobytes()"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# --- relu_identity_grad ------------------------------------------------------------------------


def test_relu_pass_through_is_relu_forward_and_identity_backward():
    """The notebook's np.heaviside(A, 1), A = max(Z, 0), is 1 everywhere: its backward is grad itself."""
    z = np.array([[-2.0, -0.1, 0.0, 0.5, 3.0]])
    grad = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    layer = ReLUPassThrough()
    np.testing.assert_array_equal(layer.forward(z), np.maximum(z, 0))
    np.testing.assert_array_equal(layer.backward(grad), grad * np.heaviside(np.maximum(z, 0), 1))
    np.testing.assert_array_equal(layer.backward(grad), grad)
    relu = ReLU()
    relu.forward(z)
    differs = relu.backward(grad) != layer.backward(grad)
    np.testing.assert_array_equal(differs, z <= 0)  # ReLU passes nothing back where z <= 0; this does


# --- scaled ------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0.2, -1.5, 0.05])
@pytest.mark.parametrize("batch, width", [(1, 1), (5, 3)])
def test_scaled_gradients(c, batch, width):
    rng = np.random.default_rng(batch + width)
    check_backward(Scaled(c), inputs(rng, (batch, width)), rng)


def test_scaled_is_c_times_z_both_ways():
    z = np.array([[-2.0, 0.0, 0.5, 3.0]])
    layer = Scaled(0.2)
    np.testing.assert_array_equal(layer.forward(z), 0.2 * z)
    np.testing.assert_array_equal(layer.backward(np.ones_like(z)), np.full_like(z, 0.2))
    assert layer.spec() == {"type": "scaled", "c": 0.2}
    assert Scaled(0.2).forward(z.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="c must be a finite non-zero number"):
        Scaled(0.0)


# --- label_difference --------------------------------------------------------------------------


def test_label_difference_is_pocket_models_cost_with_the_label_as_every_target():
    a = np.array([[[0.5, 1.0, 0.0]]])  # a stack of one, one image
    y = one_hot(np.array([2]), 3, np.float64)  # label 2
    value, grad = get_loss("label_difference", "sigmoid").value_and_grad(a.copy(), y)
    # costs.py: np.square(x - y) summed over the outputs, derivative 2 * (x - y): no 1/2
    assert value.shape == (1,) and value[0] == pytest.approx(1.5**2 + 1.0**2 + 2.0**2)
    np.testing.assert_allclose(grad, [[[-3.0, -2.0, -4.0]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_label_differences_mean_losses_are_nn_losses_per_replica_bit_for_bit(dtype):
    """value_and_grad builds each replica's mean loss itself (nn.losses imports nn.quirks, not the
    other way round): the same bits as nn.losses.per_replica gives."""
    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 7, 10)).astype(dtype)
    y = one_hot(rng.integers(0, 10, 7), 10, dtype)
    d = a - y.argmax(axis=-1)[..., None].astype(dtype)
    value, _ = LabelDifference().value_and_grad(a.copy(), y)
    assert value.dtype == np.float64 and value.tobytes() == per_replica(np.vdot(r, r) / 7 for r in d).tobytes()


def test_label_differences_target_is_the_label_in_every_output():
    y = one_hot(np.array([2, 0, 9]), 10, np.float32)
    target = LabelDifference().target(y)
    assert target.dtype == np.float32 and target.tolist() == [[2.0] * 10, [0.0] * 10, [9.0] * 10]


# --- plain, uniform_pm1 ------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.001, 0.5])
def test_plain_takes_its_scale(scale):
    w, b = init_weights("plain", 400, 100, np.random.default_rng(3), np.float64, scale=scale)
    check_law(w.ravel(), "normal", scale**2, f"plain({scale}) W")
    assert not b.any()
    # the same draws as rng.standard_normal, scaled: nothing else consumed from the Generator
    np.testing.assert_array_equal(w, scale * np.random.default_rng(3).standard_normal((400, 100)))


def test_the_sources_schemes_draw_as_their_sources_did():
    """plain: 0.01 randn, zero biases (its default scale, the one takes_scale finds); uniform_pm1:
    U(-1, 1) weights then biases, from the one Generator."""
    assert takes_scale("plain") and not takes_scale("uniform_pm1")
    w, b = init_weights("plain", 5, 3, np.random.default_rng(8), np.float64)
    assert w.tobytes() == (0.01 * np.random.default_rng(8).standard_normal((5, 3))).tobytes() and not b.any()
    rng = np.random.default_rng(8)
    w, b = init_weights("uniform_pm1", 5, 3, np.random.default_rng(8), np.float64)
    assert w.tobytes() == rng.uniform(-1, 1, (5, 3)).tobytes() and b.tobytes() == rng.uniform(-1, 1, 3).tobytes()
