"""Writing each input row back with its prediction: CSV/TSV or JSONL, to a file or stdout.

A file is written through `files.atomic_write`, so it appears whole or not at all; stdout is
written as it goes (it can't be taken back).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from ..errors import NameOriginError
from ..files import atomic_write
from ..inference.records import Columns
from .readers import Source, fail

OUTPUT_FORMATS = ("csv", "tsv", "jsonl")
OUTPUT_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
RESULT_COLUMNS = ("label", "probability", "abstained", "reason", "normalized")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# A spreadsheet runs a cell that begins with one of these as a formula (=HYPERLINK(...), +cmd|...,
# @SUM(1)); such cells are written with a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = frozenset(FORMULA_STARTS)


def inert(cell: str) -> str:
    """`cell` as a spreadsheet will not run it (CSV/TSV output only; JSONL keeps values as they are)."""
    return "'" + cell if cell[:1] in _FORMULA and cell else cell


def _result_names(names: list[str], header: list[str], where: str, line: int) -> list[str]:
    """The result columns, prefixed with ``predicted_`` when the input already has one of their
    names (a labelled ``name,label`` file, say), so no input column is overwritten."""
    if set(names) & set(header):
        names = [f"predicted_{n}" for n in names]
        clash = [c for c in header if c in names]
        if clash:
            raise fail(where, line, f"column {clash[0]!r} is also a result column; rename it")
    return names


SET_COLUMN = "prediction_set"  # with a coverage: the set's labels, best first ("|" between them in CSV/TSV)


class TableWriter:
    def __init__(self, out: IO[str], delimiter: str, top_k: int, where: str, sets: bool = False):
        self.csv = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        # csv quotes a lone "\r" only when it is part of the line terminator; QUOTE_ALL such rows.
        self.quote_all = csv.writer(out, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.top_k, self.where, self.header, self.keys, self.sets = top_k, where, None, set(), sets

    def start(self, header: list[str], line: int = 1) -> None:
        extra = [c for i in range(1, self.top_k + 1) for c in (f"top{i}_label", f"top{i}_probability")]
        results = _result_names([*RESULT_COLUMNS, *extra, *[SET_COLUMN] * self.sets], header, self.where, line)
        self.header, self.keys = header, set(header)
        self.csv.writerow([inert(c) for c in [*header, *results]])

    def _cells(self, line: int, row: Any) -> list[str]:
        """An input row's cells, in the header's order (a JSONL object's keys), made inert."""
        if isinstance(row, dict):
            if self.header is None:
                self.start(list(row), line)
            if not row.keys() <= self.keys:
                new = next(k for k in row if k not in self.keys)
                raise fail(self.where, line, f"key {new!r} is not in the first object, and CSV/TSV output "
                                             "needs the same columns on every row")
            row = [_cell(row.get(k, "")) for k in self.header]
        return [inert(c) for c in row]

    def results(self, answers: Columns) -> list[list[str]]:
        """The result cells of each name `answers` holds (`Columns.records`' answers), made inert."""
        out = []
        for p in answers.records([None] * len(answers.reason), ""):
            shown = [x for q in p.predictions for x in (inert(q.label), f"{q.probability:.6f}")]
            cells = [inert(p.label or ""), "" if p.probability is None else f"{p.probability:.6f}",
                     "true" if p.abstained else "false", inert(p.reason or ""), inert(p.normalized),
                     *shown, *[""] * (2 * self.top_k - len(shown))]
            if self.sets:
                cells.append(inert("|".join(p.prediction_set or ())))
            out.append(cells)
        return out

    def write(self, lines: list[int], rows: list[Any], results: list[list[str]]) -> None:
        """A chunk of input rows, each with its `results` cells, as table rows."""
        out = []
        for line, row, result in zip(lines, rows, results):
            cells = [*self._cells(line, row), *result]
            if "\r" in "".join(cells):
                self.csv.writerows(out)
                self.quote_all.writerow(cells)
                out = []
            else:
                out.append(cells)
        self.csv.writerows(out)

    def finish(self, column: str) -> None:
        if self.header is None:
            self.start([column])


class JsonWriter:
    FIELDS = (*RESULT_COLUMNS, "predictions")

    def __init__(self, out: IO[str], top_k: int, where: str, sets: bool = False):
        self.out, self.where, self.header, self.fields = out, where, None, None
        self.all_fields = [*self.FIELDS, *[SET_COLUMN] * sets]

    def start(self, header: list[str], line: int = 1) -> None:
        self.header = header
        self.fields = _result_names(self.all_fields, header, self.where, line)

    def results(self, answers: Columns) -> list[tuple]:
        """The result values of each name `answers` holds."""
        records = (p.to_dict() for p in answers.records([None] * len(answers.reason), ""))
        return [(p["label"], p["probability"], p["abstained"], p["reason"], p["normalized"], p["predictions"],
                 p.get("prediction_set")) for p in records]

    def write(self, lines: list[int], rows: list[Any], results: list[tuple]) -> None:
        """A chunk of input rows, each with its `results` values, as JSON objects."""
        for line, row, values in zip(lines, rows, results):
            if isinstance(row, dict):
                if self.fields is None:
                    self.fields = _result_names(self.all_fields, list(row), self.where, line)
                elif not row.keys().isdisjoint(self.fields):
                    clash = next(k for k in row if k in self.fields)
                    raise fail(self.where, line, f"key {clash!r} is also a result field; rename it")
            else:
                row = dict(zip(self.header, row))
            row.update(zip(self.fields, values))
            self.out.write(json.dumps(row, ensure_ascii=False) + "\n")

    def finish(self, column: str) -> None:
        pass


def make_writer(out: IO[str], output_format: str, top_k: int, where: str,
                sets: bool = False) -> TableWriter | JsonWriter:
    if output_format == "jsonl":
        return JsonWriter(out, top_k, where, sets)
    return TableWriter(out, {"csv": ",", "tsv": "\t"}[output_format], top_k, where, sets)


def output_format_of(dest: Source) -> str | None:
    """The format an output path's extension names; None for stdout, open files and a path without
    an extension (a device, a FIFO). An extension that names no output format is refused, since
    writing CSV into ``out.xlsx`` would only surprise."""
    if not isinstance(dest, (str, os.PathLike)) or str(dest) == "-":
        return None
    suffix = Path(dest).suffix.lower()
    if not suffix:
        return None
    if suffix not in OUTPUT_EXTENSIONS:
        raise NameOriginError(f"{dest}: can't tell the output format from the extension {suffix!r} (known: "
                                f"{', '.join(OUTPUT_EXTENSIONS)}); pass --format")
    return OUTPUT_EXTENSIONS[suffix]


def _open_stdout() -> contextlib.AbstractContextManager[IO[str]]:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return contextlib.nullcontext(sys.stdout)
    sys.stdout.flush()
    return open(fd, "w", encoding="utf-8", newline="", closefd=False)


def open_dest(dest: Source) -> contextlib.AbstractContextManager[IO[str]]:
    if dest is None or dest == "-" or str(dest) == "/dev/stdout":  # the open stdout: appends stay appends
        return _open_stdout()
    if isinstance(dest, (str, os.PathLike)):
        return atomic_write(dest, "w")
    return contextlib.nullcontext(dest)
