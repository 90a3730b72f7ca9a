"""Helpers shared by test files in different folders (tests/ is on sys.path: pyproject's pytest `pythonpath`).

Fixtures and the tiny MNIST data live in conftest.py; these are plain functions.
"""

import struct
import tracemalloc
from pathlib import Path

import pytest

from nn.pipeline import config as nnconfig

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MB = 1 << 20


def load(c):
    """nn.pipeline.config.load of a config dict against the project's schema: (config, runs, sweeps)."""
    return nnconfig.load(c, SCHEMA)


def assert_refused_in_one_line(cfg, edit, expected: str) -> None:
    """The config after `edit` is refused with one line holding `expected`."""
    edit(cfg)
    with pytest.raises(nnconfig.ConfigError) as e:
        load(cfg)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def peak_bytes(call) -> int:
    """Peak Python-heap bytes allocated while `call()` runs (it must raise a ValueError), and its message."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as e:
            call()
        return tracemalloc.get_traced_memory()[1], str(e.value)
    finally:
        tracemalloc.stop()


def hp(**overrides):
    """A complete hyperparameter dict (docs/interfaces.md), small and fast."""
    base = dict(
        hidden=[16],
        activation="relu",
        output="softmax",
        loss="cross_entropy",
        init="he",
        lr=0.1,
        schedule="constant",
        lr_min=0.0,
        step_size=1,
        step_gamma=1.0,
        momentum=0.9,
        nesterov=False,
        weight_decay=0.0,
        batch_size=16,
        epochs=2,
        shift=0,
        validation=100,
        early_stopping=0,
        seed=0,
        threads=1,
        dtype="float32",
        reference=None,
        monitor_test=False,
        optimizer="sgd",
        beta1=0.9,
        beta2=0.999,
        rho=0.9,
        eps=1e-7,
        dropout=0.0,
        rotate=0.0,
        scale=0.0,
        shear=0.0,
        translate=0.0,
        elastic_alpha=0.0,
        elastic_sigma=4.0,
    )
    return {**base, **overrides}


def npy_with_header(shape, dtype="|u1", data=b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


DEEP = b"[" * 100_000 + b"]" * 100_000  # Python's parser recurses once per level: RecursionError near 1000
