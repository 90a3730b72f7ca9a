"""Does nn.predict.cli's preprocessing cost accuracy? MNIST test digits drawn as photos and scans vs the originals.

    nice .venv/bin/python benchmarks/predict_accuracy.py --model MODEL.npz [--n 500] [--only NAME...]
    .venv/bin/python benchmarks/predict_accuracy.py --big-files

Each of the first n test digits is drawn as an image file under every condition below (the
pen, the paper, the light, the camera), read back through nn.predict.cli.classify, and scored
against its label; beside it, the same model on the 28×28 originals (the baseline). Each
condition draws with its own seeded generator: the same files every time. Also measured per
condition: milliseconds per image to read it (nn.predict.preprocess.read_image) and to preprocess it
(nn.predict.preprocess.to_mnist), medians over the images. Without --model it first trains a
784-128-10 ReLU softmax network on all 60,000 training images (5 epochs, seed 1, ~1 min).
--big-files times, instead, reading vs preprocessing a 12-MP phone photo and an A4 300-dpi scan.
Needs ../shared/mnist beside the repo. Prints a markdown table, then one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from conftest import SHARED_MNIST  # noqa: E402
from test_predict import VARIANTS, render  # noqa: E402  (the forms the tests check)

from nn.mnist.data import to_inputs  # noqa: E402
from nn.mnist.idx import read_idx  # noqa: E402
from nn.model import mlp  # noqa: E402
from nn.predict.cli import classify, load_model  # noqa: E402
from nn.optim import SGD  # noqa: E402
from nn.predict.preprocess import read_image, to_mnist  # noqa: E402
from nn.train import FitConfig, TrainState, fit  # noqa: E402

WHITE, BLACK = (250, 250, 246), (20, 20, 30)


# ---------------------------------------------------------------- drawing a digit


def pen(digit, size, width=0) -> np.ndarray:
    """A 28×28 digit as ink coverage (size, size) in [0, 1]; width > 0 thickens, < 0 thins the stroke."""
    big = Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC)
    if width > 0:
        big = big.filter(ImageFilter.MaxFilter(2 * width + 1)).filter(ImageFilter.GaussianBlur(1))
    elif width < 0:
        big = big.point(lambda v: 255 if v > 60 else 0).filter(ImageFilter.MinFilter(-2 * width + 1))
        big = big.filter(ImageFilter.GaussianBlur(0.7))
    return np.asarray(big, np.float32) / 255


def place(alpha, canvas, at) -> np.ndarray:
    """Ink coverage (s, s) put on an empty (h, w) canvas with its top-left corner at (x, y)."""
    out = np.zeros((canvas[1], canvas[0]), np.float32)
    s = alpha.shape[0]
    out[at[1] : at[1] + s, at[0] : at[0] + s] = alpha
    return out


def paint(alpha, ink=BLACK, paper=WHITE, light=None, noise=0.0, rng=None) -> np.ndarray:
    """Coverage (h, w) -> RGB (h, w, 3) float: paper, ink over it, times the light, plus sensor noise."""
    a = alpha[..., None]
    rgb = np.float32(paper) * (1 - a) + np.float32(ink) * a
    if light is not None:
        rgb = rgb * light[..., None]
    if noise:
        rgb = rgb + rng.normal(0, noise, rgb.shape).astype(np.float32)
    return rgb


def encode(rgb, fmt="PNG", quality=90, **kw) -> bytes:
    out = io.BytesIO()
    img = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.round(np.clip(rgb, 0, 255)).astype(np.uint8))
    img.save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}), **kw)
    return out.getvalue()


def falloff(canvas, strength, rng) -> np.ndarray:
    """Light across a (w, h) page falling off by `strength` along a random direction, plus a vignette."""
    w, h = canvas
    y, x = np.mgrid[:h, :w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = (x - w / 2) * np.cos(angle) + (y - h / 2) * np.sin(angle)
    along = (along - along.min()) / (along.max() - along.min())  # 0 .. 1 across the page
    r2 = ((x - w / 2) / w) ** 2 + ((y - h / 2) / h) ** 2
    return (1 - strength * along) * (1 - 0.3 * strength * r2)


def shadow(canvas, depth, rng) -> np.ndarray:
    """A soft shadow (a hand, a phone) over a random part of the page: light times (1 - depth) there."""
    w, h = canvas
    y, x = np.mgrid[:h, :w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = (x - rng.uniform(0, w)) * np.cos(angle) + (y - rng.uniform(0, h)) * np.sin(angle)
    return 1 - depth / (1 + np.exp(-along / (0.06 * max(w, h))))


def centred(size, canvas, rng, jitter=10):
    return (
        int((canvas[0] - size) / 2 + rng.integers(-jitter, jitter + 1)),
        int((canvas[1] - size) / 2 + rng.integers(-jitter, jitter + 1)),
    )


# ---------------------------------------------------------------- the conditions


def clean_scan(d, rng):
    return encode(paint(place(pen(d, 150), (200, 200), centred(150, (200, 200), rng))))


def small_off_centre(d, rng):
    canvas = (480, 360)
    return encode(paint(place(pen(d, 70), canvas, (int(rng.integers(0, 410)), int(rng.integers(0, 290))))))


def low_contrast(d, rng):
    return encode(
        paint(place(pen(d, 150), (200, 200), centred(150, (200, 200), rng)), (120,) * 3, (175,) * 3, noise=2, rng=rng)
    )


def transparent(d, rng):
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[..., :3] = 30
    rgba[..., 3] = np.round(255 * place(pen(d, 150), (200, 200), centred(150, (200, 200), rng)))
    return encode(Image.fromarray(rgba))


def chalkboard(d, rng):
    canvas = (260, 200)
    return encode(
        paint(place(pen(d, 150), canvas, centred(150, canvas, rng)), (230, 232, 222), (40, 62, 52), noise=6, rng=rng),
        "JPEG",
        85,
    )


def exif_rotated(d, rng):
    canvas = (300, 220)
    rgb = paint(
        place(pen(d, 160), canvas, centred(160, canvas, rng)), light=falloff(canvas, 0.05, rng), noise=3, rng=rng
    )
    img = Image.fromarray(np.round(np.clip(rgb, 0, 255)).astype(np.uint8)).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    return encode(img, "JPEG", 90, exif=exif)


def pencil(d, rng):
    alpha = place(pen(d, 150), (200, 200), centred(150, (200, 200), rng))
    grain = rng.uniform(0.5, 1.0, alpha.shape).astype(np.float32)  # graphite leaves gaps
    return encode(paint(alpha * grain, (90, 90, 95), (245, 243, 236), noise=2, rng=rng))


def blur(d, rng):
    img = Image.fromarray(
        np.round(paint(place(pen(d, 150), (200, 200), centred(150, (200, 200), rng)))).astype(np.uint8)
    )
    return encode(img.filter(ImageFilter.GaussianBlur(4)))


def touching_edges(d, rng):
    alpha = pen(d, 150)
    rows, cols = np.flatnonzero(alpha.max(1) > 0.3), np.flatnonzero(alpha.max(0) > 0.3)
    return encode(paint(alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]))


def uneven_light(strength, with_shadow=False):
    def draw(d, rng):
        canvas = (320, 240)
        light = falloff(canvas, strength, rng)
        if with_shadow:
            light = light * shadow(canvas, 0.35, rng)
        return encode(
            paint(place(pen(d, 150), canvas, centred(150, canvas, rng, 30)), light=light, noise=3, rng=rng), "JPEG", 85
        )

    return draw


def ruled(d, rng):
    canvas, gap = (320, 240), 34
    img = Image.fromarray(np.round(paint(place(pen(d, 130), canvas, centred(130, canvas, rng, 25)))).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for y in range(int(rng.integers(0, gap)), canvas[1], gap):
        draw.line([(0, y), (canvas[0], y)], fill=(140, 165, 215), width=2)
    light = falloff(canvas, 0.1, rng)
    return encode(np.asarray(img, np.float32) * light[..., None], "JPEG", 85)


def squared(d, rng):
    canvas, gap = (300, 240), 24
    alpha = place(pen(d, 130), canvas, centred(130, canvas, rng, 25))
    grid = np.zeros(alpha.shape, np.float32)
    grid[int(rng.integers(0, gap)) :: gap] = 0.35
    grid[:, int(rng.integers(0, gap)) :: gap] = 0.35
    rgb = paint(grid, (120, 150, 200)) * (1 - alpha[..., None]) + np.float32(BLACK) * alpha[..., None]
    return encode(rgb, "JPEG", 85)


def specks(d, rng):
    canvas = (240, 240)
    at = centred(140, canvas, rng, 15)
    alpha = place(pen(d, 140), canvas, at)
    y, x = np.mgrid[: canvas[1], : canvas[0]]
    for _ in range(int(rng.integers(1, 4))):
        while True:  # dust lands anywhere but on the digit
            cy, cx, r = rng.uniform(0, canvas[1]), rng.uniform(0, canvas[0]), rng.uniform(1.5, 4)
            if not (at[1] - 5 < cy < at[1] + 145 and at[0] - 5 < cx < at[0] + 145):
                break
        alpha = np.maximum(alpha, np.clip(r + 0.5 - np.hypot(y - cy, x - cx), 0, 1))
    return encode(paint(alpha))


def frame(d, rng):
    canvas, size = (240, 240), 130
    at = centred(size, canvas, rng, 8)
    img = Image.fromarray(np.round(paint(place(pen(d, size), canvas, at))).astype(np.uint8))
    m = int(rng.integers(10, 28))
    ImageDraw.Draw(img).rectangle(
        [at[0] - m, at[1] - m, at[0] + size + m, at[1] + size + m], outline=(40, 40, 40), width=int(rng.integers(2, 5))
    )
    return encode(img)


def marker(d, rng):
    return encode(paint(place(pen(d, 150, width=6), (200, 200), centred(150, (200, 200), rng))))


def fine_pen(d, rng):
    return encode(paint(place(pen(d, 150, width=-3), (200, 200), centred(150, (200, 200), rng))))


def jpeg(quality):
    def draw(d, rng):
        return encode(
            paint(place(pen(d, 150), (200, 200), centred(150, (200, 200), rng)), noise=3, rng=rng), "JPEG", quality
        )

    return draw


def rotated(degrees):
    def draw(d, rng):
        big = Image.fromarray(np.round(255 * place(pen(d, 150), (220, 220), (35, 35))).astype(np.uint8))
        alpha = np.asarray(big.rotate(rng.uniform(-degrees, degrees), Image.Resampling.BICUBIC), np.float32) / 255
        return encode(paint(alpha))

    return draw


def phone_photo(d, rng):
    """All at once: ruled paper, light falling off 25%, a shadow, sensor noise, JPEG."""
    canvas, gap = (320, 240), 34
    alpha = place(pen(d, 130), canvas, centred(130, canvas, rng, 25))
    lines = np.zeros(alpha.shape, np.float32)
    for y in range(int(rng.integers(0, gap)), canvas[1], gap):
        lines[y : y + 2] = 0.6
    rgb = paint(lines, (140, 165, 215)) * (1 - alpha[..., None]) + np.float32(BLACK) * alpha[..., None]
    light = falloff(canvas, 0.25, rng) * shadow(canvas, 0.25, rng)
    return encode(rgb * light[..., None] + rng.normal(0, 4, rgb.shape), "JPEG", 80)


ROBUST_TODAY = {  # the conditions the old preprocessing already handled (issue 14): must not get worse
    "clean scan": (clean_scan, "png"),
    "small, off-centre": (small_off_centre, "png"),
    "low contrast": (low_contrast, "png"),
    "transparent PNG": (transparent, "png"),
    "chalkboard (light on dark), JPEG": (chalkboard, "jpg"),
    "EXIF-rotated phone photo": (exif_rotated, "jpg"),
    "pencil": (pencil, "png"),
    "blur": (blur, "png"),
    "touching the edges": (touching_edges, "png"),
}
CONDITIONS = {
    **ROBUST_TODAY,
    "light falling off 10%": (uneven_light(0.10), "jpg"),
    "light falling off 25%": (uneven_light(0.25), "jpg"),
    "light falling off 40%": (uneven_light(0.40), "jpg"),
    "light falling off 25% + shadow": (uneven_light(0.25, with_shadow=True), "jpg"),
    "ruled paper": (ruled, "jpg"),
    "squared paper": (squared, "jpg"),
    "specks of dust": (specks, "png"),
    "printed frame": (frame, "png"),
    "marker": (marker, "png"),
    "fine pen": (fine_pen, "png"),
    "JPEG quality 20": (jpeg(20), "jpg"),
    "rotated ±10°": (rotated(10), "png"),
    "rotated ±20°": (rotated(20), "png"),
    "phone photo of ruled paper": (phone_photo, "jpg"),
}


# ---------------------------------------------------------------- running


def trained_model():
    x = read_idx(SHARED_MNIST / "train-images-idx3-ubyte.gz")
    y = read_idx(SHARED_MNIST / "train-labels-idx1-ubyte.gz")
    net = mlp([784, 128, 10], activation="relu", output="softmax", init="he", rng=1)
    fit(
        net,
        SGD(net, lr=0.1, momentum=0.9),
        (to_inputs(x), y),
        FitConfig(epochs=5, batch_size=128),
        TrainState(np.random.default_rng(1)),
    )
    return net, "784-128-10 relu softmax, 5 epochs on 60,000, seed 1"


def timings(paths):
    """Median ms to read one file and to preprocess what was read (nn.predict.preprocess), over `paths`."""
    read, prep = [], []
    for p in paths:
        t0 = time.perf_counter()
        grey = read_image(p)
        t1 = time.perf_counter()
        to_mnist(grey, p)
        t2 = time.perf_counter()
        read.append(t1 - t0)
        prep.append(t2 - t1)
    return 1000 * float(np.median(read)), 1000 * float(np.median(prep))


def big_files(digit, folder: Path, repeats=5):
    """Median ms to read and to preprocess a 12-MP phone photo (JPEG) and an A4 scan at 300 dpi (PNG)."""
    rng = np.random.default_rng(7)
    photo = (4032, 3024)
    alpha = place(pen(digit, 1200), photo, centred(1200, photo, rng, 200))
    (folder / "photo.jpg").write_bytes(
        encode(paint(alpha, light=falloff(photo, 0.2, rng), noise=3, rng=rng), "JPEG", 92)
    )
    scan = (2480, 3508)
    (folder / "scan.png").write_bytes(encode(paint(place(pen(digit, 900), scan, (800, 1300)))))
    out = {}
    for name in ("photo.jpg", "scan.png"):
        read, prep = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            grey = read_image(folder / name)
            t1 = time.perf_counter()
            to_mnist(grey, name)
            read.append(t1 - t0)
            prep.append(time.perf_counter() - t1)
        out[name] = {
            "read_ms": round(1000 * float(np.median(read)), 1),
            "preprocess_ms": round(1000 * float(np.median(prep)), 1),
            "read_shape": list(grey.shape),
        }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model .npz; default: train a small one first")
    parser.add_argument("--n", type=int, default=500, help="how many test digits (from the first)")
    parser.add_argument("--only", nargs="*", help="only the conditions whose names contain these words")
    parser.add_argument("--keep", help="write the rendered files into this folder (to look at them)")
    parser.add_argument(
        "--big-files",
        action="store_true",
        help="only time reading vs preprocessing a 12-MP phone photo and an A4 300-dpi scan",
    )
    args = parser.parse_args()
    if args.big_files:
        with tempfile.TemporaryDirectory() as tmp:
            digit = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")[0]
            print(json.dumps(big_files(digit, Path(tmp)), indent=2))
        return
    net, name = (load_model(args.model), args.model) if args.model else trained_model()
    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")[: args.n]
    labels = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")[: args.n]
    baseline = float(np.mean(net.predict_proba(to_inputs(images, net.dtype)).argmax(axis=-1)[0] == labels))
    conditions = {
        f"{k} (tests' form)": ((lambda d, rng, spec=spec: render(d, *spec)), spec[-1].lower())
        for k, spec in VARIANTS.items()
    }
    conditions.update(CONDITIONS)
    if args.only:
        conditions = {k: v for k, v in conditions.items() if any(w in k for w in args.only)}
    report = {"model": name, "n": len(labels), "originals_28x28": baseline, "conditions": {}}
    print(f"model {name}; {len(labels)} test digits per condition; baseline (28×28 originals) {100 * baseline:.1f}%\n")
    print("| condition | accuracy | vs baseline | errors | read ms | preprocess ms |\n|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for i, (condition, (draw, suffix)) in enumerate(conditions.items()):
            folder = root / f"{i:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng(1000 + i)
            paths = [folder / f"{k:05d}.{suffix}" for k in range(len(images))]
            for path, digit in zip(paths, images):
                path.write_bytes(draw(digit, rng))
            results = classify(net, paths)
            predicted = np.array([-1 if r.error else r.predicted for r in results])
            accuracy = float(np.mean(predicted == labels))
            read_ms, prep_ms = timings(paths[:100])
            errors = int(sum(r.error is not None for r in results))
            report["conditions"][condition] = {
                "accuracy": accuracy,
                "errors": errors,
                "read_ms": round(read_ms, 2),
                "preprocess_ms": round(prep_ms, 2),
            }
            print(
                f"| {condition} | {100 * accuracy:.1f}% | {100 * (accuracy - baseline):+.1f} | {errors} "
                f"| {read_ms:.2f} | {prep_ms:.2f} |",
                flush=True,
            )
    print()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
