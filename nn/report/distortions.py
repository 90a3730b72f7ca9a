"""The data figure for distortions: ten digits, each beside five of its random distortions."""

from __future__ import annotations

import numpy as np

from nn.augment import compose, in_words
from nn.mnist.data import to_inputs
from nn.report.figures import _figure, _save


def first_of_each_class(images, labels, n_classes=10):
    """(k, 28, 28) the first image of each class that occurs, and (k,) their labels."""
    labels = np.asarray(labels)
    found = [c for c in range(n_classes) if np.any(labels == c)]
    return images[[int(np.argmax(labels == c)) for c in found]], np.array(found)


def distortion_grid(path, images, labels, settings: dict, source: str, per_digit: int = 5, seed: int = 0):
    """One row per digit: the original, then `per_digit` draws of `settings` (nn.augment.AUGMENT_KEYS,
    as nn.augment.compose takes them) from a Generator seeded with `seed`."""
    digits, classes = first_of_each_class(images, labels)
    augment = compose(**settings)
    rng = np.random.default_rng(seed)
    x = np.repeat(to_inputs(digits), per_digit, axis=0)  # (k * per_digit, 784)
    distorted = (augment(x, rng) if augment else x).reshape(len(digits), per_digit, 28, 28)
    fig = _figure(1.1 * (per_digit + 1), 1.1 * max(len(digits), 1) + 0.6)
    fig.suptitle(f"Training distortions ({source}): {in_words(settings)}", fontsize=9)
    axes = fig.subplots(max(len(digits), 1), per_digit + 1, squeeze=False)
    for row, (digit, label) in enumerate(zip(digits, classes)):
        for col, ax in enumerate(axes[row]):
            ax.set_axis_off()
            ax.imshow(
                digit if col == 0 else distorted[row, col - 1],
                cmap="gray_r",
                vmin=0,
                vmax=255 if col == 0 else 1,
                interpolation="nearest",
            )
        axes[row, 0].set_title(f"{label}: original" if row == 0 else str(label), fontsize=8)
    _save(fig, path)
