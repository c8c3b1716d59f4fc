"""Options of the commands that use a trained model: evaluate, predict, explain, export, report, serve."""

from __future__ import annotations

import argparse

from .. import serve
from ..argtypes import positive_int, probability
from ..inference import explain
from ..stream import INPUT_FORMATS, OUTPUT_FORMATS
from .answer_args import add_answer_options
from .options import BULK_THREADS, add_data, add_locales, add_model, add_quiet, add_threads, add_wiki

BACKENDS = ("numpy", "torch", "onnx")
EXPORT_FORMATS = ("onnx",)  # export.FORMATS; that module imports PyTorch, which parsing must not


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure a checkpoint on its own test split",
                       description="Score a checkpoint on the test split it was trained beside: the corpus it "
                                   "was trained on must be at hand (--data).")
    add_model(p)
    add_data(p, "; must be the corpus the model was trained on")
    add_wiki(p, "a world model")
    add_locales(p)
    p.add_argument("--json", action="store_true", help="print a machine-readable report: accuracy, macro_f1, "
                                                       "top3_accuracy, per_class, confusion")
    add_threads(p, BULK_THREADS)


def add_file_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``predict``'s options for files (`nameorigin.stream`), on `p`, which is returned."""
    p.add_argument("--input", metavar="FILE", help="predict every name in FILE ('-': stdin): .txt one name a "
                                                   "line, .csv/.tsv with a header, .jsonl one object a line")
    p.add_argument("--column", default="name", help="the CSV/TSV column or JSONL key holding the names "
                                                    "(default: %(default)s)")
    p.add_argument("--output", metavar="FILE", default="-",
                   help="where to write (default: stdout); a file is replaced only when the run succeeds")
    p.add_argument("--format", choices=OUTPUT_FORMATS,
                   help="output format (default: from --output's extension, else the input's; csv for text)")
    p.add_argument("--input-format", choices=INPUT_FORMATS,
                   help="input format (default: from --input's extension; text for stdin)")
    p.add_argument("--chunk-size", type=positive_int, default=8192, metavar="N",
                   help="rows read and predicted at a time (default: %(default)s)")
    return p


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict the origin of names",
                       description="Predict each NAME given, or every row of --input FILE.")
    add_model(p)
    p.add_argument("--top-k", type=positive_int, default=3, metavar="K",
                   help="labels listed per name, best first (default: %(default)s)")
    p.add_argument("--min-confidence", type=probability, default=0.0,
                   help="abstain when the top probability is below this (default 0: never)")
    p.add_argument("--json", action="store_true", help="print one JSON array with an object per name "
                                                       "(with --input, use --format jsonl)")
    add_quiet(p, "no progress bar with --input")
    p.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="run the network on numpy (the default, and the fastest on a CPU), PyTorch "
                        "(for a GPU; pip install 'nameorigin[train]') or onnxruntime")
    add_threads(p, f"1 for NAMEs and, with --input, {BULK_THREADS}")
    add_answer_options(p)
    p.add_argument("names", nargs="*", metavar="NAME", help="names to predict (or none, with --input)")
    add_file_options(p)


def add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="show how a prediction forms as the model reads each character",
                       description=explain.DESCRIPTION)
    add_model(p)
    p.add_argument("--top-k", type=positive_int, default=3, metavar="K",
                   help="labels shown per prefix (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the same data as JSON")
    p.add_argument("--plot", metavar="FILE.png",
                   help="also write a heatmap of characters by labels (all labels) to this PNG")
    add_threads(p, "1")
    p.add_argument("names", nargs="+", metavar="NAME", help="names to explain")


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX",
                       description="Write a checkpoint as one .onnx file, checked against PyTorch before it is "
                                   "written: inputs chars (int64, batch x time, right-padded character indices) "
                                   "and lengths (int64, batch), output logits (batch x labels).")
    add_model(p)
    p.add_argument("--format", choices=EXPORT_FORMATS, default="onnx", help="the export format (default: %(default)s)")
    add_threads(p, "1")
    p.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")


def add_report_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``report``'s options (`nameorigin.report.report_command`), on `p`, which is returned."""
    p.description = ("Plot a checkpoint on its own test split: training curves, confusion matrix, per-class F1 "
                     "and reliability diagram, with a report.md showing them.")
    p.add_argument("--model", metavar="DIR",
                   help="checkpoint folder (default: the bundled model, reported into ./nameorigin-report)")
    add_data(p, "; must be the training corpus")
    p.add_argument("--out", metavar="DIR", help="folder for the plots and report.md (default: DIR/report); "
                                                "refused if it holds anything but an earlier report")
    add_threads(p, BULK_THREADS)
    return p


def add_report(sub: argparse._SubParsersAction) -> None:
    add_report_options(sub.add_parser("report", help="plots and a report page for a checkpoint"))


def add_serve(sub: argparse._SubParsersAction) -> None:
    # serve's options, --threads among them, are defined beside the server (serve.add_arguments).
    serve.add_arguments(sub.add_parser("serve", help="serve predictions over HTTP (FastAPI on uvicorn)"))
