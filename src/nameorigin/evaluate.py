"""Metrics for a classifier on labelled names, computed with scikit-learn.

Accuracy alone flatters a model on this corpus (about half of it is Russian), so the report always
carries macro-F1 and per-class figures next to it. `headline` computes the four summary figures
with numpy alone, for `nameorigin train`, which would otherwise spend two of its five seconds
importing scikit-learn; a test checks it against scikit-learn.
"""

from __future__ import annotations

import numpy as np


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_labels: int) -> float:
    """Unweighted mean over all `n_labels` classes of F1 (0 for a class never true nor predicted)."""
    confusion = np.bincount(y_true * n_labels + y_pred, minlength=n_labels * n_labels).reshape(n_labels, -1)
    tp = np.diag(confusion)
    denominator = confusion.sum(0) + confusion.sum(1)
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(n_labels), where=denominator > 0)))


def headline(y_true: np.ndarray, proba: np.ndarray) -> dict:
    """n_test, accuracy, macro-F1, top-3 accuracy and ECE: the figures a checkpoint records."""
    from .calibration import expected_calibration_error

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


def metrics(y_true: np.ndarray, proba: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro-F1, top-3 accuracy, per-class precision/recall/F1 and the confusion matrix.

    Top-3 accuracy is top-k with k = min(3, number of labels), as in `headline`: with three labels
    or fewer every label is among the top k, so it is 1.0 by definition. That case is set directly
    because scikit-learn refuses a 2-column score matrix for two labels.
    """
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                                 precision_recall_fscore_support, top_k_accuracy_score)

    from .calibration import expected_calibration_error

    ids = np.arange(len(labels))
    k = min(3, len(labels))
    top3 = 1.0 if k >= len(labels) else float(top_k_accuracy_score(y_true, proba, k=k, labels=ids))
    y_pred = proba.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0)
    return {
        "n_test": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "top3_accuracy": top3,
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


def evaluate_checkpoint(model: str | None = None, data=None, wiki: str | None = None) -> dict:
    """A checkpoint's metrics on its own test split; for a `world` model, on each of its test sets
    (the headline figures are those of the Wikipedia test people's full names)."""
    from .predict import load_model

    clf = load_model(model)
    if clf.metadata.get("config", {}).get("corpus") != "world":
        return score_checkpoint(model, data)[0]
    from .world import evaluate_world

    sets = evaluate_world(clf.model, clf.metadata, data, wiki)
    report = dict(sets["wiki_full"])
    report.update(model=str(model or "bundled world"), model_revision=clf.revision, temperature=clf.temperature,
                  test_sets=sets)
    return report


def format_report(report: dict) -> str:
    """A plain-text summary for people: headline figures, then one line per class; for a world
    model, one such block per test set."""
    if "test_sets" in report:
        return "\n\n".join(f"== {name} ==\n" + format_report(scores) for name, scores in report["test_sets"].items())
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
