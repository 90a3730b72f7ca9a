"""Every figure (nn.report.figures, nn.report.published): a valid PNG, the same bytes when drawn twice,
and no leftovers beside it."""

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection

from nn.report import figures as plots
from nn.report import recipes
from nn.report.published import recipe_frontier

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
LABELS = (np.arange(30) % 10).astype(np.uint8)
PROBS = rng.dirichlet(np.ones(10), size=30).astype(np.float32)
LOSSES = -np.log(PROBS[np.arange(30), LABELS])
HISTORY = {
    "epoch": [1, 2, 3],
    "lr": [0.1, 0.1, 0.1],
    "train_loss": [0.9, 0.5, 0.3],
    "train_accuracy": [0.7, 0.85, 0.9],
    "val_loss": [0.8, 0.6, 0.55],
    "val_accuracy": [0.75, 0.82, 0.86],
    "stopped_early": False,
    "best_epoch": 3,
}
NO_VAL = dict(HISTORY, val_loss=None, val_accuracy=None, best_epoch=3)
CM = np.bincount(LABELS.astype(np.int64) * 10 + PROBS.argmax(axis=1), minlength=100).reshape(10, 10)
WIDTH_POINTS = [({"hidden": [w]}, 0.9 + 0.01 * i) for i, w in enumerate([16, 32, 64, 128])]
GRID_POINTS = [({"hidden": [w], "lr": lr}, 0.9 + 0.0005 * w * lr) for w in (16, 64) for lr in (0.01, 0.1, 1.0)]
RECIPES = [
    recipes.check(
        {
            "name": n,
            "recipe": {},
            "epochs": e,
            "best_val_accuracy": a,
            "last_val_accuracy": a,
            "train_seconds": t,
            "threads": 1,
            "loaded": loaded,
        },
        "test",
    )
    for n, e, a, t, loaded in [
        ("a", 10, 0.985, 100, True),
        ("b", 20, 0.991, 240, True),
        ("c", 10, 0.98, 300, False),
        ("best", 50, 0.993, 280, False),
    ]
]
LEDGER = [
    {
        "run": "a",
        "verdict": "reproduced",
        "published": 0.95,
        "interval": (0.94, 0.96),
        "measured": [0.945, 0.95, 0.955],
        "excluded": [],
    },
    {
        "run": "stalls",
        "verdict": "within spread",
        "published": 0.10,
        "interval": (0.05, 0.15),
        "measured": [0.08, 0.12, 0.02],
        "excluded": [2],
    },
    {"run": "failed", "verdict": "not measured", "published": 0.9, "interval": None, "measured": [], "excluded": []},
]

FIGURES = {
    "first_ten": lambda p: plots.labelled_digits(p, IMAGES[:10], LABELS[:10]),
    "flat_images": lambda p: plots.labelled_digits(p, IMAGES[:3].reshape(3, 784), LABELS[:3]),
    "predictions": lambda p: plots.prediction_gallery(p, IMAGES[:16], LABELS[:16], PROBS[:16].argmax(1)),
    "worst_errors": lambda p: plots.error_gallery(
        p, IMAGES[:5], LABELS[:5], PROBS[:5], LOSSES[:5], "Most confident mistakes"
    ),
    "no_errors": lambda p: plots.error_gallery(p, IMAGES[:0], LABELS[:0], PROBS[:0], LOSSES[:0], "Near misses"),
    "class_means": lambda p: plots.class_means(p, IMAGES, LABELS),
    "class_means_missing_class": lambda p: plots.class_means(p, IMAGES[:5], LABELS[:5]),
    "label_histogram": lambda p: plots.label_histogram(p, LABELS, LABELS[:17]),
    "confusion": lambda p: plots.confusion_heatmap(p, CM, "Confusion matrix: run <a>"),
    "curves": lambda p: plots.training_curves(p, HISTORY, "run a"),
    "curves_no_validation": lambda p: plots.training_curves(p, NO_VAL),
    "first_output": lambda p: plots.output_vector(p, PROBS[0], LABELS[0], IMAGES[0]),
    "first_output_no_image": lambda p: plots.output_vector(p, PROBS[1], LABELS[1]),
    "val_curves": lambda p: plots.val_accuracy_overlay(
        p, {f"run{i}": HISTORY for i in range(12)} | {"noval": NO_VAL, "failed": None}
    ),
    "sweep_width": lambda p: plots.sweep_plot(p, "width", ["hidden"], WIDTH_POINTS + [({"hidden": [8]}, None)]),
    "sweep_grid": lambda p: plots.sweep_plot(p, "grid", ["hidden", "lr"], GRID_POINTS),
    "sweep_categorical": lambda p: plots.sweep_plot(
        p,
        "act",
        ["activation"],
        [({"activation": a}, 0.9) for a in ("relu", "tanh", "sigmoid")] + [({"activation": "deep"}, 0.91)],
    ),
    "sweep_layers": lambda p: plots.sweep_plot(
        p, "depth", ["hidden"], [({"hidden": [64]}, 0.95), ({"hidden": [64, 64]}, 0.96)]
    ),
    "sweep_all_failed": lambda p: plots.sweep_plot(p, "bad", ["lr"], [({"lr": 1.0}, None)]),
    "comparison": lambda p: plots.reference_comparison(p, LEDGER),
    "comparison_none": lambda p: plots.reference_comparison(p, []),
    "recipes": lambda p: recipe_frontier(p, RECIPES, recipes.frontier(RECIPES), 0.9935, 300, RECIPES[-1:]),
    "recipes_alone_no_lines": lambda p: recipe_frontier(p, RECIPES[-1:], RECIPES[-1:]),
    "recipes_none": lambda p: recipe_frontier(p, [], []),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_is_a_png_and_reproducible(tmp_path, name):
    first, second = tmp_path / "a" / f"{name}.png", tmp_path / "b" / f"{name}.png"
    FIGURES[name](first)
    FIGURES[name](second)
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert second.read_bytes() == data
    assert sorted(p.name for p in first.parent.iterdir()) == [f"{name}.png"]  # no temp file left


def test_different_data_gives_a_different_figure(tmp_path):
    # guards the test above: a plot that ignored its data would also be "reproducible"
    plots.confusion_heatmap(tmp_path / "a.png", CM)
    plots.confusion_heatmap(tmp_path / "b.png", CM.T)
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()


def test_png_has_no_software_stamp(tmp_path):
    plots.label_histogram(tmp_path / "h.png", LABELS, LABELS)
    assert b"Software" not in (tmp_path / "h.png").read_bytes()


def test_sweep_axis_unwraps_widths_and_uses_log2():
    xs, base = plots._axis("hidden", [[16], [32], [128]])
    assert xs == [16.0, 32.0, 128.0] and base == 2
    xs, base = plots._axis("hidden", [[64], [64, 64], [64]])
    assert xs == [0.0, 1.0, 0.0] and base is None
    assert plots._axis("momentum", [0.0, 0.9]) == ([0.0, 0.9], None)


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    def boom(fig, fname, **kwargs):
        with open(fname, "wb") as f:  # a writer dying mid-file
            f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(plots.Figure, "savefig", boom)
    with pytest.raises(OSError):
        plots.label_histogram(tmp_path / "h.png", LABELS, LABELS)
    assert list(tmp_path.iterdir()) == []


def test_the_ledger_figure_draws_each_rows_interval_seeds_and_published_mark_on_its_own_scale(tmp_path, monkeypatch):
    drawn, save = [], plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: (drawn.append(fig), save(fig, path)))
    plots.reference_comparison(tmp_path / "c.png", LEDGER)
    assert (tmp_path / "c.png").read_bytes().startswith(PNG_SIGNATURE)
    (fig,) = drawn
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["a\nreproduced", "stalls\nwithin spread", "failed\nnot measured"]
    assert axes[0].get_position().y0 > axes[1].get_position().y0 > axes[2].get_position().y0  # first on top
    for ax, row in zip(axes, LEDGER):
        bars = [c for c in ax.collections if isinstance(c, LineCollection)]
        if row["interval"]:
            (segment,) = bars[0].get_segments()
            assert segment[:, 0].tolist() == pytest.approx([100 * x for x in row["interval"]])
        else:
            assert bars == []
        dots = {"solid": [], "hollow": []}
        for c in ax.collections:
            if isinstance(c, PathCollection):
                dots["hollow" if len(c.get_facecolors()) == 0 else "solid"] += list(c.get_offsets()[:, 0])
        assert sorted(dots["solid"]) == pytest.approx(
            sorted(100 * v for i, v in enumerate(row["measured"]) if i not in row["excluded"])
        )
        assert dots["hollow"] == pytest.approx([100 * row["measured"][i] for i in row["excluded"]])
        (published,) = [line for line in ax.lines if line.get_marker() == "D"]
        assert list(published.get_xdata()) == pytest.approx([100 * row["published"]])
        low, high = ax.get_xlim()
        marks = [100 * row["published"], *(100 * v for v in row["measured"]), *(100 * x for x in row["interval"] or ())]
        assert low < min(marks) and max(marks) < high
    assert axes[0].get_xlim()[1] - axes[0].get_xlim()[0] < 5  # 94-96 % is not drawn on the 2-15 % row's scale


def test_the_ledger_figure_draws_an_interval_within_0_and_100_percent():
    marks = plots.comparison_marks(
        {
            "run": "few seeds",
            "verdict": "comparison",
            "published": 0.9,
            "interval": (-0.4, 1.6),
            "measured": [0.5, 0.9],
            "excluded": [],
        }
    )
    assert marks["interval"] == (0.0, 100.0) and marks["points"] == [50.0, 90.0] and marks["hollow"] == [False, False]
