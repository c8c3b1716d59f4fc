"""The command-line contract: train -> evaluate -> predict, JSON shapes, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nameorigin.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nameorigin.cli", *args], capture_output=True, text=True,
                          timeout=300, env={"TQDM_DISABLE": "1", "PATH": ""})


@pytest.fixture(scope="module")
def trained(small_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "gru"
    proc = run_cli("train", "--arch", "gru", "--epochs", "3", "--hidden-size", "32", "--lr", "1e-2",
                   "--data", str(small_corpus), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    return out


def test_train_writes_a_complete_checkpoint(trained, small_corpus):
    meta = json.loads((trained / "model.json").read_text())
    assert meta["config"]["arch"] == "gru" and meta["config"]["hidden_size"] == 32
    assert meta["labels"] == ["Chinese", "Greek", "Japanese", "Russian"]
    assert meta["split"] == {"kind": "seed", "seed": 42, "test_size": 0.1, "val_size": 0.0,
                             "n_train": 216, "n_val": 0, "n_test": 24}
    assert len(meta["corpus"]["fingerprint"]) == 64
    assert meta["metrics"]["n_test"] == 24 and 0 <= meta["metrics"]["accuracy"] <= 1
    assert len(meta["history"]["train_loss"]) == 3


def test_evaluate_json_reproduces_the_training_metrics(trained, small_corpus):
    proc = run_cli("evaluate", "--model", str(trained), "--data", str(small_corpus), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key in ("accuracy", "macro_f1", "top3_accuracy", "n_test", "per_class", "confusion", "labels"):
        assert key in report
    meta = json.loads((trained / "model.json").read_text())
    assert report["accuracy"] == pytest.approx(meta["metrics"]["accuracy"])
    assert report["n_test"] == 24 and len(report["confusion"]) == 4
    assert sum(map(sum, report["confusion"])) == 24
    assert set(report["per_class"]) == set(report["labels"])


def test_evaluate_refuses_a_different_corpus(trained, names_dir, capsys):
    assert main(["evaluate", "--model", str(trained), "--data", str(names_dir)]) == 2
    assert "not the corpus" in capsys.readouterr().err


def test_predict_json_contract(trained):
    proc = run_cli("predict", "--model", str(trained), "--json", "--top-k", "4", "Qin", "Ivanov", "Ślusàrski", "42")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["name"] for r in results] == ["Qin", "Ivanov", "Ślusàrski", "42"]
    assert results[2]["normalized"] == "Slusarski"
    for r in results[:3]:
        probs = [p["probability"] for p in r["predictions"]]
        assert len(probs) == 4 and sum(probs) == pytest.approx(1, abs=1e-5)
        assert probs == sorted(probs, reverse=True)
        assert r["label"] == r["predictions"][0]["label"] and not r["abstained"]
    assert results[3]["abstained"] and results[3]["label"] is None and results[3]["reason"]


def test_predict_plain_text(trained):
    proc = run_cli("predict", "--model", str(trained), "Qin")
    assert proc.returncode == 0 and proc.stdout.startswith("Qin\t")


@pytest.mark.parametrize("args, message", [
    (["predict", "--model", "/nonexistent", "Qin"], "no such checkpoint folder"),
    (["train", "--data", "/nonexistent", "--out", "x"], "no such file or folder"),
    (["train", "--epochs", "0", "--out", "x"], "must be at least 1"),
    (["train", "--arch", "transformer", "--out", "x"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_predict_with_the_onnx_backend_agrees_with_torch(trained):
    pytest.importorskip("onnxruntime")
    names = ["Qin", "Ivanov", "Nakamura", "Papadopoulos"]
    runs = [json.loads(run_cli("predict", "--model", str(trained), "--json", "--backend", backend, *names).stdout)
            for backend in ("torch", "onnx")]
    for a, b in zip(*runs):
        assert a["label"] == b["label"] and a["probability"] == pytest.approx(b["probability"], abs=1e-5)


def test_the_installed_command_runs_the_cli():
    from importlib.metadata import entry_points

    from nameorigin import cli

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "nameorigin"]
    assert script.load() is cli.run


def _run_command(prelude: str, *args: str) -> subprocess.CompletedProcess:
    """The installed command's code path (`cli.run`) in a fresh interpreter, after `prelude`."""
    code = f"import sys\n{prelude}\nsys.argv = ['nameorigin', *{list(args)!r}]\nfrom nameorigin.cli import run\nrun()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"TQDM_DISABLE": "1", "PATH": ""})


def test_the_command_exits_with_mains_status_after_the_exit_handlers():
    proc = _run_command("import atexit; atexit.register(print, 'exit handler ran')",
                        "predict", "--model", "/nonexistent", "Qin")
    assert proc.returncode == 2
    assert proc.stderr == "nameorigin: error: /nonexistent: no such checkpoint folder\n"
    assert proc.stdout == "exit handler ran\n"


def test_the_command_delivers_all_its_output(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("".join(f"Name{chr(97 + i % 26)}{i}\n" for i in range(3000)))
    proc = _run_command("", "predict", "--input", str(names), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [row["name"] for row in rows] == names.read_text().split()


def test_the_command_waits_for_a_thread_still_at_work():
    prelude = ("import threading, time\n"
               "threading.Thread(target=lambda: (time.sleep(3), print('thread done', flush=True))).start()")
    proc = _run_command(prelude, "predict", "Qin")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == ["Qin\tChinese 0.918, Korean 0.028, Vietnamese 0.023", "thread done"]

def test_pytorchs_objects_are_out_of_the_collectors_reach():
    prelude = "import gc\nimport atexit\natexit.register(lambda: print(gc.get_freeze_count()))"
    proc = _run_command(prelude, "predict", "Qin")
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.splitlines()[-1]) > 100_000
