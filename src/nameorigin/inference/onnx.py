"""Predictions with onnxruntime instead of PyTorch: ``load_model(..., backend="onnx")``.

`OnnxModel` runs an exported network (see `export`) as a `runtime.Network`, numpy in and out;
`load_onnx_classifier` builds a `Classifier` on it, from an ``.onnx`` file written by
``nameorigin export`` or from a checkpoint folder (exported in memory, which needs PyTorch).

An ``.onnx`` file runs as code, like a pickle, so before onnxruntime sees it its graph is read
with the onnx package and refused unless it is built as nameorigin's exports are
(`checkpoint.onnx_graph`: their operators only, loops over the name's characters only). Then it
is checked as a checkpoint is: its metadata by `ModelMeta.from_dict`, the width of its output
against its labels, its weights for NaN, infinities and absurd magnitudes, and its network by one
small batch that must give finite logits. The batch alone is not enough: onnxruntime's GRU clamps
what goes into its gates, so NaN recurrent weights give finite, wrong logits. onnxruntime failing
while it runs is a one-line `NameOriginError`, as every other refusal here.

onnx and onnxruntime are an optional extra, so `predict.load_model` finds this module by name only when
the backend is asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, checkpoint
from ..checkpoint.metadata import ModelMeta
from ..checkpoint.onnxfile import (FORMAT, FORMAT_VERSION, METADATA_KEYS, OPTIONAL_KEYS, OUTPUT, open_session,
                                   require_onnx, run)
from ..checkpoint.weights import MAX_WEIGHT
from ..errors import NameOriginError
from ..jsontext import JSONError, parse_json
from ..text.names import ALPHABET, encode
from .classifier import Classifier

# The batch an .onnx file's network must answer with finite logits before it is used.
_PROBE = ["A", "Li", "Novak", "O'Neil-Smith", "van der Berg"]


class OnnxModel:
    """An exported network run by onnxruntime on the CPU, a `runtime.Network`:
    ``model(chars, lengths) -> logits`` with numpy arrays in and out. `threads` sets
    onnxruntime's intra-op threads (None: its default, one per physical core). A graph is checked
    before it runs (`checkpoint.onnx_graph`) unless `trusted`, for bytes this process has just
    exported."""

    def __init__(self, model: str | os.PathLike | bytes, threads: int | None = None, *, trusted: bool = False):
        self.session = open_session(model, threads, trusted=trusted)
        self.where = "the ONNX model" if isinstance(model, bytes) else str(model)
        self.props: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return run(self.session, chars, lengths, self.where)

    def metadata(self, where: str | os.PathLike = "the ONNX model") -> ModelMeta:
        """The checkpoint metadata stored in the file (labels, temperature, logit_bias, revision,
        config, metrics), checked as a checkpoint's is; refuses files nameorigin did not write.
        `where` names the file in messages."""
        props = self.props
        if props.get("format") != FORMAT:
            raise NameOriginError(f"{where}: not a nameorigin ONNX export (its metadata has no labels); "
                                  "export it with `nameorigin export`")
        if props.get("format_version") != str(FORMAT_VERSION):
            raise NameOriginError(f"{where}: ONNX export format {props.get('format_version')} is not supported by "
                                  f"nameorigin {__version__} (it reads format {FORMAT_VERSION})")
        if props.get("alphabet") != ALPHABET:
            raise NameOriginError(f"{where}: the ONNX model was trained on a different alphabet")
        try:
            decoded = {key: parse_json(props[key]) for key in METADATA_KEYS}
            decoded.update({key: parse_json(props[key]) for key in OPTIONAL_KEYS if key in props})
        except KeyError as err:
            raise NameOriginError(f"{where}: damaged nameorigin ONNX metadata (no {err})") from None
        except JSONError as err:
            raise NameOriginError(f"{where}: damaged nameorigin ONNX metadata ({err})") from None
        return ModelMeta.from_dict(decoded, where)


def _check_weights(path: Path) -> None:
    """Refuse NaN, infinite or absurdly large weights in an exported file, as `weights.check_values`
    does a checkpoint's (with the onnx package, which `open_session` has required already)."""
    import onnx
    from onnx import numpy_helper

    try:
        initializers = onnx.load(str(path)).graph.initializer
    except Exception as err:  # onnxruntime read it, so this is not expected; say what it was
        raise NameOriginError(f"{path}: not a readable ONNX model ({str(err).strip()[:200]})") from None
    for tensor in initializers:
        values = numpy_helper.to_array(tensor)
        if values.dtype.kind == "f" and not (np.isfinite(values).all() and np.abs(values).max(initial=0) <= MAX_WEIGHT):
            raise NameOriginError(f"{path}: tensor {tensor.name!r} holds NaN, infinite or absurdly large values; "
                                  "export it again with `nameorigin export`")


def _check_file(runner: OnnxModel, meta: ModelMeta, path: Path) -> None:
    """An exported network must score as many labels as its metadata names, hold sane weights and
    answer finite logits."""
    width = next(o.shape for o in runner.session.get_outputs() if o.name == OUTPUT)[-1]
    if isinstance(width, int) and width != len(meta.labels):
        raise NameOriginError(f"{path}: the network scores {width} labels but its metadata names "
                              f"{len(meta.labels)}; export it again with `nameorigin export`")
    _check_weights(path)
    logits = runner(*encode(_PROBE))
    if logits.shape != (len(_PROBE), len(meta.labels)) or not np.isfinite(logits).all():
        raise NameOriginError(f"{path}: the network answers NaN or infinite logits (damaged weights); "
                              "export it again with `nameorigin export`")


def _load_for_export(path: Path):
    """A checkpoint folder's PyTorch network, to export in memory; without PyTorch, one line saying
    how to get it or what to give instead."""
    try:
        import torch  # noqa: F401  (the exporter needs PyTorch, an optional extra)
    except ImportError:
        raise NameOriginError(f"{path}: running a checkpoint folder in onnxruntime exports it first, which needs "
                              "PyTorch: pip install 'nameorigin[train]', or give the .onnx file `nameorigin export` "
                              "writes") from None
    return checkpoint.load(path)


def _exported(model) -> bytes:
    from ..checkpoint.onnx import to_onnx_bytes  # PyTorch's exporter: an optional extra

    return to_onnx_bytes(model)


def load_onnx_classifier(path: str | os.PathLike, threads: int | None = None, **options: Any) -> Classifier:
    """A `predict.Classifier` whose network runs in onnxruntime: from an exported ``.onnx`` file,
    or from a checkpoint folder (exported in memory, nothing written). `options` go to `Classifier`."""
    require_onnx("onnx", "onnxruntime")  # onnx reads a file's graph to check it, or exports a folder
    path = Path(path)
    if path.is_dir():
        model, meta = _load_for_export(path)
        runner = OnnxModel(_exported(model), threads, trusted=True)
        return Classifier(runner, meta, checkpoint.revision(path), threads=1, **options)
    runner = OnnxModel(path, threads)
    meta = runner.metadata(path)
    _check_file(runner, meta, path)
    return Classifier(runner, meta, meta.revision or "", threads=1, **options)
