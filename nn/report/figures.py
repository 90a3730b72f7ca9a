"""Every figure of the project, each a function that writes one PNG.

Figures are built on matplotlib's object API (Figure, not pyplot), so no global
figure list grows across calls, and saved through nn.fileio.atomic_path with a fixed
dpi and no "Software" stamp, so the same data always gives the same PNG bytes.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, NullLocator

from nn.fileio import atomic_path

matplotlib.use("Agg")  # no display on a cluster node or in CI, whoever imports pyplot later

DPI = 100
RIGHT, WRONG = "tab:green", "tab:red"
LOG_BASE = {"hidden": 2, "batch_size": 2, "lr": 10, "weight_decay": 10}  # keys swept geometrically


def _figure(width, height):
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, metadata={"Software": None})


def _empty(path, title, message):
    fig = _figure(5, 2)
    fig.suptitle(title)
    fig.text(0.5, 0.5, message, ha="center", va="center")
    _save(fig, path)


# ---------------------------------------------------------------- digit galleries


def digit_gallery(path, images, titles, title, wrong=None, ncols=8):
    """A grid of digits, each with its own caption; captions of `wrong` ones in red."""
    images = np.asarray(images).reshape(len(titles), 28, 28)  # (n, 28, 28), also from (n, 784)
    n = len(titles)
    if n == 0:
        return _empty(path, title, "no images to show")
    wrong = np.zeros(n, bool) if wrong is None else np.asarray(wrong, bool)
    ncols = min(n, ncols)
    nrows = math.ceil(n / ncols)
    fig = _figure(1.25 * ncols, 1.45 * nrows + 0.4)
    fig.suptitle(title)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
            ax.set_title(titles[i], fontsize=8, color=WRONG if wrong[i] else "black")
    _save(fig, path)


def labelled_digits(path, images, labels, title="First training images and their labels"):
    digit_gallery(path, images, [f"label {int(y)}" for y in labels], title, ncols=10)


def prediction_gallery(path, images, labels, predicted, title="Test predictions (wrong in red)"):
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    titles = [f"pred {int(p)} / true {int(y)}" for y, p in zip(labels, predicted)]
    digit_gallery(path, images, titles, title, wrong=labels != predicted)


def error_gallery(path, images, labels, probs, losses, title):
    """Misclassified digits captioned with true → predicted, the loss and p(predicted)."""
    probs = np.asarray(probs)  # (n, 10) output vectors of these images
    predicted = probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
    titles = [
        f"{int(y)} → {int(p)}  p={probs[i, p]:.2f}\nloss {float(losses[i]):.3g}"
        for i, (y, p) in enumerate(zip(labels, predicted))
    ]
    digit_gallery(path, images, titles, title, wrong=np.ones(len(titles), bool))


def class_means(path, images, labels, n_classes=10):
    """The average image of each class: what the network has to tell apart."""
    images, labels = np.asarray(images), np.asarray(labels)  # (n, 28, 28) uint8, (n,)
    fig = _figure(1.25 * n_classes, 1.7)
    fig.suptitle("Mean training image of each class")
    for c, ax in enumerate(fig.subplots(1, n_classes)):
        ax.set_axis_off()
        members = images[labels == c]
        ax.set_title(f"{c} (n={len(members)})", fontsize=8)
        if len(members):
            # accumulate in float64 per class: no float copy of all 60,000 images at once
            ax.imshow(members.mean(axis=0, dtype=np.float64), cmap="gray_r", interpolation="nearest")
    _save(fig, path)


def label_histogram(path, train_labels, test_labels, n_classes=10):
    """Share of each class in train and test: are the sets balanced alike?"""
    fig = _figure(7, 3.5)
    ax = fig.subplots()
    classes = np.arange(n_classes)
    top = 0.0
    for offset, (name, y) in zip((-0.2, 0.2), (("train", train_labels), ("test", test_labels))):
        counts = np.bincount(np.asarray(y, np.int64), minlength=n_classes)[:n_classes]
        share = 100 * counts / max(counts.sum(), 1)
        ax.bar(classes + offset, share, width=0.4, label=f"{name} (n={counts.sum()})")
        top = max(top, share.max())
    ax.set_xticks(classes)
    ax.set(
        xlabel="digit", ylabel="share of the set (%)", title="Label distribution, train vs test", ylim=(0, 1.3 * top)
    )  # headroom so the legend covers no bar
    ax.legend(loc="upper right", ncols=2)
    _save(fig, path)


# ---------------------------------------------------------------- one run


def confusion_heatmap(path, confusion, title="Confusion matrix"):
    """Counts in each cell; colour is the share of the true class, so errors show up."""
    cm = np.asarray(confusion, np.int64)  # (C, C) rows true
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = _figure(6.5, 5.5)
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (t, p), count in np.ndenumerate(cm):
        ax.text(p, t, str(count), ha="center", va="center", fontsize=7, color="white" if share[t, p] > 0.5 else "black")
    ticks = np.arange(cm.shape[0])
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(im, ax=ax, label="share of the true class")
    _save(fig, path)


def training_curves(path, history, title="Training curves"):
    """Loss and accuracy per epoch, train against validation (when a set was held out) and test (monitor_test)."""
    epochs = history["epoch"]
    fig = _figure(10, 4)
    fig.suptitle(title)
    for ax, what in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        ax.plot(epochs, history[f"train_{what}"], marker=".", label="train")
        val = history.get(f"val_{what}")
        if val is not None and any(v is not None for v in val):
            ax.plot(epochs, [np.nan if v is None else v for v in val], marker=".", label="validation")
            if history.get("best_epoch"):
                ax.axvline(history["best_epoch"], color="gray", linestyle=":", label="best epoch")
        if history.get(f"test_{what}"):  # monitor_test: measured after each epoch, chose nothing
            ax.plot(epochs, history[f"test_{what}"], marker=".", label="test (monitored)")
        ax.set(xlabel="epoch", ylabel=what, title=what)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def output_vector(path, output, label, image=None, title="Output vector of the first test image"):
    """The network's 10 outputs for one image, the predicted class highlighted."""
    output = np.asarray(output, np.float64)  # (10,)
    predicted = int(output.argmax())
    fig = _figure(8 if image is not None else 6, 3.5)
    fig.suptitle(f"{title}: true {int(label)}, predicted {predicted} (confidence {output[predicted]:.3f})")
    axes = fig.subplots(1, 2, width_ratios=[1, 3]) if image is not None else [None, fig.subplots()]
    if image is not None:
        axes[0].imshow(np.asarray(image).reshape(28, 28), cmap="gray_r", interpolation="nearest")
        axes[0].set_axis_off()
    colors = ["lightgray"] * len(output)
    colors[predicted] = RIGHT if predicted == int(label) else WRONG
    ax = axes[1]
    ax.bar(np.arange(len(output)), output, color=colors)
    ax.set_xticks(np.arange(len(output)))
    ax.set(xlabel="class", ylabel="output", ylim=(0, max(1.0, output.max() * 1.05)))
    _save(fig, path)


# ---------------------------------------------------------------- all runs


def _styles(i):
    # 10 colours x 4 line styles: 40 runs stay distinguishable
    return {"color": f"C{i % 10}", "linestyle": ("-", "--", ":", "-.")[(i // 10) % 4]}


def val_accuracy_overlay(path, histories):
    """Validation accuracy per epoch of every run (name → history) on one axis."""
    fig = _figure(9, 5)
    ax = fig.subplots()
    without = []
    for i, (name, h) in enumerate(histories.items()):
        val = (h or {}).get("val_accuracy")
        if not val or all(v is None for v in val):
            without.append(name)
            continue
        ax.plot(h["epoch"], [np.nan if v is None else v for v in val], label=name, **_styles(i))
    ax.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy of all runs")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if without:
        ax.text(
            0.01,
            0.01,
            "no validation set: " + ", ".join(without),
            transform=ax.transAxes,
            fontsize=7,
            va="bottom",
            wrap=True,
        )
    _save(fig, path)


def _unwrap(v):
    return v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _axis(key, values):
    """Map swept values to x positions: numbers as they are, anything else by first appearance."""
    plain = [_unwrap(v) for v in values]
    if all(_is_number(v) for v in plain):
        base = LOG_BASE.get(key) if all(v > 0 for v in plain) else None
        return [float(v) for v in plain], base
    order = list(dict.fromkeys(_label(v) for v in values))
    return [float(order.index(_label(v))) for v in values], None


def _label(v):
    v = _unwrap(v)
    return "x".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)  # [64, 64] -> 64x64


def sweep_plot(path, name, keys, points):
    """Test accuracy against the swept value; with two keys, one line per value of the second.

    points: [(values {key: value}, accuracy or None for a failed run), ...]
    """
    done = [(v, acc) for v, acc in points if acc is not None]
    title = f"Sweep {name}: test accuracy vs {' and '.join(keys)}"
    if not done:
        return _empty(path, title, "no finished runs in this sweep")
    xs, base = _axis(keys[0], [v[keys[0]] for v, _ in done])
    groups = {}  # second key's label -> [(x, x label, accuracy)], in order of appearance
    for x, (v, acc) in zip(xs, done):
        group = _label(v[keys[1]]) if len(keys) > 1 else None
        groups.setdefault(group, []).append((x, _label(v[keys[0]]), acc))
    fig = _figure(7, 4.5)
    ax = fig.subplots()
    for i, (group, pts) in enumerate(groups.items()):
        pts.sort()
        ax.plot(
            [p[0] for p in pts],
            [100 * p[2] for p in pts],
            marker="o",
            **_styles(i),
            label=None if group is None else f"{keys[1]} = {group}",
        )
    if base:
        ax.set_xscale("log", base=base)
    ticks = dict(sorted((x, lab) for x, lab, _ in (p for pts in groups.values() for p in pts)))
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set(xlabel=keys[0] + (f" (log{base} scale)" if base else ""), ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    if len(keys) > 1:
        ax.legend()
    _save(fig, path)


def comparison_marks(row) -> dict:
    """What reference_comparison draws for one ledger row, in percent: {"label": run and verdict word,
    "interval": (low, high) or None, "points": our seeds' figures, "hollow": per point, True for a
    seed left out of the verdict, "published", "xlim": the row's own x range, all marks inside}.
    The interval is drawn within [0, 100] %: a prediction interval from few seeds can reach past it."""
    points = [100 * v for v in row["measured"]]
    excluded = set(row.get("excluded") or ())
    interval = None if row.get("interval") is None else tuple(min(max(100 * x, 0.0), 100.0) for x in row["interval"])
    published = 100 * row["published"]
    xs = [published, *points, *(interval or ())]
    pad = max(0.08 * (max(xs) - min(xs)), 0.25)  # a row with every mark on one value still has a scale
    return {
        "label": f"{row['run']}\n{row['verdict']}",
        "interval": interval,
        "points": points,
        "hollow": [i in excluded for i in range(len(points))],
        "published": published,
        "xlim": (min(xs) - pad, max(xs) + pad),
    }


def reference_comparison(path, rows):
    """Each ledger row in a panel of its own, first on top, on its own x scale (the figures run from
    10 % to 99 %): our interval (the one its verdict was judged on) as a bar, our seeds as dots
    (hollow: stalled, left out of the verdict), the published figure as a red diamond.

    rows: [{"run", "verdict": its word, "published": fraction, "interval": (low, high) or None,
    "measured": [fraction per seed], "excluded": [indices into measured]}, ...]
    """
    title = "Published figures against our seeds and intervals"
    if not rows:
        return _empty(path, title, "no run names a published figure")
    fig = _figure(9, 0.9 + 0.72 * len(rows))
    fig.suptitle(title)
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, m in zip(axes, map(comparison_marks, rows)):
        if m["interval"]:
            ax.hlines(0, *m["interval"], linewidth=8, color="C0", alpha=0.3)
        ys = np.linspace(-0.22, 0.22, len(m["points"])) if len(m["points"]) > 1 else np.zeros(len(m["points"]))
        hollow = np.array(m["hollow"], bool)
        x = np.array(m["points"])
        ax.scatter(x[~hollow], ys[~hollow], s=16, color="C0", zorder=3)
        ax.scatter(x[hollow], ys[hollow], s=16, facecolors="none", edgecolors="C0", zorder=3)
        ax.plot([m["published"]], [0], linestyle="none", marker="D", markersize=8, color=WRONG, zorder=4)
        if not m["points"]:
            ax.text(0.01, 0.5, "no finished seed", transform=ax.transAxes, va="center", fontsize=7)
        ax.set(xlim=m["xlim"], ylim=(-0.5, 0.5), yticks=[])
        ax.set_ylabel(m["label"], rotation=0, ha="right", va="center", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel("accuracy (%), each row on its own scale")
    fig.legend(
        [
            Line2D([], [], color="C0", alpha=0.3, linewidth=8),
            Line2D([], [], ls="none", marker="o", color="C0"),
            Line2D([], [], ls="none", marker="o", mfc="none", mec="C0"),
            Line2D([], [], ls="none", marker="D", color=WRONG),
        ],
        ["our interval", "our seeds", "stalled, left out of the verdict", "published"],
        loc="outside lower center",
        ncols=4,
        fontsize=8,
        frameon=False,
    )
    _save(fig, path)


# ---------------------------------------------------------------- your own digits (nn.predict.cli)


def contact_sheet(path, thumbs, digits, captions, failed, title, ncols=4):
    """Each image beside the 28×28 digit the model saw, under its caption (failures in red).

    thumbs: small grey originals (h, w) in [0, 1], or None when unreadable; digits: (28, 28) or None.
    """
    n = len(captions)
    if n == 0:
        return _empty(path, title, "no images to classify")
    ncols = min(n, ncols)
    nrows = math.ceil(n / ncols)
    fig = _figure(2.6 * ncols, 1.75 * nrows + 0.4)
    fig.suptitle(title)
    axes = fig.subplots(nrows, 2 * ncols, squeeze=False)  # (rows, original|digit pairs)
    for ax in axes.flat[2 * n :]:
        ax.set_axis_off()
    missing = np.full((28, 28), 0.85)  # a grey box holds a failed image's place
    for i in range(n):
        left, right = axes[i // ncols, 2 * (i % ncols)], axes[i // ncols, 2 * (i % ncols) + 1]
        left.set_title(captions[i], fontsize=7, loc="left", color=WRONG if failed[i] else "black")
        left.imshow(
            missing if thumbs[i] is None else thumbs[i], cmap="gray", vmin=0, vmax=1, interpolation="antialiased"
        )
        right.imshow(
            missing * 255 if digits[i] is None else digits[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest"
        )
        for ax in (left, right):  # a frame: white paper shows on white
            ax.set_xticks([])
            ax.set_yticks([])
    _save(fig, path)


def run_failed(path, title, reason):
    """The stand-in for any figure of a run that produced no model: it says so, and why."""
    _empty(path, title, textwrap.fill(f"This run failed: {reason}", 70))
