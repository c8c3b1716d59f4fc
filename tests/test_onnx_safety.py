"""A hostile or broken .onnx file: refused before onnxruntime runs it, or failing in one line.

An ONNX file runs as code. These files are a real export with something added to its logits: a
Loop of 10^15 steps (which hung `predict` and `serve` for good), a ConstantOfShape of 4e9 values,
an operator the exporter never writes, and a Gather out of range that only fails while it runs.
The commands run in subprocesses with a timeout and an address-space limit, so that code which
runs such a graph fails the test instead of hanging it or taking the machine's memory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402

from nameorigin.checkpoint.onnx import export_onnx  # noqa: E402
from nameorigin.checkpoint.onnx_graph import ALLOWED_OPS, graph_problem  # noqa: E402
from nameorigin.errors import CheckpointError, NameOriginError  # noqa: E402
from nameorigin.inference.onnx import load_onnx_classifier  # noqa: E402

ADDRESS_SPACE = 8 * 1024 ** 3  # far below what a 4e9-value tensor needs, far above what a real run does


def _const(name: str, dtype: int, dims: list[int], values: list) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name + "_v", dtype, dims, values))


def _endless_loop() -> list[onnx.NodeProto]:
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["acc_in"], ["acc_out"])], "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [])])
    return [_const("trip", TensorProto.INT64, [], [10 ** 15]), _const("go", TensorProto.BOOL, [], [True]),
            _const("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_node("Loop", ["trip", "go", "zero"], ["extra"], body=body)]


ADDED = {  # nodes computing "extra", which is added to the export's logits
    "loop": _endless_loop,
    "huge": lambda: [_const("shape", TensorProto.INT64, [1], [4 * 10 ** 9]),
                     helper.make_node("ConstantOfShape", ["shape"], ["huge"]),
                     helper.make_node("ReduceSum", ["huge"], ["extra"], keepdims=0)],
    "foreign": lambda: [_const("x", TensorProto.FLOAT, [], [0.0]), helper.make_node("Cos", ["x"], ["extra"])],
    "out-of-range": lambda: [_const("index", TensorProto.INT64, [1], [100]),
                             helper.make_node("Gather", ["raw_logits", "index"], ["extra"], axis=1)],
}


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory) -> Path:
    return export_onnx(tiny_model, tmp_path_factory.mktemp("onnx-safety") / "model.onnx")


def tampered(exported: Path, kind: str) -> Path:
    """The export with ``logits = raw_logits + extra``, `extra` computed by `ADDED[kind]`."""
    proto = onnx.load(str(exported))
    for node in proto.graph.node:
        node.output[:] = ["raw_logits" if name == "logits" else name for name in node.output]
    proto.graph.node.extend([*ADDED[kind](), helper.make_node("Add", ["raw_logits", "extra"], ["logits"])])
    out = exported.with_name(f"{kind}.onnx")
    onnx.save(proto, str(out))
    return out


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``nameorigin ARGS`` in a subprocess whose address space is bounded (see the module docstring)."""
    import resource

    def bound() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    return subprocess.run([sys.executable, "-m", "nameorigin", *args], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=bound)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stderr


def test_a_loop_of_1e15_steps_is_refused_before_it_runs(exported):
    err = one_line_error(cli("predict", "--backend", "onnx", "--model", str(tampered(exported, "loop")), "Smith"))
    assert "Loop whose trip count" in err and "runs as code" in err


def test_serve_refuses_the_endless_loop_at_start_up(exported):
    err = one_line_error(cli("serve", "--backend", "onnx", "--port", "0", "--model", str(tampered(exported, "loop"))))
    assert "Loop whose trip count" in err


def test_a_constant_of_4e9_values_is_refused_before_it_runs(exported):
    err = one_line_error(cli("predict", "--backend", "onnx", "--model", str(tampered(exported, "huge")), "Smith"))
    assert "4,000,000,000 values" in err


def test_a_runtime_failure_is_one_line(exported):
    err = one_line_error(cli("predict", "--backend", "onnx", "--model", str(tampered(exported, "out-of-range")),
                             "Smith"))
    assert "onnxruntime failed to run the network" in err and "out of data bounds" in err


@pytest.mark.parametrize("kind, message", [("loop", "a Loop whose trip count"), ("huge", "4,000,000,000 values"),
                                           ("foreign", "the operator 'Cos'")])
def test_a_refused_graph_never_reaches_onnxruntime(exported, monkeypatch, kind, message):
    import onnxruntime

    def no_session(*args, **kwargs):
        raise AssertionError("a session was made")

    monkeypatch.setattr(onnxruntime, "InferenceSession", no_session)
    with pytest.raises(CheckpointError, match=message) as err:
        load_onnx_classifier(tampered(exported, kind))
    assert "\n" not in str(err.value) and "load only files you trust" in str(err.value)


def test_the_exporters_own_loop_is_accepted(tmp_path):
    """The rnn architecture exports a Loop too, over the batch's characters: that one runs."""
    import torch

    from nameorigin.checkpoint.onnx import to_onnx_bytes
    from nameorigin.config import Config
    from nameorigin.models import build_model

    torch.manual_seed(0)
    proto = onnx.load_model_from_string(to_onnx_bytes(build_model(Config(arch="rnn", hidden_size=8), 4).eval()))
    assert "Loop" in {node.op_type for node in proto.graph.node} and graph_problem(proto) is None
    assert {"Loop", "GRU", "LSTM", "Cos"} - ALLOWED_OPS == {"Cos"}


def _loop_over_characters(body_nodes: list) -> onnx.ModelProto:
    """A graph with one Loop of the exporter's kind (once per character of `chars`), whose body
    runs `body_nodes` as well."""
    scalar = [helper.make_tensor_value_info("i", TensorProto.INT64, []),
              helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
              helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [])]
    outputs = [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
               helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [])]
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"]), *body_nodes,
                              helper.make_node("Identity", ["acc_in"], ["acc_out"])], "body", scalar, outputs)
    nodes = [helper.make_node("Shape", ["chars"], ["shape"]), _const("time_axis", TensorProto.INT64, [], [1]),
             helper.make_node("Gather", ["shape", "time_axis"], ["time"]), _const("go", TensorProto.BOOL, [], [True]),
             _const("zero", TensorProto.FLOAT, [], [0.0]),
             helper.make_node("Loop", ["time", "go", "zero"], ["logits"], body=body)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("chars", TensorProto.INT64, ["b", "t"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_loop_over_the_characters_passes_but_not_nested_in_another():
    assert graph_problem(_loop_over_characters([])) is None
    inner = _loop_over_characters([]).graph.node[-1]  # the same Loop, run at every step of the outer one
    assert "never nests its loops" in graph_problem(_loop_over_characters([inner]))


def test_a_file_is_not_run_unchecked_without_the_onnx_package(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # a deployment with onnxruntime only
    with pytest.raises(NameOriginError, match=r"needs the onnx package: pip install 'nameorigin\[onnx\]'"):
        load_onnx_classifier(exported)
