"""Predictions for every name in a file, streamed, so that a file of any length fits in memory.

``nameorigin predict --input FILE`` reads plain text (one name a line), CSV/TSV (a header naming
the name column) or JSONL (one object a line) in chunks of a few thousand rows, and writes each
row back in order with the prediction appended. Nothing is dropped: a row that can't be scored is
written with ``abstained`` true and its ``reason``. Malformed input stops with a `NameOriginError`
that names the line, and output to a file is written to a temporary file beside it and moved into
place only at the end, so a failed run leaves no partial file and an existing one untouched (a
symlink's target is the file replaced; a device or FIFO such as ``/dev/null`` is written in place).

Choices worth knowing:

* Blank lines are rows in plain text (abstained: empty name) but not in CSV/TSV or JSONL, where
  they are skipped as `csv.DictReader` does.
* Empty input gives header-only output (CSV/TSV: the input's header, else ``--column``, then the
  result columns; JSONL: nothing) and 0 rows. It is not an error, so a pipe that filters
  everything out still succeeds.
* Output defaults to CSV for plain-text input, which has no columns of its own to keep.
* When an input column (or the first JSONL object's key) is named like a result column, as in a
  labelled ``name,label`` file, the result columns are all prefixed with ``predicted_``; nothing
  is overwritten. A later JSONL object that brings such a key is an error naming its line.
* In CSV/TSV, ``abstained`` is ``true``/``false``, probabilities have 6 decimals, and a missing
  value is an empty cell; JSONL keeps full floats and ``null``.
* Stdout can't be atomic: an error part-way leaves the rows already written there.
* Memory stays bounded whatever the file holds: `Classifier.predict` scores each chunk in
  length-sorted batches of a fixed number of padded characters, so one huge value (a corrupt
  field) pads only its own small batch.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from .argtypes import positive_int
from .errors import NameOriginError
from .files import output_target

INPUT_FORMATS = ("text", "csv", "tsv", "jsonl")
OUTPUT_FORMATS = ("csv", "tsv", "jsonl")
RESULT_COLUMNS = ("label", "probability", "abstained", "reason", "normalized")
EXTENSIONS = {".txt": "text", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
DELIMITERS = {"csv": ",", "tsv": "\t"}

Source = str | os.PathLike | IO | None
Row = tuple[int, Any, Any]  # (line number, the row as read: list of cells or dict, the name)


def _fail(where: str, line: int, message: str) -> NameOriginError:
    return NameOriginError(f"{where}, line {line}: {message}")


class _Lines:
    """The decoded lines of a binary or text stream, counted for error messages."""

    def __init__(self, stream: IO, where: str):
        self.stream, self.where, self.n = iter(stream), where, 0

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        try:
            line = next(self.stream)
        except UnicodeDecodeError as err:
            raise _fail(self.where, self.n + 1, f"not valid UTF-8 ({err.reason})") from None
        self.n += 1
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8-sig" if self.n == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise _fail(self.where, self.n, f"not valid UTF-8 (byte {err.start + 1}: {err.reason})") from None
        return line


def _read_text(lines: _Lines, column: str) -> tuple[list[str], Iterator[Row]]:
    def rows() -> Iterator[Row]:
        for line in lines:
            name = line.rstrip("\r\n")
            yield lines.n, [name], name
    return [column], rows()


def _read_table(lines: _Lines, column: str, delimiter: str) -> tuple[list[str], Iterator[Row]]:
    reader = csv.reader(lines, delimiter=delimiter)

    def record() -> tuple[int, list[str] | None]:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader, None)
            except csv.Error as err:
                raise _fail(lines.where, start, f"malformed row ({err})") from None
            if row != []:
                return start, row

    _, header = record()
    if header is None:
        return [column], iter(())
    if column not in header:
        found = ", ".join(map(repr, header))
        raise _fail(lines.where, reader.line_num, f"no column {column!r} in the header; found {found} "
                                                  "(choose one with --column)")
    index = header.index(column)

    def rows() -> Iterator[Row]:
        while True:
            start, row = record()
            if row is None:
                return
            if len(row) != len(header):
                raise _fail(lines.where, start, f"{len(row)} fields where the header has {len(header)} "
                                                "(a ragged row, or an unquoted delimiter in a value)")
            yield start, row, row[index]
    return header, rows()


def _read_jsonl(lines: _Lines, column: str) -> tuple[None, Iterator[Row]]:
    def rows() -> Iterator[Row]:
        for line in lines:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise _fail(lines.where, lines.n, f"not valid JSON ({err.msg}, column {err.colno})") from None
            if not isinstance(obj, dict):
                raise _fail(lines.where, lines.n, f"expected a JSON object, found {type(obj).__name__}")
            if column not in obj:
                found = ", ".join(map(repr, obj)) or "none"
                raise _fail(lines.where, lines.n, f"no key {column!r}; this object has {found} "
                                                  "(choose one with --column)")
            yield lines.n, obj, obj[column]
    return None, rows()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _result_names(names: list[str], header: list[str], where: str, line: int) -> list[str]:
    """The result columns, prefixed with ``predicted_`` when the input already has one of their
    names (a labelled ``name,label`` file, say), so no input column is overwritten."""
    if set(names) & set(header):
        names = [f"predicted_{n}" for n in names]
        clash = [c for c in header if c in names]
        if clash:
            raise _fail(where, line, f"column {clash[0]!r} is also a result column; rename it")
    return names


class _TableWriter:
    def __init__(self, out: IO[str], delimiter: str, top_k: int, where: str):
        self.csv = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        # csv quotes a lone "\r" only when it is part of the line terminator; QUOTE_ALL such rows.
        self.quote_all = csv.writer(out, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.top_k, self.where, self.header, self.keys = top_k, where, None, set()

    def start(self, header: list[str], line: int = 1) -> None:
        extra = [c for i in range(1, self.top_k + 1) for c in (f"top{i}_label", f"top{i}_probability")]
        results = _result_names([*RESULT_COLUMNS, *extra], header, self.where, line)
        self.header, self.keys = header, set(header)
        self.csv.writerow([*header, *results])

    def write(self, line: int, row: Any, p: Any) -> None:
        if isinstance(row, dict):
            if self.header is None:
                self.start(list(row), line)
            if not row.keys() <= self.keys:
                new = next(k for k in row if k not in self.keys)
                raise _fail(self.where, line, f"key {new!r} is not in the first object, and CSV/TSV output "
                                              "needs the same columns on every row")
            row = [_cell(row.get(k, "")) for k in self.header]
        top = [x for q in p.predictions for x in (q["label"], f"{q['probability']:.6f}")]
        top += [""] * (2 * self.top_k - len(top))
        writer = self.quote_all if any("\r" in cell for cell in row) else self.csv
        writer.writerow([*row, p.label or "", "" if p.probability is None else f"{p.probability:.6f}",
                           "true" if p.abstained else "false", p.reason or "", p.normalized, *top])

    def finish(self, column: str) -> None:
        if self.header is None:
            self.start([column])


class _JsonWriter:
    FIELDS = (*RESULT_COLUMNS, "predictions")

    def __init__(self, out: IO[str], top_k: int, where: str):
        self.out, self.where, self.header, self.fields = out, where, None, None

    def start(self, header: list[str], line: int = 1) -> None:
        self.header = header
        self.fields = _result_names(list(self.FIELDS), header, self.where, line)

    def write(self, line: int, row: Any, p: Any) -> None:
        if isinstance(row, dict):
            if self.fields is None:
                self.fields = _result_names(list(self.FIELDS), list(row), self.where, line)
            elif not row.keys().isdisjoint(self.fields):
                clash = next(k for k in row if k in self.fields)
                raise _fail(self.where, line, f"key {clash!r} is also a result field; rename it")
        else:
            row = dict(zip(self.header, row))
        values = (p.label, p.probability, p.abstained, p.reason, p.normalized, p.predictions)
        row.update(zip(self.fields, values))
        self.out.write(json.dumps(row, ensure_ascii=False) + "\n")

    def finish(self, column: str) -> None:
        pass


def _format_of(path: Source, *, required: bool) -> str | None:
    if not isinstance(path, (str, os.PathLike)) or str(path) == "-":
        return None
    fmt = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None and required:
        raise NameOriginError(f"{path}: can't tell the format from the extension (known: "
                              f"{', '.join(EXTENSIONS)}); pass --input-format")
    return fmt


def _open_source(source: Source) -> contextlib.AbstractContextManager[IO]:
    if source is None or source == "-":
        return contextlib.nullcontext(getattr(sys.stdin, "buffer", sys.stdin))
    if not isinstance(source, (str, os.PathLike)):
        return contextlib.nullcontext(source)
    try:
        return open(source, "rb", buffering=1 << 20)
    except OSError as err:
        raise NameOriginError(f"{source}: can't read it ({err.strerror})") from None


def _open_stdout() -> contextlib.AbstractContextManager[IO[str]]:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return contextlib.nullcontext(sys.stdout)
    sys.stdout.flush()
    return open(fd, "w", encoding="utf-8", newline="", closefd=False)


@contextlib.contextmanager
def _atomic(dest: Path) -> Iterator[IO[str]]:
    path, replaceable = output_target(dest)
    if not replaceable:
        try:
            out = open(path, "w", encoding="utf-8", newline="")
        except OSError as err:
            raise NameOriginError(f"{dest}: can't write it ({err.strerror})") from None
        with out:
            yield out
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as err:
        raise NameOriginError(f"{dest}: can't write here ({err.strerror})") from None
    try:
        with open(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        if path.exists():
            mode = path.stat().st_mode & 0o7777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _open_dest(dest: Source) -> contextlib.AbstractContextManager[IO[str]]:
    if dest is None or dest == "-" or str(dest) == "/dev/stdout":  # the open stdout: appends stay appends
        return _open_stdout()
    if isinstance(dest, (str, os.PathLike)):
        return _atomic(Path(dest))
    return contextlib.nullcontext(dest)


def predict_file(clf: Any, source: Source = "-", dest: Source = "-", *, column: str = "name",
                 input_format: str | None = None, output_format: str | None = None, top_k: int = 3,
                 chunk_size: int = 8192, progress: bool = True) -> int:
    """Predict every row of `source` into `dest`, `chunk_size` rows at a time; return the rows written.

    `source` and `dest` are paths, ``"-"`` (stdin/stdout) or open file objects (binary input gives
    exact line numbers for UTF-8 errors). Formats: `input_format` from the extension, else text;
    `output_format` from the extension of `dest`, else the input's (CSV for plain text).
    """
    input_format = input_format or _format_of(source, required=True) or "text"
    if input_format not in INPUT_FORMATS:
        raise NameOriginError(f"unknown input format {input_format!r}; choose from {', '.join(INPUT_FORMATS)}")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise NameOriginError(f"unknown output format {output_format!r}; choose from {', '.join(OUTPUT_FORMATS)}")
    output_format = output_format or _format_of(dest, required=False)
    if output_format not in OUTPUT_FORMATS:
        output_format = "csv" if input_format == "text" else input_format
    if chunk_size < 1:
        raise NameOriginError(f"chunk size must be at least 1, got {chunk_size}")
    top_k = max(1, min(top_k, len(clf.labels)))
    if source is None or isinstance(source, (str, os.PathLike)):
        where = "<stdin>" if source in (None, "-") else str(source)
    else:
        where = str(getattr(source, "name", "<input>"))

    with _open_source(source) as stream, _open_dest(dest) as out, \
            tqdm(desc="predict", unit=" rows", unit_scale=True, file=sys.stderr,
                 disable=None if progress else True) as bar:
        lines = _Lines(stream, where)
        if input_format == "jsonl":
            header, rows = _read_jsonl(lines, column)
        elif input_format == "text":
            header, rows = _read_text(lines, column)
        else:
            header, rows = _read_table(lines, column, DELIMITERS[input_format])
        if output_format == "jsonl":
            writer: _TableWriter | _JsonWriter = _JsonWriter(out, top_k, where)
        else:
            writer = _TableWriter(out, DELIMITERS[output_format], top_k, where)
        if header is not None:
            writer.start(header)
        written = 0
        while chunk := list(itertools.islice(rows, chunk_size)):
            predictions = clf.predict([name for _, _, name in chunk], top_k=top_k)
            for (line, row, _), p in zip(chunk, predictions):
                writer.write(line, row, p)
            written += len(chunk)
            bar.update(len(chunk))
        writer.finish(column)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The file options of ``nameorigin predict``."""
    parser.add_argument("--input", metavar="FILE",
                        help="predict every name in FILE ('-': stdin): .txt one name a line, .csv/.tsv "
                             "with a header, .jsonl one object a line")
    parser.add_argument("--column", default="name", help="the CSV/TSV column or JSONL key holding the names "
                                                         "(default: %(default)s)")
    parser.add_argument("--output", metavar="FILE", default="-",
                        help="where to write (default: stdout); a file is replaced only when the run succeeds")
    parser.add_argument("--format", choices=OUTPUT_FORMATS,
                        help="output format (default: from --output's extension, else the input's; csv for text)")
    parser.add_argument("--input-format", choices=INPUT_FORMATS,
                        help="input format (default: from --input's extension; text for stdin)")
    parser.add_argument("--chunk-size", type=positive_int, default=8192, metavar="N",
                        help="rows read and predicted at a time (default: %(default)s)")


def command(args: argparse.Namespace, clf: Any) -> int:
    """Run ``nameorigin predict --input ...`` with a loaded classifier; return the rows written."""
    if getattr(args, "names", None):
        raise NameOriginError("give names on the command line or --input, not both")
    if getattr(args, "json", False):
        raise NameOriginError("--json does not apply to --input; use --format jsonl")
    try:
        return predict_file(clf, args.input, args.output, column=args.column, input_format=args.input_format,
                            output_format=args.format, top_k=args.top_k, chunk_size=args.chunk_size,
                            progress=not getattr(args, "quiet", False))
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
