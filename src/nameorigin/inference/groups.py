"""Coarse groups of labels: answers at the grain a user can rely on.

The model's main confusions are between neighbours (Irish read as English, Portuguese as Spanish,
Dutch as German), so a user who only needs "British Isles" or "Iberian" gets a surer answer by
summing the probabilities of the labels in a group than by reading one label. The grouping:

| group | labels |
|---|---|
| British Isles | English, Irish, Scottish |
| Iberian | Spanish, Portuguese |
| Germanic | German, Dutch |
| West Slavic | Polish, Czech |
| East Slavic | Russian |
| French | French |
| Italian | Italian |
| Greek | Greek |
| Arabic | Arabic |
| East Asian | Chinese, Japanese, Korean, Vietnamese |
| Other | Other |

French and Italian stay apart: their names are told apart far more surely than the pairs above,
and joining them would hide an answer the model gets right. A label this table does not name (a
model trained on another corpus) is a group of its own, so every model answers at both levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVELS = ("label", "group")

GROUPS: dict[str, tuple[str, ...]] = {
    "British Isles": ("English", "Irish", "Scottish"),
    "Iberian": ("Spanish", "Portuguese"),
    "Germanic": ("German", "Dutch"),
    "West Slavic": ("Polish", "Czech"),
    "East Slavic": ("Russian",),
    "French": ("French",),
    "Italian": ("Italian",),
    "Greek": ("Greek",),
    "Arabic": ("Arabic",),
    "East Asian": ("Chinese", "Japanese", "Korean", "Vietnamese"),
    "Other": ("Other",),
}
GROUP_OF = {label: group for group, labels in GROUPS.items() for label in labels}


@dataclass(frozen=True)
class Grouping:
    """A model's labels gathered into groups: ``names`` in the table's order (then any label of its
    own), and ``index[i]``, the group of label ``i``."""

    names: tuple[str, ...]
    index: np.ndarray

    @classmethod
    def of(cls, labels: Sequence[str]) -> "Grouping":
        wanted = {GROUP_OF.get(label, label) for label in labels}
        names = tuple([g for g in GROUPS if g in wanted] + sorted(wanted - set(GROUPS)))
        where = {name: i for i, name in enumerate(names)}
        return cls(names, np.asarray([where[GROUP_OF.get(label, label)] for label in labels], dtype=np.int64))

    def sum(self, proba: np.ndarray) -> np.ndarray:
        """(rows, groups) probabilities: each group's labels' summed; NaN rows stay NaN."""
        out = np.zeros((proba.shape[0], len(self.names)), dtype=np.float64)
        np.add.at(out.T, self.index, proba.T.astype(np.float64))
        return out.astype(proba.dtype)

    def ids(self, labels: np.ndarray) -> np.ndarray:
        """Label ids as group ids."""
        return self.index[np.asarray(labels, dtype=np.int64)]


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be 'label' or 'group', not {level!r}")
    return level
