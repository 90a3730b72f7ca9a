"""Optimisers (SGD, Adam, RMSprop) behind one small interface, and learning-rate schedules.

An optimiser is built on a model and updates its parameters in place from their grads:

    opt = Adam(model, lr=1e-3)            # or OPTIMIZERS["adam"](model, lr=1e-3)
    model.backprop(x, y); opt.step()      # one mini-batch
    opt.lr = 0.5e-3                       # fit() sets lr from the schedule before each epoch

Every optimiser has `lr`, `step()`, `state_dict()` and `load_state_dict(state)` (a flat dict
of numpy arrays and numbers, enough to resume exactly), and reads the same L2 weight decay:
g <- g + weight_decay * w for weights only (not biases), added to the gradient before the
optimiser's own rule (so for Adam this is L2, not AdamW's decoupled decay).

Adding one: subclass Optimizer (KEYS = the settings its __init__ takes besides lr and
weight_decay; BUFFERS = its state arrays; update(p, g, state, scratch) = the rule on one chunk
of the flat parameters), then add it to OPTIMIZERS. A schedule is one function added to SCHEDULES.
The config schema's `optimizer` and `schedule` enums are filled from the two (nn.pipeline.config).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Protocol

    class _Model(Protocol):
        """What an optimiser reads of its model: nn.model.Sequential, described here rather than
        imported, since a rule's code hash follows this module's imports (nn.pipeline.sources)."""

        flat_params: np.ndarray
        flat_grads: np.ndarray

        def parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray, bool]]: ...


FLUSH_EVERY = 64  # steps between flushes of subnormal state (Optimizer.DECAYING)
# Parameters per update() call. A rule makes several passes over its arrays; on a chunk of
# 64k floats (256 KB per array) the later passes find it in the CPU's cache instead of memory.
# Elementwise, so the bits are the same as one call on everything; chunked, 784-800-800-10's SGD
# step in a training loop takes about 3/4 of one call's time (docs/performance.md). Small models: one chunk.
UPDATE_CHUNK = 1 << 16


def flush_subnormals(a: np.ndarray, scratch: np.ndarray) -> None:
    """Set every subnormal (and zero) entry of `a` to +0, using `scratch` (same shape) as work space.

    Why: a weight whose gradient stays zero (a pixel that is always or almost always blank)
    has a velocity that decays by mu every step into the subnormal range, where each float
    operation costs the CPU about a hundred times a normal one. On 784-128-10 at batch 32 an
    epoch after the first takes 1.0 s unflushed, 0.45 s flushed (docs/performance.md); Adam's and
    RMSprop's moments decay the same way. Adding a subnormal to a normal number leaves its bits
    unchanged, so the weights come out the same."""
    np.abs(a, out=scratch)
    a[scratch < np.finfo(a.dtype).tiny] = 0


def _rows(a: np.ndarray) -> np.ndarray:
    """(k, ...) -> a (k, rest) view of the same memory (each replica's slice is contiguous)."""
    rows = a.reshape(len(a), -1)
    if not np.shares_memory(rows, a):
        raise ValueError("optimizer: a parameter whose replicas are not each contiguous")
    return rows


class Optimizer:
    KEYS: tuple = ()  # the settings __init__ takes by name, besides lr and weight_decay
    BUFFERS: tuple = ()  # names of the state arrays, e.g. ("m", "v"), each shaped like all parameters
    DECAYING: tuple = ()  # those that shrink geometrically under a zero gradient: flushed of subnormals

    def __init__(self, model: _Model, lr: float, weight_decay: float = 0.0) -> None:
        if not lr > 0:
            raise ValueError(f"{self.name}: lr must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"{self.name}: weight_decay must be >= 0, got {weight_decay}")
        self.lr, self.weight_decay = lr, weight_decay
        # every parameter of the model in one array, a row per replica (nn.model.Sequential keeps
        # them so): an update is a handful of numpy calls whatever the number of layers and replicas
        self.p, self.g = model.flat_params, model.flat_grads  # (k, n_params)
        # each weight matrix as (k, n_in * n_out) rows: numpy's in-place passes over a stack of
        # matrices that are views into the flat array are over twice as slow as over their rows
        self.weights = [(_rows(p), _rows(g)) for _, p, g, is_weight in model.parameters() if is_weight]
        # scratch for w * weight_decay, one per weight matrix (an in-place add, no temporary)
        self.decay = [np.empty_like(p) for p, _ in self.weights] if weight_decay else []
        self.state = {b: np.zeros_like(self.p) for b in self.BUFFERS}
        self.scratch = np.empty_like(self.p)
        self.t = 0  # steps taken
        # (p, g, state, scratch) views of each chunk of columns, made once: the arrays are never replaced
        n = self.p.shape[-1]
        bounds = [0, n] if n <= 2 * UPDATE_CHUNK else [*range(0, n, UPDATE_CHUNK), n]
        self.chunks = [
            (self.p[:, a:b], self.g[:, a:b], {k: v[:, a:b] for k, v in self.state.items()}, self.scratch[:, a:b])
            for a, b in zip(bounds, bounds[1:])
        ]

    @property
    def name(self) -> str:
        return type(self).__name__

    def step(self) -> None:
        """Update every parameter from its grad. The grads are scratch afterwards: updating
        in place instead of through temporaries saves passes over each weight matrix, and
        these updates are bound by memory traffic, not arithmetic."""
        self.t += 1
        if self.weight_decay:
            for (p, g), tmp in zip(self.weights, self.decay):
                np.multiply(p, self.weight_decay, out=tmp)
                g += tmp
        flush = self.t % FLUSH_EVERY == 0
        for p, g, state, scratch in self.chunks:
            self.update(p, g, state, scratch)
            if flush:  # every FLUSH_EVERY steps: 1/64 of two passes, against 100x slower ops on subnormals
                for name in self.DECAYING:
                    flush_subnormals(state[name], scratch)

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], scratch: np.ndarray) -> None:
        """The rule itself, on one chunk: parameters p, their grads g, {buffer: its chunk} and
        a scratch array, all (k, chunk). g may be overwritten."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """{"t": steps taken, "lr": lr, "<buffer>": (k, n_params) array copy, ...}: numbers and arrays,
        a row per replica, the parameters in nn.model.Sequential.parameters() order."""
        return {"t": self.t, "lr": self.lr, **{b: a.copy() for b, a in self.state.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict() returned; ValueError names a missing or misshapen entry."""
        expected = {"t", "lr", *self.state}
        if set(state) != expected:
            odd = sorted(set(state) ^ expected)
            raise ValueError(f"{self.name} state: entries do not match this optimiser ({odd[0]!r})")
        for b, a in self.state.items():
            value = np.asarray(state[b])
            if value.shape != a.shape:
                raise ValueError(f"{self.name} state: {b} has shape {value.shape}, this model needs {a.shape}")
            a[...] = value
        self.t, self.lr = int(state["t"]), float(state["lr"])


class SGD(Optimizer):
    """Mini-batch SGD.

    classical momentum:  v <- mu v - lr g;   w <- w + v
    Nesterov (Sutskever's form, rewritten so w is the look-ahead point):
                         v <- mu v - lr g;   w <- w + mu v - lr g
    The velocity v stores steps with the learning rate ALREADY APPLIED: when a schedule
    changes lr at an epoch boundary, the momentum carried over still moves at the old rate
    and fades with mu (PyTorch's SGD stores v without lr instead, so its whole step changes at once).
    """

    KEYS = ("momentum", "nesterov")

    def __init__(
        self, model: _Model, lr: float, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0
    ) -> None:
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        self.BUFFERS = self.DECAYING = ("velocity",) if momentum else ()
        super().__init__(model, lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], scratch: np.ndarray) -> None:
        mu = self.momentum
        g *= self.lr  # g is now the plain SGD step
        if not mu:
            p -= g
            return
        v = state["velocity"]
        v *= mu
        v -= g
        if self.nesterov:
            p -= g
            np.multiply(v, mu, out=g)
            p += g
        else:
            p += v


class Adam(Optimizer):
    """Adam, Algorithm 1 of Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015:

        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2           (t = steps taken, from 1)
        m_hat = m / (1 - b1^t);   v_hat = v / (1 - b2^t)
        w <- w - lr m_hat / (sqrt(v_hat) + eps)

    eps is the paper's epsilon (outside the bias-corrected root), not Keras' "epsilon hat".
    m and v store gradient moments WITHOUT the learning rate: a schedule's new lr applies
    to the whole step from the next batch on.
    """

    KEYS = ("beta1", "beta2", "eps")
    BUFFERS = DECAYING = ("m", "v")

    def __init__(
        self,
        model: _Model,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        for key, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= value < 1:
                raise ValueError(f"Adam: {key} must be in [0, 1), got {value}")
        if not eps > 0:
            raise ValueError(f"Adam: eps must be > 0, got {eps}")
        super().__init__(model, lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], scratch: np.ndarray) -> None:
        b1, b2, t = self.beta1, self.beta2, self.t
        m, v = state["m"], state["v"]
        np.multiply(g, 1 - b1, out=scratch)
        m *= b1
        m += scratch
        g *= g  # g is scratch from here: g^2, then the denominator
        g *= 1 - b2
        v *= b2
        v += g
        np.multiply(v, 1 / (1 - b2**t), out=g)  # v_hat
        np.sqrt(g, out=g)
        g += self.eps
        np.divide(m, g, out=g)
        g *= self.lr / (1 - b1**t)  # m_hat's correction folded into the scalar
        p -= g


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e) as Keras 2 implements it (keras/optimizers.py, 2017-2019):

        a <- rho a + (1 - rho) g^2;   w <- w - lr g / (sqrt(a) + eps)

    a starts at zero. Keras 2's epsilon is K.epsilon() = 1e-7 (1e-8 before Keras 2.1);
    tf.keras (TF 2.x) puts eps inside the root, sqrt(a + eps): for a >> eps^2 they agree.
    a stores squared gradients WITHOUT the learning rate (a schedule changes the whole step).
    """

    KEYS = ("rho", "eps")
    BUFFERS = DECAYING = ("mean_square",)

    def __init__(
        self, model: _Model, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7, weight_decay: float = 0.0
    ) -> None:
        if not 0 <= rho < 1:
            raise ValueError(f"RMSprop: rho must be in [0, 1), got {rho}")
        if not eps > 0:
            raise ValueError(f"RMSprop: eps must be > 0, got {eps}")
        super().__init__(model, lr, weight_decay)
        self.rho, self.eps = rho, eps

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray], scratch: np.ndarray) -> None:
        a = state["mean_square"]
        np.multiply(g, g, out=scratch)
        scratch *= 1 - self.rho
        a *= self.rho
        a += scratch
        np.sqrt(a, out=scratch)  # the denominator
        scratch += self.eps
        g /= scratch
        g *= self.lr
        p -= g


# The one list of optimisers: the config schema's `optimizer` enum and nn.pipeline.hparams read it.
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


# --- learning-rate schedules: epoch e = 0..epochs-1 -> lr; each evaluated once per epoch -------------


def constant(lr: float, epoch: int, epochs: int, lr_min: float, step_size: int, step_gamma: float) -> float:
    return lr


def linear(lr: float, epoch: int, epochs: int, lr_min: float, step_size: int, step_gamma: float) -> float:
    """lr at epoch 0 down to lr_min at the last epoch."""
    return lr if epochs == 1 else lr + (lr_min - lr) * epoch / (epochs - 1)


def step(lr: float, epoch: int, epochs: int, lr_min: float, step_size: int, step_gamma: float) -> float:
    """lr * step_gamma ** (e // step_size)."""
    return lr * step_gamma ** (epoch // step_size)


def cosine(lr: float, epoch: int, epochs: int, lr_min: float, step_size: int, step_gamma: float) -> float:
    """lr_min + (lr - lr_min) (1 + cos(pi e / epochs)) / 2: half a cosine period over the run, so
    the last epoch still learns (it stops just short of lr_min)."""
    return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * epoch / epochs)) / 2


# The one list of schedules, as OPTIMIZERS is of optimisers (the config schema's enum reads it).
SCHEDULES = {"constant": constant, "linear": linear, "step": step, "cosine": cosine}


def learning_rate(
    schedule: str, lr: float, epoch: int, epochs: int, lr_min: float = 0.0, step_size: int = 1, step_gamma: float = 1.0
) -> float:
    """The learning rate of epoch `epoch` (0-based) of `epochs` under the named schedule."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: unknown {schedule!r}; expected one of {', '.join(SCHEDULES)}")
    return SCHEDULES[schedule](lr, epoch, epochs, lr_min, step_size, step_gamma)
