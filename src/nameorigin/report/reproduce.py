"""The reference experiment in one command: train the reference presets and the default preset on
the seed split, report each, and compare them in one table and two figures."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..config import FAST, PRESETS, REPRODUCE_PRESETS
from ..data.corpus import load_corpus
from ..checkpoint import check_replaceable
from ..errors import NameOriginError
from .markdown import render_comparison, short_split
from .page import check_out_dir, make_out_dir, report_into, write_text
from .plots import plot_compare_confusion, plot_compare_f1

Log = Callable[[str], None]

COMPARE_F1_PNG = "compare_f1.png"
COMPARE_CONFUSION_PNG = "compare_confusion.png"
COMPARISON_MD = "comparison.md"
REFERENCE_PRESETS = ("reference-rnn", "reference-gru")
# Test accuracy the reference pipeline reports for its two models (shared/reference, 2 epochs).
PUBLISHED_ACCURACY = {"reference-rnn": 0.722471, "reference-gru": 0.814150}


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr)


def preset_config(preset: str, fast: bool = False, overrides: dict | None = None):
    """A preset's config; with `fast`, a reference preset becomes its architecture's fast batched
    settings (same model, far fewer steps); `overrides` then apply to every preset."""
    if preset not in PRESETS:
        raise NameOriginError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    config = PRESETS[preset][0]
    if fast and preset in REFERENCE_PRESETS:
        config = replace(FAST[config.arch], split=config.split, seed=config.seed, test_size=config.test_size)
    try:
        return replace(config, **(overrides or {}))
    except TypeError as err:
        raise NameOriginError(f"bad config override: {err}") from None


def reproduce(out_dir: str | os.PathLike, data: str | os.PathLike | None = None,
              presets=REPRODUCE_PRESETS, fast: bool = False, *, overrides: dict | None = None,
              device: str = "auto", progress: bool = False, log: Log = stderr_log) -> list[dict]:
    """Train each preset into ``out_dir/<preset>`` on the seed split, write its report, then
    ``comparison.md`` and side-by-side figures. Returns the comparison table's rows."""
    from ..training.pipeline import train_and_save

    presets = list(presets)
    if not presets:
        raise NameOriginError("choose at least one preset")
    configs = {p: preset_config(p, fast, overrides) for p in presets}
    out = Path(out_dir)
    check_out_dir(out, {*PRESETS, COMPARISON_MD, COMPARE_F1_PNG, COMPARE_CONFUSION_PNG}, "reproduce run")
    make_out_dir(out)
    for preset in configs:  # all of them now, not after the first presets have trained
        check_replaceable(out / preset)
    corpus = load_corpus(data, progress=progress)
    source = data if data is not None else corpus.source
    rows, reports = [], {}
    for preset, config in configs.items():
        swapped = fast and preset in REFERENCE_PRESETS
        name = preset + (" (fast)" if swapped else "")
        log(f"{name}: training {config.arch} ({config.epochs} epochs, batch {config.batch_size}) "
            f"into {out / preset}")
        started = time.perf_counter()
        meta = train_and_save(config, str(out / preset), data=str(source), device=device, progress=progress,
                              log=log)
        report_md, report = report_into(out / preset, out / preset / "report", corpus)
        reports[name] = report
        m = meta["metrics"]
        rows.append({
            "model": name, "preset": preset, "fast": swapped, "arch": config.arch,
            "split": short_split(meta["split"]), "n_test": report["n_test"],
            "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
            "top3_accuracy": report["top3_accuracy"], "ece": report["ece"],
            "train_seconds": float(meta["history"]["seconds"]),
            "published_accuracy": PUBLISHED_ACCURACY.get(preset), "config": meta["config"],
            "checkpoint": str(out / preset), "report": str(report_md),
        })
        log(f"{name}: test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} "
            f"({time.perf_counter() - started:.0f} s)")
    images = [plot_compare_f1(reports, out / COMPARE_F1_PNG).name,
              plot_compare_confusion(reports, out / COMPARE_CONFUSION_PNG).name]
    write_text(out / COMPARISON_MD, render_comparison(rows, out, fast, images))
    return rows
