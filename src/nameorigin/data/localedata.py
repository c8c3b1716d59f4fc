"""The locale table (`locales.build_table`) as training and evaluation read it.

Each row is read as the model will read it when a user types it (`reading`): names in Han
characters or kana by their Japanese reading whatever their label, as `Classifier` scores them
(a Chinese name is told from a Japanese one by how its Japanese reading sounds), any other name
by unidecode's, cleaned to the alphabet as Wikipedia's names are. Full names do not exist in the
lists, so they are made: each family name of a locale with a given name of the same locale, part
and kind of script (no one writes 中川 Naoto), in the order the tradition writes them
(`FAMILY_FIRST`; Japanese names come in both orders, as Wikipedia writes them given name first
and Japanese script family name first); Chinese names in Han characters are written without a
space, as Chinese writes them.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..text.names import clean
from ..text.readings import JAPANESE_SCRIPTS, romanize
from ..text.scripts import script_of
from .locales import HEADER, KINDS, LABELS, LOCALES, PARTS

FAMILY_FIRST = frozenset({"Chinese", "Korean", "Vietnamese"})
EITHER_ORDER = frozenset({"Japanese"})
LOCALES_ENV = "NAMEORIGIN_LOCALES"


@dataclass
class LocaleTable:
    """The curated rows: as written, as the model reads them, and their label, kind, locales and part."""

    written: list[str]
    text: list[str]
    labels: list[str]
    kinds: np.ndarray
    locales: list[tuple[str, ...]]
    parts: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.text)

    @property
    def fingerprint(self) -> str:
        """Of every column and of what the model reads, so a table read through another
        transliteration (a new pykakasi or unidecode) is another corpus."""
        digest = hashlib.sha256()
        for row in sorted(zip(self.written, self.text, self.labels, self.kinds.tolist(),
                              [",".join(ls) for ls in self.locales], self.parts.tolist())):
            digest.update(("\t".join(row) + "\n").encode("utf-8"))
        return digest.hexdigest()

    def rows(self, part: str, kind: str, locale: str | None = None, exclude: frozenset[str] = frozenset()) -> np.ndarray:
        """The rows of a part and kind (and locale), less those whose reading is in `exclude`
        (in small letters)."""
        keep = (self.parts == part) & (self.kinds == kind)
        if locale is not None:
            keep &= np.fromiter((locale in ls for ls in self.locales), dtype=bool, count=len(self))
        if exclude:
            keep &= np.fromiter((t.lower() not in exclude for t in self.text), dtype=bool, count=len(self))
        return np.flatnonzero(keep)

    def full_names(self, part: str, rng: np.random.Generator, locale: str | None = None, written: bool = False,
                   exclude: frozenset[str] = frozenset()) -> tuple[list[str], list[str]]:
        """Each family name of `part` (of `locale`, or of every locale) with a given name drawn from
        its own locale's given names in the same part, in its tradition's order: as the model
        reads them, or as people write them (`written`; Han and kana family name first)."""
        names_of = self.written if written else self.text
        given = {}
        for i in self.rows(part, "given", exclude=exclude):
            for loc in self.locales[i]:
                given.setdefault((loc, _east_asian(self.written[i])), []).append(i)
        names, labels = [], []
        for i in self.rows(part, "family", locale, exclude):
            east_asian = _east_asian(self.written[i])
            with_given = [loc for loc in self.locales[i] if (loc, east_asian) in given]
            if not with_given:
                continue
            loc = locale if locale in with_given else with_given[rng.integers(len(with_given))]
            pool = given[loc, east_asian]
            first, family = names_of[pool[rng.integers(len(pool))]], names_of[i]
            label = self.labels[i]
            family_first = label in FAMILY_FIRST or (label in EITHER_ORDER and rng.random() < 0.5)
            if written and east_asian:
                family_first = True
            space = "" if written and east_asian and label == "Chinese" else " "
            names.append(f"{family}{space}{first}" if family_first else f"{first}{space}{family}")
            labels.append(label)
        return names, labels

    def mapped_locales(self) -> list[str]:
        """Every locale with family names in the test part, in `locales.LOCALES`' order."""
        present = {loc for i in self.rows("test", "family") for loc in self.locales[i]}
        return [loc for loc in LOCALES if loc in present]


def _east_asian(written: str) -> bool:
    return script_of(written) in JAPANESE_SCRIPTS  # None for ASCII


def reading(name: str, label: str) -> str:
    """What the model reads of a row: `readings.romanize` as `label`'s writers read it, except
    that Han characters and kana are read in Japanese whatever the label, as `Classifier` reads
    them, so that the network learns how Chinese names sound in that reading."""
    return clean(romanize(name, "Japanese" if _east_asian(name) else label))


def read_table(path: str | os.PathLike) -> LocaleTable:
    """The table written by ``nameorigin data build-locales``, with a clear error for a bad one."""
    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise DataError(f"{path}: {what}, not the locale table (build it with: nameorigin data build-locales "
                        f"--out {path})")
    columns: dict[str, list[str]] = {key: [] for key in HEADER}
    text: list[str] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if tuple(next(rows, ())) != HEADER:
                raise DataError(f"{path}, line 1: the header must be {' '.join(HEADER)}")
            for row in rows:
                read = reading(row[0], row[1]) if len(row) == len(HEADER) and row[1] in LABELS else ""
                if len(row) != len(HEADER) or row[2] not in KINDS or row[5] not in PARTS or not read:
                    raise DataError(f"{path}, line {rows.line_num}: not a row of the locale table (name, one of "
                                    "the 18 labels or Other, given or family, locales, sources, train/val/test)")
                for key, value in zip(HEADER, row):
                    columns[key].append(value)
                text.append(read)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8 ({err.reason})") from None
    except csv.Error as err:
        raise DataError(f"{path}: not a table of names ({err})") from None
    if not columns["name"]:
        raise DataError(f"{path}: no names in the table")
    return LocaleTable(columns["name"], text, columns["label"], np.asarray(columns["kind"]),
                       [tuple(s.split(",")) for s in columns["locale"]], np.asarray(columns["part"]), str(path))
