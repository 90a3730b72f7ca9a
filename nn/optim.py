"""Stochastic gradient descent with momentum and L2 weight decay, and learning-rate schedules."""
from __future__ import annotations

import math

import numpy as np

SCHEDULES = ("constant", "linear", "step", "cosine")


class SGD:
    """Mini-batch SGD, updating the model's parameters in place from their grads.

    classical momentum:  v <- mu v - lr g;   w <- w + v
    Nesterov (Sutskever's form, rewritten so w is the look-ahead point):
                         v <- mu v - lr g;   w <- w + mu v - lr g
    weight decay (L2):   g <- g + wd w, for weights only; biases are not shrunk.
    """

    def __init__(self, model, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay}")
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, weight_decay
        self.params = [(p, g, is_weight) for _, p, g, is_weight in model.parameters()]
        self.velocity = [np.zeros_like(p) for p, _, _ in self.params]
        self.decay = [np.empty_like(p) for p, _, is_weight in self.params if weight_decay and is_weight]

    def step(self) -> None:
        """Update every parameter from its grad. The grads are scratch afterwards: scaling them
        in place instead of into a temporary saves a pass over each weight matrix, and
        this update is bound by memory traffic, not arithmetic."""
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        decay = iter(self.decay)
        for (p, g, is_weight), v in zip(self.params, self.velocity):
            if wd and is_weight:
                tmp = next(decay)
                np.multiply(p, wd, out=tmp)
                g += tmp
            g *= lr                                 # g is now the plain SGD step
            if not mu:
                p -= g
                continue
            v *= mu
            v -= g
            if self.nesterov:
                p -= g
                np.multiply(v, mu, out=g)
                p += g
            else:
                p += v


def learning_rate(schedule: str, lr: float, epoch: int, epochs: int, lr_min: float = 0.0,
                  step_size: int = 1, step_gamma: float = 1.0) -> float:
    """The learning rate for epoch e = 0..epochs-1 (schedules are evaluated once per epoch).

    constant  lr
    linear    lr at epoch 0 down to lr_min at the last epoch
    step      lr * step_gamma ** (e // step_size)
    cosine    lr_min + (lr - lr_min) (1 + cos(pi e / epochs)) / 2: half a cosine period over the
              run, so the last epoch still learns (it stops just short of lr_min)
    """
    if schedule == "constant":
        return lr
    if schedule == "linear":
        return lr if epochs == 1 else lr + (lr_min - lr) * epoch / (epochs - 1)
    if schedule == "step":
        return lr * step_gamma ** (epoch // step_size)
    if schedule == "cosine":
        return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * epoch / epochs)) / 2
    raise ValueError(f"schedule: unknown {schedule!r}; expected one of {', '.join(SCHEDULES)}")
