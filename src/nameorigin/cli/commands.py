"""What each subcommand does with its parsed options (`parser` defines them)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from .. import report, serve, stream
from ..checkpoint.bundled import model_path
from ..config import resolve
from ..errors import NameOriginError
from ..evaluation.evaluate import evaluate_checkpoint, format_report
from ..inference import explain
from ..inference.classifier import load_model
from ..inference.priors import read_prior
from .train_args import resume_given, train_overrides


def as_text(names: list[str]) -> list[str]:
    """Names from the command line, with each byte that was not valid text in the locale's encoding
    (Python carries it in ``sys.argv`` as a lone surrogate) shown as U+FFFD: a surrogate cannot be
    written to a strict UTF-8 output, and would end the command in a traceback."""
    return ["".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in name) for name in names]


def workload(args: argparse.Namespace) -> str | None:
    """The kind of work the command does, as `threads.default_threads` knows it; None for commands
    that run no model here (``data``) or set their own threads (``serve``)."""
    if not hasattr(args, "threads") or args.command == "serve":
        return None
    return "predict --input" if args.command == "predict" and args.input is not None else args.command


# Commands that build, train or export a PyTorch network: the ``train`` extra.
TORCH_COMMANDS = frozenset({"train", "reproduce", "export", "calibrate-sets"})


def torch_needed_by(args: argparse.Namespace) -> str | None:
    """The command line, as a message names it, when it needs PyTorch (to train or export, or to
    predict with ``--backend torch``); None when it does not."""
    if args.command in TORCH_COMMANDS:
        return f"`nameorigin {args.command}`"
    if getattr(args, "backend", None) == "torch":
        return f"`nameorigin {args.command} --backend torch`"
    return None


def _config(args: argparse.Namespace):
    """The run's config: resolved from the preset and flags once, and checked once."""
    try:
        return resolve(args.preset, args.arch, **train_overrides(args)).validate()
    except ValueError as err:
        raise NameOriginError(str(err)) from None


def cmd_train(args: argparse.Namespace) -> None:
    from ..training.pipeline import resume_and_save, train_and_save

    started = time.perf_counter()
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr))
    common = dict(device=args.device, progress=not args.quiet, log_every=args.log_every, log=log,
                  precision=args.precision)
    if args.resume is not None:
        out, meta = args.resume, resume_and_save(args.resume, given=resume_given(args), **common)
    else:
        out, meta = args.out, train_and_save(_config(args), args.out, data=args.data, wiki=args.wiki,
                                             locales=args.locales, save_every=args.save_every or 0, score_test=not args.skip_test,
                                             **common)
    if not meta:  # a process of a torchrun group other than the first: it writes and reports nothing
        return
    took = f"trained in {meta['history']['seconds']:.1f} s ({time.perf_counter() - started:.1f} s in all)"
    m = meta.get("metrics")
    if m is None:
        print(f"{meta['config']['arch']}: {took}; saved to {out}; test split not scored "
              f"(--skip-test): `nameorigin evaluate --model {out}` scores it")
        return
    print(f"{meta['config']['arch']}: test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, "
          f"ECE {m['ece']:.4f} on {m['n_test']} names; {took}; saved to {out}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    result = evaluate_checkpoint(args.model, args.data, args.wiki, args.locales, threads=args.threads)
    print(json.dumps(result, indent=2) if args.json else format_report(result))


def cmd_predict(args: argparse.Namespace) -> None:
    if args.input is None and not args.names:
        raise NameOriginError("give at least one NAME, or --input FILE")
    clf = load_model(args.model, args.backend, threads=args.threads)
    args.prior = answer_prior(args, clf)
    if args.input is not None:
        stream.command(args, clf)
        return
    names = as_text(args.names)
    if args.prior == "auto":
        args.prior = clf.estimate_prior(names)
        print(json.dumps({"estimated_prior": {k: round(v, 6) for k, v in args.prior.items()}}), file=sys.stderr)
    results = clf.predict(names, top_k=args.top_k, min_confidence=args.min_confidence, level=args.level,
                          coverage=args.coverage, prior=args.prior, randomized=args.randomized)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
        return
    for r in results:
        if r.abstained:
            print(f"{r.name}\t(abstained: {r.reason})")
        else:
            top = ", ".join(f"{p.label} {p.probability:.3f}" for p in r.predictions)
            shown = "" if r.prediction_set is None else f"\tset {args.coverage:g}: {', '.join(r.prediction_set) or '(empty)'}"
            print(f"{r.name}\t{top}{shown}")


def answer_prior(args: argparse.Namespace, clf) -> object:
    """``--prior`` read (JSON, a file, or "auto"), and every answer option checked against the
    model before any name is read, so a bad one is one line and no partial output."""
    if args.randomized and args.coverage is None:
        raise NameOriginError("--randomized-sets needs --coverage")
    prior = None if args.prior is None else read_prior(args.prior)
    clf.check_answers(args.level, args.coverage, None if prior == "auto" else prior, args.randomized)
    return prior


def cmd_calibrate_sets(args: argparse.Namespace) -> None:
    from ..training.setcalibration import calibrate_sets

    meta = calibrate_sets(args.model, args.data, args.wiki, args.locales)
    sets = f"prediction sets calibrated on {meta['conformal']['source']}" if "conformal" in meta else "no prediction sets"
    print(f"{args.model}: {sets}; label mix for priors recorded")


def cmd_export(args: argparse.Namespace) -> None:
    """Export to ONNX and print the file's path."""
    from ..checkpoint.onnx import export_onnx

    print(export_onnx(model_path(args.model), args.out))


def cmd_explain(args: argparse.Namespace) -> None:
    if args.plot is not None:
        explain.check_plot_path(args.plot)
    clf = load_model(args.model, threads=args.threads)
    names = as_text(args.names)
    results = [clf.explain(name, top_k=args.top_k) for name in names]
    print(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False) if args.json
          else explain.format_table(results))
    if args.plot is not None:
        explain.plot([clf.explain(name, top_k=len(clf.labels)) for name in names], clf.labels, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)


def cmd_data(args: argparse.Namespace) -> None:
    if args.data_command == "build-locales":
        from ..data.locales import build_table

        curated = build_table(args.out)
        print(f"wrote {len(curated.rows)} names to {args.out}", file=sys.stderr)
        for reason, n in curated.dropped.most_common():
            print(f"  {n:>6} dropped: {reason}; e.g. {', '.join(curated.examples[reason][:4])}", file=sys.stderr)
        return
    from ..data.wikibuild import build_wiki

    n = build_wiki(args.wheel, args.out)
    print(f"wrote {n} people to {args.out}", file=sys.stderr)


COMMANDS: dict[str, Callable[[argparse.Namespace], object]] = {
    "train": cmd_train, "data": cmd_data, "evaluate": cmd_evaluate, "calibrate-sets": cmd_calibrate_sets, "predict": cmd_predict, "serve": serve.command,
    "export": cmd_export, "explain": cmd_explain, "report": report.report_command,
    "reproduce": report.reproduce_command}
