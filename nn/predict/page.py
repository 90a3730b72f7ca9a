"""A photographed or scanned page -> the digit's ink alone, on a zero background.

nn.predict.preprocess then does what MNIST did (fit 20×20, centre of mass in 28×28). Before that, the
marks on a real page that are not the digit must go, or the crop around "all ink" shrinks the
digit to a fraction of the box. In order:

1. light: paper brightness is estimated locally (a coarse grid of tiles), and ink is measured
   as the fraction of light the ink takes away from it, so gradients and soft shadows flatten;
2. lines: thin straight runs of ink over 30% of the picture, in families (ruled and squared
   paper) or closing a box (a printed frame), are removed, except where a stroke crosses them;
   a straight bar of the digit itself (a 7's top) is recognised by its length and place;
3. specks: connected ink is grouped; the heaviest group is the digit, and groups far lighter
   than it that are not close to it (dust, a stray dot) are dropped;
4. stroke width: a stroke far thicker (marker) or thinner (fine pen) than MNIST's, relative to
   the digit's height, is eroded or dilated towards MNIST's typical width.

The page is analysed shrunk to at most WORK_SIDE pixels a side (numpy, and Pillow to resize);
the ink of what is kept is then taken from the full-resolution image, cropped around the digit.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

WORK_SIDE = 256  # the page is analysed at most this big: a digit a tenth as tall is still 25 px
TILES = 16  # the paper's brightness is estimated on a grid this many tiles across
PAPER_QUANTILE = 0.75  # in each tile, paper is the brighter part: a digit covers far less than 25% of it
LINE_SPAN = 0.3  # a straight run over this fraction of the picture's width (or height) may be a rule
LINE_VS_DIGIT = 1.3  # ...and is one unless it is shorter than this many digit sizes and touches the digit
MASK = 0.35  # ink above this fraction of the strongest is grouped (fainter: edges, haze, shadow rims)
SPECK = 0.15  # ink groups lighter than this fraction of the digit's, away from it, are dropped
NEAR = 0.15  # "close to the digit": within this fraction of its size from its box
STROKE = 0.094  # MNIST's stroke width / digit height: median of test digits drawn 150 px tall
# (5-95%: 0.061-0.144), measured as 2·area / boundary pixels
THICKEST = 0.2  # a stroke over this (relative to height; MNIST's 95th percentile is 0.144) is thinned
THINNEST = 0.05  # one under this (MNIST's 5th percentile: 0.061) is thickened, both towards STROKE
FRAME_SIDES = 0.5  # a box's other sides are at least this fraction of its longest side
THIN = 10  # a line is at least this many times longer than it is thick
MEASURABLE = 48  # a digit shorter than this (pixels) has strokes too few pixels wide to measure or erode
CROSS = 4  # a stroke crossing a line shows within this many pixels on both sides of it


# ---------------------------------------------------------------- small morphology


def _filter(a: np.ndarray, radius: int, reduce) -> np.ndarray:
    """Separable (2r+1)×(2r+1) max or min filter (reduce = np.max or np.min) of a 2-D array.

    Outside the image counts as neither: each pixel takes the extreme over the part of its window inside.
    """
    op = np.maximum if reduce is np.max else np.minimum
    for axis in (0, 1):
        out = a.copy()
        view = np.moveaxis(out, axis, 0)
        src = np.moveaxis(a, axis, 0)
        for d in range(1, radius + 1):
            op(view[d:], src[:-d], out=view[d:])  # the pixel d before
            op(view[:-d], src[d:], out=view[:-d])  # the pixel d after
        a = out
    return a


def _shift(a: np.ndarray, d: int, axis: int) -> np.ndarray:
    """a moved d pixels along axis (down/right for d > 0), the uncovered edge False."""
    out = np.zeros_like(a)
    src = [slice(None)] * 2
    dst = [slice(None)] * 2
    src[axis], dst[axis] = (slice(0, -d), slice(d, None)) if d > 0 else (slice(-d, None), slice(0, d))
    out[tuple(dst)] = a[tuple(src)]
    return out


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of True in a (h, w) mask -> (row, start, stop) arrays, stop exclusive."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), bool)
    padded[:, 1:-1] = mask
    edges = np.flatnonzero(np.diff(padded.ravel().astype(np.int8)))  # +1 at starts, -1 at stops
    starts, stops = edges[0::2], edges[1::2]
    return starts // (w + 2), starts % (w + 2), stops % (w + 2)


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a (h, w) mask -> (labels (h, w) int32, 0 = background, count).

    Components are numbered by their first pixel in reading order. Vectorised over runs: every
    pair of touching runs in neighbouring rows at once, then each run takes the smallest index
    of a run it touches, and follows that run's label, until nothing changes (a Python loop
    over runs costs 40 % of preprocessing an image)."""
    row, start, stop = _runs(mask)
    n = len(row)
    labels = np.zeros(mask.shape, np.int32)
    if n == 0:
        return labels, 0
    # runs sorted by (row, start); as keys row * K + column they stay sorted, stops too
    k = mask.shape[1] + 2
    below = (row + 1) * k
    # the runs of the next row touching run i (diagonals count): stop_j >= start_i, start_j <= stop_i
    lo = np.searchsorted(row * k + stop, below + start, side="left")
    hi = np.searchsorted(row * k + start, below + stop, side="right")
    count = np.maximum(hi - lo, 0)
    upper = np.repeat(np.arange(n), count)  # (pairs,)
    lower = np.repeat(lo, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    root = np.arange(n)
    while True:
        low = np.minimum(root[upper], root[lower])
        new = root.copy()
        np.minimum.at(new, upper, low)
        np.minimum.at(new, lower, low)
        new = new[new]  # follow the label's own label
        if np.array_equal(new, root):
            break
        root = new
    ids, compact = np.unique(root, return_inverse=True)
    lengths = stop - start
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    labels[np.repeat(row, lengths), np.repeat(start, lengths) + offset] = np.repeat(compact + 1, lengths)
    return labels, len(ids)


# ---------------------------------------------------------------- the steps


def work_size(grey: np.ndarray) -> np.ndarray:
    """Shrink (anti-aliased) so the longer side is at most WORK_SIDE; smaller images are kept."""
    h, w = grey.shape
    scale = WORK_SIDE / max(h, w)
    if scale >= 1:
        return grey
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BOX), np.float32)


def paper_brightness(paper: np.ndarray) -> np.ndarray:
    """(h, w) image with bright paper -> (h, w) the paper's local brightness, smooth."""
    h, w = paper.shape
    t = max(2, int(np.ceil(max(h, w) / TILES)))  # tile side in pixels
    th, tw = -(-h // t), -(-w // t)
    padded = np.pad(paper, ((0, th * t - h), (0, tw * t - w)), mode="edge")
    tiles = padded.reshape(th, t, tw, t).transpose(0, 2, 1, 3).reshape(th, tw, t * t)
    level = np.quantile(tiles, PAPER_QUANTILE, axis=-1).astype(np.float32)  # (th, tw)
    level = _filter(level, 2, np.max)  # a tile filled by strokes borrows paper from two tiles away
    level = sliding_window_view(np.pad(level, 1, mode="edge"), (3, 3)).mean(axis=(-1, -2))
    big = Image.fromarray(level.astype(np.float32)).resize((tw * t, th * t), Image.Resampling.BILINEAR)
    return np.asarray(big, np.float32)[:h, :w]


def _straight(mask: np.ndarray, axis: int, min_length: float) -> list[tuple[np.ndarray, int, int]]:
    """Thin straight runs of the mask along rows (axis 0) or columns (1) at least min_length long."""
    m = mask if axis == 0 else mask.T
    near = _filter(m, 1, np.max)  # bridges a one-pixel gap or a slight tilt
    row, start, stop = _runs(near)
    long = (stop - start) >= min_length
    cand = np.zeros_like(m)
    for r, s, e in zip(row[long], start[long], stop[long]):
        cand[r, s:e] = True
    cand &= m
    labels, boxes, weights = _groups(cand.astype(np.float32), cand)  # weight = pixel count
    length = boxes[1:, 3] - boxes[1:, 2] + 1
    found = []
    for k in np.flatnonzero((length >= min_length) & (length >= THIN * weights[1:] / length)) + 1:
        pixels = labels == k
        found.append((pixels if axis == 0 else pixels.T, int(length[k - 1]), axis))
    return found


def find_lines(mask: np.ndarray) -> list[tuple[np.ndarray, int, bool]]:
    """Long thin straight horizontal and vertical lines in a mask -> [(pixels (h, w) bool, length, framed)].

    A line's pixels leave out those where a stroke crosses it (ink just beyond it on both sides).
    """
    found = [line for axis in (0, 1) for line in _straight(mask, axis, LINE_SPAN * mask.shape[1 - axis])]
    # A small box in a big picture: its short sides are looked for beside its long ones.
    for axis in (0, 1):
        other = [length for _, length, a in found if a != axis]
        if other and not any(a == axis for _, _, a in found):
            found += _straight(mask, axis, FRAME_SIDES * max(other))
    # Rules and frames come in families: a lone straight stroke (a "1" in a tight crop) is the digit.
    # A side of a closed box (a corner with a perpendicular line at both ends) is a frame's, always.
    boxes = [_box(p) for p, _, _ in found]
    corners = [
        [
            any(a != axis and _corner(end, boxes[j]) for j, (_, _, a) in enumerate(found))
            for end in _ends(boxes[i], axis)
        ]
        for i, (_, _, axis) in enumerate(found)
    ]
    found = [
        (p, length, all(corners[i]))
        for i, (p, length, axis) in enumerate(found)
        if any(a == axis for j, (_, _, a) in enumerate(found) if j != i) or any(corners[i])
    ]
    if not found:
        return found
    every = np.logical_or.reduce([p for p, *_ in found])
    rest = mask & ~every
    crossing = np.zeros_like(mask)
    for axis in (0, 1):
        before = np.zeros_like(mask)
        after = np.zeros_like(mask)
        for d in range(1, CROSS + 1):
            before |= _shift(rest, d, axis)
            after |= _shift(rest, -d, axis)
        crossing |= before & after
    return [(p & ~crossing, length, framed) for p, length, framed in found]


def _ends(box, axis):
    """The two ends (y, x) of a line with this box, running along rows (axis 0) or columns (1)."""
    top, bottom, left, right = box
    mid_y, mid_x = (top + bottom) // 2, (left + right) // 2
    return [(mid_y, left), (mid_y, right)] if axis == 0 else [(top, mid_x), (bottom, mid_x)]


def _corner(end, box) -> bool:
    """Does a line's end (y, x) meet a corner of another line's box, as a frame's sides do?"""
    near = 2 * CROSS + 2
    return any(abs(end[0] - y) <= near and abs(end[1] - x) <= near for y in box[:2] for x in box[2:])


def _box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def _within(pixels, box, margin) -> bool:
    top, bottom, left, right = _box(pixels)
    return top >= box[0] - margin and bottom <= box[1] + margin and left >= box[2] - margin and right <= box[3] + margin


def _touches(pixels, box, margin) -> bool:
    top, bottom, left, right = _box(pixels)
    return top <= box[1] + margin and bottom >= box[0] - margin and left <= box[3] + margin and right >= box[2] - margin


def _union(lines, like) -> np.ndarray:
    out = np.zeros_like(like)
    for pixels, *_ in lines:
        out |= pixels
    return out


def _is_stroke(pixels, length, labels, box, size) -> bool:
    """Is this "line" part of the digit? A 7's top or a 2's foot is short beside the digit and
    touches it; the side of an 0 runs between pieces of the digit above and below it. A rule or a
    frame is longer than the digit, or runs past the ink it crosses, or lies apart from it."""
    if length <= LINE_VS_DIGIT * size and _touches(pixels, box, NEAR * size):
        return True
    top, bottom, left, right = _box(pixels)
    top, left = max(0, top - CROSS), max(0, left - CROSS)
    around = labels[top : bottom + CROSS + 1, left : right + CROSS + 1]
    beside = np.unique(around[_filter(pixels[top : bottom + CROSS + 1, left : right + CROSS + 1], CROSS, np.max)])
    beside = beside[beside > 0]
    if len(beside) == 0:
        return False
    span = _box(np.isin(labels, beside))
    margin = NEAR * max(span[1] - span[0] + 1, span[3] - span[2] + 1)
    return _within(pixels, span, margin)


def _groups(ink, mask):
    """Connected ink -> (labels (h, w), boxes (n + 1, 4) top/bottom/left/right, weights (n + 1,)); 0 = none."""
    labels, n = _label(mask)
    rows, cols = np.nonzero(labels)
    k = labels[rows, cols]
    boxes = np.zeros((n + 1, 4), np.int64)
    boxes[:, 0] = boxes[:, 2] = np.iinfo(np.int64).max
    np.minimum.at(boxes[:, 0], k, rows)
    np.maximum.at(boxes[:, 1], k, rows)
    np.minimum.at(boxes[:, 2], k, cols)
    np.maximum.at(boxes[:, 3], k, cols)
    weights = np.bincount(k, ink[rows, cols], minlength=n + 1)  # the ink of each group
    weights[0] = 0
    return labels, boxes, weights


def _size(box) -> int:
    return int(max(box[1] - box[0] + 1, box[3] - box[2] + 1))


def digit_ink(grey: np.ndarray, background: float, min_contrast: float):
    """(h, w) grey in [0, 1] and the border's paper level -> ((h', w') ink in [0, 1], contrast).

    The page is analysed shrunk to WORK_SIDE; the ink returned is the full-resolution ink of what
    was kept, cropped around it with a margin. contrast is the largest difference from the local
    paper, in full-scale units: below min_contrast the caller calls the image blank.
    """
    grey = np.asarray(grey, np.float32)
    small = work_size(grey)
    paper = small if background > 0.5 else 1 - small  # bright paper, dark ink
    level = np.maximum(paper_brightness(paper), 0.05)
    drop = level - paper  # light the ink takes away
    p = np.pad(drop, ((0, 1), (0, 1)), mode="edge")
    smooth = (p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4  # one noisy pixel is no stroke
    contrast = float(smooth.max())
    if contrast < min_contrast:
        return None, contrast
    ink = np.clip(drop / level, 0, 1)  # fraction of the light, shadow or not
    mask = ink > MASK * float(np.clip(smooth / level, 0, 1).max())  # strong ink: what groups are made of

    lines = find_lines(mask)
    labels, boxes, weights = _groups(ink, mask & ~_union(lines, mask))
    if len(weights) == 1:
        return np.zeros((1, 1), np.float32), contrast
    main = int(weights.argmax())
    bars = [
        i
        for i, (p, length, framed) in enumerate(lines)
        if not framed and _is_stroke(p, length, labels, boxes[main], _size(boxes[main]))
    ]
    if bars:
        lines = [line for i, line in enumerate(lines) if i not in bars]
        labels, boxes, weights = _groups(ink, mask & ~_union(lines, mask))
        main = int(weights.argmax())
    box, margin = boxes[main], NEAR * _size(boxes[main])
    near = (
        (boxes[:, 0] >= box[0] - margin)
        & (boxes[:, 1] <= box[1] + margin)
        & (boxes[:, 2] >= box[2] - margin)
        & (boxes[:, 3] <= box[3] + margin)
    )
    keep = (weights >= SPECK * weights[main]) | near
    keep[0] = False
    allowed = _filter(keep[labels], 2, np.max) & ~_union(lines, mask)  # the digit, its grey edges, no rule
    return full_resolution(grey, background, level, allowed), contrast


def full_resolution(grey, background, level, allowed) -> np.ndarray:
    """The ink of the full-size image where the analysed (small) `allowed` mask says, cropped to it."""
    (h, w), (sh, sw) = grey.shape, allowed.shape
    rows, cols = np.flatnonzero(allowed.any(axis=1)), np.flatnonzero(allowed.any(axis=0))
    pad = 1 + (rows[-1] - rows[0] + cols[-1] - cols[0]) // 8  # room to dilate a fine stroke
    top, bottom = max(0, rows[0] - pad), min(sh, rows[-1] + pad + 1)
    left, right = max(0, cols[0] - pad), min(sw, cols[-1] + pad + 1)
    fy, fx = h / sh, w / sw  # full pixels per small pixel
    y0, y1, x0, x1 = round(top * fy), round(bottom * fy), round(left * fx), round(right * fx)
    size, box = (x1 - x0, y1 - y0), (left, top, right, bottom)
    crop_level = np.asarray(Image.fromarray(level).resize(size, Image.Resampling.BILINEAR, box=box), np.float32)
    crop_allowed = (
        np.asarray(Image.fromarray(allowed.astype(np.uint8)).resize(size, Image.Resampling.NEAREST, box=box)) > 0
    )
    paper = grey[y0:y1, x0:x1] if background > 0.5 else 1 - grey[y0:y1, x0:x1]
    ink = np.where(crop_allowed, np.clip((crop_level - paper) / crop_level, 0, 1), 0).astype(np.float32)
    return normalise_stroke(ink, ink > 0.5 * ink.max())


def normalise_stroke(ink: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """Erode a stroke far thicker than MNIST's (relative to the digit's height), dilate one far thinner."""
    rows = np.flatnonzero(digit.any(axis=1))
    if len(rows) == 0:
        return ink
    height = rows[-1] - rows[0] + 1
    if height < MEASURABLE:
        return ink
    digit = _filter(_filter(digit, 1, np.max), 1, np.min)  # closed: a notch left by a rule is no edge
    inner = _filter(digit, 1, np.min)
    boundary = int((digit & ~inner).sum())
    width = 2 * digit.sum() / max(boundary, 1)  # ≈ stroke width for long strokes
    target = STROKE * height
    if width > THICKEST * height:
        radius = int(round((width - target) / 2))
        return _filter(ink, radius, np.min) if radius else ink
    if width < THINNEST * height:
        radius = int(round((target - width) / 2))
        return _filter(ink, radius, np.max) if radius else ink
    return ink
