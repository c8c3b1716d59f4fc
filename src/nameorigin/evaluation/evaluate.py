"""Metrics for a classifier on labelled names.

Accuracy alone flatters a model on this corpus (about half of it is Russian), so the report always
carries macro-F1 and per-class figures next to it. Everything is computed with numpy (`metrics`),
so evaluating needs no training stack; a test holds the figures to scikit-learn's.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..checkpoint.metadata import ModelMeta
from ..data.corpus import Corpus, load_corpus, split_corpus
from ..data.world import WorldData, check_world_fingerprints, load_world
from ..errors import NameOriginError
from ..inference.classifier import load_model
from ..inference.groups import Grouping
from ..inference.scoring import Calibration
from ..text.scripts import OTHER
from .metrics import confusion_matrix, expected_calibration_error, headline, per_class


def metrics(y_true: np.ndarray, proba: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro-F1, top-3 accuracy, ECE, per-class precision/recall/F1 and the confusion
    matrix (rows true, columns predicted). A class never predicted has precision 0, one never
    true recall 0; top-3 accuracy is top-k with k = min(3, number of labels), as in `headline`."""
    y_true = np.asarray(y_true)
    confusion = confusion_matrix(y_true, proba.argmax(axis=1), len(labels))
    precision, recall, f1, support = per_class(confusion)
    return {
        **headline(y_true, proba),
        "group_accuracy": group_accuracy(y_true, proba, labels),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "labels": list(labels),
        "confusion": confusion.tolist(),
    }


def group_accuracy(y_true: np.ndarray, proba: np.ndarray, labels: list[str]) -> float:
    """Accuracy at the coarse level (`nameorigin.inference.groups`): the top group, probabilities summed."""
    grouping = Grouping.of(labels)
    return float(np.mean(grouping.sum(proba).argmax(axis=1) == grouping.ids(y_true)))


def score_checkpoint(model: str | None = None, data=None, clf=None) -> tuple[dict, np.ndarray, np.ndarray]:
    """Metrics of a checkpoint (default: the bundled one) on its own test split, rebuilt from the
    corpus (a path or a loaded `Corpus`), with the calibrated probabilities and true labels they
    come from. A corpus other than the one the model was trained on is refused. `clf` is the
    checkpoint already loaded, if the caller has it."""
    clf = clf if clf is not None else load_model(model)
    meta = clf.metadata
    corpus = data if isinstance(data, Corpus) else load_corpus(data)
    if corpus.fingerprint != meta.corpus["fingerprint"]:
        raise NameOriginError(f"{corpus.source}: this is not the corpus the model was trained on (its "
                              "fingerprint differs), so its test split cannot be rebuilt; pass --data with "
                              "the training corpus")
    s = meta.split
    split = split_corpus(corpus, s["kind"], s["seed"], s["test_size"], s.get("val_size", 0.0))
    names, labels = corpus.subset(split.test)
    proba = clf._proba(names)
    report = metrics(labels, proba, clf.labels)
    report.update(model=str(model or "bundled default"), model_revision=clf.revision, split=split.describe(),
                  temperature=clf.calibration.temperature)
    return report, proba, labels


def evaluate_checkpoint(model: str | None = None, data=None, wiki: str | None = None,
                        locales: str | None = None, threads: int | None = None) -> dict:
    """A checkpoint's metrics on its own test split; for a `world` model, on each of its test sets
    (the headline figures are those of the Wikipedia test people's full names)."""
    clf = load_model(model, threads=threads)
    if clf.metadata.config.corpus != "world":
        return score_checkpoint(model, data, clf)[0]
    sets = evaluate_world(clf.logits, clf.metadata, data, wiki, locales)
    report = dict(sets["wiki_full"])
    report.update(model=str(model or "bundled world"), model_revision=clf.revision, temperature=clf.calibration.temperature,
                  one_word_temperature=clf.calibration.one_word_temperature, test_sets=sets)
    return report


def format_report(report: dict) -> str:
    """A plain-text summary for people: headline figures, then one line per class; for a world
    model, one such block per test set."""
    if "test_sets" in report:
        return "\n\n".join(f"== {name} ==\n" + format_report(scores) for name, scores in report["test_sets"].items())
    lines = [
        f"test names     {report['n_test']}",
        f"accuracy       {report['accuracy']:.4f}",
        f"group accuracy {report['group_accuracy']:.4f}  (coarse groups: nameorigin.inference.groups)",
        f"macro-F1       {report['macro_f1']:.4f}",
        f"top-3 accuracy {report['top3_accuracy']:.4f}",
        f"ECE (15 bins)  {report['ece']:.4f}",
        "",
        f"{'label':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}",
    ]
    for label, row in report["per_class"].items():
        lines.append(f"{label:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    return "\n".join(lines)


# (prepared names) -> logits
Logits = Callable[[list[str]], np.ndarray]
# (names) -> (calibrated probabilities, uncalibrated probabilities)
Scorer = Callable[[list[str]], tuple[np.ndarray, np.ndarray]]


def network_scorer(logits_of: Logits, calibration: Calibration) -> Scorer:
    def score(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        logits = logits_of(names)
        return calibration.proba(logits, names), calibration.uncalibrated(logits)

    return score


def score_sets(score: Scorer, data: WorldData) -> dict:
    """Every test set's metrics, `Other`'s precision and recall, and ECE before calibration."""
    report = {}
    for name, (names, labels) in data.test_sets().items():
        proba, uncalibrated = score(names)
        scores = metrics(labels, proba, data.labels)
        scores["ece_uncalibrated"] = expected_calibration_error(uncalibrated, labels)
        if OTHER in data.labels and name.startswith("wiki"):
            other = scores["per_class"][OTHER]
            scores["other"] = {"precision": other["precision"], "recall": other["recall"]}
        report[name] = scores
    return report


def world_test_sets(logits_of: Logits, data, calibration: Calibration) -> dict:
    """A world model's test sets, scored once: the full metrics by set, and the headline figures
    (the Wikipedia test people's full names) as a checkpoint records them."""
    test = score_sets(network_scorer(logits_of, calibration), data)
    headline_ = {k: test["wiki_full"][k] for k in ("n_test", "accuracy", "macro_f1", "top3_accuracy", "ece",
                                                   "ece_uncalibrated")}
    summary = {name: {k: v for k, v in scores.items() if k not in ("confusion", "labels")}
               for name, scores in test.items()}
    return {"metrics": headline_, "test_sets": summary}


def evaluate_world(logits_of: Logits, meta: ModelMeta, data: str | None, wiki: str | None,
                   locales: str | None = None) -> dict:
    """A world checkpoint's metrics on every test set, rebuilt from both corpora; a corpus other
    than the one it was trained on is refused."""
    world = load_world(meta.config, data, wiki, locales, training=False)
    check_world_fingerprints(world, meta.extra.get("world", {}))
    return score_sets(network_scorer(logits_of, Calibration.from_metadata(meta)), world)

