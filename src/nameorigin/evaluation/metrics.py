"""The headline figures with numpy alone.

`nameorigin train` records accuracy, macro-F1, top-3 accuracy and ECE in every checkpoint;
computing them without scikit-learn keeps its import (seconds) out of training. A test checks them
against scikit-learn, which `evaluate` uses for the full report.

Expected calibration error (ECE) is the gap between confidence and accuracy, averaged over
confidence bins weighted by how many predictions fall in each.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> np.ndarray:
    """(n_labels, n_labels) counts, rows true, columns predicted."""
    return np.bincount(y_true * n_labels + y_pred, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def per_class(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each class's precision, recall, F1 and support from a confusion matrix; 0 where a class was
    never predicted (precision), never true (recall), or neither (F1)."""
    tp, predicted, support = np.diag(confusion), confusion.sum(axis=0), confusion.sum(axis=1)

    def ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        return np.divide(top, bottom, out=np.zeros(len(tp)), where=bottom > 0)

    return ratio(tp, predicted), ratio(tp, support), ratio(2 * tp, predicted + support), support


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> float:
    """Unweighted mean over all `n_labels` classes of F1 (0 for a class never true nor predicted)."""
    return f1_of_confusion(confusion_matrix(y_true, y_pred, n_labels))


def f1_of_confusion(confusion: np.ndarray) -> float:
    """Macro-F1 from a confusion matrix (rows true, columns predicted)."""
    return float(np.mean(per_class(confusion)[2]))


def headline(y_true: np.ndarray, proba: np.ndarray) -> dict:
    """n_test, accuracy, macro-F1, top-3 accuracy and ECE: the figures a checkpoint records."""
    y_true = np.asarray(y_true)
    k = min(3, proba.shape[1])
    top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return {
        "n_test": int(len(y_true)),
        "accuracy": float(np.mean(top[:, 0] == y_true)),
        "macro_f1": macro_f1(y_true, top[:, 0], proba.shape[1]),
        "top3_accuracy": float(np.mean((top == y_true[:, None]).any(axis=1))),
        "ece": expected_calibration_error(proba, y_true),
    }


def reliability(proba: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict:
    """Per confidence bin (equal width on [0, 1]): mean confidence, accuracy and count."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == labels
    which = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    safe = np.maximum(count, 1)
    return {
        "edges": np.linspace(0, 1, n_bins + 1).tolist(),
        "confidence": (np.bincount(which, weights=confidence, minlength=n_bins) / safe).tolist(),
        "accuracy": (np.bincount(which, weights=correct, minlength=n_bins) / safe).tolist(),
        "count": count.tolist(),
    }


def expected_calibration_error(proba: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    bins = reliability(proba, labels, n_bins)
    count = np.asarray(bins["count"])
    gap = np.abs(np.asarray(bins["accuracy"]) - np.asarray(bins["confidence"]))
    return float((gap * count).sum() / count.sum())
