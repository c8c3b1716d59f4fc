"""Reading the rows of an input file: plain text, CSV/TSV or JSONL, lazily, naming lines in errors.

Each reader returns the input's header (None for JSONL, whose keys come with each object) and an
iterator of rows ``(line number, the row as read, the name)``. Nothing is read before it is asked
for, so a file of any length streams through in chunks.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..jsontext import JSONError, parse_json
from ..errors import NameOriginError

INPUT_FORMATS = ("text", "csv", "tsv", "jsonl")
EXTENSIONS = {".txt": "text", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
DELIMITERS = {"csv": ",", "tsv": "\t"}
_BLOCK = 1 << 16
# A line longer than this is not a row of names (a binary file, /dev/zero): refused as it is read,
# before it fills memory. A name is at most `readings.MAX_NAME_LENGTH` characters.
MAX_LINE = 1 << 20
_BREAK = {bytes: re.compile(rb"\r\n|\r|\n"), str: re.compile(r"\r\n|\r|\n")}
_BREAK_KEPT = {bytes: re.compile(rb"(?<=\r\n)|(?<=\r)(?!\n)|(?<=\n)"), str: re.compile(r"(?<=\r\n)|(?<=\r)(?!\n)|(?<=\n)")}

Source = str | os.PathLike | IO | None
Row = tuple[int, Any, Any]  # (line number, the row as read: list of cells or dict, the name)


def fail(where: str, line: int, message: str) -> NameOriginError:
    return NameOriginError(f"{where}, line {line}: {message}")


def split_lines(stream: IO, keep_ends: bool = False) -> Iterator[bytes | str]:
    """The lines of `stream` without their ends (or with them, `keep_ends`, as the csv module
    needs them for a quoted field that spans lines), which may be CRLF, LF or a lone CR (old Mac
    files), read in blocks, so a file with no LF at all is not read whole as one line."""
    read = getattr(stream, "read1", stream.read)
    carry: list = []  # the start of a line whose end is not read yet
    carried = 0
    after_cr = False  # the last block ended in CR: an LF opening the next one is the same line end
    while block := read(_BLOCK):
        cr, lf = (b"\r", b"\n") if isinstance(block, bytes) else ("\r", "\n")
        if after_cr and block.startswith(lf):
            block = block[1:]
        after_cr = block.endswith(cr)
        parts = (_BREAK_KEPT if keep_ends else _BREAK)[type(block)].split(block)
        if len(parts) > 1:
            yield block[:0].join([*carry, parts[0]])
            carry, carried = [], 0
            yield from parts[1:-1]
        carry.append(parts[-1])
        carried += len(parts[-1])
        if carried > MAX_LINE:
            raise LineTooLong
    if any(carry):
        yield carry[0][:0].join(carry)


class LineTooLong(Exception):
    """A line past `MAX_LINE`, raised while it is read."""


class Lines:
    """The decoded lines of a binary or text stream, split by `split_lines` (a lone CR ends a
    line too, and a line past `MAX_LINE` is refused as it is read), counted for error messages.
    With `keep_ends`, lines keep their ends, as the csv module needs them."""

    def __init__(self, stream: IO, where: str, keep_ends: bool = False):
        self.stream = split_lines(stream, keep_ends)
        self.where, self.n = where, 0

    def __iter__(self) -> "Lines":
        return self

    def __next__(self) -> str:
        try:
            line = next(self.stream)
        except UnicodeDecodeError as err:
            raise fail(self.where, self.n + 1, f"not valid UTF-8 ({err.reason})") from None
        except LineTooLong:
            raise fail(self.where, self.n + 1, f"a line longer than {MAX_LINE:,} characters: not a file of "
                                               "names (a binary file?)") from None
        self.n += 1
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8-sig" if self.n == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise fail(self.where, self.n, f"not valid UTF-8 (byte {err.start + 1}: {err.reason})") from None
        return line


def read_text(lines: Lines, column: str) -> tuple[list[str], Iterator[Row]]:
    def rows() -> Iterator[Row]:
        for line in lines:
            name = line.rstrip("\r\n")
            yield lines.n, [name], name
    return [column], rows()


def read_table(lines: Lines, column: str, delimiter: str) -> tuple[list[str], Iterator[Row]]:
    reader = csv.reader(lines, delimiter=delimiter)

    def record() -> tuple[int, list[str] | None]:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader, None)
            except csv.Error as err:
                if "field larger than field limit" in str(err):
                    raise fail(lines.where, start, f"a field longer than {csv.field_size_limit():,} characters: "
                                                   "not a name (a binary file, or a quote never closed?)") from None
                raise fail(lines.where, start, f"malformed row ({err})") from None
            if row != []:
                return start, row

    _, header = record()
    if header is None:
        return [column], iter(())
    if column not in header:
        found = ", ".join(map(repr, header))
        raise fail(lines.where, reader.line_num, f"no column {column!r} in the header; found {found} "
                                                 "(choose one with --column)")
    index = header.index(column)

    def rows() -> Iterator[Row]:
        while True:
            start, row = record()
            if row is None:
                return
            if len(row) != len(header):
                raise fail(lines.where, start, f"{len(row)} fields where the header has {len(header)} "
                                               "(a ragged row, or an unquoted delimiter in a value)")
            yield start, row, row[index]
    return header, rows()


def read_jsonl(lines: Lines, column: str) -> tuple[None, Iterator[Row]]:
    def rows() -> Iterator[Row]:
        for line in lines:
            if not line.strip():
                continue
            try:
                obj = parse_json(line, finite=True)  # NaN and 1e999 would be written back as invalid JSON
            except JSONError as err:
                raise fail(lines.where, lines.n, str(err)) from None
            if not isinstance(obj, dict):
                raise fail(lines.where, lines.n, f"expected a JSON object, found {type(obj).__name__}")
            if column not in obj:
                found = ", ".join(map(repr, obj)) or "none"
                raise fail(lines.where, lines.n, f"no key {column!r}; this object has {found} "
                                                 "(choose one with --column)")
            yield lines.n, obj, obj[column]
    return None, rows()


def read_rows(stream: IO, where: str, input_format: str, column: str) -> tuple[list[str] | None, Iterator[Row]]:
    """The header and rows of `stream` in `input_format`."""
    table = input_format in DELIMITERS
    lines = Lines(stream, where, keep_ends=table)
    if input_format == "jsonl":
        return read_jsonl(lines, column)
    if input_format == "text":
        return read_text(lines, column)
    return read_table(lines, column, DELIMITERS[input_format])


def input_format_of(path: Source) -> str | None:
    """The format a path's extension names; None for stdin and open files."""
    if not isinstance(path, (str, os.PathLike)) or str(path) == "-":
        return None
    fmt = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt is None:
        raise NameOriginError(f"{path}: can't tell the format from the extension (known: "
                              f"{', '.join(EXTENSIONS)}); pass --input-format")
    return fmt


def describe(source: Source) -> str:
    """How error messages name the input."""
    if source is None or isinstance(source, (str, os.PathLike)):
        return "<stdin>" if source in (None, "-") else str(source)
    return str(getattr(source, "name", "<input>"))


def open_source(source: Source) -> contextlib.AbstractContextManager[IO]:
    if source is None or source == "-":
        return contextlib.nullcontext(getattr(sys.stdin, "buffer", sys.stdin))
    if not isinstance(source, (str, os.PathLike)):
        return contextlib.nullcontext(source)
    try:
        return open(source, "rb", buffering=1 << 20)
    except OSError as err:
        raise NameOriginError(f"{source}: can't read it ({err.strerror})") from None
