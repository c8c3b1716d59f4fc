"""Reports a person can read: plots of a checkpoint and the tutorial's experiment in one command.

`write_report` scores a checkpoint on its own test split and writes four PNG plots (training
curves, row-normalized confusion matrix, per-class F1, reliability diagram) and a ``report.md``
page that shows them next to the metrics (`page`, `plots`, `markdown`). `reproduce` trains the
reference presets and the default preset on the seed split, reports each, and compares them in
one table and two figures (`reproduce`). This module runs the two commands with the options
`nameorigin.cli` parses.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .markdown import format_table
from .page import CONFUSION_PNG, F1_PNG, LOSS_PNG, PNGS, RELIABILITY_PNG, REPORT_MD, write_report
from .plots import (plot_compare_confusion, plot_compare_f1, plot_confusion, plot_history, plot_per_class_f1,
                    plot_reliability)
from .reproduce import (COMPARE_CONFUSION_PNG, COMPARE_F1_PNG, COMPARISON_MD, PUBLISHED_ACCURACY,
                        REFERENCE_PRESETS, preset_config, reproduce, stderr_log)

__all__ = ["COMPARE_CONFUSION_PNG", "COMPARE_F1_PNG", "COMPARISON_MD", "CONFUSION_PNG", "F1_PNG", "LOSS_PNG",
           "PNGS", "PUBLISHED_ACCURACY", "REFERENCE_PRESETS", "RELIABILITY_PNG", "REPORT_MD",
           "format_table", "plot_compare_confusion", "plot_compare_f1", "plot_confusion", "plot_history",
           "plot_per_class_f1", "plot_reliability", "preset_config", "report_command", "reproduce",
           "reproduce_command", "write_report"]


def report_command(args: argparse.Namespace) -> None:
    path = write_report(args.model, args.out, args.data)
    print(f"wrote {path} and its plots")


def reproduce_command(args: argparse.Namespace) -> None:
    log = (lambda s: None) if args.quiet else stderr_log
    rows = reproduce(args.out, args.data, args.presets, args.fast, device=args.device,
                     progress=not args.quiet, log=log)
    print(format_table(rows))
    print(f"\nwrote {Path(args.out) / COMPARISON_MD}")
