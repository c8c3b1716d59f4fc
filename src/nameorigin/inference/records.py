"""Answers for many names at once, as columns, and as one `Prediction` record per name.

`Columns` holds a batch's answers as arrays (the top labels and their probabilities, who
abstained and why): the file mode writes them row by row without building an object per name, and
`Classifier.predict` turns them into records with a few list operations instead of a loop that
ranks each name on its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Ranked:
    """One label of an answer, with its probability."""

    label: str
    probability: float


@dataclass
class Prediction:
    """One name's answer. ``label`` is None exactly when ``abstained`` is True, with a ``reason``."""

    name: str
    normalized: str
    label: str | None
    probability: float | None
    predictions: list[Ranked]
    abstained: bool
    reason: str | None
    model_revision: str
    prediction_set: list[str] | None = None

    def to_dict(self) -> dict:
        """The fields as JSON values; ``prediction_set`` only when a coverage was asked for."""
        out = asdict(self)
        if out["prediction_set"] is None:
            del out["prediction_set"]
        return out


@dataclass
class Columns:
    """A batch's answers, one row per name.

    ``top`` (names, k) indexes `labels`, best first, and ``top_probability`` gives their
    probabilities; a label of probability 0 (ruled out by a name's script) and every entry of an
    unreadable name is -1. ``reason`` says why a name is abstained on (None where it is not);
    ``sets`` holds each name's prediction set (label indices, best first) when a coverage was asked.
    """

    normalized: list[str]
    labels: list[str]
    top: np.ndarray
    top_probability: np.ndarray
    reason: list[str | None]
    sets: list[np.ndarray] | None = None

    @property
    def abstained(self) -> np.ndarray:
        return np.fromiter((r is not None for r in self.reason), dtype=bool, count=len(self.reason))

    def records(self, names: list, revision: str) -> list[Prediction]:
        """One `Prediction` per name."""
        labels, k = self.labels, self.top.shape[1]
        top, probability = self.top.tolist(), self.top_probability.tolist()
        sets = [None] * len(names) if self.sets is None else [[labels[j] for j in s] for s in self.sets]
        out = []
        for i, name in enumerate(names):
            row, p = top[i], probability[i]
            ranked = [Ranked(labels[row[j]], p[j]) for j in range(k) if row[j] >= 0]
            reason = self.reason[i]
            first = ranked[0] if ranked else None
            out.append(Prediction(name if first else str(name), self.normalized[i],
                                  None if reason or first is None else first.label,
                                  first.probability if first else None, ranked, reason is not None, reason,
                                  revision, sets[i] if first else None))
        return out


def rank(proba: np.ndarray, labels: list[str], normalized: list[str], unreadable: list[str | None], top_k: int,
         min_confidence: float, sets: list[np.ndarray] | None = None) -> Columns:
    """`Columns` for probabilities `proba` (NaN rows for names that could not be read, whose
    reason is in `unreadable`): the `top_k` labels of each name, and an abstention where the top
    probability is below `min_confidence`."""
    top_k = min(top_k, len(labels))
    readable = ~np.isnan(proba[:, 0]) if len(proba) else np.zeros(0, dtype=bool)
    scores = np.where(readable[:, None], proba, 0)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    top_probability = np.take_along_axis(scores, top, axis=1).astype(np.float64)
    top[(top_probability <= 0) | ~readable[:, None]] = -1
    confidence = top_probability[:, 0] if top_k else np.zeros(len(proba))
    reason = list(unreadable)
    for i in np.flatnonzero(readable & (confidence < min_confidence)):
        reason[i] = (f"top probability {confidence[i]:.3f} is below the minimum confidence "
                     f"{min_confidence:g}")
    return Columns(normalized, labels, top, top_probability, reason, sets)
