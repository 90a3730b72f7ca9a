"""Training-time distortions of a batch of flattened 28x28 images, vectorised over the batch.

Three kinds, each drawn from the run's one seeded Generator:
- shift_images: integer shifts in [-k, k]^2, zero-filled (cheap; the `shift` key);
- affine: rotation, scaling, shear and translation about the image centre;
- elastic (Simard, Steinkraus & Platt 2003, section 2): a displacement field of uniform(-1, 1)
  values per pixel, smoothed by a Gaussian of width sigma, scaled by alpha.
Affine and elastic are one backward map: output pixel p reads the input at
A^-1 (p - c) + c - t + alpha * smoothed_field(p), bilinearly interpolated, zero outside.

build_augment(hp) turns a run's keys into one function (batch, rng) -> batch, or None when
every distortion is off, so a run without them pays nothing.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SIDE = 28
DISTORTION_KEYS = ("rotate", "scale", "shear", "translate", "elastic_alpha", "elastic_sigma")


def shift_images(x, k: int, rng: np.random.Generator, side: int = SIDE):
    """Shift each flattened image by its own random (dy, dx) in [-k, k]^2, zero-filling the edge.

    x (batch, side*side) -> a new (batch, side*side). Vectorised: pad the batch once, view
    every possible window of it without copying, and pick one window per image.
    """
    m = len(x)
    padded = np.zeros((m, side + 2 * k, side + 2 * k), x.dtype)          # (batch, 28+2k, 28+2k)
    padded[:, k:k + side, k:k + side] = x.reshape(m, side, side)
    windows = sliding_window_view(padded, (side, side), axis=(1, 2))     # (batch, 2k+1, 2k+1, 28, 28)
    dy, dx = rng.integers(-k, k + 1, size=(2, m))
    # out[r, c] = in[r - dy, c - dx]: the window that starts dy rows above the image
    return windows[np.arange(m), k - dy, k - dx].reshape(m, side * side)


def gaussian_matrix(sigma: float, side: int = SIDE) -> np.ndarray:
    """(side, side) G with G @ f = f convolved with a normalised Gaussian (truncated at 4 sigma),
    zero outside the image, as scipy.ndimage.gaussian_filter(mode="constant") does."""
    radius = int(4 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    d = np.arange(side)[:, None] - np.arange(side)[None, :]              # (side, side) i - j
    return np.where(np.abs(d) <= radius, kernel[np.clip(d + radius, 0, 2 * radius)], 0.0)


def elastic_field(m: int, alpha: float, sigma: float, rng, side: int = SIDE):
    """(2, m, side, side) displacements (dy, dx) in pixels: uniform(-1, 1) per pixel, smoothed, x alpha."""
    field = rng.uniform(-1.0, 1.0, size=(2, m, side, side))
    g = gaussian_matrix(sigma, side)
    return alpha * (g @ field @ g.T)                                     # separable 2-D smoothing


def affine_matrices(m: int, rotate: float, scale: float, shear: float, rng):
    """(m, 2, 2) forward matrices on (y, x): rotation by U(-rotate, rotate) degrees, a shear of
    U(-shear, shear) degrees, and scalings of (1 + U(-scale, scale)) on each axis separately."""
    angle, skew = np.deg2rad(rng.uniform(-1, 1, size=(2, m)) * [[rotate], [shear]])
    sy, sx = 1 + scale * rng.uniform(-1, 1, size=(2, m))
    cos, sin, tan = np.cos(angle), np.sin(angle), np.tan(skew)
    zero, one = np.zeros(m), np.ones(m)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)       # (m, 2, 2)
    sh = np.stack([np.stack([one, zero], -1), np.stack([tan, one], -1)], -2)        # x' = x + tan y
    sc = np.stack([np.stack([sy, zero], -1), np.stack([zero, sx], -1)], -2)
    return rot @ sh @ sc


def bilinear(images, y, x):
    """images (m, side, side), sample points y, x (m, side*side) in pixel units -> (m, side*side).

    Points outside the image read zeros; one gather per corner for the whole batch."""
    m, side = images.shape[0], images.shape[1]
    padded = np.zeros((m, side + 3, side + 3), images.dtype)           # 1 px of zeros before, 2 after
    padded[:, 1:side + 1, 1:side + 1] = images
    y = np.clip(y, -1, side)                                           # further out reads zeros all the same
    x = np.clip(x, -1, side)
    y0, x0 = np.floor(y), np.floor(x)
    wy, wx = (y - y0).astype(images.dtype), (x - x0).astype(images.dtype)
    stride = side + 3
    base = (np.arange(m)[:, None] * stride * stride + (y0.astype(np.intp) + 1) * stride
            + (x0.astype(np.intp) + 1))                                # (m, side*side) flat index of the top-left corner
    flat = padded.reshape(-1)
    top = flat[base] * (1 - wx) + flat[base + 1] * wx
    bottom = flat[base + stride] * (1 - wx) + flat[base + stride + 1] * wx
    return top * (1 - wy) + bottom * wy


def distort_images(x, rng, *, rotate=0.0, scale=0.0, shear=0.0, translate=0.0, elastic_alpha=0.0,
                   elastic_sigma=4.0, side: int = SIDE):
    """x (batch, side*side) -> a new distorted batch, same dtype; the draws come from rng in a
    fixed order (affine parameters, translation, elastic field), only for the parts switched on."""
    m = len(x)
    rows, cols = np.divmod(np.arange(side * side), side)
    c = (side - 1) / 2
    y, xx = np.broadcast_to(rows - c, (m, side * side)), np.broadcast_to(cols - c, (m, side * side))
    if rotate or scale or shear:
        inv = np.linalg.inv(affine_matrices(m, rotate, scale, shear, rng))             # (m, 2, 2)
        y, xx = (inv[:, 0, 0, None] * y + inv[:, 0, 1, None] * xx,
                 inv[:, 1, 0, None] * y + inv[:, 1, 1, None] * xx)
    y, xx = y + c, xx + c                                              # (m, side*side) source points
    if translate:
        ty, tx = rng.uniform(-translate, translate, size=(2, m, 1))
        y, xx = y - ty, xx - tx                                        # content moves by +t
    if elastic_alpha:
        dy, dx = elastic_field(m, elastic_alpha, elastic_sigma, rng, side).reshape(2, m, side * side)
        y, xx = y + dy, xx + dx
    return bilinear(x.reshape(m, side, side), y, xx)


def build_augment(hp: dict):
    """A run's augmentation, (batch (m, 784), rng) -> batch, or None if every key is off.

    Order: the integer `shift` first (its draws unchanged from before distortions existed),
    then affine and elastic as one resampling."""
    shift = hp.get("shift", 0)
    settings = {k: hp[k] for k in DISTORTION_KEYS if k in hp}
    distort = any(settings.get(k) for k in DISTORTION_KEYS if k != "elastic_sigma")
    if settings.get("elastic_alpha") and not settings.get("elastic_sigma", 4.0) > 0:
        raise ValueError(f"elastic_sigma: must be > 0 with elastic_alpha on, got {settings['elastic_sigma']}")
    if not shift and not distort:
        return None

    def augment(xb, rng):
        if shift:
            xb = shift_images(xb, shift, rng)
        if distort:
            xb = distort_images(xb, rng, **settings)
        return xb
    return augment


# Simard et al. 2003's elastic setting for MNIST, shown when no run distorts its images
SIMARD_ELASTIC = {"elastic_alpha": 34.0, "elastic_sigma": 4.0}


def augment_settings(hp: dict) -> dict:
    """The augmentation keys of a run that are switched on (elastic_sigma only with elastic_alpha)."""
    on = {k: hp[k] for k in ("shift", *DISTORTION_KEYS) if hp.get(k) and k != "elastic_sigma"}
    if on.get("elastic_alpha"):
        on["elastic_sigma"] = hp.get("elastic_sigma", 4.0)
    return on


def preview_settings(runs: dict) -> tuple[str | None, dict]:
    """(run name, its augmentation) for the first run in `runs` that augments its images,
    else (None, Simard's elastic setting): what the data figure shows."""
    for name, hp in runs.items():
        if augment_settings(hp):
            return name, augment_settings(hp)
    return None, dict(SIMARD_ELASTIC)


def describe(settings: dict) -> str:
    """'shift ±2 px, rotate ±15°, elastic α=34 σ=4', or 'none'."""
    parts = []
    if settings.get("shift"):
        parts.append(f"shift ±{settings['shift']} px")
    for key, unit in (("rotate", "°"), ("shear", "°"), ("translate", " px")):
        if settings.get(key):
            parts.append(f"{key} ±{settings[key]:g}{unit}")
    if settings.get("scale"):
        parts.append(f"scale ±{100 * settings['scale']:g}%")
    if settings.get("elastic_alpha"):
        parts.append(f"elastic α={settings['elastic_alpha']:g} σ={settings.get('elastic_sigma', 4.0):g}")
    return ", ".join(parts) or "none"
