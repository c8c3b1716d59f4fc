"""Predictions for every name in a file, streamed, so that a file of any length fits in memory.

``nameorigin predict --input FILE`` reads plain text (one name a line), CSV/TSV (a header naming
the name column) or JSONL (one object a line) in chunks of a few thousand rows (`readers`), and
writes each row back in order with the prediction appended (`writers`). Nothing is dropped: a row
that can't be scored is written with ``abstained`` true and its ``reason``. Malformed input stops
with a `NameOriginError` that names the line, and output to a file is written to a temporary file
beside it and moved into place only at the end, so a failed run leaves no partial file and an
existing one untouched (a symlink's target is the file replaced; a device or FIFO such as
``/dev/null`` is written in place).

Choices worth knowing:

* Blank lines are rows in plain text (abstained: empty name) but not in CSV/TSV or JSONL, where
  they are skipped as `csv.DictReader` does. In plain text a lone CR ends a line, as LF and CRLF do.
* Empty input gives header-only output (CSV/TSV: the input's header, else ``--column``, then the
  result columns; JSONL: nothing) and 0 rows. It is not an error, so a pipe that filters
  everything out still succeeds.
* Output defaults to CSV for plain-text input, which has no columns of its own to keep. An output
  file's extension must name its format (.csv, .tsv, .jsonl) unless ``--format`` does; an output
  that is the input file itself (or a link to it) is refused, since writing it would destroy it.
* When an input column (or the first JSONL object's key) is named like a result column, as in a
  labelled ``name,label`` file, the result columns are all prefixed with ``predicted_``; nothing
  is overwritten. A later JSONL object that brings such a key is an error naming its line.
* In CSV/TSV, a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a CR is written with a
  leading apostrophe (``'=HYPERLINK(...)``), so a spreadsheet shows it instead of running it as a
  formula; JSONL keeps every value as it is.
* In CSV/TSV, ``abstained`` is ``true``/``false``, probabilities have 6 decimals, and a missing
  value is an empty cell; JSONL keeps full floats and ``null``.
* Stdout can't be atomic: an error part-way leaves the rows already written there. Nothing is
  written before the first chunk is read, so a file refused in its first rows writes nothing.
* A line longer than `readers.MAX_LINE` (1 MiB) is refused as it is read, in every format: a
  binary file or ``/dev/zero`` has no line ends, and would otherwise be read whole.
* Memory stays bounded whatever the file holds: `Classifier.predict` scores each chunk in
  length-sorted batches of a fixed number of padded characters, so one huge value (a corrupt
  field) pads only its own small batch.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import stat
import sys
from typing import IO, Any

import numpy as np
from tqdm import tqdm

from ..errors import NameOriginError
from ..inference.answers import apply_prior
from ..inference.priors import AUTO
from .readers import DELIMITERS, EXTENSIONS, INPUT_FORMATS, Source, describe, input_format_of, open_source, read_rows
from .writers import OUTPUT_FORMATS, RESULT_COLUMNS, make_writer, open_dest, output_format_of

# Names whose result cells are kept while a file is written: a file repeats its names, and each
# distinct one is then scored and formatted once.
RESULTS_KEPT = 1 << 16

__all__ = ["DELIMITERS", "EXTENSIONS", "INPUT_FORMATS", "OUTPUT_FORMATS", "RESULT_COLUMNS", "command",
           "predict_file"]


def _formats(source: Source, dest: Source, input_format: str | None,
             output_format: str | None) -> tuple[str, str]:
    input_format = input_format or input_format_of(source) or "text"
    if input_format not in INPUT_FORMATS:
        raise NameOriginError(f"unknown input format {input_format!r}; choose from {', '.join(INPUT_FORMATS)}")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise NameOriginError(f"unknown output format {output_format!r}; choose from {', '.join(OUTPUT_FORMATS)}")
    output_format = output_format or output_format_of(dest)
    if output_format is None:
        output_format = "csv" if input_format == "text" else input_format
    return input_format, output_format


def _refuse_the_input_as_output(stream: IO, dest: Source) -> None:
    """Writing over the file being read would replace it with its predictions, and writing into
    the pipe being read (``--input - --output /dev/stdin``) would wait on itself for ever: refuse
    both by identity (device and inode), whether the paths are the same, one links to the other,
    or the input comes in on stdin. A terminal may be both: typing in and reading out is fine."""
    if not isinstance(dest, (str, os.PathLike)) or str(dest) in ("-", "/dev/stdout"):
        return
    try:
        out, src = os.stat(dest), os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # nothing there yet, or an input with no file behind it
        return
    shared = stat.S_ISREG(out.st_mode) or stat.S_ISFIFO(out.st_mode) or stat.S_ISSOCK(out.st_mode)
    if shared and (out.st_dev, out.st_ino) == (src.st_dev, src.st_ino):
        raise NameOriginError(f"{dest}: is also the input; write the predictions to another file")


def predict_file(clf: Any, source: Source = "-", dest: Source = "-", *, column: str = "name",
                 input_format: str | None = None, output_format: str | None = None, top_k: int = 3,
                 chunk_size: int = 8192, progress: bool = True, answers: dict | None = None) -> int:
    """Predict every row of `source` into `dest`, `chunk_size` rows at a time; return the rows written.

    `source` and `dest` are paths, ``"-"`` (stdin/stdout) or open file objects (binary input gives
    exact line numbers for UTF-8 errors). Formats: `input_format` from the extension, else text;
    `output_format` from the extension of `dest` (one it doesn't name is refused), else the
    input's (CSV for plain text). `answers` holds `Classifier.predict`'s ``level``, ``coverage``
    and ``prior`` (a mix, not "auto": `auto_prior` estimates a file's first).
    """
    input_format, output_format = _formats(source, dest, input_format, output_format)
    if chunk_size < 1:
        raise NameOriginError(f"chunk size must be at least 1, got {chunk_size}")
    top_k = max(1, min(top_k, len(clf.labels)))
    where = describe(source)
    with open_source(source) as stream:
        _refuse_the_input_as_output(stream, dest)
        with open_dest(dest) as out, tqdm(desc="predict", unit=" rows", unit_scale=True, file=sys.stderr,
                                          disable=None if progress else True) as bar:
            header, rows = read_rows(stream, where, input_format, column)
            answers = answers or {}
            writer = make_writer(out, output_format, top_k, where, answers.get("coverage") is not None)
            chunk = list(itertools.islice(rows, chunk_size))  # first: a file refused at once writes nothing
            if header is not None:
                writer.start(header)
            written, results = 0, {}
            while chunk:
                lines, rows_, names = zip(*chunk)
                new = [name for name in dict.fromkeys(names) if name not in results]
                if new:
                    if len(results) + len(new) > RESULTS_KEPT:
                        results.clear()
                    results.update(zip(new, writer.results(clf.predict_columns(new, top_k=top_k, **answers))))
                writer.write(lines, rows_, [results[name] for name in names])
                written += len(chunk)
                bar.update(len(chunk))
                chunk = list(itertools.islice(rows, chunk_size))
            writer.finish(column)
    return written


def auto_prior(clf: Any, source: Source, *, column: str = "name", input_format: str | None = None,
               chunk_size: int = 8192) -> dict[str, float]:
    """The label mix of every name in the file `source`, as `Classifier.estimate_prior` finds it:
    a first pass over the file, which the predictions then read again."""
    if not isinstance(source, (str, os.PathLike)) or str(source) == "-":
        raise NameOriginError("--prior auto reads the input twice (once to estimate its mix): give a file, not stdin")
    input_format = input_format or input_format_of(source) or "text"
    parts, one_word = [], []
    with open_source(source) as stream:
        _, rows = read_rows(stream, describe(source), input_format, column)
        while chunk := list(itertools.islice(rows, chunk_size)):
            prepared, proba = clf._score([name for _, _, name in chunk])
            parts.append(proba)
            one_word += [" " not in p.text for p in prepared]
    proba = np.concatenate(parts) if parts else np.zeros((0, len(clf.labels)), np.float32)
    return apply_prior(proba, clf.labels, clf.metadata, AUTO, np.asarray(one_word, dtype=bool))[1]


def command(args: argparse.Namespace, clf: Any) -> int:
    """Run ``nameorigin predict --input ...`` with a loaded classifier; return the rows written.
    `args` holds the options `nameorigin.cli` defines for ``predict``."""
    if getattr(args, "names", None):
        raise NameOriginError("give names on the command line or --input, not both")
    if getattr(args, "json", False):
        raise NameOriginError("--json does not apply to --input; use --format jsonl")
    answers = {"level": getattr(args, "level", "label"), "coverage": getattr(args, "coverage", None),
               "randomized": getattr(args, "randomized", False),
               "prior": getattr(args, "prior", None)}
    if answers["prior"] == AUTO:
        answers["prior"] = auto_prior(clf, args.input, column=args.column, input_format=args.input_format,
                                      chunk_size=args.chunk_size)
        print(json.dumps({"estimated_prior": {k: round(v, 6) for k, v in answers["prior"].items()}}), file=sys.stderr)
    try:
        return predict_file(clf, args.input, args.output, column=args.column, input_format=args.input_format,
                            output_format=args.format, top_k=args.top_k, chunk_size=args.chunk_size,
                            progress=not getattr(args, "quiet", False), answers=answers)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
