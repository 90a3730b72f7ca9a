"""Training-time distortions of a batch of flattened 28x28 images, vectorised over the batch.

Three kinds, each drawn from the run's one seeded Generator:
- shift_images: integer shifts in [-k, k]^2, zero-filled (cheap; the `shift` key);
- affine: rotation, scaling, shear and translation about the image centre;
- elastic (Simard, Steinkraus & Platt 2003, section 2): a displacement field of uniform(-1, 1)
  values per pixel, smoothed by a Gaussian of width sigma, scaled by alpha.
Affine and elastic are one backward map: output pixel p reads the input at
A^-1 (p - c) + c - t + alpha * smoothed_field(p), bilinearly interpolated, zero outside.

compose(shift=2, rotate=10, ...) turns settings into one function (batch, rng) -> batch, or
None when every one is off, so a run without them pays nothing.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

SIDE = 28
ELASTIC_SIGMA = 4.0  # Simard et al. 2003's width of the smoothing Gaussian: the default wherever sigma is unset
DISTORTION_KEYS = ("rotate", "scale", "shear", "translate", "elastic_alpha", "elastic_sigma")
AUGMENT_KEYS = ("shift", *DISTORTION_KEYS)  # every setting compose() takes


def shift_images(x: np.ndarray, k: int, rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """Shift each flattened image by its own random (dy, dx) in [-k, k]^2, zero-filling the edge.

    x (batch, side*side) -> a new (batch, side*side). Vectorised: pad the batch once, view
    every possible window of it without copying, and pick one window per image.
    """
    m = len(x)
    padded = np.zeros((m, side + 2 * k, side + 2 * k), x.dtype)  # (batch, 28+2k, 28+2k)
    padded[:, k : k + side, k : k + side] = x.reshape(m, side, side)
    windows = sliding_window_view(padded, (side, side), axis=(1, 2))  # (batch, 2k+1, 2k+1, 28, 28)
    dy, dx = rng.integers(-k, k + 1, size=(2, m))
    # out[r, c] = in[r - dy, c - dx]: the window that starts dy rows above the image
    return windows[np.arange(m), k - dy, k - dx].reshape(m, side * side)


@functools.lru_cache(maxsize=8)
def gaussian_matrix(sigma: float, side: int = SIDE, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """(side, side) G with G @ f = f convolved with a normalised Gaussian (truncated at 4 sigma),
    zero outside the image, as scipy.ndimage.gaussian_filter(mode="constant") does. Cached:
    treat it as read-only."""
    radius = int(4 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    d = np.arange(side)[:, None] - np.arange(side)[None, :]  # (side, side) i - j
    return np.where(np.abs(d) <= radius, kernel[np.clip(d + radius, 0, 2 * radius)], 0.0).astype(dtype)


def elastic_field(
    m: int, alpha: float, sigma: float, rng: np.random.Generator, side: int = SIDE, dtype: npt.DTypeLike = np.float64
) -> np.ndarray:
    """(2, m, side, side) displacements (dy, dx) in pixels: uniform(-1, 1) per pixel, smoothed, x alpha."""
    return Distortion(elastic_alpha=alpha, elastic_sigma=sigma, side=side).elastic_field(m, rng, np.dtype(dtype))


def affine_matrices(m: int, rotate: float, scale: float, shear: float, rng: np.random.Generator) -> np.ndarray:
    """(m, 2, 2) forward matrices on (y, x): rotation by U(-rotate, rotate) degrees, a shear of
    U(-shear, shear) degrees, and scalings of (1 + U(-scale, scale)) on each axis separately."""
    angle, skew = np.deg2rad(rng.uniform(-1, 1, size=(2, m)) * [[rotate], [shear]])
    sy, sx = 1 + scale * rng.uniform(-1, 1, size=(2, m))
    cos, sin, tan = np.cos(angle), np.sin(angle), np.tan(skew)
    zero, one = np.zeros(m), np.ones(m)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (m, 2, 2)
    sh = np.stack([np.stack([one, zero], -1), np.stack([tan, one], -1)], -2)  # x' = x + tan y
    sc = np.stack([np.stack([sy, zero], -1), np.stack([zero, sx], -1)], -2)
    return rot @ sh @ sc


def bilinear(images: np.ndarray, y: npt.ArrayLike, x: npt.ArrayLike) -> np.ndarray:
    """images (m, side, side), sample points y, x (m, side*side) in pixel units -> (m, side*side).

    Points outside the image read zeros."""
    return Distortion().bilinear(images, np.array(y, images.dtype), np.array(x, images.dtype)).copy()


def distort_images(x: np.ndarray, rng: np.random.Generator, **settings: float) -> np.ndarray:
    """x (batch, side*side) -> a new distorted batch: Distortion(**settings)(x, rng), copied."""
    return Distortion(**settings)(x, rng).copy()


class Distortion:
    """Affine and elastic distortion of a batch, as one backward map and one bilinear resampling.

    Calling it returns an array it owns and reuses for the next batch of the same shape (as
    the layers do): on this machine a fresh 400 KB array costs page faults that take longer
    than the arithmetic on it. Copy the result to keep it past the next call.
    The arithmetic is in the images' dtype; the draws come from rng in a fixed order (affine
    parameters, translation, elastic field), only for the parts switched on.
    """

    def __init__(
        self,
        rotate: float = 0.0,
        scale: float = 0.0,
        shear: float = 0.0,
        translate: float = 0.0,
        elastic_alpha: float = 0.0,
        elastic_sigma: float = ELASTIC_SIGMA,
        side: int = SIDE,
    ) -> None:
        self.rotate, self.scale, self.shear, self.translate = rotate, scale, shear, translate
        self.alpha, self.sigma, self.side = elastic_alpha, float(elastic_sigma), side
        self._bufs = {}

    def _buffer(self, name, shape, dtype, zero=False):
        key = (name, shape, dtype)
        if key not in self._bufs:
            self._bufs[key] = (np.zeros if zero else np.empty)(shape, dtype)
        return self._bufs[key]

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        m, dtype, side = len(x), x.dtype, self.side
        c = dtype.type((side - 1) / 2)
        grid_y, grid_x = _centred_grid(side, dtype)  # (side*side,) each
        y, xx = self._buffer("y", (m, side * side), dtype), self._buffer("x", (m, side * side), dtype)
        if self.rotate or self.scale or self.shear:
            inv = np.linalg.inv(affine_matrices(m, self.rotate, self.scale, self.shear, rng)).astype(dtype)
            tmp = self._buffer("tmp", (m, side * side), dtype)
            for out, (a, b) in (
                (y, (inv[:, 0, 0, None], inv[:, 0, 1, None])),
                (xx, (inv[:, 1, 0, None], inv[:, 1, 1, None])),
            ):
                np.multiply(a, grid_y, out=out)  # (m, side*side)
                np.multiply(b, grid_x, out=tmp)
                out += tmp
                out += c
        else:
            y[...] = grid_y + c
            xx[...] = grid_x + c
        if self.translate:
            ty, tx = rng.uniform(-self.translate, self.translate, size=(2, m, 1)).astype(dtype)
            y -= ty  # content moves by +t
            xx -= tx
        if self.alpha:
            dy, dx = self.elastic_field(m, rng, dtype).reshape(2, m, side * side)
            y += dy
            xx += dx
        return self.bilinear(x.reshape(m, side, side), y, xx)

    def elastic_field(self, m: int, rng: np.random.Generator, dtype: np.dtype) -> np.ndarray:
        """(2, m, side, side): uniform(-1, 1) per pixel, smoothed by the Gaussian, x alpha.

        The smoothing is separable: one matrix product along x for every row of every field
        at once, then the same on the transposed fields (two BLAS calls, no loop)."""
        side = self.side
        g_t = gaussian_matrix(self.sigma, side, dtype).T
        shape = (2 * m * side, side)  # every row of every field
        noise, smooth = self._buffer("noise", shape, dtype), self._buffer("smooth", shape, dtype)
        rng.random(out=noise, dtype=dtype)
        noise *= 2
        noise -= 1  # uniform(-1, 1)
        np.matmul(noise, g_t, out=smooth)  # along x
        transposed = noise.reshape(2 * m, side, side)  # noise is spent: reuse it
        np.copyto(transposed, smooth.reshape(2 * m, side, side).transpose(0, 2, 1))
        np.matmul(noise, g_t, out=smooth)  # along y (rows are columns now)
        # x alpha and back to rows in one pass (the same products, written transposed)
        np.multiply(smooth.reshape(2 * m, side, side).transpose(0, 2, 1), self.alpha, out=transposed)
        return transposed.reshape(2, m, side, side)

    def bilinear(self, images: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """images (m, side, side), points y, x (m, side*side) -> (m, side*side); y and x are overwritten.

        Points outside the image read zeros; one gather per corner for the whole batch."""
        m, side = images.shape[0], images.shape[1]
        stride = side + 3  # 1 px of zeros before, 2 after
        padded = self._buffer("padded", (m, stride, stride), images.dtype, zero=True)
        padded[:, 1 : side + 1, 1 : side + 1] = images  # the border stays zero
        np.clip(y, -1, side, out=y)  # further out reads zeros all the same
        np.clip(x, -1, side, out=x)
        shape = y.shape
        y0, x0 = self._buffer("y0", shape, y.dtype), self._buffer("x0", shape, y.dtype)
        np.floor(y, out=y0)
        np.floor(x, out=x0)
        y -= y0  # the weights of the far corners
        x -= x0
        # flat index of each top-left corner in `padded`, exact in floating point (< 2^24), cast once
        y0 *= stride  # (y0 + 1) stride + (x0 + 1) + image offset
        y0 += x0
        y0 += np.arange(stride + 1, m * stride * stride, stride * stride, dtype=y0.dtype)[:, None]
        corner, right = self._buffer("corner", shape, np.intp), self._buffer("right", shape, np.intp)
        np.copyto(corner, y0, casting="unsafe")
        np.add(corner, 1, out=right)
        flat = padded.reshape(-1)
        tl, tr, bl, br = (self._buffer(k, shape, images.dtype) for k in ("tl", "tr", "bl", "br"))
        flat.take(corner, out=tl, mode="clip")
        flat.take(right, out=tr, mode="clip")
        corner += stride
        right += stride
        flat.take(corner, out=bl, mode="clip")
        flat.take(right, out=br, mode="clip")
        tr -= tl  # top = tl + wx (tr - tl)
        tr *= x
        tr += tl
        br -= bl
        br *= x
        br += bl
        br -= tr  # out = top + wy (bottom - top)
        br *= y
        br += tr
        return br


@functools.lru_cache(maxsize=4)
def _centred_grid(side: int, dtype):
    """(2, side*side) the (y, x) of every pixel, relative to the image centre."""
    rows, cols = np.divmod(np.arange(side * side), side)
    return np.stack([rows, cols]).astype(dtype) - dtype.type((side - 1) / 2)


def compose(shift: int = 0, **distortions: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray] | None:
    """The augmentation these settings (AUGMENT_KEYS) describe, (batch (m, 784), rng) -> batch,
    or None if every one is off.

    Order: the integer `shift` first (its draws are the first from rng, as with shift alone),
    then affine and elastic as one resampling."""
    unknown = sorted(set(distortions) - set(DISTORTION_KEYS))
    if unknown:
        raise ValueError(f"augmentation: unknown setting {unknown[0]!r}; expected one of {', '.join(AUGMENT_KEYS)}")
    distort = any(distortions.get(k) for k in DISTORTION_KEYS if k != "elastic_sigma")
    if distortions.get("elastic_alpha") and not distortions.get("elastic_sigma", ELASTIC_SIGMA) > 0:
        raise ValueError(f"elastic_sigma: must be > 0 with elastic_alpha on, got {distortions['elastic_sigma']}")
    if not shift and not distort:
        return None

    distortion = Distortion(**distortions) if distort else None

    def augment(xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if shift:
            xb = shift_images(xb, shift, rng)
        if distortion is not None:
            xb = distortion(xb, rng)
        return xb

    return augment


def active(settings: dict) -> dict:
    """The settings (AUGMENT_KEYS) that are switched on (elastic_sigma only with elastic_alpha)."""
    on = {k: settings[k] for k in AUGMENT_KEYS if settings.get(k) and k != "elastic_sigma"}
    if on.get("elastic_alpha"):
        on["elastic_sigma"] = settings.get("elastic_sigma", ELASTIC_SIGMA)
    return on


def in_words(settings: dict) -> str:
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
        parts.append(f"elastic α={settings['elastic_alpha']:g} σ={settings.get('elastic_sigma', ELASTIC_SIGMA):g}")
    return ", ".join(parts) or "none"
