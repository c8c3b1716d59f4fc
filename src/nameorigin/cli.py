"""The ``nameorigin`` command: train, evaluate, predict.

Results go to stdout (``--json`` for machines), progress and logs to stderr. Exit status is 0 on
success and 2 on bad input, with a one-line message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import __version__
from .config import ARCHS, SCHEDULES, TUNED, Config
from .errors import NameOriginError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="PATH",
                   help="corpus: a folder of [Label].txt files, the tutorial's data.zip, or a name,label "
                        "CSV/TSV (default: $NAMEORIGIN_DATA, else the cached or downloaded official corpus)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nameorigin", description="Which language does a name come from?")
    parser.add_argument("--version", action="version", version=f"nameorigin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = Config()

    p = sub.add_parser("train", help="train a model and save it as a checkpoint folder")
    p.add_argument("--arch", choices=ARCHS, default=defaults.arch)
    p.add_argument("--epochs", type=_positive_int, default=defaults.epochs)
    p.add_argument("--batch-size", type=_positive_int,
                   help="names per step (default: rnn %(rnn)s, gru %(gru)s); 1 is the reference's loop"
                   % {a: TUNED[a]["batch_size"] for a in ARCHS})
    p.add_argument("--lr", type=_positive_float,
                   help="Adam's (peak) learning rate (default: rnn %(rnn)s, gru %(gru)s)"
                   % {a: TUNED[a]["lr"] for a in ARCHS})
    p.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule,
                   help="learning-rate schedule; 'constant' is the reference's")
    p.add_argument("--hidden-size", type=_positive_int, default=defaults.hidden_size)
    p.add_argument("--num-layers", type=_positive_int, default=defaults.num_layers, help="gru only")
    p.add_argument("--clip", type=float, default=defaults.clip, help="max gradient norm (0: off)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--split", choices=("seed", "dedup"), default=defaults.split)
    _add_data(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--log-every", type=int, default=200, metavar="N", help="log the loss every N steps (0: off)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or logs")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint folder to write")

    p = sub.add_parser("evaluate", help="measure a checkpoint on its own test split")
    p.add_argument("--model", required=True, metavar="DIR")
    _add_data(p)
    p.add_argument("--json", action="store_true", help="print a machine-readable report")

    p = sub.add_parser("predict", help="predict the origin of names")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--top-k", type=_positive_int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("names", nargs="+", metavar="NAME")
    return parser


def cmd_train(args: argparse.Namespace) -> None:
    from . import checkpoint
    from .data import load_corpus
    from .evaluate import metrics
    from .predict import Classifier
    from .train import train

    started = time.perf_counter()
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr))
    config = Config.for_arch(args.arch, hidden_size=args.hidden_size, num_layers=args.num_layers,
                             epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             schedule=args.schedule, clip=args.clip, seed=args.seed, split=args.split)
    corpus = load_corpus(args.data, progress=not args.quiet)
    if corpus.skipped:
        raw, label = corpus.skipped[0]
        log(f"skipped {len(corpus.skipped)} names with symbols outside the alphabet (e.g. {raw!r} in {label})")
    result = train(config, corpus, device=args.device, progress=not args.quiet,
                   log_every=args.log_every, log=log)
    test_names, test_labels = corpus.subset(result.split.test)
    metadata = {
        "config": config.to_dict(),
        "labels": corpus.label_names,
        "split": result.split.describe(),
        "corpus": {"fingerprint": corpus.fingerprint, "n_names": len(corpus), "n_skipped": len(corpus.skipped)},
        "history": {"epoch_loss": result.history.epoch_loss, "train_seconds": result.history.seconds},
    }
    classifier = Classifier(result.model, metadata)
    report = metrics(test_labels, classifier._proba(test_names), corpus.label_names)
    metadata["metrics"] = {k: report[k] for k in ("n_test", "accuracy", "macro_f1", "top3_accuracy")}
    checkpoint.save(args.out, result.model, metadata)
    print(f"{config.arch}: test accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f} "
          f"on {report['n_test']} names; trained in {result.history.seconds:.1f} s "
          f"({time.perf_counter() - started:.1f} s in all); saved to {args.out}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .data import load_corpus, split_corpus
    from .evaluate import format_report, metrics
    from .predict import load_model

    clf = load_model(args.model)
    meta = clf.metadata
    corpus = load_corpus(args.data)
    if corpus.fingerprint != meta["corpus"]["fingerprint"]:
        raise NameOriginError(f"{corpus.source}: this is not the corpus {args.model} was trained on (its "
                              "fingerprint differs), so its test split cannot be rebuilt; pass --data with "
                              "the training corpus")
    split = split_corpus(corpus, meta["split"]["kind"], meta["split"]["seed"], meta["split"]["test_size"])
    names, labels = corpus.subset(split.test)
    report = metrics(labels, clf._proba(names), clf.labels)
    report.update(model=str(args.model), model_revision=clf.revision, split=split.describe())
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def cmd_predict(args: argparse.Namespace) -> None:
    from .predict import load_model

    clf = load_model(args.model)
    results = clf.predict(args.names, top_k=args.top_k)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
        return
    for r in results:
        if r.abstained:
            print(f"{r.name}\t(abstained: {r.reason})")
        else:
            top = ", ".join(f"{p['label']} {p['probability']:.3f}" for p in r.predictions)
            print(f"{r.name}\t{top}")


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except NameOriginError as err:
        print(f"nameorigin: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nameorigin: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
