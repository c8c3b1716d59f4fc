"""Options for answers beyond one label (``predict --level/--coverage/--prior``) and the
``calibrate-sets`` command that gives a checkpoint what ``--coverage`` and ``--prior`` need."""

from __future__ import annotations

import argparse

from ..argtypes import _parse
from .options import BULK_THREADS, add_data, add_locales, add_threads, add_wiki

LEVELS = ("label", "group")  # groups.LEVELS; parsing imports nothing heavier than argparse


def open_probability(text: str) -> float:
    value = _parse(text, float, "a number between 0 and 1")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1 (exclusive), not {text!r}")
    return value


def add_answer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--level", choices=LEVELS, default="label",
                   help="answer with labels, or with coarse groups of them (British Isles, Iberian, ...), "
                        "probabilities summed (default: %(default)s)")
    p.add_argument("--coverage", type=open_probability, metavar="C",
                   help="add each name's prediction set: the labels that hold the true one for a share C of "
                        "names like the model's calibration names, e.g. 0.9 (see docs/usage.md)")
    p.add_argument("--randomized-sets", dest="randomized", action="store_true",
                   help="with --coverage: randomized sets, whose coverage is C itself rather than C or more; "
                        "a name the model is sure of may get an empty set")
    p.add_argument("--prior", metavar="MIX",
                   help="the population's label mix, as JSON ('{\"Spanish\": 0.5}') or a file holding it; "
                        "labels left out share the rest. 'auto' with --input estimates the file's mix by EM "
                        "and reports it on stderr")


def add_calibrate_sets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate-sets", help="add prediction-set scores and the label mix for priors to a checkpoint",
                       description="Rebuild a checkpoint's validation part from the data it was trained on, "
                                   "compute the scores --coverage needs and the label mix --prior needs, "
                                   "and rewrite the checkpoint folder with them (whole, as training writes it).")
    p.add_argument("--model", metavar="DIR", required=True, help="the checkpoint folder to add them to")
    add_data(p, "; must be the corpus the model was trained on")
    add_wiki(p, "a world model")
    add_locales(p)
    add_threads(p, BULK_THREADS)
