"""``python -m nameorigin``: the installed ``nameorigin`` command, for environments whose scripts
folder is not on PATH."""

from .cli import run

if __name__ == "__main__":
    run()
