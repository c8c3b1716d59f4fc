"""mkdocs hooks: the command-line reference is generated from the CLI's own argparse parser, so it
can never disagree with ``nameorigin <command> --help``."""

from __future__ import annotations

import argparse
import os
import re
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


# A page made of a file at the repository's root (`--8<-- "MODEL_CARD.md"`): that file links to
# the docs as `docs/PAGE.md`, which GitHub resolves from the root; on the site the pages sit side
# by side, so the hook includes the file itself with those links made relative.
ROOT_INCLUDE = re.compile(r'^--8<-- "([^"/]+\.md)"$', re.M)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, render_cli_reference())
    return ROOT_INCLUDE.sub(_include_root_file, markdown)


def _include_root_file(match: re.Match) -> str:
    text = (Path(__file__).resolve().parents[1] / match.group(1)).read_text(encoding="utf-8")
    return text.replace("](docs/", "](")
