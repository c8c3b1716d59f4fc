"""The command-line contract: train -> evaluate -> predict, JSON shapes, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nameorigin.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nameorigin.cli", *args], capture_output=True, text=True,
                          timeout=300, env={"TQDM_DISABLE": "1", "PATH": ""})


@pytest.fixture
def trained(tiny_model):
    return tiny_model


def test_train_writes_a_complete_checkpoint(trained, small_corpus):
    meta = json.loads((trained / "model.json").read_text())
    assert meta["config"]["arch"] == "gru" and meta["config"]["hidden_size"] == 24
    assert meta["labels"] == ["Chinese", "Greek", "Japanese", "Russian"]
    assert meta["split"] == {"kind": "seed", "seed": 42, "test_size": 0.1, "val_size": 0.2,
                             "n_train": 172, "n_val": 44, "n_test": 24}
    assert len(meta["corpus"]["fingerprint"]) == 64
    assert meta["metrics"]["n_test"] == 24 and 0 <= meta["metrics"]["accuracy"] <= 1
    assert len(meta["history"]["train_loss"]) == 3


def test_a_run_with_skip_test_leaves_the_test_split_for_evaluate(trained, tiny_train, small_corpus, tmp_path, capsys):
    out = tmp_path / "candidate"
    assert main([*tiny_train, "--data", str(small_corpus), "--out", str(out), "--skip-test"]) == 0
    assert "test split not scored (--skip-test)" in capsys.readouterr().out
    meta = json.loads((out / "model.json").read_text())
    same_run = json.loads((trained / "model.json").read_text())
    assert "metrics" not in meta and meta["history"]["train_loss"] == same_run["history"]["train_loss"]
    assert main(["evaluate", "--model", str(out), "--data", str(small_corpus), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["accuracy"] == same_run["metrics"]["accuracy"]


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
    (["predict", "--top-k", "0", "Qin"], "argument --top-k: must be at least 1, got 0 (see nameorigin predict --help)"),
    (["predict", "--no-such-flag", "Qin"], "unrecognized arguments: --no-such-flag"),
])
def test_bad_input_exits_2_with_one_line(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--seed", "99999999999999999999999"], "argument --seed: must be an integer from 0 to 2**32 - 1"),
    (["--seed", "-1"], "argument --seed: must be an integer from 0 to 2**32 - 1"),
    (["--lr", "inf"], "argument --lr: must be a finite number above 0"),
    (["--lr", "0"], "argument --lr: must be a finite number above 0"),
    (["--class-weight", "inf"], "argument --class-weight: must be from 0 to 10"),
    (["--weight-decay", "inf"], "argument --weight-decay: must be a finite number, 0 or more"),
    (["--label-smoothing", "nan"], "argument --label-smoothing: must be in [0, 1)"),
    (["--embedding-dim", "-3"], "argument --embedding-dim: must be 0 or more"),
    (["--patience", "-1"], "argument --patience: must be 0 or more"),
    (["--hidden-size", "0"], "argument --hidden-size: must be at least 1"),
])
def test_bad_train_flags_are_one_line_and_status_2_before_any_work(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", *args, "--data", "/nonexistent", "--out", "x"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert message in err and "Traceback" not in err and "/nonexistent" not in err


def test_every_member_seed_of_an_ensemble_must_be_valid(capsys):
    assert main(["train", "--seed", str(2**32 - 1), "--ensemble", "2", "--data", "/nonexistent", "--out", "x"]) == 2
    assert capsys.readouterr().err == ("nameorigin: error: --seed plus --ensemble minus 1 must be at most "
                                       "2**32 - 1 (4294967295): member k trains with seed + k\n")


def test_train_flags_at_their_limits_are_accepted():
    from nameorigin.cli import build_parser

    args = build_parser().parse_args(["train", "--seed", str(2**32 - 1), "--embedding-dim", "0", "--lr", "1e-9",
                                      "--class-weight", "0", "--weight-decay", "0", "--patience", "0",
                                      "--out", "x"])
    assert (args.seed, args.embedding_dim, args.lr, args.class_weight) == (2**32 - 1, 0, 1e-9, 0.0)


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


def _command(prelude: str, *args: str) -> list[str]:
    """The installed command's code path (`cli.run`) in a fresh interpreter, after `prelude`."""
    code = f"import sys\n{prelude}\nsys.argv = ['nameorigin', *{list(args)!r}]\nfrom nameorigin.cli import run\nrun()"
    return [sys.executable, "-c", code]


def _run_command(prelude: str, *args: str, shell_redirect: str = "") -> subprocess.CompletedProcess:
    """`_command` run to its end; its output is block-buffered, as it is when piped.
    `shell_redirect` (e.g. ">&-") is applied by sh."""
    command = _command(prelude, *args)
    if shell_redirect:
        command = ["/bin/sh", "-c", f'exec "$0" "$@" {shell_redirect}', *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={"TQDM_DISABLE": "1", "PATH": ""})


def test_the_command_exits_with_mains_status_after_the_exit_handlers():
    proc = _run_command("import atexit; atexit.register(print, 'exit handler ran')",
                        "predict", "--model", "/nonexistent", "Qin")
    assert proc.returncode == 2
    assert proc.stderr == "nameorigin: error: /nonexistent: no such checkpoint folder\n"
    assert proc.stdout == "exit handler ran\n"


def test_the_command_delivers_all_its_output():
    names = ["Qin" + "".join(chr(97 + (i // 26 ** k) % 26) for k in range(3)) for i in range(3000)]
    proc = _run_command("", "predict", *names)
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == names


def test_the_command_waits_for_a_thread_still_at_work():
    # The thread starts its work only once the command is done, when run() chooses how to exit.
    prelude = ("import threading, time\n"
               "import nameorigin.cli as cli\n"
               "done, main = threading.Event(), cli.main\n"
               "cli.main = lambda **kw: (main(**kw), done.set())[0]\n"
               "threading.Thread(target=lambda: (done.wait(), time.sleep(0.5), print('thread done'))).start()")
    proc = _run_command(prelude, "predict", "--model", "tutorial", "Qin")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Qin\tChinese 0.918, Korean 0.028, Vietnamese 0.023", "thread done"]


@pytest.mark.parametrize("watch", ["sys.setprofile(lambda *a: None)", "sys.settrace(lambda *a: None)", ""])
def test_the_command_exits_the_ordinary_way_so_profilers_and_tracers_report(watch):
    prelude = (f"import atexit, os\nreal = os._exit\nos._exit = lambda code: (print('os._exit', flush=True), real(code))\n"
               f"atexit.register(print, 'exit handler ran')\n{watch}")
    proc = _run_command(prelude, "predict", "--model", "tutorial", "Qin")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["Qin\tChinese 0.918, Korean 0.028, Vietnamese 0.023", "exit handler ran"]


def test_a_closed_stdout_is_not_an_error():
    proc = _run_command("", "predict", "Qin", shell_redirect=">&-")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("n_names", [2, 3000])
def test_a_full_disk_is_one_line_and_status_1(n_names):
    proc = _run_command("", "predict", *["Qin"] * n_names, shell_redirect=">/dev/full")
    assert proc.returncode == 1
    assert proc.stderr.startswith("nameorigin: error: ") and "No space left on device" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


@pytest.mark.parametrize("command, uses_torch", [(["predict", "--model", "tutorial", "Qin"], False),
                                                 (["predict", "--backend", "torch", "Qin"], True)])
def test_only_commands_that_need_pytorch_import_it(command, uses_torch):
    prelude = "import sys\nimport atexit\natexit.register(lambda: print('torch' in sys.modules))"
    proc = _run_command(prelude, *command)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == str(uses_torch)


def _hang_ups_delivered() -> None:
    """The child takes SIGHUP's default action even when the tests run under nohup, which would
    otherwise pass its 'ignore' on (and the command rightly keeps an ignored SIGHUP ignored)."""
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.mark.parametrize("signame, status, message", [("SIGTERM", 143, "terminated"), ("SIGHUP", 129, "hung up")])
def test_a_stop_signal_leaves_no_partial_output_file(tmp_path, signame, status, message):
    import signal
    import time

    source, out = tmp_path / "names.txt", tmp_path / "out.csv"
    source.write_text("".join(f"Qin{i % 977}x\n" for i in range(300_000)))
    proc = subprocess.Popen(_command("", "predict", "--input", str(source), "--output", str(out)),
                            stderr=subprocess.PIPE, text=True, env={"TQDM_DISABLE": "1", "PATH": ""},
                            preexec_fn=_hang_ups_delivered)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".*.part")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be stopped part-way"
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (status, f"nameorigin: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["names.txt"]


def test_a_hang_up_the_process_was_started_ignoring_stays_ignored():
    # The hang-up arrives while the command runs, after the command line has set its handlers.
    prelude = ("import os, signal\n"
               "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
               "import nameorigin.cli as cli\n"
               "predict = cli.COMMANDS['predict']\n"
               "cli.COMMANDS['predict'] = lambda args: (os.kill(os.getpid(), signal.SIGHUP), predict(args))[1]")
    proc = _run_command(prelude, "predict", "--model", "tutorial", "Qin")
    assert (proc.returncode, proc.stdout) == (0, "Qin\tChinese 0.918, Korean 0.028, Vietnamese 0.023\n")


def test_a_hang_up_still_ends_the_server():
    import signal
    import time

    pytest.importorskip("uvicorn")
    proc = subprocess.Popen(_command("", "serve", "--port", "0", "--model", "tutorial"), stderr=subprocess.PIPE,
                            text=True, env={"TQDM_DISABLE": "1", "PATH": ""}, preexec_fn=_hang_ups_delivered)
    try:
        lines = iter(proc.stderr.readline, "")
        assert any("running on" in line for line in lines), "the server did not start"
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is not None, "the server kept serving after SIGHUP"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_name_that_is_not_utf8_is_shown_with_a_replacement_character(json_flag):
    # As `nameorigin predict $'\xff' Qin` from a shell, with an output that must be strict UTF-8.
    code = "import sys\nfrom nameorigin.cli import run\nsys.argv[0] = 'nameorigin'\nrun()"
    args = [sys.executable.encode(), b"-c", code.encode(), b"predict", b"--model", b"tutorial", *map(str.encode, json_flag),
            b"M\xfcller", b"\xff", b"Qin"]
    proc = subprocess.run(args, capture_output=True, timeout=120,
                          env={"TQDM_DISABLE": "1", "PATH": "", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"})
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode("utf-8")
    if json_flag:
        assert [r["name"] for r in json.loads(out)] == ["M\ufffdller", "\ufffd", "Qin"]
    else:
        assert [line.split("\t")[0] for line in out.splitlines()] == ["M\ufffdller", "\ufffd", "Qin"]


def test_an_output_encoding_without_the_characters_is_one_line_and_status_1():
    proc = subprocess.run(_command("", "predict", "--model", "tutorial", "Ślusàrski"), capture_output=True, text=True,
                          timeout=120, env={"TQDM_DISABLE": "1", "PATH": "", "PYTHONIOENCODING": "ascii:strict"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("nameorigin: error: the output is ascii") and len(proc.stderr.splitlines()) == 1


# --- options ----------------------------------------------------------------------------------------


def _actions(parser, path=("nameorigin",)):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield path, action
            for name, sub in action.choices.items():
                yield from _actions(sub, (*path, name))
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_and_positional_has_a_help_text():
    from nameorigin.cli import build_parser

    missing = [f"{' '.join(path)} {action.option_strings or action.metavar or action.dest}"
               for path, action in _actions(build_parser()) if not action.help]
    assert missing == []


def test_help_texts_say_tutorial_not_reference():
    import argparse

    from nameorigin.cli import build_parser
    from nameorigin.config import PRESETS

    actions = [action for _, action in _actions(build_parser())]
    texts = [str(action.help) for action in actions]
    texts += [sub.description or "" for action in actions if isinstance(action, argparse._SubParsersAction)
              for sub in action.choices.values()]
    texts += [text for _, text in PRESETS.values()]
    words = " ".join(texts).replace("reference-rnn", "").replace("reference-gru", "")
    assert "reference" not in words.lower()


@pytest.mark.parametrize("args, message", [
    (["--epochs", "x"], "argument --epochs: must be a whole number of at least 1, not 'x'"),
    (["--epochs", "1.5"], "argument --epochs: must be a whole number of at least 1, not '1.5'"),
    (["--lr", "fast"], "argument --lr: must be a finite number above 0, not 'fast'"),
    (["--seed", "x"], "argument --seed: must be an integer from 0 to 2**32 - 1 (4294967295), not 'x'"),
    (["--dropout", "half"], "argument --dropout: must be a number in [0, 1), not 'half'"),
    (["--threads", "0"], "argument --threads: must be at least 1, got 0"),
    (["--threads", "100000"], "argument --threads: must be at most "),
    (["--schedule", "cosine"], "argument --schedule: invalid choice: 'cosine'"),
    (["--split", "random"], "argument --split: invalid choice: 'random'"),
    (["--calibrate", "1"], "argument --calibrate: takes no value, got '1': write --calibrate to turn it on, "
                           "--no-calibrate to turn it off"),
    (["--no-tune-bias", "0"], "argument --no-tune-bias: takes no value, got '0': write --tune-bias"),
    (["--bidirectional", "1"], "argument --bidirectional: takes no value, got '1'"),
])
def test_a_bad_value_names_the_flag_and_what_it_takes(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", *args, "--out", "x"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err


def test_on_off_flags_are_plain_flags_that_override_the_preset():
    from nameorigin.cli import build_parser
    from nameorigin.cli.train_args import train_overrides
    from nameorigin.config import resolve

    parse = build_parser().parse_args
    assert train_overrides(parse(["train", "--out", "x"]))["bidirectional"] is None
    args = parse(["train", "--preset", "default", "--no-bidirectional", "--calibrate", "--no-tune-bias", "--out", "x"])
    config = resolve(args.preset, args.arch, **train_overrides(args))
    assert (config.bidirectional, config.calibrate, config.tune_bias, config.hidden_size) == (False, True, False, 104)


def test_a_config_is_checked_once_before_any_data_is_read(capsys):
    assert main(["train", "--calibrate", "--data", "/nonexistent", "--out", "x"]) == 2
    assert capsys.readouterr().err == ("nameorigin: error: early stopping, --calibrate and --tune-bias need a "
                                       "validation split: set --val-size above 0\n")


# --- threads ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, env, expected", [
    (["predict", "Qin"], {}, 1),
    (["predict", "--threads", "2", "Qin"], {}, 2),
    (["predict", "Qin"], {"OMP_NUM_THREADS": "2"}, 2),
    (["predict", "--threads", "1", "Qin"], {"OMP_NUM_THREADS": "2"}, 1),
])
def test_the_command_sets_pytorchs_threads_once(args, env, expected):
    prelude = "import atexit, torch\natexit.register(lambda: print('threads', torch.get_num_threads()))"
    proc = subprocess.run(_command(prelude, *args), capture_output=True, text=True, timeout=120,
                          env={"TQDM_DISABLE": "1", "PATH": "", **env})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == f"threads {expected}"


def test_main_called_from_python_leaves_the_callers_threads_alone(capsys):
    import torch

    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    try:
        assert main(["predict", "--model", "tutorial", "Qin"]) == 0
        assert torch.get_num_threads() == before
        assert main(["predict", "--model", "tutorial", "--threads", str(other), "Qin"]) == 0
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)


def test_min_confidence_takes_0_to_1_as_python_and_http_do(capsys):
    """1 abstains on every name not read with certainty; above 1 is refused in one line."""
    assert main(["predict", "--model", "tutorial", "--min-confidence", "1", "--json", "Smith"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["abstained"] and "minimum confidence 1" in result["reason"]
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--model", "tutorial", "--min-confidence", "1.01", "Smith"])
    assert exit_.value.code == 2 and "must be from 0 to 1" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["predict", "Smith"], ["explain", "Smith"], ["serve"], ["train", "--out", "x"]])
def test_a_thread_count_past_the_usable_cpus_is_refused_before_any_work(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--threads", "100000"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--threads: must be at most" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("missing, command, needs", [
    ("onnx", ["predict", "--backend", "onnx", "Smith"], "pip install 'nameorigin[onnx]'"),
    ("onnxruntime", ["predict", "--backend", "onnx", "Smith"], "pip install 'nameorigin[onnx]'"),
    ("matplotlib.figure", ["explain", "--plot", "x.png", "Smith"], "pip install 'nameorigin[plot]'"),
])
def test_a_missing_extra_is_one_line_with_its_install_command_before_any_work(missing, command, needs, capsys,
                                                                             monkeypatch, tmp_path):
    import sys

    import nameorigin.cli.commands

    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)  # import fails, as without the extra
    if command[0] == "explain":
        monkeypatch.setattr(nameorigin.cli.commands, "load_model", lambda *a, **k: pytest.fail("the work started"))
    assert main(command) == 2
    err = capsys.readouterr().err
    assert needs in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()
