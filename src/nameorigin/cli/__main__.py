"""``python -m nameorigin.cli``: the command, leaving the ordinary way, so that a profiler or
debugger wrapping it sees the end of the run."""

from . import main, ordinary_exit

if __name__ == "__main__":
    ordinary_exit(main(standalone=True))
