"""What an ``.onnx`` file's graph may hold before onnxruntime is let run it.

An ONNX file is a program, not a table of weights: onnxruntime runs whatever graph it holds, as
`pickle` runs whatever a pickle says. A tampered export can loop for ever (a ``Loop`` with a trip
count of 10^15, which no signal interrupts, since the process is inside onnxruntime) or ask for
memory by the gigabyte (``ConstantOfShape([4e9])``). So a file is read with the onnx package and
refused, before any session is made, unless its graph, subgraphs included:

* uses only the operators nameorigin's exporter writes (`ALLOWED_OPS`, every architecture and
  ensemble; the exporter checks what it writes against the same list);
* runs each ``Loop`` over the names' characters, as the exporter's do: its trip count is a
  dimension of a graph input (``Gather(Shape(chars))``), not a constant, and it is not nested in
  another operator's subgraph (which would multiply its steps);
* has no tensor whose size ONNX shape inference can fix at more than `MAX_STATIC_ELEMENTS` values
  from the file alone.

This narrows what a hostile file can do; it does not make running one safe. Load only files you
trust, as you would a pickle.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ..errors import CheckpointError

# Every operator `checkpoint.onnx` writes for rnn, gru, lstm, gru-cell and lstm-cell networks (one-hot
# or embedding, bidirectional, n-gram heads) and their ensembles, at opset 17.
ALLOWED_OPS = frozenset({
    "Add", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Div", "Equal", "Expand", "GRU", "Gather",
    "GatherElements", "Gemm", "Greater", "Identity", "If", "LSTM", "Less", "LessOrEqual", "Log", "Loop", "Mod",
    "Mul", "OneHot", "Pad", "Range", "ReduceMean", "ReduceSum", "Relu", "Reshape", "ScatterND", "Shape",
    "Sigmoid", "Slice", "Softmax", "Squeeze", "Sub", "Transpose", "Unsqueeze", "Where",
})
# 2^26 float32 values are 256 MiB; no tensor of an export comes near this with its sizes fixed.
MAX_STATIC_ELEMENTS = 2 ** 26
TRUST = "an .onnx file runs as code, like a pickle: load only files you trust"


def _graphs(graph: Any) -> Iterator[Any]:
    """`graph` and every subgraph in its nodes' attributes (Loop and If bodies), however deep."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                yield from _graphs(sub)


def _first_input(node: Any | None, op_type: str) -> str:
    """The first input of `node` if it is an `op_type` node, else ""."""
    return node.input[0] if node is not None and node.op_type == op_type and node.input else ""


def _loop_problem(model: Any, producers: dict[str, Any]) -> str | None:
    """Why some Loop is not one the exporter writes (None if none): those run in the main graph, once
    per character, their trip count a graph input's dimension, ``Gather(Shape(chars))``."""
    if any(node.op_type == "Loop" for graph in list(_graphs(model.graph))[1:] for node in graph.node):
        return "a Loop inside another operator's subgraph (the exporter never nests its loops)"
    inputs = {i.name for i in model.graph.input}
    for loop in (node for node in model.graph.node if node.op_type == "Loop"):
        gathered = _first_input(producers.get(loop.input[0] if loop.input else ""), "Gather")
        if _first_input(producers.get(gathered), "Shape") not in inputs:
            return ("a Loop whose trip count is not the length of its input (the exporter's loops run once "
                    "per character)")
    return None


def _static_problem(model: Any) -> str | None:
    """Why some tensor is too large (None if none is), by ONNX shape inference with its data
    propagation, which follows constant shapes through Concat, Gather and the like."""
    from onnx import shape_inference

    try:
        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception as err:  # the graph does not even type-check
        return f"a graph ONNX cannot check ({str(err).strip().splitlines()[0][:160]})"
    for info in (info for graph in _graphs(inferred.graph) for info in graph.value_info):
        dims = [d.dim_value for d in info.type.tensor_type.shape.dim if d.HasField("dim_value")]
        if math.prod(dims) > MAX_STATIC_ELEMENTS:
            return f"a tensor ({info.name!r}) of {math.prod(dims):,} values, more than an export ever makes"
    return None


def graph_problem(model: Any) -> str | None:
    """What makes `model` (an ``onnx.ModelProto``) other than an export of nameorigin's, or None."""
    nodes = [node for graph in _graphs(model.graph) for node in graph.node]
    for node in nodes:
        if node.domain not in ("", "ai.onnx") or node.op_type not in ALLOWED_OPS:
            where = f" of domain {node.domain!r}" if node.domain not in ("", "ai.onnx") else ""
            return f"the operator {node.op_type!r}{where}, which nameorigin's exporter never writes"
    problem = _loop_problem(model, {name: node for node in nodes for name in node.output})
    return problem if problem is not None else _static_problem(model)


def check_graph(model: Any, where: str) -> None:
    """Refuse `model` (an ``onnx.ModelProto`` read from `where`) unless `graph_problem` finds nothing."""
    problem = graph_problem(model)
    if problem is not None:
        raise CheckpointError(f"{where}: refusing to run an ONNX graph with {problem}; {TRUST}")
