"""Reports a person can read: plots of a checkpoint and the reference experiment in one command.

`write_report` scores a checkpoint on its own test split and writes four PNG plots (training
curves, row-normalized confusion matrix, per-class F1, reliability diagram) and a ``report.md``
page that shows them next to the metrics (`page`, `plots`, `markdown`). `reproduce` trains the
reference presets and the default preset on the seed split, reports each, and compares them in
one table and two figures (`reproduce`). This module holds the two commands' options.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import PRESETS
from .markdown import format_table
from .page import CONFUSION_PNG, F1_PNG, LOSS_PNG, PNGS, RELIABILITY_PNG, REPORT_MD, write_report
from .plots import (plot_compare_confusion, plot_compare_f1, plot_confusion, plot_history, plot_per_class_f1,
                    plot_reliability)
from .reproduce import (COMPARE_CONFUSION_PNG, COMPARE_F1_PNG, COMPARISON_MD, PUBLISHED_ACCURACY,
                        REFERENCE_PRESETS, REPRODUCE_PRESETS, preset_config, reproduce, stderr_log)

__all__ = ["COMPARE_CONFUSION_PNG", "COMPARE_F1_PNG", "COMPARISON_MD", "CONFUSION_PNG", "F1_PNG", "LOSS_PNG",
           "PNGS", "PUBLISHED_ACCURACY", "REFERENCE_PRESETS", "RELIABILITY_PNG", "REPORT_MD", "REPRODUCE_PRESETS",
           "add_report_arguments", "add_reproduce_arguments", "format_table", "plot_compare_confusion",
           "plot_compare_f1", "plot_confusion", "plot_history", "plot_per_class_f1", "plot_reliability",
           "preset_config", "report_command", "reproduce", "reproduce_command", "write_report"]

_DATA_HELP = ("corpus: a folder of [Label].txt files, the tutorial's data.zip, or a name,label CSV/TSV "
              "(default: $NAMEORIGIN_DATA, else the cached or downloaded official corpus)")


def add_report_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("Plot a checkpoint on its own test split: training curves, confusion matrix, "
                          "per-class F1 and reliability diagram, with a report.md showing them.")
    parser.add_argument("--model", metavar="DIR",
                        help="checkpoint folder (default: the bundled model, reported into ./nameorigin-report)")
    parser.add_argument("--data", metavar="PATH", help=_DATA_HELP + "; must be the training corpus")
    parser.add_argument("--out", metavar="DIR", help="folder for the plots and report.md (default: DIR/report); "
                                                     "refused if it holds anything but an earlier report")
    return parser


def report_command(args: argparse.Namespace) -> None:
    path = write_report(args.model, args.out, args.data)
    print(f"wrote {path} and its plots")


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = ("The reference experiment in one command: train the reference RNN and GRU and the "
                          "default model on the seed split, report each, and compare them.")
    parser.add_argument("--out", default="runs/reproduce", metavar="DIR",
                        help="one checkpoint folder per preset, with its report, and comparison.md "
                             "(default: runs/reproduce)")
    parser.add_argument("--data", metavar="PATH", help=_DATA_HELP)
    parser.add_argument("--fast", action="store_true",
                        help="train the reference models with their fast batched settings (about a minute) "
                             "instead of one name per step (many minutes)")
    parser.add_argument("--presets", nargs="+", choices=list(PRESETS), default=list(REPRODUCE_PRESETS),
                        metavar="PRESET", help=f"which presets to train (default: all of {', '.join(PRESETS)})")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or logs")
    return parser


def reproduce_command(args: argparse.Namespace) -> None:
    log = (lambda s: None) if args.quiet else stderr_log
    rows = reproduce(args.out, args.data, args.presets, args.fast, device=args.device,
                     progress=not args.quiet, log=log)
    print(format_table(rows))
    print(f"\nwrote {Path(args.out) / COMPARISON_MD}")
