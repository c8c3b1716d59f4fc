"""Metrics for a classifier on labelled names, computed with scikit-learn.

Accuracy alone flatters a model on this corpus (about half of it is Russian), so the report always
carries macro-F1 and per-class figures next to it.
"""

from __future__ import annotations

import numpy as np


def metrics(y_true: np.ndarray, proba: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro-F1, top-3 accuracy, per-class precision/recall/F1 and the confusion matrix."""
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                                 precision_recall_fscore_support, top_k_accuracy_score)

    from .calibration import expected_calibration_error

    ids = np.arange(len(labels))
    y_pred = proba.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0)
    return {
        "n_test": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "top3_accuracy": float(top_k_accuracy_score(y_true, proba, k=min(3, len(labels)), labels=ids)),
        "ece": expected_calibration_error(proba, y_true),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "labels": list(labels),
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def score_checkpoint(model: str | None = None, data=None) -> tuple[dict, np.ndarray, np.ndarray]:
    """Metrics of a checkpoint (default: the bundled one) on its own test split, rebuilt from the
    corpus (a path or a loaded `Corpus`), with the calibrated probabilities and true labels they
    come from. A corpus other than the one the model was trained on is refused."""
    from .data import Corpus, load_corpus, split_corpus
    from .errors import NameOriginError
    from .predict import load_model

    clf = load_model(model)
    meta = clf.metadata
    corpus = data if isinstance(data, Corpus) else load_corpus(data)
    if corpus.fingerprint != meta["corpus"]["fingerprint"]:
        raise NameOriginError(f"{corpus.source}: this is not the corpus the model was trained on (its "
                              "fingerprint differs), so its test split cannot be rebuilt; pass --data with "
                              "the training corpus")
    s = meta["split"]
    split = split_corpus(corpus, s["kind"], s["seed"], s["test_size"], s.get("val_size", 0.0))
    names, labels = corpus.subset(split.test)
    proba = clf._proba(names)
    report = metrics(labels, proba, clf.labels)
    report.update(model=str(model or "bundled default"), model_revision=clf.revision, split=split.describe(),
                  temperature=clf.temperature)
    return report, proba, labels


def evaluate_checkpoint(model: str | None = None, data=None) -> dict:
    """`score_checkpoint`'s metrics alone."""
    return score_checkpoint(model, data)[0]


def format_report(report: dict) -> str:
    """A plain-text summary for people: headline figures, then one line per class."""
    lines = [
        f"test names     {report['n_test']}",
        f"accuracy       {report['accuracy']:.4f}",
        f"macro-F1       {report['macro_f1']:.4f}",
        f"top-3 accuracy {report['top3_accuracy']:.4f}",
        f"ECE (15 bins)  {report['ece']:.4f}",
        "",
        f"{'label':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}",
    ]
    for label, row in report["per_class"].items():
        lines.append(f"{label:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    return "\n".join(lines)
