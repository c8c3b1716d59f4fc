"""Options of the commands that train or build data: ``train``, ``reproduce``, ``data build-wiki``."""

from __future__ import annotations

import argparse
from typing import Any

from ..argtypes import (class_weight, finite_non_negative_float, fraction, non_negative_float, non_negative_int,
                        positive_float, positive_int, probability, seed)
from ..config import ARCHS, FAST, PRECISIONS, PRESETS, REPRODUCE_PRESETS, SCHEDULES, SPLITS
from ..text.names import CASES
from .options import BULK_THREADS, add_data, add_device, add_locales, add_quiet, add_threads, add_wiki

ON_OFF = argparse.BooleanOptionalAction

# (flag, add_argument options): the flags a preset's values give way to. Each one's Config field is
# its name with '_' for '-'; its default is None, "not given", so that the preset's value stands.
TRAIN_FLAGS: list[tuple[str, dict[str, Any]]] = [
    ("--epochs", dict(type=positive_int, help="passes over the training split")),
    ("--batch-size", dict(type=positive_int, help="names per step; 1 is the tutorial's loop")),
    ("--lr", dict(type=positive_float, help="Adam(W)'s learning rate (the peak, with --schedule onecycle)")),
    ("--schedule", dict(choices=SCHEDULES, help="learning-rate schedule: onecycle warms up to --lr, then "
                                                "anneals; constant is the tutorial's")),
    ("--hidden-size", dict(type=positive_int, help="recurrent state size")),
    ("--num-layers", dict(type=positive_int, help="stacked recurrent layers (not rnn)")),
    ("--embedding-dim", dict(type=non_negative_int, help="learned character embedding size; 0 is one-hot, "
                                                         "as the tutorial")),
    ("--bidirectional", dict(action=ON_OFF, help="also read each name from its end (--no-bidirectional: "
                                                 "one direction, even if the preset reads both)")),
    ("--head-size", dict(type=non_negative_int, help="a hidden ReLU layer of this width in the head (gru, lstm; "
                                                     "0: a linear head)")),
    ("--ngram-dim", dict(type=non_negative_int, help="the head also sees a bag of hashed character n-grams "
                                                     "of this size (gru, lstm; 0: none)")),
    ("--ngram-buckets", dict(type=positive_int, help="hashed n-gram vectors, with --ngram-dim")),
    ("--ngram-drop", dict(type=fraction, help="share of a name's n-grams left out at each training step")),
    ("--ngram-max", dict(type=positive_int, help="longest n-gram in the bag (2-8; default 4)")),
    ("--ngram-words", dict(action=ON_OFF, help="mark each word's ends in the n-grams, not only the name's")),
    ("--surname-share", dict(type=probability, help="world corpus: share of people read by their family name alone "
                                                 "(default 0.3)")),
    ("--tutorial-repeat", dict(type=positive_int, help="world corpus: times each tutorial training name is seen "
                                                        "per epoch (the world preset: 4)")),
    ("--locale-repeat", dict(type=non_negative_int, help="world corpus: times each locale-list family name is "
                                                         "seen per epoch (0: no lists; needs --locales)")),
    ("--relabel", dict(action=ON_OFF, help="world corpus: relabel Wikipedia's diaspora names by a teacher "
                                           "trained on the locale lists (--no-relabel: don't)")),
    ("--dropout", dict(type=fraction, help="dropout between layers and before the head")),
    ("--ensemble", dict(type=positive_int, help="members trained with seeds seed, seed+1, ...; "
                                                "probabilities averaged")),
    ("--weight-decay", dict(type=finite_non_negative_float, help="AdamW's decoupled weight decay")),
    ("--clip", dict(type=non_negative_float, help="max gradient norm (0: off)")),
    ("--label-smoothing", dict(type=fraction, help="cross-entropy label smoothing")),
    ("--class-weight", dict(type=class_weight, help="class loss weight ~ share^-x: 0 none, 0.5 sqrt, 1 balanced")),
    ("--seed", dict(type=seed, help="split, initialisation and batch order")),
    ("--split", dict(choices=SPLITS, help="seed: the tutorial's stratified split; dedup: no name on both sides")),
    ("--val-size", dict(type=fraction, help="share of the training split held out for early stopping and "
                                            "calibration")),
    ("--patience", dict(type=non_negative_int, help="early stopping: epochs without a better validation "
                                                    "macro-F1 (0: off)")),
    ("--case", dict(choices=CASES, help="how the model reads letter case: words (SMITH, smith -> Smith, as the "
                                        "tutorial writes names) or lower (all small letters)")),
    ("--calibrate", dict(action=ON_OFF, help="fit a softmax temperature on the validation split "
                                             "(--no-calibrate: don't)")),
    ("--tune-bias", dict(action=ON_OFF, help="shift logits by -t*log(class share), t chosen for validation "
                                             "macro-F1 (--no-tune-bias: don't)")),
]
ON_OFF_FLAGS = frozenset(name for flag, options in TRAIN_FLAGS if options.get("action") is ON_OFF
                         for name in (flag, "--no-" + flag[2:]))


def _field(flag: str) -> str:
    return flag[2:].replace("-", "_")


def train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The Config fields the command line sets (None where a flag was not given)."""
    return {_field(flag): getattr(args, _field(flag)) for flag, _ in TRAIN_FLAGS}


def resume_given(args: argparse.Namespace) -> dict[str, Any]:
    """What ``train --resume`` was given besides the folder, to be checked against the saved run."""
    return {**train_overrides(args), "arch": args.arch, "preset": args.preset, "data": args.data,
            "wiki": args.wiki, "locales": args.locales, "save_every": args.save_every, "skip_test": args.skip_test}


def add_train(sub: argparse._SubParsersAction) -> None:
    presets = "; ".join(f"{name}: {text}" for name, (_, text) in PRESETS.items())
    fast = ", ".join(f"{a} batch {c.batch_size} lr {c.lr}" for a, c in FAST.items())
    p = sub.add_parser("train", help="train a model and save it as a checkpoint folder",
                       description=f"Without --preset, --arch's fast settings ({fast}, one-cycle). "
                                   "Any flag below overrides the preset.")
    p.add_argument("--preset", choices=PRESETS, help=presets)
    p.add_argument("--arch", choices=ARCHS, help="model (default: the preset's, else gru)")
    for flag, options in TRAIN_FLAGS:
        p.add_argument(flag, **options)
    add_data(p)
    add_wiki(p, "--preset world")
    add_locales(p)
    add_device(p)
    add_threads(p, BULK_THREADS)
    p.add_argument("--log-every", type=non_negative_int, default=200, metavar="N",
                   help="log the loss every N steps (0: off; default %(default)s)")
    add_quiet(p)
    p.add_argument("--save-every", type=positive_int, metavar="N", help="save the training state beside --out "
                   "every N steps too, not only after each epoch, for --resume")
    p.add_argument("--skip-test", action="store_const", const=True,
                   help="leave the test split unscored, for candidate runs compared on validation "
                        "(benchmarks/paired_bootstrap.py); `nameorigin evaluate` scores the one chosen")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="bf16: the forward pass under autocast, on a GPU that supports it (default: %(default)s)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="checkpoint folder to write")
    where.add_argument("--resume", metavar="DIR", help="continue the stopped run that was writing DIR, from the "
                       "state saved beside it; flags it was started with may be left out")


def add_reproduce_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``reproduce``'s options (`nameorigin.report.reproduce_command`), on `p`, which is returned."""
    p.description = ("The tutorial's experiment in one command: train its RNN and GRU (presets reference-rnn, "
                     "reference-gru) and the default model on the seed split, report each, and compare them.")
    p.add_argument("--out", default="runs/reproduce", metavar="DIR",
                   help="one checkpoint folder per preset, with its report, and comparison.md (default: %(default)s)")
    add_data(p)
    p.add_argument("--fast", action="store_true",
                   help="train the tutorial's models with their fast batched settings (about a minute) "
                        "instead of one name per step (many minutes)")
    p.add_argument("--presets", nargs="+", choices=list(PRESETS), default=list(REPRODUCE_PRESETS),
                   metavar="PRESET", help=f"which presets to train, of {', '.join(PRESETS)} "
                                          f"(default: {' '.join(REPRODUCE_PRESETS)})")
    add_device(p)
    add_threads(p, BULK_THREADS)
    add_quiet(p)
    return p


def add_reproduce(sub: argparse._SubParsersAction) -> None:
    add_reproduce_options(sub.add_parser("reproduce", help="train the tutorial's models and the default model "
                                                           "and compare them"))


def add_data_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build corpora", description="Build the corpora the presets train on.")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="WHAT", help="the corpus to build")
    p = data_sub.add_parser("build-wiki", help="rebuild the Wikipedia people's names.tsv from the name2nat wheel")
    p.add_argument("wheel", metavar="WHEEL", help="name2nat-0.5.1-py3-none-any.whl, as downloaded from PyPI")
    p.add_argument("--out", required=True, metavar="FILE", help="the names.tsv to write")
    p = data_sub.add_parser("build-locales", help="build the locale lists' table from the installed faker and "
                                                  "mimesis packages (pip install 'nameorigin[locales]')")
    p.add_argument("--out", required=True, metavar="FILE", help="the locales.tsv to write")
