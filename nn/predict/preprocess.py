"""Any digit image -> a 28×28 MNIST-style digit, made the way MNIST's own were made.

LeCun et al.: the digit is scaled to fit a 20×20 box keeping its aspect ratio (anti-aliasing
gives grey levels), then placed in 28×28 so that its centre of mass sits at the centre.
Measured on the training set: the centre of mass is at (14.0, 14.0) ± 0.29 (an integer shift
of a real-valued centre), the longer side of the bounding box is 20, and 90% of digits reach
255. So: light ink on a black background, COM moved to pixel (14, 14) by a whole-pixel shift,
brightest pixel 255. nn.mnist.data.to_inputs then scales it exactly as the training images were.
Before those steps nn.predict.page finds the digit on the page: it flattens uneven light, removes
ruled lines and frames, drops specks and brings a marker's or fine pen's stroke towards
MNIST's width, so that the crop is the box around the digit, not around every mark.

Reading a file (Pillow, which matplotlib already depends on) opens regular files, and a FIFO or pipe
only when asked to wait for one (nn-predict does, for `<(cmd)`; a bounded read within a deadline),
refuses a huge image from its header before any pixel is decoded, and shrinks a big decoded image
before any float copy.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nn.fileio import open_regular
from nn.predict.page import digit_ink
from nn.predict.pipes import open_regular_or_pipe

# More pixels are refused from the header. Measured (peak RSS of a fresh process, resource.getrusage;
# tests/predict/test_preprocess.py): a 40-MP RGBA PNG 345 MB, of which the decoded image is 160 MB and Pillow's
# premultiplied copy for the shrink as much again; a 40-MP JPEG 41 MB (decoded at 1/8 scale).
MAX_PIXELS = 40_000_000
FORMATS = ("PNG", "JPEG")
READ_SIDE = 2048  # a decoded image longer than this is shrunk by a whole factor before float conversion
DRAFT_SIDE = 512  # a JPEG is decoded at the smallest scale that keeps its shorter side this long
BOX, SIDE, CENTRE = 20, 28, 14
MIN_CONTRAST = 0.1  # ink darker/lighter than the background by less than this (of full scale): blank
NOISE = 0.2  # after stretching ink to [0, 1], weaker pixels are background (paper grain, JPEG)


class ImageError(ValueError):
    """An image that cannot be made into a digit; the message names the file and why."""


# ---------------------------------------------------------------- reading


def _grey(img: Image.Image) -> np.ndarray:
    """A decoded Pillow image of any mode -> (h, w) float32 grey in [0, 1], 1 = white."""
    if img.mode.startswith("I"):  # 16-bit grey PNG: convert("L") would clip it
        return np.clip(np.asarray(img, np.float64) / 65535, 0, 1).astype(np.float32)
    if "A" in img.getbands() or "transparency" in img.info:
        # Transparent pixels have no colour of their own: lay the image on whichever of white or
        # black contrasts with what is drawn, so ink on a transparent sheet shows either way.
        rgba = np.asarray(img.convert("RGBA"), np.float32) / 255  # (h, w, 4)
        grey, alpha = rgba[..., :3] @ np.float32([0.299, 0.587, 0.114]), rgba[..., 3]
        drawn = float((grey * alpha).sum() / max(alpha.sum(), 1e-6))
        background = 0.0 if drawn > 0.5 else 1.0
        return (grey * alpha + background * (1 - alpha)).astype(np.float32)
    return np.asarray(img.convert("L"), np.float32) / 255


def pipe_cap(max_pixels: int) -> int:
    """Bytes accepted through a pipe: more than any PNG or JPEG under the pixel cap can hold, so the
    pixel cap decides, as it does for a file. Measured (Pillow, 1000×1000 of random noise, the worst
    case): RGB at JPEG quality 100 without chroma subsampling 4.1 bytes a pixel, RGBA PNG 4.0; a
    photo or scan at quality 95 is under 1. So 5 bytes a pixel and 1 MB for metadata: 201 MB at the
    default cap, held in memory while Pillow decodes (a regular file needs no byte cap: it is read
    as the decoder asks)."""
    return 5 * max_pixels + (1 << 20)


def _open(path, max_pixels: int, wait: float | None):
    """A binary file object for the image at `path`: a regular file, or with `wait` (seconds) a FIFO or
    pipe read whole (nn.predict.pipes.open_regular_or_pipe); ImageError naming the file and why not."""
    try:
        if wait is None:
            return open_regular(path)
        return open_regular_or_pipe(path, pipe_cap(max_pixels), wait)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot open ({e.strerror})") from None
    except ValueError as e:  # not a regular file, a pipe too big or too slow: named
        raise ImageError(str(e)) from None


def _shrink(img: Image.Image) -> Image.Image:
    """A decoded image whose longer side is over READ_SIDE -> reduced by a whole factor (box average).

    The float32 conversions after this then work on a few megabytes whatever the file's size.
    """
    factor = -(-max(img.size) // READ_SIDE)
    if factor <= 1:
        return img
    if img.mode.startswith("I"):
        return img.convert("I").reduce(factor)
    if img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
    return img.reduce(factor)  # RGBA: Pillow averages premultiplied colour, as seen


def read_image(path, max_pixels: int = MAX_PIXELS, wait: float | None = None) -> np.ndarray:
    """Read a PNG or JPEG -> (h, w) float32 grey in [0, 1]. ImageError names the file and the fault.

    An image over READ_SIDE pixels a side comes back shrunk by a whole factor (a 20×20 digit needs
    far less); EXIF orientation is applied. `wait`: None refuses a FIFO or pipe at once; a number of
    seconds reads one (`nn-predict model.npz <(cat digit.png)`) up to pipe_cap(max_pixels) bytes,
    refusing it when it has not ended by then.
    """
    try:
        with _open(path, max_pixels, wait) as file:
            # Pillow warns (DecompressionBombWarning) on opening a large image; we check the size
            # ourselves, with a clearer message and a lower cap, so its warning is noise here.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(file, formats=FORMATS) as img:  # reads the header only
                    w, h = img.size
                    if w * h > max_pixels:
                        raise ImageError(
                            f"{path}: {w}×{h} is {w * h / 1e6:.1f} megapixels, over the cap of "
                            f"{max_pixels / 1e6:g}; refusing to decode it"
                        )
                    if w == 0 or h == 0:
                        raise ImageError(f"{path}: image has no pixels ({w}×{h})")
                    if img.format == "JPEG":  # decode a big photo at 1/2..1/8 scale: plenty for a 20×20 digit
                        k = DRAFT_SIDE / min(w, h)
                        img.draft("L", (round(w * k), round(h * k)))
                    img.load()
                    img = ImageOps.exif_transpose(_shrink(img))  # phone photos: upright as shown
                    return _grey(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not a PNG or JPEG image") from None
    except Image.DecompressionBombError as e:  # so big that Pillow refuses it before we look
        n = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(n[1]) / 1e6:.1f} megapixels" if n else "more megapixels than Pillow allows"
        raise ImageError(f"{path}: {size}, over the cap of {max_pixels / 1e6:g}; refusing to decode it") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:  # truncated or corrupt data
        raise ImageError(f"{path}: cannot decode image ({e})") from None


# ---------------------------------------------------------------- grey -> MNIST digit


def _ink(grey: np.ndarray, name) -> np.ndarray:
    """(h, w) grey -> (h', w') the digit's ink in [0, 1] on a zero background (nn.predict.page finds it)."""
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    background = float(np.median(border))  # the frame is mostly paper, whatever the digit does
    ink, contrast = digit_ink(grey, background, MIN_CONTRAST)
    if ink is None or ink.max() <= 0:
        raise ImageError(
            f"{name}: blank image (nothing differs from the background by {MIN_CONTRAST:.0%} of full scale)"
        )
    strong = ink[ink > 0.5 * ink.max()]
    ink = np.clip(ink / np.percentile(strong, 90), 0, 1)  # stretch: paper 0, strokes 1 (grain and noise saturate)
    ink[ink < NOISE] = 0
    return ink


def _fit_box(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink's bounding box and scale so the longer side is BOX pixels, aspect kept."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # (h, w) around the digit
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # Pillow wants (width, height)
    # Pillow's BILINEAR widens its kernel when shrinking (anti-aliased), and never rings past [0, 1]
    small = np.asarray(Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.BILINEAR))
    return np.clip(small, 0, 1)  # (≤20, ≤20)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place a (≤20, ≤20) digit in 28×28 with its centre of mass on pixel (14, 14), whole pixels."""
    h, w = digit.shape
    mass = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(h)) / mass
    cx = (digit.sum(axis=0) @ np.arange(w)) / mass
    # a lopsided digit could be pushed over the edge: keep all of it rather than the exact centre
    top = int(np.clip(np.floor(CENTRE - cy + 0.5), 0, SIDE - h))
    left = int(np.clip(np.floor(CENTRE - cx + 0.5), 0, SIDE - w))
    out = np.zeros((SIDE, SIDE), np.float32)
    out[top : top + h, left : left + w] = digit
    return out


def to_mnist(grey: np.ndarray, name="image") -> np.ndarray:
    """(h, w) grey in [0, 1], dark-on-light or light-on-dark -> (28, 28) uint8 MNIST-style digit.

    name: how errors refer to the image (its file). ImageError if nothing is drawn.
    """
    grey = np.asarray(grey, np.float32)
    if grey.ndim != 2 or grey.size == 0:
        raise ImageError(f"{name}: expected a 2-D grey image, got shape {grey.shape}")
    digit = _fit_box(_ink(grey, name))
    if digit.max() <= 0:  # a speck so small that shrinking it left nothing
        raise ImageError(f"{name}: blank image (the only mark vanishes at 20×20)")
    digit = _centre(digit / digit.max())  # (28, 28), brightest 1
    return np.round(digit * 255).astype(np.uint8)


def load_digit(path, max_pixels: int = MAX_PIXELS, wait: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A file -> (grey (h, w) float32 as read, digit (28, 28) uint8). ImageError names the file.
    `wait`: as read_image's."""
    grey = read_image(path, max_pixels, wait)
    return grey, to_mnist(grey, path)


def thumbnail(grey: np.ndarray, size: int = 96) -> np.ndarray:
    """(h, w) grey -> a copy whose longer side is at most `size`, for contact sheets."""
    h, w = grey.shape
    scale = min(1.0, size / max(h, w))
    if scale == 1.0:
        return grey.copy()
    dims = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(np.asarray(grey, np.float32)).resize(dims, Image.Resampling.BOX))
