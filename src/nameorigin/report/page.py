"""One checkpoint's report: its four plots and report.md, in a folder that holds nothing else.

The folder is checked before anything is scored or written, as ``train --out`` is: it may be
missing, empty or an earlier report, and anything else in it (a user's own report.md, or any
file under a report's name that is not what the report wrote, by the hashes in its manifest)
makes the command stop instead of overwriting it. The report is written whole into a hidden
folder beside it and swapped in at the end, so a full disk or a signal leaves the earlier report,
or nothing, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from ..errors import NameOriginError
from ..files import atomic_write, fsync_dir
from ..checkpoint import read_metadata
from ..checkpoint.bundled import model_path
from ..evaluation.evaluate import score_checkpoint
from .markdown import render_report
from .plots import plot_confusion, plot_history, plot_per_class_f1, plot_reliability

LOSS_PNG = "loss.png"
CONFUSION_PNG = "confusion.png"
F1_PNG = "per_class_f1.png"
RELIABILITY_PNG = "reliability.png"
PNGS = (LOSS_PNG, CONFUSION_PNG, F1_PNG, RELIABILITY_PNG)
REPORT_MD = "report.md"
MANIFEST = "report-files.json"  # each file's SHA-256, as the report wrote it


def write_text(path: Path, text: str) -> Path:
    with atomic_write(path, "w") as out:
        out.write(text)
    return path


def _leftover(name: str, ours: set[str]) -> bool:
    """A temporary file that a killed run of ours left beside one of its files."""
    return name.startswith(".") and name.endswith(".part") and name[1:].removesuffix(".part").rsplit(".", 1)[0] in ours


def check_out_dir(out: Path, ours: set[str], what: str) -> None:
    """Refuse `out` if it is a file, or a folder holding anything but `ours` (the files and folders
    an earlier `what` wrote there)."""
    if out.exists() and not out.is_dir():
        raise NameOriginError(f"{out}: exists and is not a folder; choose another --out")
    if not out.is_dir():
        return
    others = sorted(p.name for p in out.iterdir() if p.name not in ours and not _leftover(p.name, ours))
    if others:
        raise NameOriginError(f"{out}: holds files that are not a nameorigin {what} (such as {others[0]!r}); "
                              "choose another --out, or empty the folder")


def make_out_dir(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NameOriginError(f"{out}: cannot create the output folder ({err.strerror})") from None
    return out


OURS = {*PNGS, REPORT_MD, MANIFEST}


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.name != MANIFEST and not _leftover(p.name, OURS)}


def check_report_dir(out: Path) -> None:
    """Refuse `out` unless it is missing, empty, or a report as its manifest says it was written."""
    check_out_dir(out, OURS, "report")
    if not out.is_dir() or not any(p.name == MANIFEST or not _leftover(p.name, OURS) for p in out.iterdir()):
        return
    try:
        recorded = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = None
    valid = isinstance(recorded, dict)
    foreign = [name for name, digest in _digests(out).items() if not valid or recorded.get(name) != digest]
    if foreign or not valid:
        raise NameOriginError(f"{out}: holds {(foreign or [MANIFEST])[0]!r}, which no nameorigin report wrote there; "
                              "choose another --out, or empty the folder")


def _swap_in(staged: Path, out: Path) -> None:
    """Put the finished report `staged` where `out` is, the earlier one (checked) removed."""
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    if out.exists():
        os.replace(out, old)
    os.replace(staged, out)
    shutil.rmtree(old, ignore_errors=True)
    fsync_dir(out.parent)


def report_into(model_dir: Path, out: Path, data) -> tuple[Path, dict]:
    """Score the checkpoint and write its report into `out` (already checked), whole or not at
    all; return report.md's path and the scores."""
    meta = read_metadata(model_dir)
    report, proba, labels = score_checkpoint(str(model_dir), data)
    make_out_dir(out.parent)
    staged = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        make_out_dir(staged)
        title = model_dir.resolve().name
        plot_history(meta.get("history") or {}, staged / LOSS_PNG, title)
        plot_confusion(report, staged / CONFUSION_PNG, title)
        plot_per_class_f1(report, staged / F1_PNG, title)
        plot_reliability(proba, labels, staged / RELIABILITY_PNG, title)
        images = {"loss": LOSS_PNG, "confusion": CONFUSION_PNG, "f1": F1_PNG, "reliability": RELIABILITY_PNG}
        write_text(staged / REPORT_MD, render_report(meta, report, model_dir, images))
        write_text(staged / MANIFEST, json.dumps(_digests(staged), indent=1) + "\n")
        _swap_in(staged, out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return out / REPORT_MD, report


def write_report(model_dir: str | os.PathLike | None, out_dir: str | os.PathLike | None = None,
                 data: str | os.PathLike | None = None) -> Path:
    """Score the checkpoint `model_dir` on its test split (rebuilt from `data`) and write the four
    plots and ``report.md`` to `out_dir` (default ``<model_dir>/report``; for a bundled model, which
    lives inside the package, ``nameorigin-report``). Returns report.md's path."""
    bundled = model_dir is None or model_path(model_dir) != Path(model_dir)
    model_dir = model_path(model_dir)
    out = Path(out_dir) if out_dir is not None else Path("nameorigin-report") if bundled else model_dir / "report"
    check_report_dir(out)
    return report_into(model_dir, out, data)[0]
