"""Losses: how far the network's output is from the one-hot target, and which way to move.

Each loss gives the per-sample cost (k, batch) and the gradient of the batch MEAN, so
the learning rate means the same thing at every batch size (Nielsen's eta convention).
Outputs carry the replica axis (k, batch, classes) (nn.layers); targets are (k, batch,
classes) or one (batch, classes) shared by every replica. value_and_grad returns each
replica's mean loss (k,), computed replica by replica exactly as for one network.

Cross-entropy is fused with its output activation: it takes the logits z and computes
log-softmax / log-sigmoid directly, which is stable for any z, and its gradient with
respect to z is simply (a - y) / n, no saturating sigma'(z) factor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nn.layers import row_max, sigmoid
from nn.quirks import LabelDifference

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import SupportsFloat, TypeAlias

    import numpy.typing as npt

    # a loss object: what get_loss() returns (LOSSES' classes, built); for annotations only
    Loss: TypeAlias = "Quadratic | SquaredError | SoftmaxCrossEntropy | SigmoidCrossEntropy | LabelDifference"


def one_hot(labels: npt.ArrayLike, n_classes: int = 10, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
    """(n,) integer labels -> (n, n_classes) rows with a single 1."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= n_classes)):
        raise ValueError(f"one_hot: labels must be a 1-d array of integers in [0, {n_classes})")
    y = np.zeros((labels.size, n_classes), dtype)
    y[np.arange(labels.size), labels] = 1
    return y


def per_replica(values: Iterable[SupportsFloat]) -> np.ndarray:
    """(k,) float64 from k numpy scalars: one mean loss per replica."""
    return np.array([float(v) for v in values])


class Quadratic:
    """C = 1/(2n) sum_x ||y - a||^2, on the network's output a."""

    name = "quadratic"
    takes_logits = False  # works on the output of whatever the last layer is

    def target(self, y: np.ndarray) -> np.ndarray:
        """The output that costs nothing: the one-hot target itself."""
        return y

    def per_sample(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = a - y
        return 0.5 * np.einsum("...ij,...ij->...i", d, d)  # (k, batch)

    def value_and_grad(self, a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = a.shape[-2]
        d = a - y  # (k, batch, 10)
        loss = per_replica(0.5 * np.vdot(r, r) / n for r in d)
        d /= n
        return loss, d


class SquaredError:
    """C = 1/n sum_x sum_j (a_j - y_j)^2: pocket-model's cost (a - y)**2, derivative 2(a - y).

    Twice Quadratic (no 1/2), so the same learning rate takes steps twice as long. The blog
    then averages the per-image gradients over the batch, which is this loss's mean gradient.
    """

    name = "squared_error"
    takes_logits = False
    target = Quadratic.target

    def per_sample(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = a - y
        return np.einsum("...ij,...ij->...i", d, d)  # (k, batch)

    def value_and_grad(self, a: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = a.shape[-2]
        d = a - y  # (k, batch, 10)
        loss = per_replica(np.vdot(r, r) / n for r in d)
        d *= 2 / n  # d/da of the mean: 2 (a - y) / n
        return loss, d


class SoftmaxCrossEntropy:
    """C = -1/n sum_x log softmax(z)_label, taking the logits z (the Softmax layer is absorbed)."""

    name = "cross_entropy"
    takes_logits = True  # fused with the softmax output layer: training skips that layer

    def per_sample(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        shifted = z - row_max(z)  # (k, batch, 10), max 0: exp can't overflow
        return np.log(np.exp(shifted).sum(axis=-1)) - np.einsum("...ij,...ij->...i", shifted, y)

    def value_and_grad(self, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # per_sample and softmax in one pass: the exp is the costly part, do it once
        n = z.shape[-2]
        shifted = z - row_max(z)  # (k, batch, 10)
        p = np.exp(shifted)
        total = p.sum(axis=-1, keepdims=True)  # (k, batch, 1)
        targets = np.broadcast_to(y, z.shape)
        loss = per_replica((np.log(t).sum() - np.vdot(s, yr)) / n for t, s, yr in zip(total, shifted, targets))
        p /= total
        p -= y
        p /= n
        return loss, p


class SigmoidCrossEntropy:
    """C = -1/n sum_x sum_j [y log a + (1-y) log(1-a)], a = sigmoid(z): Nielsen's chapter 3 cost.

    In terms of the logits that is sum_j softplus(z) - y z, and logaddexp(0, z) is softplus
    without overflow.
    """

    name = "cross_entropy"
    takes_logits = True  # fused with the sigmoid output layer: training skips that layer

    def per_sample(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.logaddexp(0, z) - y * z).sum(axis=-1)

    def value_and_grad(self, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # each replica's mean in one call: a mean along the last axis reduces each row as row.mean() does
        loss = np.asarray(self.per_sample(z, y).mean(axis=-1), np.float64)
        a = sigmoid(z)
        a -= y
        a /= z.shape[-2]
        return loss, a


def least_cost(loss: Loss, y: np.ndarray, bounds: tuple[float, float]) -> float:
    """The least mean cost `loss` can reach on the one-hot targets y (n, classes) when every output
    lies within bounds = (low, high), the output activation's range: each output at the value nearest
    its target, which for these sums of squares over the outputs is the least. A loss with no such
    target (cross-entropy, fused with its output) reaches toward 0."""
    if not hasattr(loss, "target"):
        return 0.0
    nearest = np.clip(loss.target(y), *bounds)
    return float(loss.per_sample(nearest, y).mean())


# The one list of losses: name -> its class, or {output activation: class} where the fused
# form depends on the output (the config schema's `loss` enum reads the names). The sources'
# losses (label_difference) are in nn.quirks.
LOSSES = {
    "quadratic": Quadratic,
    "cross_entropy": {"softmax": SoftmaxCrossEntropy, "sigmoid": SigmoidCrossEntropy},
    "label_difference": LabelDifference,
    "squared_error": SquaredError,
}


def get_loss(name: str, output: str | None) -> Loss:
    """The loss object for a loss name and the network's output activation name."""
    if name not in LOSSES:
        raise ValueError(f"loss: unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    by_output = LOSSES[name]
    if isinstance(by_output, dict):
        if output not in by_output:
            raise ValueError(f"loss: {name} needs a {' or '.join(by_output)} output layer, not {output!r}")
        return by_output[output]()
    return by_output()
