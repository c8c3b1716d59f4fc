"""Real people's names: the Wikipedia corpus behind the `world` model.

``names.tsv`` (``name<TAB>label<TAB>nationality``) lists people from Wikipedia biographies with
one of the tutorial's 18 languages or ``Other`` (see ``shared/data/wiki/README.md`` and
`build_wiki` for how such a file is made). Each person is read as three forms of their name: the
full name as Wikipedia writes it, the family name, and the given names, so that one model learns
to read all three.

The split is by family name: no family name sits on both sides, so the test figures say how the
model does on families it never saw.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..text.names import SUFFIXES, clean, normalize, surname_index
from .corpus import Split

# Traditions whose names Wikipedia often writes family name first (Wang Wei, Nguyen Van An,
# Tokugawa Ieyasu); which order a given person's name is in is read off the data (`_family_first`).
FAMILY_FIRST = frozenset({"Chinese", "Japanese", "Korean", "Vietnamese"})
FORMS = ("full", "surname", "given", "swapped")


@dataclass
class People:
    """Cleaned names (ASCII, inside the alphabet, case as written) and their parts."""

    full: list[str]
    surname: list[str]
    given: list[str]
    swapped: list[str]
    labels: np.ndarray
    label_names: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.full)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for row in sorted(f"{self.label_names[y]}\t{n}\n" for n, y in zip(self.full, self.labels)):
            digest.update(row.encode("utf-8"))
        return digest.hexdigest()

    def form(self, kind: str, rows: np.ndarray) -> list[str]:
        values = getattr(self, kind)
        return [values[i] for i in rows]


def read_rows(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``(name, label)`` pairs from a ``names.tsv`` file, with a clear error for a bad one."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (the wiki corpus is a names.tsv file)")
    pairs = []
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = [h.strip().lower() for h in next(rows, [])]
            if "name" not in header or "label" not in header:
                raise DataError(f"{path}, line 1: the header needs 'name' and 'label' columns, found {header}")
            i_name, i_label = header.index("name"), header.index("label")
            for row in rows:
                if len(row) < len(header):
                    if not any(cell.strip() for cell in row):
                        continue
                    raise DataError(f"{path}, line {rows.line_num}: {len(row)} fields, the header has {len(header)}")
                pairs.append((row[i_name], row[i_label].strip()))
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: not valid UTF-8 ({err.reason})") from None
    return pairs


def _family_first(words_by_person: list[list[str]], labels: list[str]) -> list[bool]:
    """For traditions in `FAMILY_FIRST`, whether each name starts with its family name: it does
    when its first word starts names of that tradition more often than its last word does (Abe
    Isoo, but Hiroshi Tanaka; Nguyen Van An, but Andrea Nguyen)."""
    starts: dict[str, Counter] = {}
    for words, label in zip(words_by_person, labels):
        if label in FAMILY_FIRST:
            starts.setdefault(label, Counter())[words[0].lower()] += 1
    out = []
    for words, label in zip(words_by_person, labels):
        counts = starts.get(label)
        out.append(counts is not None and counts[words[0].lower()] > counts[words[-1].lower()])
    return out


def people_from_rows(pairs: list[tuple[str, str]], source: str) -> People:
    """Clean each full name and split it into family name, given names and the other order."""
    kept = [(clean(normalize(name)), label) for name, label in pairs]
    kept = [(name, label) for name, label in kept if any(c.isalpha() for c in name)]
    if not kept:
        raise DataError(f"{source}: no usable names found")
    label_names = sorted({label for _, label in kept})
    label_id = {label: i for i, label in enumerate(label_names)}
    words_by_person = [name.split(" ") for name, _ in kept]
    first = _family_first(words_by_person, [label for _, label in kept])
    full, surname, given, swapped = [], [], [], []
    for (name, _), words, family_first in zip(kept, words_by_person, first):
        k = surname_index(words, family_first)
        rest = [w for i, w in enumerate(words) if i != k and w.lower() not in SUFFIXES]
        full.append(name)
        surname.append(words[k])
        given.append(" ".join(rest) or words[k])
        swapped.append(" ".join(rest + [words[k]] if family_first else [words[k]] + rest))
    labels = np.asarray([label_id[label] for _, label in kept], dtype=np.int64)
    return People(full, surname, given, swapped, labels, label_names, source)


def load_people(path: str | os.PathLike) -> People:
    return people_from_rows(read_rows(path), str(path))


def held_out_surnames(people: People, split: Split) -> set[str]:
    """The family names (lower-cased) of the validation and test people."""
    return {people.surname[i].lower() for i in np.concatenate([split.val, split.test])}


def split_people(people: People, seed: int = 42, test_size: float = 0.1, val_size: float = 0.05) -> Split:
    """Assign whole family names at random to test (`test_size` of the families), validation
    (`val_size`) and training. Families are drawn, not people, so a common family name (Kim,
    Nguyen, Smith) lands on one side whole."""
    keys = sorted({s.lower() for s in people.surname})
    draw = np.random.default_rng(seed).random(len(keys))
    side = dict(zip(keys, np.where(draw < test_size, 2, np.where(draw < test_size + val_size, 1, 0))))
    where = np.fromiter((side[s.lower()] for s in people.surname), dtype=np.int64, count=len(people))
    return Split("surname", seed, test_size, val_size, *(np.flatnonzero(where == k) for k in range(3)))
