"""How good is a classifier: accuracy, the confusion matrix, per-class scores.

Everything here takes plain arrays (true labels, predicted labels, the network's
output vectors, per-image losses) and returns plain Python numbers, so that
`summarize` can go straight into canonical JSON (metrics.json) and give the same
bytes for the same inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from typing import SupportsFloat

    import numpy.typing as npt


class MetricsError(ValueError):
    """Inputs to a metric have the wrong shape, type or range."""


def _labels(y, name, n_classes):
    # labels arrive as uint8 from the .npy files and int64 from argmax: accept any integer dtype
    y = np.asarray(y)
    if y.ndim != 1:
        raise MetricsError(f"{name}: expected a 1-D array of class indices, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise MetricsError(f"{name}: expected integer class indices, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise MetricsError(f"{name}: class indices must lie in [0, {n_classes}), got range [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def _pair(y_true, y_pred, n_classes):
    y_true = _labels(y_true, "y_true", n_classes)
    y_pred = _labels(y_pred, "y_pred", n_classes)
    if y_true.shape != y_pred.shape:
        raise MetricsError(f"y_true and y_pred differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}")
    return y_true, y_pred


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, n_classes: int = 10) -> float:
    """Fraction of images whose predicted class is the true one (0.0 for no images)."""
    y_true, y_pred = _pair(y_true, y_pred, n_classes)
    return float(np.mean(y_true == y_pred)) if y_true.size else 0.0


def confusion_matrix(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, n_classes: int = 10) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; row = true class, column = predicted class."""
    y_true, y_pred = _pair(y_true, y_pred, n_classes)
    # each (true, pred) pair is one cell of the flattened matrix: one bincount counts them all
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def _safe_div(num, den):
    # a class never predicted (or never present) scores 0.0, not nan, and without a warning
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def confusion_csv(confusion: npt.ArrayLike) -> str:
    """The confusion matrix as CSV text: a header of predicted classes, one row per true class."""
    cm = np.asarray(confusion)
    lines = ["true/predicted," + ",".join(map(str, range(cm.shape[1])))]
    lines += [f"{t}," + ",".join(map(str, row)) for t, row in enumerate(cm.tolist())]
    return "\n".join(lines) + "\n"


def per_class(confusion: npt.ArrayLike) -> list[dict]:
    """Precision, recall, F1 and support of each class, from a confusion matrix."""
    cm = np.asarray(confusion)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise MetricsError(f"confusion: expected a square matrix, got shape {cm.shape}")
    tp = np.diag(cm)  # (C,)
    support = cm.sum(axis=1)  # (C,) how many of each class there are
    predicted = cm.sum(axis=0)  # (C,) how often each class was guessed
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return [
        {
            "class": c,
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "f1": float(f1[c]),
            "support": int(support[c]),
        }
        for c in range(cm.shape[0])
    ]


def ranked_errors(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, losses: npt.ArrayLike, k: int
) -> tuple[list[int], list[int]]:
    """Indices of the k highest-loss and the k lowest-loss misclassified images.

    The highest-loss ones are the confident mistakes; the lowest-loss ones are the
    near misses. Ties go to the lower index, so the choice never depends on sort luck.
    """
    losses = np.asarray(losses, np.float64)
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))  # ascending indices
    # a stable sort keeps equal losses in index order; negating reverses only the loss order
    worst = wrong[np.argsort(-losses[wrong], kind="stable")][:k]
    near = wrong[np.argsort(losses[wrong], kind="stable")][:k]
    return [int(i) for i in worst], [int(i) for i in near]


def rounded(x: SupportsFloat, digits: int = 6) -> float:
    """x as a float with `digits` significant digits: short, stable JSON."""
    return float(f"{float(x):.{digits}g}")


def evaluation(
    labels: npt.ArrayLike, probs: npt.ArrayLike, losses: npt.ArrayLike, k: int = 16, subset: int = 0
) -> dict:
    """The content of metrics.json for one run's test set.

    labels (n,) true classes; probs (n, C) the network's output vectors; losses (n,)
    per-image loss under the model's own training loss; k the gallery size. subset > 0 adds
    "test_subset" and "test_accuracy_subset", the accuracy on the first `subset` images (a
    source that scored only those, e.g. pocket-model's first 1,000); 0 adds nothing.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise MetricsError(f"probs: expected a non-empty (n, classes) array, got shape {probs.shape}")
    n, n_classes = probs.shape
    if not np.all(np.isfinite(probs)):
        raise MetricsError("probs: holds nan or inf (did the network diverge?)")
    labels = _labels(labels, "labels", n_classes)
    losses = np.asarray(losses, np.float64)
    if labels.shape != (n,) or losses.shape != (n,):
        raise MetricsError(
            f"labels {labels.shape} and losses {losses.shape} must both be ({n},) to match probs {probs.shape}"
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise MetricsError(f"k: expected a gallery size >= 0, got {k!r}")
    if isinstance(subset, bool) or not isinstance(subset, (int, np.integer)) or not 0 <= subset <= n:
        raise MetricsError(f"subset: expected a number of test images in [0, {n}], got {subset!r}")

    predicted = probs.argmax(axis=1)  # (n,)
    cm = confusion_matrix(labels, predicted, n_classes)
    worst, near = ranked_errors(labels, predicted, losses, k)
    first = probs[0]  # (C,) the seed's printout
    scored_first = (
        {"test_subset": int(subset), "test_accuracy_subset": accuracy(labels[:subset], predicted[:subset], n_classes)}
        if subset
        else {}
    )
    return {
        "n_test": int(n),
        "n_errors": int(np.count_nonzero(labels != predicted)),
        "test_accuracy": accuracy(labels, predicted, n_classes),
        "test_loss": float(np.mean(losses)),
        "per_class": per_class(cm),
        "confusion": cm.tolist(),
        "first_test_image": {
            "label": int(labels[0]),
            "predicted": int(predicted[0]),
            "confidence": rounded(first[predicted[0]]),
            "output": [rounded(p) for p in first],
        },
        "worst_errors": worst,
        "near_misses": near,
        **scored_first,
    }
