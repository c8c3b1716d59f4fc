"""The ``nameorigin`` command line's parser: one small function per subcommand adds its options.

Every argparse definition of the command lives in this package, except ``serve``'s, which stays
beside the server (`nameorigin.serve.add_arguments`) so that ``python -m nameorigin.serve`` parses
the same options.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from .answer_args import add_calibrate_sets
from .model_args import add_evaluate, add_explain, add_export, add_predict, add_report, add_serve
from .train_args import ON_OFF_FLAGS, add_data_commands, add_reproduce, add_train

SUBCOMMANDS = (add_train, add_evaluate, add_calibrate_sets, add_predict, add_serve, add_export, add_explain, add_data_commands,
               add_report, add_reproduce)


class OneLineParser(argparse.ArgumentParser):
    """A bad option is one line on stderr and status 2, as every other refusal of the command is:
    argparse's usage block before it would bury the message (`--help` still shows it)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, subcommands in the order ``--help`` lists them."""
    parser = OneLineParser(prog="nameorigin", description="Which language does a name come from?")
    parser.add_argument("--version", action="version", version=f"nameorigin {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do; `nameorigin COMMAND --help` lists its options")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse a command line (None: ``sys.argv``). A value after an on/off flag, as in the old
    spelling ``--calibrate 1``, is refused with what to write instead; argparse alone would only
    call it an unrecognized argument."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        words = sys.argv[1:] if argv is None else list(argv)
        for flag, value in zip(words, words[1:]):
            if flag in ON_OFF_FLAGS and value in extra:
                on = flag.replace("--no-", "--")
                parser.error(f"argument {flag}: takes no value, got {value!r}: write {on} to turn it on, "
                             f"--no-{on[2:]} to turn it off")
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args
