"""An exported ONNX file, read and run without PyTorch: its format, the onnxruntime session, a run.

An ``.onnx`` file runs as code, like a pickle, so `open_session` checks a graph it did not just
export before onnxruntime sees it (`onnx_graph`). `checkpoint.onnx` writes such files, with
PyTorch; `inference.onnx` predicts with them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NameOriginError
from .onnx_graph import check_graph

FORMAT = "nameorigin-onnx"
FORMAT_VERSION = 1
INPUTS = ("chars", "lengths")
OUTPUT = "logits"
# What the file records besides the network (JSON-encoded values in metadata_props).
METADATA_KEYS = ("labels", "temperature", "logit_bias", "revision", "config", "metrics")
# written only by models that have them
OPTIONAL_KEYS = ("one_word_temperature", "conformal", "label_prior", "one_word_label_prior")


def require_module(module: str):
    """`module` imported, or a one-line refusal naming the extra that brings it."""
    try:
        return __import__(module)
    except ImportError:
        raise NameOriginError(f"ONNX support needs the {module} package: pip install 'nameorigin[onnx]'") from None


def require_onnx(*modules: str) -> None:
    """Refuse, before any work, when an ONNX package is missing: PyTorch's exporter needs onnx and
    onnxruntime (to check what it wrote), and so does running an exported file (onnx reads its
    graph to check it before onnxruntime runs it)."""
    for module in modules or ("onnx", "onnxruntime"):
        require_module(module)


def first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def _check_untrusted(data: bytes, shown: str) -> None:
    """Refuse a graph `onnx_graph.check_graph` refuses, before onnxruntime sees it; reading the
    graph needs the onnx package, without which no file is run unchecked."""
    onnx = require_module("onnx")
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as err:  # protobuf's DecodeError, or onnx's own
        raise NameOriginError(f"{shown}: not a loadable ONNX model ({first_line(err)})") from None
    check_graph(proto, shown)


def open_session(model: str | os.PathLike | bytes, threads: int | None = None, *, trusted: bool = False):
    """An onnxruntime session on the CPU for an exported file (a path, or its bytes), checked to
    have this module's inputs and output. `threads` sets its intra-op threads (None: onnxruntime's
    default, one per physical core). The graph must pass `onnx_graph.check_graph` first, unless
    `trusted`: bytes this process has just exported and checked itself."""
    ort = require_module("onnxruntime")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4  # its errors reach the caller as one line each (`run`), not as log lines too
    shown = "model" if isinstance(model, bytes) else str(model)
    if not isinstance(model, bytes):
        if not Path(model).is_file():
            raise NameOriginError(f"{model}: no such ONNX file")
        model = Path(model).read_bytes()  # what is checked is what runs, whatever happens to the file
    if not trusted:
        _check_untrusted(model, shown)
    try:
        session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own exception types differ between versions
        raise NameOriginError(f"{shown}: not a loadable ONNX model ({first_line(err)})") from None
    names = [i.name for i in session.get_inputs()]
    if names != list(INPUTS) or OUTPUT not in [o.name for o in session.get_outputs()]:
        raise NameOriginError(f"{shown}: not a nameorigin ONNX export (inputs {names})")
    return session


def run(session: Any, chars: np.ndarray, lengths: np.ndarray, where: str = "the ONNX model") -> np.ndarray:
    """The logits `session` (from `open_session`) computes for a batch (numpy arrays, or CPU
    tensors); onnxruntime failing to compute them (a graph that asks for more memory than there
    is) is a one-line `NameOriginError`."""
    feed = {"chars": np.asarray(chars, dtype=np.int64), "lengths": np.asarray(lengths, dtype=np.int64)}
    try:
        return session.run([OUTPUT], feed)[0]
    except Exception as err:  # onnxruntime's exception types differ between versions
        raise NameOriginError(f"{where}: onnxruntime failed to run the network ({first_line(err)})") from None
