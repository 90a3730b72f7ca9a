"""Made-up digits and image files, shared by the predict tests (tests/predict/) and the predict
rule's workflow tests (tests/workflow/test_predict_rule.py)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from PIL import Image

from nn.model import mlp
from nn.serialize import save


def seven(height=120, width=80) -> np.ndarray:
    """A light-on-dark '7' drawn at any size: (height, width) float32 grey in [0, 1]."""
    g = np.zeros((height, width), np.float32)
    t = max(2, height // 10)  # stroke thickness
    g[:t, :] = 1  # the bar
    for r in range(t, height):  # the diagonal, right to lower middle
        c = int(width - 1 - (width / 2) * (r - t) / (height - t))
        g[r, max(0, c - t) : c + 1] = 1
    return g


def ring(height=150, width=100) -> np.ndarray:
    """A light-on-dark '0', an ellipse with a thick outline, off-centre mass."""
    r, c = np.mgrid[:height, :width]
    e = ((r - height / 2) / (height / 2)) ** 2 + ((c - width / 2) / (width / 2)) ** 2
    return ((e <= 1) & (e >= 0.55) | (r < height / 4) & (e <= 1)).astype(np.float32)  # filled on top


def png_header_only(path, width, height):
    """A PNG whose header claims width×height and whose data is a stub: only the header is sound."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


def write_grey(path, grey, **kw):
    Image.fromarray(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8)).save(path, **kw)
    return path


def save_untrained_model(path):
    """An untrained 784-16-10 softmax network at `path`: enough to test everything but accuracy."""
    save(mlp([784, 16, 10], activation="relu", output="softmax", init="he", rng=5), path)
    return path


GOOD, BAD = ["a-seven.png", "b-ring.JPG", "c-colour.jpeg"], ["d-notes.png", "e-blank.png", "f-huge.png"]


def make_mixed_folder(d):
    """Good digits in three forms (GOOD) and the bad inputs a classifier must survive (BAD), in folder d."""
    d.mkdir()
    write_grey(d / "a-seven.png", 1 - seven())  # black on white
    write_grey(d / "b-ring.JPG", ring(), format="JPEG", quality=90)  # white on black, upper-case suffix
    Image.fromarray(np.dstack([seven(60, 40) * 200] * 3).astype(np.uint8)).save(d / "c-colour.jpeg")
    (d / "d-notes.png").write_text("not an image\n")
    write_grey(d / "e-blank.png", np.ones((40, 40)))
    png_header_only(d / "f-huge.png", 9000, 9000)
    return d
