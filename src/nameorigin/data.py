"""The labelled-names corpus: how it is read, how names are normalized, encoded and split.

Where the corpus comes from (``--data``, ``$NAMEORIGIN_DATA``, the download cache, a download) is
`download.resolve_source`'s job; reading its bytes safely and within bounds is `sources`'.

A source is a folder of ``[Label].txt`` files (one name per line), a zip archive holding such a
folder (the official ``data/names/`` layout), or a CSV/TSV file with ``name`` and ``label`` columns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import math
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .download import cached_archive, resolve_source
from .errors import DataError
from .names import ALPHABET, OUTSIDE_ALPHABET, in_alphabet, normalize
from .sources import CLASS_FILE, MAX_FILES, Budget, decode, read_member, read_regular, verify_archive

N_CHARS = len(ALPHABET)

# Byte -> character index, -1 for bytes outside the alphabet; lets `encode` work on whole arrays.
_LOOKUP = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(ALPHABET):
    _LOOKUP[ord(_c)] = _i

# A line ends at CRLF, LF or a lone CR (old Mac files): a line is a run of anything else.
_LINE = re.compile(r"[^\r\n]+")


def encode(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pack normalized names into a right-padded index matrix and their lengths.

    Padding uses index 0; models read each name only up to its own length, so the pad value
    never reaches a prediction. Every name must be non-empty and inside `ALPHABET`.
    """
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    if len(names) == 0 or lengths.min() == 0:
        raise ValueError("encode() needs at least one name and no empty names")
    codes = _LOOKUP[np.frombuffer("".join(names).encode("ascii"), dtype=np.uint8)]
    if (codes < 0).any():
        raise ValueError("encode() got a character outside the alphabet")
    padded = np.zeros((len(names), int(lengths.max())), dtype=np.int64)
    padded[np.arange(padded.shape[1]) < lengths[:, None]] = codes
    return torch.from_numpy(padded), torch.from_numpy(lengths)


@dataclass
class Corpus:
    """Normalized names with integer labels; `label_names` is sorted so label ids never depend on
    the order a file system lists files in."""

    names: list[str]
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
        digest = hashlib.sha256()
        rows = sorted(f"{self.label_names[y]}\t{n}\n" for n, y in zip(self.names, self.labels))
        for row in rows:
            digest.update(row.encode("ascii"))
        return digest.hexdigest()

    def subset(self, index: np.ndarray) -> tuple[list[str], np.ndarray]:
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
    if not names:
        raise DataError(f"{source}: no usable names found")
    if len(label_names) < 2:
        raise DataError(f"{source}: found only {len(label_names)} label; a classifier needs at least 2")
    return Corpus(names, np.asarray(labels, dtype=np.int64), label_names, source, skipped)


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


def _read_table(path: Path, budget: Budget) -> list[tuple[str, str]]:
    text = decode(read_regular(path, budget), str(path))
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(rows)]
    except StopIteration:
        raise DataError(f"{path}: the file is empty") from None
    if "name" not in header or "label" not in header:
        raise DataError(f"{path}, line 1: the header needs 'name' and 'label' columns, found {header}")
    i_name, i_label = header.index("name"), header.index("label")
    pairs = []
    try:
        for row in rows:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{path}, line {rows.line_num}: {len(row)} fields, the header has {len(header)}")
            if not row[i_label].strip():
                raise DataError(f"{path}, line {rows.line_num}: empty label")
            pairs.append((row[i_name], row[i_label].strip()))
            if len(pairs) > budget.names:
                break
    except csv.Error as err:
        raise DataError(f"{path}, line {rows.line_num}: {err}") from None
    budget.take_names(len(pairs), str(path))
    return pairs


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Raw ``(name, label)`` pairs from any supported layout, read within `sources`' bounds."""
    budget = Budget()
    if path.is_dir():
        return _read_folder(path, budget)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if not path.is_file():  # a device such as /dev/null, a pipe or a socket
        raise DataError(f"{path}: not a folder, a .zip archive or a .csv/.tsv file")
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return _read_zip(path, budget)
    if path.suffix.lower() in (".csv", ".tsv"):
        return _read_table(path, budget)
    raise DataError(f"{path}: expected a folder of [Label].txt files, a .zip archive, or a .csv/.tsv file")


def load_corpus(data: str | os.PathLike | None = None, *, progress: bool = True) -> Corpus:
    """Find, read and normalize the corpus (see the module docstring for where it comes from)."""
    path = resolve_source(data, progress=progress)
    try:
        pairs = read_pairs(path)
    except DataError as err:
        if path == cached_archive():
            raise DataError(f"{err} (this is nameorigin's download cache: delete the file to download "
                            "the corpus again)") from None
        raise
    return build_corpus(pairs, str(path))


# --- splitting ------------------------------------------------------------------------------

SPLITS = ("seed", "dedup")


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

    Written with numpy rather than taken from scikit-learn because importing scikit-learn costs
    about two seconds, most of a `nameorigin train --arch rnn` run.
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
        _, group = np.unique([corpus.names[i] for i in rows], return_inverse=True)
        rarity = np.bincount(labels)[labels]
        order = np.lexsort((rarity, group))
        first_of_group = order[np.r_[True, group[order][1:] != group[order][:-1]]]
        held_groups = group[first_of_group][stratified_holdout(labels[first_of_group], size, seed)]
    except ValueError as err:
        raise DataError(f"{corpus.source}: cannot make a stratified split ({err})") from None
    is_held = np.isin(group, held_groups)
    return rows[~is_held], rows[is_held]


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
    if kind == "dedup":
        seen: dict[tuple[str, int], int] = {}
        for i, pair in enumerate(zip(corpus.names, corpus.labels.tolist())):
            seen.setdefault(pair, i)
        rows = np.fromiter(seen.values(), dtype=np.int64)
    train, test = _holdout(corpus, rows, test_size, seed, kind == "dedup")
    val = np.empty(0, dtype=np.int64)
    if val_size:
        train, val = _holdout(corpus, train, val_size, seed, kind == "dedup")
    return Split(kind, seed, test_size, val_size, train, val, test)
