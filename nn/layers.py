"""Layers: each one a forward pass, a backward pass, and its parameters with their gradients.

A layer maps a stack of batches of row vectors (k, batch, n_in) to (k, batch, n_out): k
networks side by side (the replicas: the seeds of a run), each with its own parameters along
the leading axis, as JAX's vmap or torch.func.stack_module_state hold an ensemble. One network
is a stack of one. numpy's matmul runs each slice as its own BLAS product, so every replica's
numbers are the bits it gets trained alone. A first layer also takes one (batch, n_in) batch
shared by every replica (full-batch training, evaluation): matmul broadcasts it.
forward() keeps what backward() will need; backward(grad) takes dLoss/dOutput and returns
dLoss/dInput, filling self.grads (same keys as self.params) on the way. Each reads as its formula:
numpy allocates the arrays it returns, and a layer keeps only what its backward reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    import numpy.typing as npt

    # what a stack's random numbers are drawn from (generators()): one Generator per replica, or
    # one Generator or an int seed (None: seed 0) for a stack of one; for annotations only
    Seeds: TypeAlias = list[np.random.Generator] | tuple[np.random.Generator, ...] | np.random.Generator | int | None

# The one list of layers: a model file's `type` names (nn.serialize rebuilds a layer with
# LAYERS[type].from_spec(spec, dtype)), and the activations mlp() and the config accept.
# A new layer is one class with @register("name"); the sources' layers are in nn.quirks.
LAYERS: dict[str, type] = {}
ACTIVATIONS: dict[str, type] = {}


def register(name: str, activation: bool = False, before: str | None = None) -> Callable[[type[Layer]], type[Layer]]:
    """Class decorator: the class becomes LAYERS[name] (and ACTIVATIONS[name] with activation=True)
    and its `kind` is name. before: a name already registered to list it ahead of, for a layer
    defined in a module loaded after this one (nn.quirks); the registries' order is the order the
    config schema and the error messages list the names in."""

    def add(cls: type[Layer]) -> type[Layer]:
        cls.kind = name
        for registry in (LAYERS, ACTIVATIONS) if activation else (LAYERS,):
            _place(registry, name, cls, before)
        return cls

    return add


def _place(registry: dict, name: str, cls: type, before: str | None) -> None:
    """registry[name] = cls, at the end (or where it is already), or just ahead of `before`."""
    if before is None:
        registry[name] = cls
        return
    if before not in registry:
        raise ValueError(f"register {name!r}: no layer {before!r} registered to list it before")
    entries = [(k, v) for k, v in registry.items() if k != name]
    at = [k for k, _ in entries].index(before)
    registry.clear()
    registry.update(entries[:at] + [(name, cls)] + entries[at:])


class Layer:
    params: dict = {}  # name -> trainable array; the optimiser updates these in place
    grads: dict = {}  # name -> dLoss/dparam, same shapes, filled by backward()
    training = False  # train/eval mode: only layers that behave differently (Dropout) read it
    setting = None  # an activation's one setting (its constructor argument), e.g. nn.quirks.Scaled's "c"
    bounds = (-np.inf, np.inf)  # the values its outputs can take (nn.losses.least_cost)
    kind = ""  # its name in LAYERS (and in a model file's architecture), set by register()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(k, batch, n_in) -> (k, batch, n_out), keeping what backward needs."""
        raise NotImplementedError

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        """dLoss/dOutput (k, batch, n_out) -> dLoss/dInput (k, batch, n_in), filling self.grads.
        need_input_grad=False: the first layer, whose input gradient nobody reads (None may be returned)."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: dict, dtype: npt.DTypeLike) -> "Layer":
        """The layer spec() describes, with zero weights (nn.serialize.load fills them in)."""
        return cls()

    def set_mode(self, training: bool, rng: Seeds = None) -> None:
        """Training mode draws random numbers (if the layer needs any) from the Generator rng."""
        self.training = training

    def spec(self) -> dict:
        """A JSON description from which the same layer (minus its weights) can be rebuilt."""
        return {"type": self.kind}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.spec().items() if k != "type")
        return f"{type(self).__name__}({args})"


def generators(rng: Seeds) -> list[np.random.Generator]:
    """One numpy Generator per replica: a list of them as given, or one Generator or an int seed
    for a stack of one (None means seed 0, so an unseeded model is still repeatable)."""
    if isinstance(rng, (list, tuple)):
        return list(rng)
    return [rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)]


@register("linear")
class Linear(Layer):
    """y = x W + b for each replica: W (k, n_in, n_out), so a batch of rows multiplies without a transpose."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        init: str | None = "normal",
        rng: Seeds = None,
        dtype: npt.DTypeLike = np.float32,
        init_scale: float | None = None,
        replicas: int | None = None,
    ) -> None:
        # rng: one Generator per replica (generators()); each replica's W and b come from its own.
        # init=None gives zeros for `replicas` networks (default 1), for weights about to be loaded
        # from a file; with an init, `replicas`, if given, must be the number of Generators.
        # init_scale: the spread of a scheme that takes one ("plain"); None = the scheme's default.
        if init is None:
            W, b = np.zeros((replicas or 1, n_in, n_out), dtype), np.zeros((replicas or 1, n_out), dtype)
        else:
            # imported here, not at the top: nn.init lists nn.quirks' schemes, and nn.quirks builds on
            # this module, so this module must load without nn.init
            from nn.init import init_weights

            rngs = generators(rng)
            if replicas not in (None, len(rngs)):
                raise ValueError(f"Linear: {replicas} replicas, but {len(rngs)} Generators to draw them from")
            drawn = [init_weights(init, n_in, n_out, g, dtype, scale=init_scale) for g in rngs]
            W, b = np.stack([w for w, _ in drawn]), np.stack([b for _, b in drawn])
        self.params = {"W": W, "b": b}  # (k, n_in, n_out), (k, n_out)
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}

    @property
    def shape(self) -> tuple[int, ...]:
        return self.params["W"].shape[1:]

    def forward(self, x: np.ndarray) -> np.ndarray:
        W, b = self.params["W"], self.params["b"]
        self.x = x  # (k, batch, n_in), or one (batch, n_in) every replica shares
        return x @ W + b[:, None, :]  # (k, batch, n_out)

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        # grad: dLoss/dy (k, batch, n_out). The grads are the model's arrays (views into its flat
        # buffer, nn.model), so they are filled in place, not rebound.
        W = self.params["W"]
        np.matmul(self.x.swapaxes(-1, -2), grad, out=self.grads["W"])  # dW = x^T grad   (k, n_in, n_out)
        grad.sum(axis=-2, out=self.grads["b"])  # db = sum over the batch   (k, n_out)
        if not need_input_grad:  # the first layer: dLoss/dpixels is a third product nobody uses
            return None
        return grad @ W.swapaxes(-1, -2)  # dx = grad W^T   (k, batch, n_in)

    def spec(self) -> dict:
        n_in, n_out = self.shape
        return {"type": self.kind, "n_in": n_in, "n_out": n_out}

    @classmethod
    def from_spec(cls, spec: dict, dtype: npt.DTypeLike) -> Linear:
        return cls(int(spec["n_in"]), int(spec["n_out"]), init=None, dtype=dtype)


class Activation(Layer):
    """An elementwise (or row-wise) function a = f(z) with no parameters.

    forward(z) computes a and keeps it; backward(grad) returns f'(z) * grad, where every activation
    here writes f' in terms of its own output a (sigma' = sigma (1 - sigma), tanh' = 1 - tanh^2, ...).
    All arrays are (k, batch, n), the shape of z.
    """


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z), as (1 + tanh(z/2)) / 2: no exp, so no overflow warning for any z."""
    return (np.tanh(z * 0.5) + 1) * 0.5


@register("sigmoid", activation=True)
class Sigmoid(Activation):
    bounds = (0.0, 1.0)

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.s = sigmoid(z)
        return self.s

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        s = self.s
        return (1 - s) * s * grad  # sigma' = sigma (1 - sigma)


@register("tanh", activation=True)
class Tanh(Activation):
    bounds = (-1.0, 1.0)

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.t = np.tanh(z)
        return self.t

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        t = self.t
        return (1 - t * t) * grad  # tanh' = 1 - tanh^2


@register("relu", activation=True)
class ReLU(Activation):
    bounds = (0.0, np.inf)

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.r = np.maximum(z, 0)
        return self.r

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return grad * (self.r > 0)  # 1 where z > 0, else 0


def row_max(z: np.ndarray) -> np.ndarray:
    """(..., classes) -> (..., 1) row maxima. Same as z.max(axis=-1, keepdims=True), but numpy's
    reductions along a short last axis are slow (~10 us for 128x10) and argmax is not."""
    return np.take_along_axis(z, z.argmax(axis=-1)[..., None], axis=-1)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise e^z / sum(e^z), shifted by the row max first so exp never overflows."""
    e = np.exp(z - row_max(z))  # (..., classes)
    return e / e.sum(axis=-1, keepdims=True)


@register("softmax", activation=True)
class Softmax(Activation):
    bounds = (0.0, 1.0)

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.s = softmax(z)
        return self.s

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        # the Jacobian diag(s) - s s^T applied to each row: s * (g - <g, s>)
        s = self.s
        gs = grad * s
        return gs - s * gs.sum(axis=-1, keepdims=True)


@register("dropout")
class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014, scaled at training time as Keras and PyTorch do).

    Training mode: each value is zeroed with probability `rate` and the survivors are divided
    by 1 - rate, so the expected output equals the input and eval mode is the identity (no
    rescaling at test time). Each replica's mask is drawn from its own Generator, given to
    set_mode() (the run's seeded Generators, one per replica), so the same seed gives the same masks.
    """

    def __init__(self, rate: float) -> None:
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rngs = None

    def set_mode(self, training: bool, rng: Seeds = None) -> None:
        if training and self.rate and rng is None:
            raise ValueError("Dropout: training mode needs a numpy Generator to draw masks from")
        self.training, self.rngs = training, None if rng is None else generators(rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.active = self.training and self.rate > 0
        if not self.active:
            return x
        if len(self.rngs) != len(x):
            raise ValueError(f"Dropout: {len(self.rngs)} Generators for {len(x)} replicas")
        u = np.stack([rng.random(x.shape[1:], dtype=x.dtype) for rng in self.rngs])  # (k, batch, n) in [0, 1)
        self.mask = (u >= self.rate) * x.dtype.type(1 / (1 - self.rate))  # kept (prob. 1 - rate): 1 / (1 - rate)
        return x * self.mask

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return grad * self.mask if self.active else grad

    def spec(self) -> dict:
        return {"type": self.kind, "rate": self.rate}

    @classmethod
    def from_spec(cls, spec: dict, dtype: npt.DTypeLike) -> Dropout:
        return cls(float(spec["rate"]))


# The sources' layers (relu_identity_grad, scaled) register themselves from nn.quirks, which
# imports this module: importing it here, last, puts them in LAYERS and ACTIVATIONS whichever
# of the two modules is imported first.
import nn.quirks  # noqa: E402,F401
