"""Options several subcommands share, worded once so that ``--help`` reads the same everywhere."""

from __future__ import annotations

import argparse

from ..argtypes import threads as thread_count
from ..threads import MAX_BULK_THREADS

DATA_HELP = ("corpus: a folder of [Label].txt files, the tutorial's data.zip, or a name,label CSV/TSV "
             "(default: $NAMEORIGIN_DATA, else the cached or downloaded official corpus)")
DEVICES = ("auto", "cpu", "cuda")
BULK_THREADS = f"all usable CPUs but one, at most {MAX_BULK_THREADS}"
THREADS_WHY = "threads that wait on a core another process holds slow every step"


def add_data(p: argparse.ArgumentParser, extra: str = "") -> None:
    p.add_argument("--data", metavar="PATH", help=DATA_HELP + extra)


def add_model(p: argparse.ArgumentParser, default: str = "'world'") -> None:
    p.add_argument("--model", metavar="DIR", help=f"a checkpoint folder, or a bundled model: 'world' or "
                                                  f"'tutorial' (default: {default})")


def add_wiki(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--wiki", metavar="FILE", help=f"the Wikipedia people's names.tsv, for {what} "
                                                  "(default: $NAMEORIGIN_WIKI)")


def add_locales(p: argparse.ArgumentParser) -> None:
    p.add_argument("--locales", metavar="FILE", help="the locale lists' table (nameorigin data build-locales), "
                                                     "for the world preset (default: $NAMEORIGIN_LOCALES)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="where to train: auto takes a CUDA GPU when there is one (default: %(default)s)")


def add_quiet(p: argparse.ArgumentParser, what: str = "no progress bars or logs") -> None:
    p.add_argument("--quiet", action="store_true", help=what)


def add_threads(p: argparse.ArgumentParser, default: str) -> None:
    """``--threads``; `default` says what the command runs on without it (see `nameorigin.threads`)."""
    p.add_argument("--threads", type=thread_count, metavar="N",
                   help=f"threads the model runs on (default: $OMP_NUM_THREADS if set, else {default}; {THREADS_WHY})")
