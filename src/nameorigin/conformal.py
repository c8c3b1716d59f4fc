"""Prediction sets with a promised coverage: split conformal prediction with adaptive sets (APS).

A single label and its probability cannot say "one of these two". A prediction set can: for a
``coverage`` of 0.9, the set holds the true label for at least 90 % of names, whatever the
model's faults, provided the names are *exchangeable* with the ones it was calibrated on (drawn
from the same population). The guarantee is on average over names, not for each name, and it does
not hold for a population unlike the calibration data: a file of one country's customers, names
written in another way, or labels mixed in other proportions (a population prior changes the
probabilities, and the sets are then computed on the changed probabilities with no guarantee).

How (Romano, Sesia and Candes 2020, "Classification with valid and adaptive coverage"): sort a
name's labels by probability; a label's non-conformity score is the probability mass of the labels
ranked above it. The score of the true label is computed on held-out calibration names (each
model's validation part), and for coverage ``c`` the threshold is the ``ceil((n + 1) c)``-th
smallest of the ``n`` scores. A name's set is every label whose score is at most the threshold:
the most likely label, then the next ones until the mass above reaches the threshold.

By default the sets are deterministic: the uniform draw of randomized APS is fixed at 0, so the
most likely label is always in the set. The price is coverage above the level asked for when the
model's single answer is already right that often (a set cannot hold fewer than one label), and
ties at 0 among the scores (every name whose best label is right) that make the threshold coarse.
Randomized sets (``randomized=True``, Romano et al.'s rule in full) add to each score a uniform
draw times the label's own probability, calibrated the same way: their coverage is the level
asked for, not above it, at the price of an empty set for a name the model is so sure of that
naming no label is what the level calls for. The draw comes from a hash of the name
(`name_uniforms`), so the same name still gets the same set, in any batch or process. Both kinds
grow as coverage rises (they are nested).

A checkpoint keeps the sorted calibration scores (`Scores`), at most `MAX_STORED` order statistics
of them, so any coverage in (0, 1) can be asked for; where fewer are kept than there were names,
the next stored one up is taken, which can only widen the sets.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_STORED = 1000
DIGITS = 6


def mass_above(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labels of each row best first, and for each the probability mass ranked above it."""
    order = np.argsort(-proba, axis=1, kind="stable")
    ranked = np.take_along_axis(proba, order, axis=1).astype(np.float64)
    above = np.cumsum(ranked, axis=1) - ranked
    return order, above


def name_uniforms(texts: Sequence[str]) -> np.ndarray:
    """One draw in [0, 1) per name, fixed by the name's text (BLAKE2b): what randomized sets add,
    independent of the label, and the same for a name wherever it is scored."""
    draw = (int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "big") for t in texts)
    return np.fromiter(draw, dtype=np.float64, count=len(texts)) / 2.0**64


def scores(proba: np.ndarray, labels: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
    """The non-conformity score of each row's true label: the mass ranked above it, plus `u` (one
    uniform draw per row) times its own probability for randomized sets."""
    order, above = mass_above(proba)
    rank = np.argmax(order == np.asarray(labels)[:, None], axis=1)
    rows = np.arange(len(rank))
    out = above[rows, rank]
    if u is not None:
        out = out + np.asarray(u) * proba[rows, order[rows, rank]]
    return out


def check_coverage(coverage: float) -> float:
    if isinstance(coverage, bool) or not isinstance(coverage, (int, float)) or not 0 < coverage < 1:
        raise ValueError(f"coverage must be a number between 0 and 1 (exclusive), not {coverage!r}")
    return float(coverage)


@dataclass(frozen=True)
class Scores:
    """Calibration scores, sorted: ``values[j]`` is the ``ranks[j]``-th smallest of ``n``."""

    n: int
    ranks: tuple[int, ...]
    values: tuple[float, ...]

    @classmethod
    def fit(cls, proba: np.ndarray, labels: np.ndarray, u: np.ndarray | None = None) -> "Scores":
        ok = ~np.isnan(proba).any(axis=1)
        found = np.sort(scores(proba[ok], np.asarray(labels)[ok], None if u is None else np.asarray(u)[ok]))
        n = len(found)
        if n == 0:
            raise ValueError("no calibration names to compute prediction sets from")
        ranks = np.unique(np.ceil(np.linspace(1, n, min(n, MAX_STORED))).astype(np.int64))
        # rounded up, so a stored threshold is never below the one it stands for
        values = np.ceil(found[ranks - 1] * 10**DIGITS) / 10**DIGITS
        return cls(n, tuple(int(r) for r in ranks), tuple(float(v) for v in values))

    def threshold(self, coverage: float) -> float:
        """The score threshold promising `coverage`; above 1 (every label) when there were too few
        calibration names for it."""
        k = math.ceil((self.n + 1) * check_coverage(coverage) - 1e-9)
        if k > self.n:
            return math.inf
        return self.values[int(np.searchsorted(self.ranks, k))]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "ranks": list(self.ranks), "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: Any) -> "Scores":
        if not isinstance(data, Mapping) or not isinstance(data.get("n"), int) or data["n"] < 1:
            raise ValueError("must hold 'n', 'ranks' and 'values'")
        ranks, values = data.get("ranks"), data.get("values")
        if not (isinstance(ranks, list) and isinstance(values, list) and 0 < len(ranks) == len(values)
                and all(isinstance(r, int) and 1 <= r <= data["n"] for r in ranks)
                and all(isinstance(v, (int, float)) and 0 <= v <= 1 + 1e-6 for v in values)
                and ranks == sorted(set(ranks)) and values == sorted(values)):
            raise ValueError("'ranks' and 'values' must be sorted lists of equal length, in range")
        return cls(data["n"], tuple(ranks), tuple(float(v) for v in values))


@dataclass(frozen=True)
class Conformal:
    """What a checkpoint keeps for prediction sets: the scores at label and at group level, and
    what they were calibrated on (a description for people).

    A model calibrated on full names and on family names alone (the world model) keeps a second
    pair, ``one_word``, for names of one word, as it keeps a second temperature: a family name
    alone is harder to place, and one threshold for both would over-cover full names and
    under-cover family names. Each kind of name then has its own guarantee (Mondrian conformal
    prediction, split by the number of words)."""

    label: Scores
    group: Scores
    source: str = ""
    one_word: tuple[Scores, Scores] | None = None
    method: str = "aps"
    randomized: bool = False
    exact: "Conformal | None" = None  # the randomized sets' scores, beside the deterministic ones

    def to_dict(self) -> dict[str, Any]:
        out = {"method": self.method, "randomized": self.randomized, "source": self.source,
               "label": self.label.to_dict(), "group": self.group.to_dict()}
        if self.one_word is not None:
            out["one_word"] = {"label": self.one_word[0].to_dict(), "group": self.one_word[1].to_dict()}
        if self.exact is not None:
            out["randomized_sets"] = self.exact.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, randomized: bool = False) -> "Conformal":
        """Raises ValueError saying what is wrong."""
        if not isinstance(data, Mapping) or data.get("method") != "aps" or data.get("randomized") is not randomized:
            raise ValueError(f"must be an object with method 'aps' and randomized {str(randomized).lower()}")
        one = data.get("one_word")
        if one is not None and not isinstance(one, Mapping):
            raise ValueError("'one_word' must hold 'label' and 'group'")
        exact = data.get("randomized_sets")
        if exact is not None and randomized:
            raise ValueError("randomized sets' scores cannot hold another set of them")
        return cls(Scores.from_dict(data.get("label")), Scores.from_dict(data.get("group")),
                   str(data.get("source", "")),
                   None if one is None else (Scores.from_dict(one.get("label")), Scores.from_dict(one.get("group"))),
                   randomized=randomized, exact=None if exact is None else cls.from_dict(exact, randomized=True))

    def thresholds(self, coverage: float, level: str, one_word: np.ndarray) -> np.ndarray:
        """Each name's threshold for `coverage` at `level`; `one_word` says which names are of one word."""
        several = (self.label if level == "label" else self.group).threshold(coverage)
        if self.one_word is None:
            return np.full(len(one_word), several)
        single = self.one_word[0 if level == "label" else 1].threshold(coverage)
        return np.where(one_word, single, several)


def prediction_sets(proba: np.ndarray, threshold: float | np.ndarray, u: np.ndarray | None = None) -> list[list[int]]:
    """Each row's set, best first: the labels whose mass ranked above is at most `threshold` (one
    number, or one per row); with `u` (one uniform draw per row, randomized sets) the mass above
    plus `u` times the label's own probability, and the set may be empty. A NaN row (a name that
    was not scored) has an empty set."""
    order, above = mass_above(proba)
    ranked = np.take_along_axis(proba, order, axis=1)
    threshold = np.asarray(threshold, dtype=np.float64).reshape(-1, 1) if np.ndim(threshold) else threshold
    score = above if u is None else above + np.asarray(u, dtype=np.float64).reshape(-1, 1) * ranked
    keep = (score <= threshold + 1e-9) & (ranked > 0)
    if u is None:
        keep[:, 0] = True
    keep[np.isnan(proba).any(axis=1)] = False
    return [row[k].tolist() for row, k in zip(order, keep)]
