"""mkdocs hooks: the command-line reference is generated from the CLI's own argparse parser, so it
can never disagree with ``nameorigin <command> --help``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MARKER = "<!-- nameorigin-cli-reference -->"
WIDTH = "78"  # argparse wraps help to $COLUMNS - 2: the width of the page's code blocks, not the terminal's


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _sections(parser: argparse.ArgumentParser, path: list[str], level: int = 2) -> list[str]:
    out = [f"{'#' * level} `{' '.join(path)}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subcommands(parser).items():
        out += _sections(sub, path + [name], level + 1 if len(path) > 1 else level)
    return out


def render_cli_reference() -> str:
    """Markdown: ``nameorigin --help``, then every subcommand's (and sub-subcommand's) help."""
    src = Path(__file__).resolve().parents[1] / "src"
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    from nameorigin.cli import build_parser

    saved = {key: os.environ.get(key) for key in ("COLUMNS", "NO_COLOR")}
    os.environ.update(COLUMNS=WIDTH, NO_COLOR="1")
    try:
        return "\n".join(_sections(build_parser(), ["nameorigin"]))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, render_cli_reference())
    return markdown
