"""Export a checkpoint to ONNX (PyTorch's exporter), checked by running it with onnxruntime.

``nameorigin export --model DIR --format onnx --out FILE`` writes one self-describing ``.onnx``
file: the network, with inputs ``chars`` (int64, batch x time, right-padded character indices) and
``lengths`` (int64, batch) and output ``logits`` (batch x labels), plus the checkpoint's labels,
temperature, logit bias, revision, config and metrics in the file's ``metadata_props``. Batch size
and name length are both free.

How each architecture gets there (PyTorch's TorchScript-based exporter, which maps ``nn.GRU`` and
``nn.LSTM`` onto ONNX's own GRU and LSTM operators):

* "gru", "lstm" (any depth, one-hot or embedding, bidirectional) are traced as they are; nothing
  in them depends on the batch's shape.
* "gru-cell", "lstm-cell": the hand-written cells are weight-compatible with ``nn.GRU`` and
  ``nn.LSTM``, so their stacks are copied into those layers first and exported the same way (a
  traced Python loop over time would be frozen to the example's length).
* "rnn" (the reference's cell): its readable path, the tutorial's step (``ScratchRNN(fast=False)``),
  is compiled with TorchScript, so its loop becomes an ONNX ``Loop`` over however many characters
  the batch has.
* Ensembles of any of these export member by member, averaging as in PyTorch.

Every export is checked before it is written: its graph must pass `onnx_graph`'s checks (what
loading a file demands), and onnxruntime runs it on a batch of another size and other lengths
than the tracing example, and must agree with PyTorch.

Running an exported file for predictions is `inference.onnx`'s job; `onnxfile.open_session` and
`onnxfile.run`, which need no PyTorch, are what both it and the check above feed the graph with.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__, checkpoint
from ..models.tensors import encode
from ..errors import NameOriginError
from ..files import atomic_write
from ..models.cells import LSTMCell, ScratchLayers
from ..models.recurrent import Ensemble, RecurrentClassifier
from ..models.tutorial import ScratchRNN
from ..text.names import ALPHABET
from .metadata import ModelMeta
from .onnx_graph import graph_problem
from .onnxfile import (FORMAT, FORMAT_VERSION, INPUTS, METADATA_KEYS, OPTIONAL_KEYS, OUTPUT,  # noqa: F401
                       first_line, open_session, require_module, require_onnx, run)

FORMATS = ("onnx",)
OPSET = 17

# The tracing example, and the differently shaped batch every export is checked on.
_EXAMPLE_NAMES = ["Abe", "Li", "Novak"]
_CHECK_NAMES = [(ALPHABET * 3)[i:i + n] for i, n in enumerate((1, 9, 2, 23, 4, 17, 6, 12, 3, 20, 1))]


# --- making a network exportable --------------------------------------------------------------


class _ExportableScratchRNN(ScratchRNN):
    """`models.ScratchRNN`'s readable path in eval mode, for TorchScript to compile, so its loop
    over characters exports as an ONNX Loop over however many the batch has. ``fast`` is a
    constant here, which lets the compiler leave the fast path out, and the initial state is eval
    mode's zeros (the random draw of training does not compile)."""

    __constants__ = ["fast"]

    def init_hidden(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, self.hidden_size, dtype=self.in2hidden.weight.dtype)


def _scripted_scratch_rnn(rnn: ScratchRNN) -> torch.jit.ScriptModule:
    net = _ExportableScratchRNN(rnn.n_chars, rnn.hidden_size, rnn.in2output.out_features, fast=False)
    net.load_state_dict(rnn.state_dict())
    return torch.jit.script(net.eval())


def _torch_layers(stack: nn.Module) -> nn.Module:
    """A `models.ScratchLayers` stack copied into the equivalent batch-first nn.GRU / nn.LSTM."""
    cells = list(stack.cells)
    layer = nn.LSTM if isinstance(cells[0], LSTMCell) else nn.GRU
    rnn = layer(cells[0].ih.in_features, cells[0].hidden_size, len(cells), batch_first=True)
    with torch.no_grad():
        for k, cell in enumerate(cells):
            getattr(rnn, f"weight_ih_l{k}").copy_(cell.ih.weight)
            getattr(rnn, f"bias_ih_l{k}").copy_(cell.ih.bias)
            getattr(rnn, f"weight_hh_l{k}").copy_(cell.hh.weight)
            getattr(rnn, f"bias_hh_l{k}").copy_(cell.hh.bias)
    return rnn


def exportable(model: nn.Module) -> nn.Module:
    """The network to hand to the exporter: `model` itself where tracing captures it whole, else an
    equivalent built from its weights (see the module docstring). `model` is not changed."""
    if isinstance(model, Ensemble):
        members = [exportable(m) for m in model.members]
        if any(isinstance(m, torch.jit.ScriptModule) for m in members):
            # the exporter's own tracer can't call into compiled members; torch.jit.trace can
            return torch.jit.trace(Ensemble(members).eval(), encode(_EXAMPLE_NAMES))
        return Ensemble(members).eval()
    if isinstance(model, ScratchRNN):
        return _scripted_scratch_rnn(model)
    if isinstance(model, RecurrentClassifier):
        if not any(isinstance(stack, ScratchLayers) for stack in model.layers):
            return model
        model = copy.deepcopy(model)
        for i, stack in enumerate(model.layers):
            if isinstance(stack, ScratchLayers):
                model.layers[i] = _torch_layers(stack)
        return model.eval()
    raise NameOriginError(f"{type(model).__name__} networks can't be exported to ONNX; exportable "
                          "architectures: rnn, gru, lstm, gru-cell, lstm-cell, and ensembles of them")


def to_onnx_bytes(model: nn.Module, opset: int = OPSET) -> bytes:
    """`model` (eval mode, CPU) as a serialized ONNX graph with free batch and time axes."""
    require_onnx()
    model = model.eval()
    example = encode(_EXAMPLE_NAMES)
    kwargs: dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: nn.GRU/nn.LSTM and scripted loops
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The legacy exporter's deprecation notice and the tracer's notes on nn.GRU/nn.LSTM's own
        # shape checks; what counts is the numerical check below.
        warnings.simplefilter("ignore")
        net = exportable(model)
        torch.onnx.export(net, example, buffer, input_names=list(INPUTS), output_names=[OUTPUT],
                          dynamic_axes={"chars": {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                                        OUTPUT: {0: "batch"}},
                          opset_version=opset, do_constant_folding=True, **kwargs)
    data = buffer.getvalue()
    problem = graph_problem(require_module("onnx").load_model_from_string(data))
    if problem is not None:  # what loading would refuse: the exporter and ALLOWED_OPS disagree
        raise RuntimeError(f"the ONNX export of {type(model).__name__} has {problem}; this is a bug in nameorigin")
    _check(model, data)
    return data


@torch.no_grad()
def _check(model: nn.Module, data: bytes, tolerance: float = 1e-4) -> None:
    """onnxruntime must reproduce PyTorch's logits on a batch shaped unlike the tracing example."""
    chars, lengths = encode(_CHECK_NAMES)
    expected = model(chars, lengths).float().numpy()
    got = run(open_session(data, threads=1, trusted=True), chars, lengths)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=tolerance, atol=tolerance):
        diff = np.abs(got - expected).max() if got.shape == expected.shape else f"shape {got.shape}"
        raise RuntimeError(f"the ONNX export of {type(model).__name__} disagrees with PyTorch "
                           f"(max difference {diff}); this is a bug in nameorigin")


# --- writing the file ---------------------------------------------------------------------------


def _metadata_props(meta: ModelMeta, revision: str) -> dict[str, str]:
    bias = None if meta.logit_bias is None else list(meta.logit_bias)
    values = {"labels": list(meta.labels), "temperature": float(meta.temperature), "logit_bias": bias,
              "revision": revision, "config": meta.to_dict()["config"], "metrics": meta.metrics or {}}
    if meta.one_word_temperature is not None:
        values["one_word_temperature"] = float(meta.one_word_temperature)
    data = meta.to_dict()
    values.update({key: data[key] for key in OPTIONAL_KEYS[1:] if data.get(key) is not None})
    props = {key: json.dumps(value) for key, value in values.items()}
    props.update(format=FORMAT, format_version=str(FORMAT_VERSION), alphabet=ALPHABET, package_version=__version__)
    return props


def _write_atomic(out: Path, data: bytes) -> None:
    """Write `data` to `out` through `files.atomic_write`: `out` is either the old file or the
    complete new one, never a partial write (a device or FIFO is written in place). A path that
    can't be written is a `NameOriginError`; the system failing the write (a full disk) is an
    `OSError` naming `out`."""
    if out.is_dir():
        raise NameOriginError(f"{out} is a directory; --out needs a file name such as {out / 'model.onnx'}")
    with atomic_write(out, "wb", parents=True) as f:
        f.write(data)


def export_model(model: nn.Module, metadata: Mapping[str, Any], out_path: str | os.PathLike,
                 revision: str = "", opset: int = OPSET) -> Path:
    """Write `model` with `metadata` (the checkpoint's: labels, temperature, ...; checked as
    loading checks it, so no file is written that would be refused) to `out_path`."""
    onnx = require_module("onnx")
    require_module("onnxruntime")
    meta = metadata if isinstance(metadata, ModelMeta) else ModelMeta.from_dict(metadata, "the model's metadata")
    proto = onnx.load_model_from_string(to_onnx_bytes(model, opset))
    onnx.helper.set_model_props(proto, _metadata_props(meta, revision))
    proto.producer_name, proto.producer_version = "nameorigin", __version__
    onnx.checker.check_model(proto)
    out = Path(out_path)
    _write_atomic(out, proto.SerializeToString())
    return out


def export_onnx(model_dir: str | os.PathLike, out_path: str | os.PathLike, opset: int = OPSET) -> Path:
    """Export the checkpoint folder `model_dir` to the ONNX file `out_path`; returns its path."""
    model, meta = checkpoint.load(model_dir)
    return export_model(model, meta, out_path, checkpoint.revision(model_dir), opset)


# --- the command ----------------------------------------------------------------------------------
