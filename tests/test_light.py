"""What a user has after ``pip install nameorigin``, without PyTorch: prediction, explanation,
evaluation, the HTTP service and its page, the Python API and Dask. The tests marked ``light``
run here as part of the suite, and again in a process where ``import torch`` fails
(`test_the_light_tests_pass_where_torch_cannot_be_imported`)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nameorigin import load_model

light = pytest.mark.light
BLOCKER = Path(__file__).parent / "without_torch"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nameorigin.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@light
def test_the_python_api_predicts_without_importing_torch():
    code = ("import sys\nfrom nameorigin import load_model\nclf = load_model()\n"
            "r = clf.predict(['Angela Merkel', 'Robert Lewandowski'])\n"
            "p = clf.predict_proba(['Angela Merkel'])\n"
            "e = clf.explain('Merkel')\n"
            "print(r[0].label, r[1].label, round(float(p.sum()), 4), e.steps[-1].prefix, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["German", "Polish", "1.0", "merkel", "False"]


@light
def test_predict_frame_and_pickling_for_dask_workers():
    import pickle

    pd = pytest.importorskip("pandas")
    clf = load_model("tutorial")
    frame = pd.DataFrame({"name": ["Nguyen", "Schmidt", "42"]})
    out = pickle.loads(pickle.dumps(clf)).predict_frame(frame)
    assert out["predicted_label"].tolist()[:2] == ["Vietnamese", "German"] and bool(out["abstained"].iloc[2])


@light
def test_dask_scores_a_frame(tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    clf = load_model("tutorial")
    frame = pd.DataFrame({"name": ["Nguyen", "Schmidt", "Rossi", "Ivanov"] * 250})
    parts = dd.from_pandas(frame, npartitions=4).map_partitions(clf.predict_frame, meta=clf.predict_frame(frame.head(1)))
    got = parts.compute(scheduler="processes")
    assert got["predicted_label"].tolist() == clf.predict_frame(frame)["predicted_label"].tolist()


@light
def test_the_command_line_predicts_names_and_files(tmp_path):
    proc = _cli("predict", "--json", "Angela Merkel", "田中")
    assert proc.returncode == 0, proc.stderr
    assert [r["label"] for r in json.loads(proc.stdout)] == ["German", "Japanese"]
    source = tmp_path / "names.csv"
    with open(source, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["id", "name"], [1, "Nowak"], [2, "Yılmaz"], [3, ""]])
    proc = _cli("predict", "--input", str(source), "--output", str(tmp_path / "out.csv"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["1", "2", "3"] and rows[2]["abstained"] == "true"


@light
def test_a_report_needs_no_torch(names_dir, tmp_path):
    pytest.importorskip("matplotlib")
    proc = _cli("report", "--model", "tutorial", "--data", str(names_dir), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "report.md").is_file() and (tmp_path / "r" / "confusion.png").is_file()


@light
def test_explain_and_evaluate(names_dir):
    proc = _cli("explain", "--json", "Qin")
    assert proc.returncode == 0, proc.stderr
    assert [s["prefix"] for s in json.loads(proc.stdout)[0]["steps"]] == ["q", "qi", "qin"]
    proc = _cli("evaluate", "--model", "tutorial", "--data", str(names_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_test"] == 2007


@light
@pytest.mark.parametrize("args", [["train", "--arch", "rnn", "--out", "x"], ["export", "--model", "tutorial", "--out", "t.onnx"],
                                  ["calibrate-sets", "--model", "tutorial"], ["predict", "--backend", "torch", "Smith"]],
                         ids=["train", "export", "calibrate-sets", "predict-backend-torch"])
def test_commands_that_need_torch_say_how_to_get_it(args, tmp_path):
    """Where torch is installed these run (elsewhere in the suite); without it, one line and exit 2."""
    try:
        import torch  # noqa: F401
    except ImportError:
        proc = _cli(*args, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "pip install 'nameorigin[train]'" in proc.stderr, proc.stderr
        assert list(tmp_path.iterdir()) == []
    else:
        pytest.skip("PyTorch is installed here; the run without it checks this")


@light
def test_the_service_and_its_page():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from nameorigin.serve.app import create_app

    with TestClient(create_app(load_model("world"))) as client:
        answer = client.get("/v1/predict", params={"name": "Ewan McGregor", "coverage": 0.9}).json()
        assert answer["label"] == "Scottish" and answer["prediction_set"]
        assert client.get("/").status_code == 200 and "<html" in client.get("/").text.lower()


def test_the_light_tests_pass_where_torch_cannot_be_imported():
    """The tests above, in a process (and its children) where ``import torch`` fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(BLOCKER), os.environ.get("PYTHONPATH")]))}
    blocked = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True, env=env)
    assert blocked.returncode != 0 and "blocked" in blocked.stderr
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "light", "-p", "no:cacheprovider",
                           "-o", "addopts=", __file__], capture_output=True, text=True,
                          env=env, timeout=900, cwd=Path(__file__).parents[1])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-2000:]


def test_an_exported_onnx_file_runs_where_torch_cannot_be_imported(tmp_path):
    """Exported here (with PyTorch), then run by onnxruntime in a process without it."""
    pytest.importorskip("onnxruntime")
    from nameorigin.cli import main

    out = tmp_path / "tutorial.onnx"
    assert main(["export", "--model", "tutorial", "--out", str(out)]) == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(BLOCKER), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "predict", "--backend", "onnx", "--model", str(out),
                           "--json", "Nguyen"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["label"] == load_model("tutorial").predict(["Nguyen"])[0].label
    folder = subprocess.run([sys.executable, "-m", "nameorigin.cli", "predict", "--backend", "onnx", "--model",
                             "tutorial", "Nguyen"], capture_output=True, text=True, env=env, timeout=300)
    assert folder.returncode == 2 and "pip install 'nameorigin[train]'" in folder.stderr
    assert folder.stderr.count("\n") == 1, folder.stderr
