"""The ``nameorigin`` command: train, evaluate, predict (and serve, export, explain, report).

Results go to stdout (``--json`` for machines), progress and logs to stderr. Exit status is 0 on
success, 2 on bad input, with a one-line message, and 1 when the system refuses a read or write;
128 plus the signal's number when a signal ends the command (130 Ctrl+C, 129 SIGHUP, 143 SIGTERM),
after every writer has removed its unfinished file. `parser` defines the options, `commands` runs
them; this module runs one command and leaves the process.
"""

from __future__ import annotations

import codecs
import gc
import os
import signal
import sys

from ..errors import NameOriginError, Stopped
from ..threads import choose_threads
from .commands import COMMANDS, as_text, torch_needed_by, workload
from .parser import build_parser, parse_args

__all__ = ["COMMANDS", "Terminated", "as_text", "build_parser", "finish_output", "import_pytorch", "main",
           "ordinary_exit", "parse_args", "run"]

# The signals that end a command the way Ctrl+C does, and what the command says as it goes.
STOP_SIGNALS = {signal.SIGTERM: "terminated"}
if hasattr(signal, "SIGHUP"):
    STOP_SIGNALS[signal.SIGHUP] = "hung up"


def import_pytorch(command: str = "this command") -> None:
    """Import PyTorch with the garbage collector paused, then freeze what the import made; without
    PyTorch, say in one line how to install it.

    The import builds hundreds of thousands of objects that live as long as the process. Left
    alone, the collector walks them all in the full collections the import itself sets off and in
    every later one; frozen, they are skipped.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
    except ImportError:
        raise NameOriginError(f"{command} needs PyTorch, which is not installed: "
                              "pip install 'nameorigin[train]'") from None
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised wherever the command is, so that it unwinds as it does on Ctrl+C:
    every writer removes its unfinished temporary file."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame) -> None:
    raise Terminated(signum)


def _catch_stop_signals(command: str) -> None:
    """Turn the stop signals into `Terminated`. A signal the process was started ignoring stays
    ignored: ``nohup nameorigin ...`` must survive the terminal's hang-up. ``serve`` keeps
    SIGHUP's default action: its event loop would catch the exception and serve on (uvicorn
    handles SIGTERM and Ctrl+C itself)."""
    for signum in STOP_SIGNALS:
        if signum == signal.SIGTERM or (command != "serve" and signal.getsignal(signum) is not signal.SIG_IGN):
            signal.signal(signum, _terminate)


def _set_threads(args, standalone: bool) -> None:
    """The threads this command runs its model on, chosen once here and nowhere in the library:
    ``args.threads`` for the model it loads, and PyTorch's setting when it uses PyTorch. Called
    from other code (not `standalone`), only an explicit ``--threads`` changes the caller's setting."""
    kind = workload(args)
    if kind is None or not (standalone or args.threads is not None):
        return
    args.threads = choose_threads(kind, args.threads)
    if args.threads is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(args.threads)


def _unwritable(err: UnicodeEncodeError) -> bool:
    """Whether `err` is stdout refusing a character its encoding has no bytes for."""
    encoding = getattr(sys.stdout, "encoding", None)
    try:
        return encoding is not None and codecs.lookup(err.encoding).name == codecs.lookup(encoding).name
    except LookupError:
        return False


def _run_command(args, standalone: bool) -> None:
    if standalone:
        _catch_stop_signals(args.command)
    needs = torch_needed_by(args)
    if needs and "torch" not in sys.modules:
        import_pytorch(needs)
    _set_threads(args, standalone)
    COMMANDS[args.command](args)


def main(argv: list[str] | None = None, *, standalone: bool = False) -> int:
    """Run one command and return its exit status. `standalone` says the process exists for this
    command (the installed script, ``python -m``): the model's threads default as
    `nameorigin.threads` chooses, and SIGTERM or SIGHUP ends the command
    like Ctrl+C."""
    args = parse_args(argv)
    try:
        _run_command(args, standalone)
    except NameOriginError as err:
        print(f"nameorigin: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nameorigin: interrupted", file=sys.stderr)
        return 130
    except Terminated as stop:
        print(f"nameorigin: {STOP_SIGNALS.get(stop.signum, 'terminated')}", file=sys.stderr)
        return 128 + stop.signum
    except Stopped as stop:  # a training run that saved its state on a signal, to be resumed
        print(f"nameorigin: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except BrokenPipeError:
        return 0
    except OSError as err:  # the system refused a read or write the command needed: a full disk
        print(f"nameorigin: error: {err.strerror or err}" + (f": {err.filename}" if err.filename else ""),
              file=sys.stderr)
        return 1
    except UnicodeEncodeError as err:
        if not _unwritable(err):
            raise
        advice = "" if codecs.lookup(err.encoding).name == "utf-8" else "; set PYTHONIOENCODING=utf-8"
        print(f"nameorigin: error: the output is {err.encoding}, which cannot write "
              f"{err.object[err.start:err.end]!r}{advice}", file=sys.stderr)
        return 1
    return 0


def finish_output(code: int) -> int:
    """Flush stdout and stderr while a failure can still be reported; returns the exit status.

    A reader that went away (``| head``) is not an error, as in `main`; any other failed write,
    such as a full disk, is one line on stderr and status 1. A stream that failed is pointed at the
    null device, so that the interpreter's own last flush does not fail again.
    """
    for out in (sys.stdout, sys.stderr):
        if out is None or out.closed:
            continue
        try:
            out.flush()
        except OSError as err:
            if not isinstance(err, BrokenPipeError):
                code = 1
                if out is sys.stdout:
                    print(f"nameorigin: error: cannot write the output: {err.strerror or err}", file=sys.stderr)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
            os.close(devnull)
    return code


def run() -> None:
    """The installed ``nameorigin`` command: `main`, then the interpreter's own exit, which runs
    the exit handlers, waits for threads still at work and lets profilers report. (Ending with
    ``os._exit`` instead saved under 10 % of a command's time, docs/design.md.)"""
    ordinary_exit(main(standalone=True))


def ordinary_exit(code: int) -> None:
    """Leave through the interpreter's own shutdown, with the objects made so far frozen so that
    its last garbage collections skip them."""
    gc.freeze()
    sys.exit(finish_output(code))
