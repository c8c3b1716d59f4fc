"""The ``nameorigin`` command: train, evaluate, predict (and serve, export, report).

Results go to stdout (``--json`` for machines), progress and logs to stderr. Exit status is 0 on
success and 2 on bad input, with a one-line message.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import signal
import sys
import threading
import time

from . import __version__, explain, report, serve, stream
from .config import ARCHS, FAST, PRESETS, SCHEDULES
from .argtypes import (MAX_SEED, class_weight, finite_non_negative_float, fraction, non_negative_float,
                       non_negative_int, positive_float, positive_int, seed)
from .errors import NameOriginError


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="PATH",
                   help="corpus: a folder of [Label].txt files, the tutorial's data.zip, or a name,label "
                        "CSV/TSV (default: $NAMEORIGIN_DATA, else the cached or downloaded official corpus)")


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="DIR", help="a checkpoint folder, or a bundled model: 'world' (the default) "
                   "or 'tutorial'")


# (flag, argparse type, help); the Config field is the flag's name with '_' for '-'.
TRAIN_FLAGS = [
    ("--epochs", positive_int, "passes over the training split"),
    ("--batch-size", positive_int, "names per step; 1 is the reference's loop"),
    ("--lr", positive_float, "Adam(W)'s learning rate (the peak, with --schedule onecycle)"),
    ("--schedule", str, f"learning-rate schedule, one of {SCHEDULES}; 'constant' is the reference's"),
    ("--hidden-size", positive_int, "recurrent state size"),
    ("--num-layers", positive_int, "stacked recurrent layers (not rnn)"),
    ("--embedding-dim", non_negative_int, "learned character embedding size; 0 is one-hot, as the reference"),
    ("--bidirectional", int, "1: also read each name from its end"),
    ("--dropout", fraction, "dropout between layers and before the head"),
    ("--ensemble", positive_int, "members trained with seeds seed, seed+1, ...; probabilities averaged"),
    ("--weight-decay", finite_non_negative_float, "AdamW's decoupled weight decay"),
    ("--clip", non_negative_float, "max gradient norm (0: off)"),
    ("--label-smoothing", fraction, "cross-entropy label smoothing"),
    ("--class-weight", class_weight, "class loss weight ~ share^-x: 0 none, 0.5 sqrt, 1 balanced"),
    ("--seed", seed, "split, initialisation and batch order"),
    ("--split", str, "'seed' (the reference's split) or 'dedup' (no name on both sides)"),
    ("--val-size", fraction, "share of the training split held out for early stopping and calibration"),
    ("--patience", non_negative_int, "early stopping: epochs without a better validation macro-F1 (0: off)"),
    ("--calibrate", int, "1: fit a softmax temperature on the validation split"),
    ("--tune-bias", int, "1: shift logits by -t*log(class share), t chosen for validation macro-F1"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nameorigin", description="Which language does a name come from?")
    parser.add_argument("--version", action="version", version=f"nameorigin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    presets = "; ".join(f"{name}: {text}" for name, (_, text) in PRESETS.items())
    fast = ", ".join(f"{a} batch {c.batch_size} lr {c.lr}" for a, c in FAST.items())
    p = sub.add_parser("train", help="train a model and save it as a checkpoint folder",
                       description=f"Without --preset, --arch's fast settings ({fast}, one-cycle). "
                                   "Any flag below overrides the preset.")
    p.add_argument("--preset", choices=PRESETS, help=presets)
    p.add_argument("--arch", choices=ARCHS, help="model (default: the preset's, else gru)")
    for flag, kind, text in TRAIN_FLAGS:
        p.add_argument(flag, type=kind, help=text)
    _add_data(p)
    p.add_argument("--wiki", metavar="FILE", help="the Wikipedia people's names.tsv, for --preset world "
                   "(default: $NAMEORIGIN_WIKI)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--log-every", type=non_negative_int, default=200, metavar="N",
                   help="log the loss every N steps (0: off; default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or logs")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint folder to write")

    p = sub.add_parser("evaluate", help="measure a checkpoint on its own test split")
    _add_model(p)
    _add_data(p)
    p.add_argument("--wiki", metavar="FILE", help="the Wikipedia people's names.tsv, for a world model "
                   "(default: $NAMEORIGIN_WIKI)")
    p.add_argument("--json", action="store_true", help="print a machine-readable report")

    p = sub.add_parser("predict", help="predict the origin of names")
    _add_model(p)
    p.add_argument("--top-k", type=positive_int, default=3)
    p.add_argument("--min-confidence", type=fraction, default=0.0,
                   help="abstain when the top probability is below this (default 0: never)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress bar with --input")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                   help="run the network with PyTorch or with onnxruntime (exported in memory; "
                        "for GRU models PyTorch's own path is the faster one on CPU)")
    p.add_argument("names", nargs="*", metavar="NAME")
    stream.add_arguments(p)

    p = sub.add_parser("serve", help="serve predictions over HTTP (FastAPI on uvicorn)")
    serve.add_arguments(p)

    p = sub.add_parser("export", help="export a checkpoint to ONNX")
    _add_model(p)
    p.add_argument("--format", choices=("onnx",), default="onnx")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")

    p = sub.add_parser("explain", help="show how a prediction forms as the model reads each character",
                       description=explain.DESCRIPTION)
    _add_model(p)
    explain.add_arguments(p)

    p = sub.add_parser("data", help="build corpora")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="WHAT")
    p = data_sub.add_parser("build-wiki", help="rebuild the Wikipedia people's names.tsv from the name2nat wheel")
    p.add_argument("wheel", metavar="WHEEL", help="name2nat-0.5.1-py3-none-any.whl, as downloaded from PyPI")
    p.add_argument("--out", required=True, metavar="FILE", help="the names.tsv to write")

    report.add_report_arguments(sub.add_parser("report", help="plots and a report page for a checkpoint"))
    report.add_reproduce_arguments(sub.add_parser(
        "reproduce", help="train the reference models and the default model and compare them"))
    return parser


def cmd_train(args: argparse.Namespace) -> None:
    from .config import resolve
    from .train import train_and_save

    started = time.perf_counter()
    overrides = {flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag, _, _ in TRAIN_FLAGS}
    for key in ("bidirectional", "calibrate", "tune_bias"):
        if overrides[key] is not None:
            overrides[key] = bool(overrides[key])
    try:
        config = resolve(args.preset, args.arch, **overrides)
        if config.schedule not in SCHEDULES or config.split not in ("seed", "dedup"):
            raise ValueError(f"--schedule must be one of {SCHEDULES} and --split 'seed' or 'dedup'")
        if config.seed + config.ensemble - 1 > MAX_SEED:
            raise ValueError(f"--seed plus --ensemble minus 1 must be at most 2**32 - 1 ({MAX_SEED}): "
                             "member k trains with seed + k")
    except ValueError as err:
        raise NameOriginError(str(err)) from None
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr))
    meta = train_and_save(config, args.out, data=args.data, wiki=args.wiki, device=args.device, progress=not args.quiet,
                          log_every=args.log_every, log=log)
    m = meta["metrics"]
    print(f"{config.arch}: test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, ECE {m['ece']:.4f} "
          f"on {m['n_test']} names; trained in {meta['history']['seconds']:.1f} s "
          f"({time.perf_counter() - started:.1f} s in all); saved to {args.out}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .evaluate import evaluate_checkpoint, format_report

    report = evaluate_checkpoint(args.model, args.data, args.wiki)
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def cmd_predict(args: argparse.Namespace) -> None:
    from .predict import load_model

    if args.input is None and not args.names:
        raise NameOriginError("give at least one NAME, or --input FILE")
    clf = load_model(args.model, args.backend)
    if args.input is not None:
        stream.command(args, clf)
        return
    results = clf.predict(args.names, top_k=args.top_k, min_confidence=args.min_confidence)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
        return
    for r in results:
        if r.abstained:
            print(f"{r.name}\t(abstained: {r.reason})")
        else:
            top = ", ".join(f"{p['label']} {p['probability']:.3f}" for p in r.predictions)
            print(f"{r.name}\t{top}")


def cmd_export(args: argparse.Namespace) -> None:
    from . import export

    export.command(args)


def cmd_explain(args: argparse.Namespace) -> None:
    from .predict import load_model

    if args.plot is not None:
        explain.check_plot_path(args.plot)
    clf = load_model(args.model)
    results = [clf.explain(name, top_k=args.top_k) for name in args.names]
    print(json.dumps(results, indent=2, ensure_ascii=False) if args.json else explain.format_table(results))
    if args.plot is not None:
        explain.plot([clf.explain(name, top_k=len(clf.labels)) for name in args.names], clf.labels, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)


def cmd_data(args: argparse.Namespace) -> None:
    from .wikibuild import build_wiki

    n = build_wiki(args.wheel, args.out)
    print(f"wrote {n} people to {args.out}", file=sys.stderr)


COMMANDS = {"train": cmd_train, "data": cmd_data, "evaluate": cmd_evaluate, "predict": cmd_predict, "serve": serve.command,
            "export": cmd_export, "explain": cmd_explain, "report": report.report_command,
            "reproduce": report.reproduce_command}


def import_pytorch() -> None:
    """Import PyTorch with the garbage collector paused, then freeze what the import made.

    Every command needs PyTorch, and its import builds hundreds of thousands of objects that live
    as long as the process. Left alone, the collector walks them all in the full collections the
    import itself sets off (0.2 s here) and in every later one; frozen, they are skipped.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import torch  # noqa: F401
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


class Terminated(BaseException):
    """SIGTERM, raised wherever the command is, so that it unwinds as it does on Ctrl+C: every
    writer removes its unfinished temporary file."""


def _terminate(signum: int, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None, *, standalone: bool = False) -> int:
    """Run one command and return its exit status. `standalone` says the process exists for this
    command (the installed script, ``python -m``): PyTorch is imported as `import_pytorch` does,
    and SIGTERM ends the command like Ctrl+C (status 143)."""
    args = build_parser().parse_args(argv)
    try:
        if standalone:
            signal.signal(signal.SIGTERM, _terminate)
            if "torch" not in sys.modules:
                import_pytorch()
        COMMANDS[args.command](args)
    except NameOriginError as err:
        print(f"nameorigin: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nameorigin: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("nameorigin: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        return 0
    except OSError as err:  # the system refused a read or write the command needed: a full disk
        print(f"nameorigin: error: {err.strerror or err}" + (f": {err.filename}" if err.filename else ""),
              file=sys.stderr)
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
    """The installed ``nameorigin`` command: `main`, then the quickest clean exit.

    Once a command is done, what is left is the interpreter tearing itself and PyTorch's
    libraries down: 0.2-0.3 s here that change nothing. So the exit handlers run, the output is
    flushed and the process ends with ``os._exit``. The exit is the ordinary one when a thread
    the interpreter would wait for is still alive, or when a profiler or tracer is watching and
    reports at the end. Because of ``os._exit``, call `main`, not this, from other Python code.
    """
    code = main(standalone=True)
    waiting = any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread())
    if waiting or sys.gettrace() is not None or sys.getprofile() is not None:
        ordinary_exit(code)
    atexit._run_exitfuncs()
    os._exit(finish_output(code))


def ordinary_exit(code: int) -> None:
    """Leave through the interpreter's own shutdown, with the objects made so far frozen so that
    its last garbage collections skip them."""
    gc.freeze()
    sys.exit(finish_output(code))


if __name__ == "__main__":
    # `python -m nameorigin.cli` exits the ordinary way, so that a profiler or debugger wrapping
    # it sees the end of the run.
    ordinary_exit(main(standalone=True))
