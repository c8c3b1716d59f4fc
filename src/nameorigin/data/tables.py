"""Labelled CSV/TSV files (``name`` and ``label`` columns), read a block at a time.

A user's own corpus can have millions of rows, so nothing here holds the file, or a Python
object per row: the bytes come in 1 MB blocks (`sources.stream_regular`, within the wider
table bounds), are decoded a block at a time (a bad byte still named by its line), parsed by
`csv`, normalized as `data.build_corpus` does, and encoded a chunk of rows at a time into
`encoded.EncodedNames`. A malformed row is a `DataError` naming its line, however far in.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import DataError
from ..text.names import normalize
from .encoded import LOOKUP, EncodedNames
from .sources import Budget, decode, stream_regular

_ROWS = 1 << 14  # rows normalized and encoded together
_MAX_LINE = 1 << 20
# A line with its end (CRLF, LF or a lone CR), or a last line without one: how csv wants lines.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _lines(path: Path, budget: Budget, tick: Callable[[int], None]) -> Iterator[str]:
    """The file's lines, decoded a block at a time; a block ends at a line end, so no character
    or CRLF is cut in two."""
    pending, line = b"", 1
    for chunk in stream_regular(path, budget):
        tick(len(chunk))
        data = pending + chunk
        end = len(data) - data.endswith(b"\r")  # a CR at the end may be the first half of a CRLF
        cut = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end)) + 1
        if not cut:
            if len(data) > _MAX_LINE:
                raise DataError(f"{path}, line {line}: a line of more than 1 MB; is this a table of names?")
            pending = data
            continue
        block, pending = data[:cut], data[cut:]
        text = decode(block, str(path), line)
        line += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
        yield from (match.group() for match in _LINE.finditer(text))
    if pending:
        yield from (match.group() for match in _LINE.finditer(decode(pending, str(path), line)))


def table_rows(path: Path, budget: Budget, tick: Callable[[int], None] = lambda _n: None) -> Iterator[tuple[str, str]]:
    """The raw ``(name, label)`` rows of a CSV (TSV for a ``.tsv`` name) with a header naming
    ``name`` and ``label`` columns; blank rows are skipped."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = csv.reader(_lines(path, budget, tick), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(rows)]
    except StopIteration:
        raise DataError(f"{path}: the file is empty") from None
    except csv.Error as err:
        raise DataError(f"{path}, line {rows.line_num}: {err}") from None
    if "name" not in header or "label" not in header:
        raise DataError(f"{path}, line 1: the header needs 'name' and 'label' columns, found {header}")
    i_name, i_label = header.index("name"), header.index("label")
    count = 0
    try:
        for row in rows:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{path}, line {rows.line_num}: {len(row)} fields, the header has {len(header)}")
            if not row[i_label].strip():
                raise DataError(f"{path}, line {rows.line_num}: empty label")
            count += 1
            if count > budget.names:
                break
            yield row[i_name], row[i_label].strip()
    except csv.Error as err:
        raise DataError(f"{path}, line {rows.line_num}: {err}") from None
    budget.take_names(count, str(path))


@dataclass
class Table:
    """A labelled file's usable names, their labels (indices into the sorted `label_names`, which
    count every label in the file, as `data.build_corpus` does), and the ``(raw, label)`` rows
    skipped for a symbol outside the alphabet."""

    names: EncodedNames
    labels: np.ndarray
    label_names: list[str]
    skipped: list[tuple[str, str]]


class _Encoder:
    """Normalizes and encodes rows a chunk at a time, as `data.build_corpus` treats them: a name
    empty after normalizing is dropped, one keeping a symbol outside the alphabet skipped."""

    def __init__(self) -> None:
        self.codes: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.label_id: dict[str, int] = {}
        self.skipped: list[tuple[str, str]] = []

    def add(self, raws: list[str], ids: list[int]) -> None:
        names = [normalize(raw) for raw in raws]
        lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        codes = LOOKUP[np.frombuffer("".join(names).encode("ascii", "replace"), dtype=np.uint8)]
        present = np.flatnonzero(lengths)
        bad = np.zeros(len(names), dtype=bool)
        if present.size:
            starts = np.cumsum(lengths) - lengths
            bad[present] = np.add.reduceat((codes < 0).astype(np.int64), starts[present]) > 0
        keep = (lengths > 0) & ~bad
        if bad.any():
            label_of = list(self.label_id)
            self.skipped += [(raws[i], label_of[ids[i]]) for i in np.flatnonzero(bad).tolist()]
        self.codes.append(codes[np.repeat(keep, lengths)].astype(np.uint8))
        self.lengths.append(lengths[keep])
        self.labels.append(np.asarray(ids, dtype=np.int32)[keep])

    def table(self) -> Table:
        label_names = sorted(self.label_id)
        rank = {label: i for i, label in enumerate(label_names)}
        sorted_id = np.empty(len(label_names), dtype=np.int64)
        sorted_id[list(self.label_id.values())] = [rank[label] for label in self.label_id]
        labels = sorted_id[np.concatenate(self.labels)] if self.labels else np.empty(0, dtype=np.int64)
        return Table(EncodedNames.join(self.codes, self.lengths), labels, label_names, self.skipped)


def read_table(path: Path, *, progress: bool = False) -> Table:
    """Stream a labelled CSV/TSV file into a `Table`, within the table bounds of `sources`,
    showing how far it has read on stderr when `progress` is on and stderr is a terminal."""
    encoder, raws, ids = _Encoder(), [], []
    label_id = encoder.label_id
    with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"encoding {path.name}", leave=False,
              file=sys.stderr, disable=None if progress else True) as bar:
        for raw, label in table_rows(path, Budget(table=True), bar.update):
            raws.append(raw), ids.append(label_id.setdefault(label, len(label_id)))
            if len(raws) == _ROWS:
                encoder.add(raws, ids)
                raws, ids = [], []
        if raws:
            encoder.add(raws, ids)
    return encoder.table()
