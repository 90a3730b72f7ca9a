"""Figures that put a published result beside ours: per-epoch curves over every seed, and the
accuracy every recipe tried for `best` bought against its training seconds."""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.ticker import MaxNLocator

from nn.report.figures import _empty, _figure, _save

LABELS = {
    "test_accuracy": "test accuracy",
    "val_accuracy": "validation accuracy",
    "train_accuracy": "training accuracy",
    "train_loss": "training cost",
    "val_loss": "validation cost",
    "test_loss": "test cost",
}


def published_overlay(path, run, histories, curves, source):
    """One panel per published curve: each seed's history (thin), their mean (thick), the
    published points (black). histories: [history dict per seed, None if failed];
    curves: {history key: {"epochs": [...], "values": [...]}}."""
    histories = [h for h in histories if h and h.get("epoch")]
    title = f"{run}: published ({source}) over ours"
    if not histories:
        return _empty(path, title, "no seed finished: nothing to overlay")
    fig = _figure(5.5 * len(curves), 4)
    fig.suptitle(textwrap.fill(title, 28 * len(curves) + 20), fontsize=10)
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, (key, curve) in zip(axes, curves.items()):
        accuracy = key.endswith("accuracy")
        scale = 100 if accuracy else 1
        ours = [np.asarray(h.get(key) or [np.nan] * len(h["epoch"]), np.float64) * scale for h in histories]
        for i, (h, y) in enumerate(zip(histories, ours)):
            # markers too: a one-epoch run is a single point, which a bare line would not show
            ax.plot(
                h["epoch"], y, ".-", color="C0", alpha=0.35, lw=1, ms=4, label="ours, each seed" if i == 0 else None
            )
        longest = max(histories, key=lambda h: len(h["epoch"]))["epoch"]
        stacked = np.full((len(ours), len(longest)), np.nan)
        for i, y in enumerate(ours):
            stacked[i, : len(y)] = y
        if len(ours) > 1 and np.isfinite(stacked).any():
            ax.plot(
                longest, np.nanmean(stacked, axis=0), "o-", color="C0", lw=2, ms=3, label=f"ours, mean of {len(ours)}"
            )
        ax.plot(
            curve["epochs"],
            np.asarray(curve["values"], np.float64) * scale,
            "o-",
            color="black",
            ms=4,
            lw=1,
            label="published",
        )
        ax.set(xlabel="epoch (round)", ylabel=LABELS.get(key, key) + (" (%)" if accuracy else ""))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)


def recipe_frontier(path, records, frontier, target=None, budget_seconds=None, chosen=()):
    """Best validation accuracy against training seconds, one point per recipe tried
    (nn.report.recipes records); the frontier joined by a line; hollow markers for recipes timed on a
    loaded machine (their seconds overstate); stars for `chosen` (best's recipe, each seed); the
    target accuracy and the time budget as lines."""
    title = "Recipes tried for best: validation accuracy against training seconds"
    if not records:
        return _empty(path, title, "no recipe recorded in benchmarks/recipes.jsonl")
    fig = _figure(8, 5)
    fig.suptitle(title, fontsize=10)
    ax = fig.subplots()
    for loaded, marker in ((False, "o"), (True, "s")):
        group = [r for r in records if r["loaded"] == loaded]
        if group:
            ax.scatter(
                [r["train_seconds"] for r in group],
                [100 * r["best_val_accuracy"] for r in group],
                marker=marker,
                s=28,
                facecolors="none" if loaded else "C0",
                edgecolors="C0",
                label="timed on a loaded machine" if loaded else "timed alone",
            )
    ax.plot(
        [r["train_seconds"] for r in frontier],
        [100 * r["best_val_accuracy"] for r in frontier],
        "-",
        color="C1",
        lw=1.2,
        label="frontier",
    )
    for r in frontier:
        ax.annotate(
            r["name"],
            (r["train_seconds"], 100 * r["best_val_accuracy"]),
            fontsize=7,
            xytext=(4, -9),
            textcoords="offset points",
        )
    if chosen:
        ax.scatter(
            [r["train_seconds"] for r in chosen],
            [100 * r["best_val_accuracy"] for r in chosen],
            marker="*",
            s=160,
            color="C3",
            zorder=3,
            label=f"best's recipe ({len(chosen)} seeds)",
        )
    if target is not None:
        ax.axhline(100 * target, color="gray", ls="--", lw=1, label=f"target {100 * target:.2f} %")
    if budget_seconds is not None:
        ax.axvline(budget_seconds, color="gray", ls=":", lw=1, label=f"{budget_seconds:.0f} s per seed")
    ax.set_xscale("log")
    ax.set(xlabel="training seconds (one seed)", ylabel="best validation accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path)
