"""Wikipedia labels that name a diaspora, not a tradition: found by a teacher and relabelled.

Wikipedia labels people by nationality, so German footballers named Lewandowski or Yilmaz teach
a model that -ski and -oglu are German. A teacher that never saw a nationality, a character
n-gram logistic regression trained on the locale lists' family names (labelled by tradition) and
the tutorial's training names, reads each Wikipedia training person's family name; when it is
sure (probability at least `threshold`) of another label than the person's, the person takes the
teacher's label, if it is one of `TARGETS`. The threshold is the lowest that keeps the teacher's
precision on the locale lists' validation family names it reads as a target at `PRECISION`.

One rule stands beside it: a Mac/Mc family name labelled English is Scottish (`locales.GAELIC`
says why), as in the locale table.

Only the training side is relabelled; validation and test people keep their nationality's
label, so figures stay comparable with earlier models.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from .locales import GAELIC
from .teacher import fit_teacher as _fit

# Wikipedia's people are not the lists' names: a teacher right 95 % of the time on the lists
# moved Nibali, Munch and van Cutsen to Other. Only its surest answers are taken.
PRECISION = 0.98
# Relabelled only into the traditions the Wikipedia source lacks (it has no Polish people, and
# Turkish, Nordic or Baltic ones mostly under another country), never out of Other: a teacher
# that misreads a Thai name as Japanese must not move it.
TARGETS = frozenset({"Polish", "Other"})
# Nor out of a label the teacher barely knows: fewer distinct family names than this in its
# training data (Arabic, Korean and Vietnamese, whose lists are mostly in their own scripts).
MIN_KNOWN = 1000
# Nor out of a tradition that writes the family name first: Wikipedia gives its people in either
# order, so what the teacher reads may be a given name (Hiroshi is the "family name" of 227
# Japanese people).
FAMILY_FIRST = frozenset({"Chinese", "Japanese", "Korean", "Vietnamese"})
THRESHOLDS = (0.6, 0.7, 0.8, 0.9, 0.95, 0.98)


@dataclass
class Relabelling:
    labels: np.ndarray  # the new label of each person (index into the label list)
    threshold: float
    precision: float  # the teacher's, on the locale lists' validation family names, at the threshold
    changed: Counter  # (old label, new label) -> people
    examples: list[tuple[str, str, str]]  # (full name, old label, new label)


def fit_teacher(names: list[str], labels: list[str], seed: int = 0):
    """The teacher, and the labels it knows well enough to overrule (`MIN_KNOWN`)."""
    distinct = Counter(label for _, label in {(n.lower(), label) for n, label in zip(names, labels)})
    model = _fit(names, labels, seed)
    model.known_ = frozenset(label for label, n in distinct.items() if n >= MIN_KNOWN)
    return model


def pick_threshold(teacher, names: list[str], labels: list[str]) -> tuple[float, float]:
    """The lowest of `THRESHOLDS` at which the teacher's sure answers are right `PRECISION` of the
    time on held-out names (the highest, if none is)."""
    if not names:
        return THRESHOLDS[-1], float("nan")
    proba = teacher.predict_proba([n.lower() for n in names])
    best, top = proba.max(1), teacher.classes_[proba.argmax(1)]
    right = top == np.asarray(labels)
    target = np.isin(top, list(TARGETS))
    for threshold in THRESHOLDS:
        sure = (best >= threshold) & target
        precision = float(right[sure].mean()) if sure.any() else 1.0
        if precision >= PRECISION:
            return threshold, precision
    return threshold, precision


def relabel(surnames: list[str], full: list[str], labels: np.ndarray, label_names: list[str], teacher,
            threshold: float, precision: float) -> Relabelling:
    """New labels for the people (`labels` index `label_names`), by the Gaelic rule and the teacher."""
    new = labels.copy()
    keys = sorted({s.lower() for s in surnames})
    proba = teacher.predict_proba(keys)
    sure = {k: teacher.classes_[j] for k, j, p in zip(keys, proba.argmax(1), proba.max(1))
            if p >= threshold and teacher.classes_[j] in TARGETS}
    index = {name: i for i, name in enumerate(label_names)}
    for i, surname in enumerate(surnames):
        key, old = surname.lower(), label_names[labels[i]]
        if old == "English" and GAELIC.match(key):
            target = "Scottish"
        else:
            movable = old != "Other" and old in teacher.known_ and old not in FAMILY_FIRST
            target = sure.get(key, old) if movable else old
        if target != old and target in index:
            new[i] = index[target]
    moved = np.flatnonzero(new != labels)
    changed = Counter((label_names[labels[i]], label_names[new[i]]) for i in moved)
    picks = np.random.default_rng(0).permutation(moved)[:20]
    examples = [(full[i], label_names[labels[i]], label_names[new[i]]) for i in sorted(picks)]
    return Relabelling(new, threshold, precision, changed, examples)
