"""The labelled-names corpus: how it is read, how names are normalized, encoded and split.

Where the corpus comes from (``--data``, ``$NAMEORIGIN_DATA``, the download cache, a download) is
`download.resolve_source`'s job; reading its bytes safely and within bounds is `sources`'.

A source is a folder of ``[Label].txt`` files (one name per line), a zip archive holding such a
folder (the official ``data/names/`` layout), or a CSV/TSV file with ``name`` and ``label`` columns.
A CSV/TSV file may hold millions of rows: it is streamed (`tables`) and its names kept as
`encoded.EncodedNames` rather than strings; the other layouts give a list of strings.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import SPLITS
from ..errors import DataError
from ..text.names import in_alphabet, normalize, unprintable
from .download import cached_archive, resolve_source
from .encoded import EncodedNames, fingerprint
from .sources import CLASS_FILE, MAX_FILES, Budget, decode, read_member, read_regular, verify_archive
from .tables import read_table, table_rows

# Draws an epoch's training names and labels (a corpus whose names take several forms).
Sampler = Callable[[np.random.Generator], tuple[list[str], np.ndarray]]


# A line ends at CRLF, LF or a lone CR (old Mac files): a line is a run of anything else.
_LINE = re.compile(r"[^\r\n]+")


@dataclass
class Corpus:
    """Normalized names with integer labels; `label_names` is sorted so label ids never depend on
    the order a file system lists files in. A CSV/TSV corpus holds its names as `EncodedNames`."""

    names: list[str] | EncodedNames
    labels: np.ndarray
    label_names: list[str]
    source: str
    skipped: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the normalized corpus, independent of file order: identifies the data a
        checkpoint was trained on."""
        if isinstance(self.names, EncodedNames):
            return fingerprint(self.names, self.labels, self.label_names)
        digest = hashlib.sha256()
        rows = sorted(f"{self.label_names[y]}\t{n}\n" for n, y in zip(self.names, self.labels))
        for row in rows:
            digest.update(row.encode("utf-8"))
        return digest.hexdigest()

    def subset(self, index: np.ndarray, *, encoded: bool = False) -> tuple[list[str] | EncodedNames, np.ndarray]:
        """The names and labels at `index`. Names come as strings, except that with `encoded` an
        `EncodedNames` corpus gives `EncodedNames` (its training part, too big for strings)."""
        if isinstance(self.names, EncodedNames):
            part = self.names.subset(index)
            return (part if encoded else part.decode()), self.labels[index]
        return [self.names[i] for i in index], self.labels[index]


def build_corpus(pairs: list[tuple[str, str]], source: str) -> Corpus:
    """Normalize raw ``(name, label)`` pairs; names that keep a symbol outside the alphabet are
    skipped and remembered (the reference drops them silently)."""
    label_names = sorted({label for _, label in pairs})
    label_id = {label: i for i, label in enumerate(label_names)}
    names, labels, skipped = [], [], []
    for raw, label in pairs:
        name = normalize(raw)
        if not name:
            continue
        if in_alphabet(name):
            names.append(name)
            labels.append(label_id[label])
        else:
            skipped.append((raw, label))
    return _checked(Corpus(names, np.asarray(labels, dtype=np.int64), label_names, source, skipped))


def _checked(corpus: Corpus) -> Corpus:
    if not len(corpus.names):
        raise DataError(f"{corpus.source}: no usable names found")
    if len(corpus.label_names) < 2:
        raise DataError(f"{corpus.source}: found only {len(corpus.label_names)} label; a classifier needs at least 2")
    for label in corpus.label_names:
        if unprintable(label):
            raise DataError(f"{corpus.source}: the label {label!r} holds a control character (a tab, a line end, "
                            "...); every output that names it would break")
    return corpus


# --- reading the three layouts -------------------------------------------------------------


def _lines(text: str, budget: Budget, where: str) -> list[str]:
    lines = (line for match in _LINE.finditer(text) if not (line := match.group()).isspace())
    kept = list(itertools.islice(lines, budget.names + 1))
    budget.take_names(len(kept), where)
    return kept


def _read_folder(folder: Path, budget: Budget) -> list[tuple[str, str]]:
    files = sorted(folder.glob("*.txt"))
    if not files:
        for inner in (folder / "names", folder / "data" / "names"):
            if inner.is_dir():
                return _read_folder(inner, budget)
        raise DataError(f"{folder}: no [Label].txt files in this folder")
    if len(files) > MAX_FILES:
        raise DataError(f"{folder}: {len(files):,} [Label].txt files, more than the {MAX_FILES:,} nameorigin "
                        "reads in a corpus")
    pairs = []
    for path in files:
        text = decode(read_regular(path, budget), str(path))
        pairs += [(line, path.stem) for line in _lines(text, budget, str(path))]
    return pairs


def _read_zip(path: Path, budget: Budget) -> list[tuple[str, str]]:
    classes = verify_archive(path)
    pairs = []
    with zipfile.ZipFile(path) as archive:
        for info in sorted(classes, key=lambda m: m.filename):
            label = CLASS_FILE.search(info.filename.replace("\\", "/")).group(1)
            where = f"{path}:{info.filename}"
            text = decode(read_member(archive, info, budget, where), where)
            pairs += [(line, label) for line in _lines(text, budget, where)]
    return pairs


def _layout(path: Path) -> str:
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if not path.is_file():  # a device such as /dev/null, a pipe or a socket
        raise DataError(f"{path}: not a folder, a .zip archive or a .csv/.tsv file")
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return "zip"
    if path.suffix.lower() in (".csv", ".tsv"):
        return "table"
    raise DataError(f"{path}: expected a folder of [Label].txt files, a .zip archive, or a .csv/.tsv file")


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Raw ``(name, label)`` pairs from any supported layout, read within `sources`' bounds."""
    layout = _layout(path)
    if layout == "table":
        return list(table_rows(path, Budget(table=True)))
    return (_read_folder if layout == "folder" else _read_zip)(path, Budget())


def load_corpus(data: str | os.PathLike | None = None, *, progress: bool = True) -> Corpus:
    """Find, read and normalize the corpus (see the module docstring for where it comes from)."""
    path = resolve_source(data, progress=progress)
    try:
        if _layout(path) == "table":
            table = read_table(path, progress=progress)
            return _checked(Corpus(table.names, table.labels, table.label_names, str(path), table.skipped))
        pairs = read_pairs(path)
    except DataError as err:
        if path == cached_archive():
            raise DataError(f"{err} (this is nameorigin's download cache: delete the file to download "
                            "the corpus again)") from None
        raise
    return build_corpus(pairs, str(path))


# --- splitting ------------------------------------------------------------------------------



@dataclass(frozen=True)
class Split:
    """Row indices into a `Corpus`: train, validation (held out from training for early stopping
    and calibration; may be empty) and test. Reproducible from the corpus and the settings."""

    kind: str
    seed: int
    test_size: float
    val_size: float
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def describe(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "test_size": self.test_size, "val_size": self.val_size,
                "n_train": int(len(self.train)), "n_val": int(len(self.val)), "n_test": int(len(self.test))}


def stratified_holdout(strata: np.ndarray, size: float, seed: int) -> np.ndarray:
    """A boolean mask holding out `size` of the items (rounded up), each stratum in proportion to
    its size (largest remainders get the rounding), chosen at random within the stratum.

    Written with numpy rather than taken from scikit-learn because importing scikit-learn takes
    longer than most of a `nameorigin train --arch rnn` run.
    """
    n = len(strata)
    held_total = math.ceil(size * n - 1e-9)
    _, stratum, counts = np.unique(strata, return_inverse=True, return_counts=True)
    if counts.min(initial=2) < 2 or not 0 < held_total < n:
        raise ValueError(f"holding out {size:g} of {n} items needs at least 2 in every class"
                         f" (the smallest has {counts.min() if counts.size else 0})")
    rng = np.random.default_rng(seed)
    exact = counts * held_total / n
    quota = np.floor(exact).astype(np.int64)
    by_remainder = np.lexsort((rng.random(len(counts)), quota - exact))
    quota[by_remainder[:held_total - quota.sum()]] += 1
    held = np.zeros(n, dtype=bool)
    for k, members in enumerate(np.split(np.argsort(stratum, kind="stable"), np.cumsum(counts)[:-1])):
        held[rng.permutation(members)[:quota[k]]] = True
    return held


def _holdout(corpus: Corpus, rows: np.ndarray, size: float, seed: int, grouped: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of `rows` into (kept, held out).

    With `grouped`, whole name strings are split, so that a name never sits on both sides; each
    name is stratified by the rarest of its labels, so that small classes whose names also appear
    under a big one (most Scottish names are also English) still get their share.
    """
    labels = corpus.labels[rows]
    try:
        if not grouped:
            held = stratified_holdout(labels, size, seed)
            return rows[~held], rows[held]
        group = _name_groups(corpus, rows)
        rarity = np.bincount(labels)[labels]
        order = np.lexsort((rarity, group))
        first_of_group = order[np.r_[True, group[order][1:] != group[order][:-1]]]
        held_groups = group[first_of_group][stratified_holdout(labels[first_of_group], size, seed)]
    except ValueError as err:
        raise DataError(f"{corpus.source}: cannot make a stratified split ({err})") from None
    is_held = np.isin(group, held_groups)
    return rows[~is_held], rows[is_held]


def _name_groups(corpus: Corpus, rows: np.ndarray) -> np.ndarray:
    """For each of `rows`, the rank of its name among their distinct names."""
    if isinstance(corpus.names, EncodedNames):
        return np.unique(corpus.names.ranks()[rows], return_inverse=True)[1]
    return np.unique([corpus.names[i] for i in rows], return_inverse=True)[1]


def split_corpus(corpus: Corpus, kind: str = "seed", seed: int = 42, test_size: float = 0.1,
                 val_size: float = 0.0) -> Split:
    """Stratified train/validation/test split.

    ``seed`` is the reference's split: random rows, so a name repeated in the corpus can sit on
    both sides (18,063 / 2,007 on the official corpus). ``dedup`` keeps each distinct
    (name, label) pair once and splits distinct name strings, so no test name was seen in
    training: a harder, more honest measure. The validation part (``val_size`` of the training
    part) is held out the same way.
    """
    if kind not in SPLITS:
        raise ValueError(f"unknown split {kind!r}; choose from {SPLITS}")
    rows = np.arange(len(corpus))
    if kind == "dedup" and isinstance(corpus.names, EncodedNames):  # each pair's first row, in order
        rows = np.sort(np.unique(corpus.names.ranks() * len(corpus.label_names) + corpus.labels, return_index=True)[1])
    elif kind == "dedup":
        seen: dict[tuple[str, int], int] = {}
        for i, pair in enumerate(zip(corpus.names, corpus.labels.tolist())):
            seen.setdefault(pair, i)
        rows = np.fromiter(seen.values(), dtype=np.int64)
    train, test = _holdout(corpus, rows, test_size, seed, kind == "dedup")
    val = np.empty(0, dtype=np.int64)
    if val_size:
        train, val = _holdout(corpus, train, val_size, seed, kind == "dedup")
    return Split(kind, seed, test_size, val_size, train, val, test)
