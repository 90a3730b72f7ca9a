"""What the sources did that a textbook would not: the parts of published networks that differ
from the textbook's, kept so that a run can train a network as its source trained it.

Each quirk is a part like any other, in the same registries (the config, the model file and the
config schema know it by the same name), and each cites the code it reproduces:

  relu_identity_grad  ReLUPassThrough  a ReLU whose backward is the identity: max(z, 0) forward,
                      the gradient unchanged back. Textbook ReLU passes nothing back where z <= 0.
                      Martin Pitt's handwriting-recognition notebook (NothingButNumPy's
                      computational-graph code), https://piware.de/gitweb/?p=handwriting-recognition.git
                      commit d986cacf nnet.py: `self.A = np.maximum(Z, 0)` ...
                      `return upstream_grad * np.heaviside(self.A, 1)`: A >= 0, so the factor is always 1.
  scaled              Scaled           y = c z, a weight layer whose activation is a slope c instead
                      of a nonlinearity. pocket-model (the blog "Building a neural network from
                      scratch using Numpy"), https://github.com/uatemycookie22/pocket-model (f4fed08)
                      libs/model_helpers/activators.py l.41-46: `def linear(x, c=1)`: `return x * c`,
                      its derivative `np.full(x.shape, c)`; README.md l.34-37: `Linear(30, x_flat_n, c=0.2)`.
  label_difference    LabelDifference  the integer label as every output's target instead of a
                      one-hot vector, through pocket-model's own cost (a - y)^2 and derivative 2 (a - y).
                      pocket-model (6bf566b) test/model.py l.260-276: `y: np.ndarray = y_train[0]` ...
                      `sut.backprop(xprocessed, y, costs.dabs_squared)`; libs/model_helpers/costs.py
                      l.4-9: `return np.square(x-y)`, derivative `return 2*(x-y)`.
  plain (init)        plain            W = scale N(0, 1) (0.01 by default; the run's init_scale)
                      whatever the fan-in, b = 0, where the textbook draws N(0, 1) (Nielsen's
                      chapter 1) or scales by the fan-in (Nielsen's chapter 3, Glorot, He).
                      https://github.com/RafayAK/NothingButNumPy (5cc32a5)
                      util/paramInitializer.py l.23-34: `params['W'] = np.random.randn(n_out, n_in) *0.01`,
                      `params['b'] = np.zeros((n_out, 1))`; Pitt's notebook follows it.
  uniform_pm1 (init)  uniform_pm1      W, b ~ U(-1, 1) whatever the fan-in. pocket-model (f4fed08)
                      libs/model/network.py l.24-25: `np.random.uniform(-1, 1, (layer.n, prev_Ln))`,
                      `np.random.uniform(-1, 1, (layer.n,))`.

reproductions/pitt-notebook.yaml and reproductions/pocket-model-blog.yaml hold the runs that use
them, with the evidence for every setting.

The layers register themselves with nn.layers.register; nn.losses.LOSSES and nn.init.INITS list
LabelDifference and the two schemes by importing them from here. This module imports nn.layers
alone, and nn.layers imports it at its end, so whichever of them is imported first, the
registries hold the quirks (and in the order the config schema lists them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nn.layers import Activation, register

if TYPE_CHECKING:
    import numpy.typing as npt

# --- layers ----------------------------------------------------------------------------------
# Listed before softmax: the registries' order is the order the config schema and the error
# messages list the activations in, the sources' ones after the textbook's hidden activations.


@register("relu_identity_grad", activation=True, before="softmax")
class ReLUPassThrough(Activation):
    """Forward max(z, 0), backward the gradient unchanged: ReLU as a source's bug trains it.

    NothingButNumPy-style code (Martin Pitt's reLULayer) computes the local gradient as
    np.heaviside(A, 1) with A = max(Z, 0) already clipped: A >= 0 everywhere and
    heaviside(0, 1) = 1, so the factor is always 1 and backprop treats the layer as the
    identity. Kept as its own layer so a run can reproduce that source; ReLU is the correct one.
    """

    bounds = (0.0, np.inf)

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0)

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return grad  # d out / d z taken as 1 everywhere, negative z included


@register("scaled", activation=True, before="softmax")
class Scaled(Activation):
    """y = c z, a linear activation with slope c (pocket-model's `Linear(c=0.2)`: a weight layer
    whose activation is 0.2 z). Backward: c times the gradient."""

    setting = "c"

    def __init__(self, c: float) -> None:
        c = float(c)
        if not np.isfinite(c) or c == 0:
            raise ValueError(f"Scaled: c must be a finite non-zero number, got {c}")
        self.c = c

    def forward(self, z: np.ndarray) -> np.ndarray:
        return z * z.dtype.type(self.c)  # c in z's dtype: float32 stays float32

    def backward(self, grad: np.ndarray, need_input_grad: bool = True) -> np.ndarray:
        return grad * grad.dtype.type(self.c)  # d(c z)/dz = c

    def spec(self) -> dict:
        return {"type": self.kind, "c": self.c}

    @classmethod
    def from_spec(cls, spec: dict, dtype: npt.DTypeLike) -> Scaled:
        return cls(float(spec["c"]))


# --- loss (listed in nn.losses.LOSSES) -------------------------------------------------------


class LabelDifference:
    """The blog's bug, kept as a teaching case: C = 1/n sum_x sum_j (a_j - label)^2.

    The label (0..9) is every output's target instead of a one-hot vector, through pocket-model's
    own cost (a - y)**2 and derivative 2(a - y), as nn.losses.SquaredError. A sigmoid output can then
    never reach its target for labels above 1 (the cost stays at 10 (label - 1)^2 or more), and argmax
    carries little information: accuracy stays far below a one-hot network's.
    """

    name = "label_difference"
    takes_logits = False

    def target(self, y: np.ndarray) -> np.ndarray:
        """The output that costs nothing: the label in every one of the outputs."""
        return np.broadcast_to(y.argmax(axis=-1)[..., None], y.shape).astype(y.dtype)

    def per_sample(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = a - y.argmax(axis=-1)[..., None].astype(a.dtype)  # (k, batch, 10): output minus the label
        return np.einsum("...ij,...ij->...i", d, d)

    def value_and_grad(self, a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = a.shape[-2]
        d = a - y.argmax(axis=-1)[..., None].astype(a.dtype)
        # each replica's mean loss as a (k,) float64 array, as nn.losses.per_replica makes it (not
        # imported from there: nn.losses imports this module)
        loss = np.array([float(np.vdot(r, r) / n) for r in d])
        d *= 2 / n  # d/da of the mean: 2 (a - label) / n
        return loss, d


# --- init schemes (listed in nn.init.INITS) ---------------------------------------------------
# (n_in, n_out, rng) -> (W, b) in float64, as every scheme in nn.init; a spread to set is the
# keyword `scale` (nn.init.takes_scale reads the signature).


def plain(n_in: int, n_out: int, rng: np.random.Generator, scale: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """W = scale * N(0, 1), b = 0: NothingButNumPy's default 'plain' (randn * 0.01, zero biases).
    Small enough that sigmoids start in their linear middle, whatever n_in."""
    return scale * rng.standard_normal((n_in, n_out)), np.zeros(n_out)


def uniform_pm1(n_in: int, n_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """W, b ~ U(-1, 1): pocket-model's np.random.uniform(-1, 1) for both, no fan-in scaling."""
    return rng.uniform(-1, 1, (n_in, n_out)), rng.uniform(-1, 1, n_out)
