import json

import numpy as np
import pytest

from nn import metrics
from nn.fileio import dumps_json


def test_accuracy_hand_case():
    assert metrics.accuracy([0, 1, 2, 3], [0, 1, 0, 0]) == 0.5
    assert metrics.accuracy(np.array([], np.int64), np.array([], np.int64)) == 0.0


def test_confusion_hand_case():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    cm = metrics.confusion_matrix(y_true, y_pred, n_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_confusion_matches_naive_loop():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 500).astype(np.uint8)
    y_pred = rng.integers(0, 10, 500)
    naive = np.zeros((10, 10), np.int64)
    for t, p in zip(y_true, y_pred):
        naive[t, p] += 1
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), naive)


def test_per_class_hand_case():
    # class 0: tp 1, predicted twice, present twice -> p 1/2, r 1/2
    # class 1: tp 1, predicted twice, present once -> p 1/2, r 1
    # class 2: tp 2, predicted twice, present three times -> p 1, r 2/3
    cm = metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], n_classes=3)
    rows = metrics.per_class(cm)
    assert [r["class"] for r in rows] == [0, 1, 2]
    assert [r["support"] for r in rows] == [2, 1, 3]
    assert rows[0]["precision"] == pytest.approx(0.5) and rows[0]["recall"] == pytest.approx(0.5)
    assert rows[1]["precision"] == pytest.approx(0.5) and rows[1]["recall"] == pytest.approx(1.0)
    assert rows[1]["f1"] == pytest.approx(2 / 3)
    assert rows[2]["precision"] == pytest.approx(1.0) and rows[2]["recall"] == pytest.approx(2 / 3)
    assert rows[2]["f1"] == pytest.approx(0.8)


def test_per_class_zero_division_is_zero():
    # class 2 never occurs and is never predicted: all scores 0.0, no warning (warnings are errors)
    rows = metrics.per_class(metrics.confusion_matrix([0, 1], [1, 1], n_classes=3))
    assert rows[0] == {"class": 0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert rows[2] == {"class": 2, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_per_class_matches_naive_loop():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    rows = metrics.per_class(metrics.confusion_matrix(y_true, y_pred))
    for c, row in enumerate(rows):
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        prec = tp / sum(1 for p in y_pred if p == c)
        rec = tp / sum(1 for t in y_true if t == c)
        assert row["precision"] == pytest.approx(prec)
        assert row["recall"] == pytest.approx(rec)
        f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
        assert row["f1"] == pytest.approx(f1)


def test_ranked_errors_order_and_ties():
    y_true = np.array([0, 1, 2, 3, 4, 5, 6])
    y_pred = np.array([1, 1, 0, 0, 0, 0, 0])  # index 1 is right, the rest wrong
    losses = np.array([2.0, 9.0, 5.0, 2.0, 0.5, 5.0, 7.0])
    worst, near = metrics.ranked_errors(y_true, y_pred, losses, k=3)
    assert worst == [6, 2, 5]  # 5.0 tie: lower index first
    assert near == [4, 0, 3]  # 2.0 tie: lower index first
    worst, near = metrics.ranked_errors(y_true, y_pred, losses, k=100)
    assert sorted(worst) == sorted(near) == [0, 2, 3, 4, 5, 6]


def _toy(n=40, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 10)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    losses = -np.log(probs[np.arange(n), labels])
    return labels, probs, losses


def test_summarize_content():
    labels, probs, losses = _toy()
    s = metrics.evaluation(labels, probs, losses, k=5)
    pred = probs.argmax(axis=1)
    assert s["test_accuracy"] == pytest.approx(np.mean(pred == labels))
    assert s["test_loss"] == pytest.approx(losses.mean())
    assert s["n_test"] == 40 and s["n_errors"] == int(np.sum(pred != labels))
    assert np.array(s["confusion"]).sum() == 40
    assert len(s["per_class"]) == 10
    first = s["first_test_image"]
    assert first["label"] == labels[0] and first["predicted"] == pred[0]
    assert first["confidence"] == pytest.approx(probs[0].max(), rel=1e-5)
    assert first["output"] == pytest.approx(probs[0].tolist(), rel=1e-5)
    assert len(s["worst_errors"]) == 5 and len(s["near_misses"]) == 5
    assert all(pred[i] != labels[i] for i in s["worst_errors"] + s["near_misses"])
    assert losses[s["worst_errors"][0]] == losses[pred != labels].max()
    assert losses[s["near_misses"][0]] == losses[pred != labels].min()


def test_summarize_is_plain_canonical_json():
    labels, probs, losses = _toy()
    s = metrics.evaluation(labels, probs, losses)
    text = dumps_json(s)
    assert json.loads(text) == s  # only plain Python types survive a round trip
    assert dumps_json(metrics.evaluation(labels, probs.copy(), losses.copy())) == text


def test_subset_scores_the_first_n_images_and_is_absent_without_it():
    labels, probs, losses = _toy()
    whole = metrics.evaluation(labels, probs, losses)
    assert "test_subset" not in whole and "test_accuracy_subset" not in whole
    assert metrics.evaluation(labels, probs, losses, subset=0) == whole  # 0 = all: the same metrics
    s = metrics.evaluation(labels, probs, losses, subset=15)
    assert s["test_subset"] == 15
    assert s["test_accuracy_subset"] == pytest.approx(np.mean(probs[:15].argmax(axis=1) == labels[:15]))
    assert {k: v for k, v in s.items() if k not in ("test_subset", "test_accuracy_subset")} == whole
    with pytest.raises(metrics.MetricsError, match=r"subset: expected a number of test images in \[0, 40\], got 41"):
        metrics.evaluation(labels, probs, losses, subset=41)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(3, np.int64), np.full((3, 10), 0.1), np.zeros(4)), "losses"),
        ((np.array([0, 1, 10]), np.full((3, 10), 0.1), np.zeros(3)), r"labels: class indices"),
        ((np.array([0.0, 1.0, 2.0]), np.full((3, 10), 0.1), np.zeros(3)), "labels: expected integer"),
        ((np.zeros(3, np.int64), np.full((3,), 0.1), np.zeros(3)), "probs"),
        ((np.zeros(2, np.int64), np.array([[np.nan] * 10, [0.1] * 10]), np.zeros(2)), "nan"),
    ],
)
def test_summarize_rejects_bad_input(args, match):
    with pytest.raises(metrics.MetricsError, match=match):
        metrics.evaluation(*args)


def test_confusion_rejects_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        metrics.confusion_matrix([0, 1], [0])


def test_confusion_csv():
    cm = metrics.confusion_matrix([0, 0, 1], [0, 1, 1], n_classes=2)
    assert metrics.confusion_csv(cm) == "true/predicted,0,1\n0,1,1\n1,0,1\n"
