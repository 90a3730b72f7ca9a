"""A model: a list of layers run in order and the loss it is trained with.

Two ways to build one:
    Sequential([Linear(784, 30), ReLU(), Linear(30, 10), Sigmoid()])      # the blog's form
    mlp([784, 30, 10], activation="relu", output="sigmoid", rng=seed)     # the seeds' form

A model is a stack of k networks of one architecture (its replicas; nn.layers): mlp(...,
rng=[Generator per seed]) builds k seeds' networks side by side, trained as one computation
and each getting the bits it gets alone. One network is a stack of one. Every result carries
the replica axis first: predict(x) is (k, n) for inputs x (n, n_in).

Its file format (save, load) is nn.serialize.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

from nn.layers import ACTIVATIONS, Dropout, Layer, Linear, generators
from nn.losses import get_loss, one_hot, per_replica

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from typing import TypeAlias

    import numpy.typing as npt

    from nn.layers import Seeds

    ActivationArg: TypeAlias = "str | Layer"  # a registered name ("relu") or an activation layer (Scaled(0.2))

INFERENCE_ROWS = 4096  # rows per forward pass at inference: bounded memory for any n


class Sequential:
    def __init__(self, layers: Iterable[Layer], loss: str | None = None) -> None:
        """loss: "quadratic" or "cross_entropy"; None picks cross_entropy after a softmax, else quadratic."""
        self.layers = list(layers)
        linears = [layer for layer in self.layers if isinstance(layer, Linear)]
        if not linears:
            raise ValueError("Sequential: needs at least one Linear layer")
        for a, b in zip(linears, linears[1:]):
            if a.shape[1] != b.shape[0]:
                raise ValueError(f"Sequential: {a!r} feeds {a.shape[1]} values into {b!r}, which takes {b.shape[0]}")
        self.n_in, self.n_out = linears[0].shape[0], linears[-1].shape[1]
        self.dtype = linears[0].params["W"].dtype
        if any(layer.params["W"].dtype != self.dtype for layer in linears):
            raise ValueError(f"Sequential: Linear layers mix dtypes; make them all {self.dtype}")
        self.replicas = len(linears[0].params["W"])
        if any(len(layer.params["W"]) != self.replicas for layer in linears):
            raise ValueError("Sequential: Linear layers hold different numbers of replicas")
        last = self.layers[-1]
        self.output = last.kind if last.kind in ACTIVATIONS else None
        self.loss = get_loss(loss or ("cross_entropy" if self.output == "softmax" else "quadratic"), self.output)
        # a fused loss takes the logits, so training skips the last layer's forward and backward
        self.body = self.layers[:-1] if self.loss.takes_logits else self.layers
        self.flat_params, self.flat_grads = self._flatten()

    def _flatten(self):
        """Move every parameter, and its grad, into one array (k, n_params), a row per replica; the
        layers keep views into it. An optimiser then updates the whole stack in a few numpy calls,
        not a few per array (per-call overhead is what small batches pay for). The model owns its
        layers' arrays from here on: do not put the same layer object into two models."""
        arrays = [(layer, key) for layer in self.layers for key in layer.params]
        total = sum(layer.params[key][0].size for layer, key in arrays)
        k = self.replicas
        flat_params, flat_grads = np.empty((k, total), self.dtype), np.zeros((k, total), self.dtype)
        start = 0
        for layer, key in arrays:
            p = layer.params[key]
            end = start + p[0].size
            layer.params[key] = flat_params[:, start:end].reshape(p.shape)  # a view: rows split, not copied
            layer.params[key][...] = p
            layer.grads[key] = flat_grads[:, start:end].reshape(p.shape)
            start = end
        return flat_params, flat_grads

    def __repr__(self):
        return f"Sequential([{', '.join(map(repr, self.layers))}], loss={self.loss.name!r})"

    # --- the passes -------------------------------------------------------------------------

    def _run(self, layers, x):
        for layer in layers:
            x = layer.forward(x)
        return x

    def forward(self, x: npt.ArrayLike) -> np.ndarray:
        """(batch, n_in) -> (k, batch, n_out) output activations."""
        return self._run(self.layers, self._check_inputs(x))

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One forward and backward pass on a batch: fills every layer's grads.

        x (k, batch, n_in) inputs, one batch per replica, or a (batch, n_in) batch they share;
        y the targets, (k, batch, n_out) or (batch, n_out). Returns (mean loss of each replica
        (k,), scores (k, batch, n_out)), scores being the logits under a fused loss and the
        outputs otherwise: same argmax either way.
        """
        scores = self._run(self.body, x)
        loss, grad = self.loss.value_and_grad(scores, y)
        for i in range(len(self.body) - 1, -1, -1):
            grad = self.body[i].backward(grad, need_input_grad=i > 0)
        return loss, scores

    def train(self, rng: Seeds = None) -> None:
        """Training mode: Dropout layers drop, each replica drawing its masks from its own Generator
        (rng: a list, one per replica; needed if any). fit() switches it on for its training batches only."""
        for layer in self.layers:
            layer.set_mode(True, rng)

    def eval(self) -> None:
        """Evaluation mode (the default): every layer deterministic, Dropout the identity."""
        for layer in self.layers:
            layer.set_mode(False)

    def parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray, bool]]:
        """(name, array, grad, is_weight) for every trainable array, in a fixed order; arrays (k, ...)."""
        for i, layer in enumerate(self.layers):
            for key, p in layer.params.items():
                yield f"{i}.{key}", p, layer.grads[key], key == "W"

    def get_weights(self) -> dict:
        return {name: p.copy() for name, p, _, _ in self.parameters()}

    def set_weights(self, weights: dict) -> None:
        for name, p, _, _ in self.parameters():
            p[...] = weights[name]

    # --- inference --------------------------------------------------------------------------

    def _check_inputs(self, x):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise ValueError(f"model input: expected shape (n, {self.n_in}), got {x.shape}")
        return x.astype(self.dtype, copy=False)

    def _chunked(self, layers, x):
        x = self._check_inputs(x)
        out = np.empty((self.replicas, len(x), self.n_out), self.dtype)
        for start in range(0, len(x), INFERENCE_ROWS):
            out[:, start : start + INFERENCE_ROWS] = self._run(layers, x[start : start + INFERENCE_ROWS])
        return out

    def predict_proba(self, x: npt.ArrayLike) -> np.ndarray:
        """(n, n_in) -> (k, n, n_out): softmax probabilities or sigmoid activations."""
        return self._chunked(self.layers, x)

    def outputs_and_losses(self, x: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(predict_proba(x), the (k, n) loss of each image under the model's own training loss),
        from one forward pass: what an evaluation image by image needs."""
        scores = self._chunked(self.body, x)  # (k, n, n_out)
        losses = self.loss.per_sample(scores, one_hot(labels, self.n_out, self.dtype))
        tail = self.layers[len(self.body) :]  # the fused output layer, if any
        return self._run(tail, scores), losses

    def evaluate(self, x: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """(mean loss, accuracy) of each replica, two (k,) float64 arrays, on inputs x (n, n_in)
        and integer labels (n,), in one pass."""
        scores = self._chunked(self.body, x)
        losses = self.loss.per_sample(scores, one_hot(labels, self.n_out, self.dtype))
        right = scores.argmax(axis=-1) == labels
        return per_replica(row.mean() for row in losses), per_replica(np.mean(row) for row in right)

    # --- description ------------------------------------------------------------------------

    def architecture(self) -> dict:
        """What the model is, as plain data (layers, loss, output, dtype): what its file records
        (nn.serialize) and what two models are compared by."""
        return {
            "layers": [layer.spec() for layer in self.layers],
            "loss": self.loss.name,
            "output": self.output,
            "dtype": self.dtype.name,
        }


def mlp(
    sizes: Sequence[int],
    activation: ActivationArg | list[ActivationArg] | tuple[ActivationArg, ...] = "sigmoid",
    output: ActivationArg = "sigmoid",
    loss: str | None = None,
    init: str | None = "normal",
    rng: Seeds = None,
    dtype: npt.DTypeLike = np.float32,
    dropout: float | list[float] | tuple[float, ...] = 0.0,
    init_scale: float | None = None,
    replicas: int = 1,
) -> Sequential:
    """Layer sizes [784, 30, 10] -> Linear, activation, ..., Linear, output activation.

    activation: one activation for every hidden layer, or a list of one per hidden layer; an
    activation is a registered name ("relu") or an activation layer, for one that takes a setting
    (pocket-model's net is [Scaled(0.2), "relu", Scaled(0.05)] with output "sigmoid"). Each hidden
    layer gets its own copy of a layer given.
    rng: a numpy Generator or an int seed (None = 0), shared by all layers in order; or a list of
    Generators, one per replica (a stack of networks, each drawn from its own, as if alone).
    replicas: the number of networks of weights init=None leaves at zero (with a list: its length).
    dropout: a rate for every hidden layer, or a list of one rate per hidden layer; a
    Dropout layer follows each hidden activation whose rate is > 0 (none for rate 0, so a
    model without dropout has no Dropout layer: its architecture and file hold none).
    init_scale: the spread of an init scheme that takes one ("plain"); None = its default.
    """
    if len(sizes) < 2 or any(not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
        raise ValueError(f"mlp: sizes must be at least two positive integers, got {sizes!r}")
    n_hidden = len(sizes) - 2
    hidden = list(activation) if isinstance(activation, (list, tuple)) else [activation] * n_hidden
    if len(hidden) != n_hidden:
        raise ValueError(f"mlp: activation lists {len(hidden)} activations for {n_hidden} hidden layers")
    rates = list(dropout) if isinstance(dropout, (list, tuple)) else [dropout] * n_hidden
    if len(rates) != n_hidden:
        raise ValueError(f"mlp: dropout lists {len(rates)} rates for {n_hidden} hidden layers")
    # every activation checked before any weight is drawn (a single name even without hidden layers)
    entries = [*hidden, output] + ([] if n_hidden or isinstance(activation, (list, tuple)) else [activation])
    for entry in entries:
        activation_from(entry)
    rngs = generators(rng)
    replicas = len(rngs) if isinstance(rng, (list, tuple)) else replicas
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(Linear(n_in, n_out, init=init, rng=rngs, dtype=dtype, init_scale=init_scale, replicas=replicas))
        layers.append(activation_from(output if i == n_hidden else hidden[i]))
        if i < n_hidden and rates[i]:
            layers.append(Dropout(rates[i]))
    return Sequential(layers, loss=loss)


def activation_from(entry: ActivationArg) -> Layer:
    """A new activation layer for mlp: ACTIVATIONS[name]() for a name, a copy of a layer given (so
    no two positions share one); ValueError for anything else, or a name whose layer needs a setting."""
    if isinstance(entry, Layer):
        if entry.kind not in ACTIVATIONS:
            raise ValueError(f"mlp: {entry!r} is not an activation; expected one of {', '.join(ACTIVATIONS)}")
        return copy.deepcopy(entry)
    if not isinstance(entry, str) or entry not in ACTIVATIONS:
        raise ValueError(f"mlp: unknown activation {entry!r}; expected one of {', '.join(ACTIVATIONS)}")
    cls = ACTIVATIONS[entry]
    if cls.setting is not None:
        raise ValueError(f"mlp: activation {entry!r} needs its {cls.setting}: pass the layer, e.g. {cls.__name__}(...)")
    return cls()
