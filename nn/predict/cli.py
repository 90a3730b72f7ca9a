"""Classify your own digit images with a trained model:  python -m nn.predict MODEL IMAGE...

Each image is made into a 28×28 MNIST-style digit (nn.predict.preprocess), scaled as the training
images were (nn.mnist.data.to_inputs), and the good ones go through the model in one batch. A bad
image (unreadable, blank, too big) gets its own error and the rest are still classified; a
bad model file stops everything. "confidence" is the model's output for the predicted class:
a softmax probability, or a sigmoid activation for the sigmoid-output networks.

Exit status: 0 when every image was classified, 1 when any was not or the model is unusable.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import textwrap
from dataclasses import dataclass

import numpy as np

from nn.mnist.data import IMAGE_SHAPE, NUM_CLASSES, to_inputs
from nn.serialize import ModelFileError, load
from nn.predict.preprocess import MAX_PIXELS, ImageError, load_digit, thumbnail

TOP = 3
WAIT = 10.0  # seconds for an image from a pipe to arrive: a local `<(cat x.png)` takes milliseconds
CSV_COLUMNS = ["file", "predicted", "confidence", "second", "second_confidence", "third", "third_confidence", "error"]


@dataclass
class Result:
    """One image's outcome: its output vector, or why there is none."""

    file: str
    digit: np.ndarray | None = None  # (28, 28) uint8, as the model saw it
    thumb: np.ndarray | None = None  # small grey copy of the original, for contact sheets
    output: np.ndarray | None = None  # (10,) the model's output vector
    error: str | None = None  # the reason, without the file name

    @property
    def top(self) -> list[tuple[int, float]]:
        """[(class, output), ...] for the TOP highest outputs, best first (ties: lower class)."""
        order = np.argsort(-self.output, kind="stable")[:TOP]
        return [(int(k), float(self.output[k])) for k in order]

    @property
    def predicted(self) -> int | None:
        return None if self.output is None else self.top[0][0]

    @property
    def confidence(self) -> float | None:
        return None if self.output is None else self.top[0][1]


def load_model(path):
    """nn.serialize.load, plus the check that the model takes 28×28 digits and scores 10 classes."""
    net = load(path)
    n_in = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if (net.n_in, net.n_out) != (n_in, NUM_CLASSES):
        raise ModelFileError(
            f"{path}: the model maps {net.n_in} inputs to {net.n_out} outputs; "
            f"a digit classifier maps {n_in} to {NUM_CLASSES}"
        )
    return net


def classify(
    net, paths, max_pixels: int = MAX_PIXELS, thumb_size: int = 96, wait: float | None = None, scaling: str = "unit"
) -> list[Result]:
    """Preprocess every image, then run the good ones through `net` in one batch; order kept.
    `wait`: None refuses a FIFO or pipe among `paths`; seconds to wait for each one's data otherwise.
    `scaling`: how the model's training inputs were scaled (nn.mnist.data.INPUT_SCALINGS)."""
    results = []
    for path in paths:
        try:
            grey, digit = load_digit(path, max_pixels, wait)
            results.append(Result(str(path), digit=digit, thumb=thumbnail(grey, thumb_size)))
        except ImageError as e:
            results.append(Result(str(path), error=str(e).removeprefix(f"{path}: ")))
    good = [r for r in results if r.error is None]
    if good:
        x = to_inputs(np.stack([r.digit for r in good]), dtype=net.dtype, scaling=scaling)  # (n, 784)
        for r, output in zip(good, net.predict_proba(x)[0]):  # one network: (n, 10)
            r.output = output
    return results


# ---------------------------------------------------------------- output formats


def result_line(r: Result, name=None) -> str:
    """One human line: 'a.png: 7 (confidence 0.981; top 3: 7 0.981, 1 0.012, 9 0.004)'."""
    name = r.file if name is None else name
    if r.error is not None:
        return f"{name}: error: {r.error}"
    tops = ", ".join(f"{k} {p:.3f}" for k, p in r.top)
    return f"{name}: {r.predicted} (confidence {r.confidence:.3f}; top {TOP}: {tops})"


def as_dict(r: Result) -> dict:
    if r.error is not None:
        return {"file": r.file, "error": r.error}
    return {
        "file": r.file,
        "predicted": r.predicted,
        "confidence": r.confidence,
        "top": [{"class": k, "output": p} for k, p in r.top],
    }


def to_csv(results, names=None) -> str:
    """CSV text, one row per image in order; `names` replaces the file column (e.g. bare names)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r, name in zip(results, names or [r.file for r in results]):
        tops = [] if r.error is not None else [v for k, p in r.top for v in (k, f"{p:.6f}")]
        w.writerow([name, *(tops or [""] * 2 * TOP), r.error or ""])
    return buf.getvalue()


SHEET_MAX = 120  # images on a contact sheet; more make it unreadable (the CSV has them all)
SHEET_SUFFIXES = (".png", ".pdf", ".svg")


def write_sheet(path, results, names, title) -> None:
    """The contact sheet: each image (its first SHEET_MAX) beside the 28×28 digit the model saw.

    A misread digit that looks wrong on the right was lost in preprocessing; one that looks
    right there was misread by the network.
    """
    from nn.report import figures as plots  # matplotlib: loaded only when a sheet is asked for

    shown = list(zip(results, names))[:SHEET_MAX]
    if len(results) > len(shown):
        title += f" (the first {len(shown)} of {len(results)} images)"
    plots.contact_sheet(
        path,
        [r.thumb for r, _ in shown],
        [r.digit for r, _ in shown],
        [caption(r, n) for r, n in shown],
        [r.error is not None for r, _ in shown],
        title,
    )


def caption(r: Result, name: str) -> str:
    """Two short lines for a contact sheet: the name, then the digit and confidence or the error."""
    if r.error is not None:
        return f"{textwrap.shorten(name, 28)}\n{textwrap.shorten(r.error, 32, placeholder=' …')}"
    return f"{textwrap.shorten(name, 28)}\n{r.predicted}  ({r.confidence:.2f})"


# ---------------------------------------------------------------- command line


def seconds(text: str) -> float:
    """--wait's value: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="nn-predict",
        description=__doc__.split("\n\n")[0],
        epilog="Exit status 0 when every image was classified, 1 otherwise.",
    )
    parser.add_argument("model", help="a model .npz written by training (results/runs/RUN/model.npz)")
    parser.add_argument("images", nargs="+", help="PNG or JPEG files, any size, colour or grey, either polarity")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of text lines")
    parser.add_argument(
        "--wait",
        type=seconds,
        default=WAIT,
        metavar="SECONDS",
        help="how long an image from a pipe (<(cmd), a FIFO, /dev/stdin) may take to arrive whole "
        f"(default {WAIT:g}); one that has not is refused",
    )
    parser.add_argument(
        "--explain",
        metavar="SHEET.png",
        help="also write a contact sheet: each image beside the 28×28 digit the model saw "
        f"(.png, .pdf or .svg; the first {SHEET_MAX} images)",
    )
    args = parser.parse_args(argv)
    if args.explain and not args.explain.lower().endswith(SHEET_SUFFIXES):
        parser.error(f"--explain: {args.explain}: the sheet's name must end in {', '.join(SHEET_SUFFIXES)}")
    try:
        net = load_model(args.model)
    except ModelFileError as e:
        print(f"nn-predict: {e}", file=sys.stderr)
        return 1
    results = classify(net, args.images, wait=args.wait)
    if args.json:
        print(json.dumps([as_dict(r) for r in results], indent=2))
    else:
        for r in results:
            print(result_line(r), file=sys.stderr if r.error else sys.stdout)
    if args.explain:
        try:
            write_sheet(
                args.explain,
                results,
                [os.path.basename(p) for p in args.images],
                f"{os.path.basename(args.model)}: each image beside the digit it saw",
            )
        except OSError as e:
            print(f"nn-predict: {args.explain}: cannot write the sheet ({e.strerror or e})", file=sys.stderr)
            return 1
    return int(any(r.error for r in results))


if __name__ == "__main__":
    sys.exit(main())
