"""Training survives interruption: SIGTERM saves the state after the current step, and
`train --resume` ends with the same weights, bit for bit, as a run never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

ARGS = ["--arch", "gru", "--hidden-size", "32", "--num-layers", "1", "--epochs", "3", "--batch-size", "16",
        "--val-size", "0.1", "--calibrate", "--save-every", "50"]


def train(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    return subprocess.Popen([sys.executable, "-m", "nameorigin.cli", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


@pytest.fixture(scope="module")
def uninterrupted(names_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "model"
    code, err = finish(train(*ARGS, "--data", str(names_dir), "--out", str(out)))
    assert code == 0, err
    return out


def test_sigterm_then_resume_gives_bit_identical_weights(uninterrupted, names_dir, tmp_path):
    out = tmp_path / "model"
    state = tmp_path / "model.resume"
    proc = train(*ARGS, "--data", str(names_dir), "--out", str(out))
    deadline = time.monotonic() + 300
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    code, err = finish(proc)
    assert code == 143, err
    assert "nameorigin train --resume" in err and state.is_file() and not out.exists()
    assert not list(tmp_path.glob(".*.part"))

    code, err = finish(train("--resume", str(out), "--quiet"))
    assert code == 0, err
    assert not state.exists()
    whole, resumed = load_file(uninterrupted / "model.safetensors"), load_file(out / "model.safetensors")
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert (whole[key] == resumed[key]).all(), key


def test_a_damaged_state_or_a_disagreeing_flag_is_one_line_with_exit_2(tmp_path):
    out = tmp_path / "model"
    (tmp_path / "model.resume").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    code, err = finish(train("--resume", str(out)))
    assert code == 2 and "damaged training state" in err and len(err.strip().splitlines()) == 1
    code, err = finish(train("--resume", str(tmp_path / "nothing")))
    assert code == 2 and "no training state to resume" in err


def test_a_flag_that_disagrees_with_the_saved_run_is_refused(names_dir, tmp_path):
    out = tmp_path / "model"
    proc = train(*ARGS, "--data", str(names_dir), "--out", str(out))
    while not (tmp_path / "model.resume").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert finish(proc)[0] == 143
    code, err = finish(train("--resume", str(out), "--epochs", "5"))
    assert code == 2 and "--epochs 5 disagrees with the run being resumed" in err


def test_a_run_into_a_folder_not_there_yet_saves_its_state_and_finishes(small_corpus, tmp_path):
    """The README's quickstart: `--out runs/rnn` with no runs/ yet. The state written after the
    first epoch goes beside the checkpoint, so its folder is made for it too."""
    out = tmp_path / "runs" / "rnn"
    code, err = finish(train("--arch", "gru", "--hidden-size", "8", "--num-layers", "1", "--epochs", "2",
                             "--data", str(small_corpus), "--out", str(out)))
    assert code == 0, err
    assert (out / "model.safetensors").is_file() and not (tmp_path / "runs" / "rnn.resume").exists()


def _state(tmp_path: Path, run_meta: dict | None = None):
    """A real state of a small run at its start, written and read back: (trainer, path, tensors, meta)."""
    import numpy as np

    from nameorigin.training import trainstate
    from nameorigin.config import Config
    from nameorigin.models import build_model
    from nameorigin.training.train import Progress, Trainer

    config = Config(arch="gru", hidden_size=8, num_layers=1, epochs=3, batch_size=4)
    names, labels = ["Abe", "Li", "Novak", "Rossi"], np.asarray([0, 1, 0, 1])
    path = tmp_path / "model.resume"
    trainer = Trainer(build_model(config, 2), config, (names, labels), n_labels=2, progress=False, state=path,
                      run_meta=run_meta)
    trainer.save(Progress())
    return trainer, path, *trainstate.read(path)


@pytest.mark.parametrize("edit, problem", [
    (lambda t, m: m["config"].update(batch_size=0), "config"),
    (lambda t, m: m.pop("config"), "config"),
    (lambda t, m: m["progress"].update(step="12"), "progress.step"),
    (lambda t, m: m["progress"].update(epoch=99), "progress.epoch"),
    (lambda t, m: m["progress"].update(epoch=-1), "progress.epoch"),
    (lambda t, m: m["progress"].update(position=10**12), "progress.position"),
    (lambda t, m: m["config"].update(epochs=10**12), "config"),
    (lambda t, m: m["run"].update(save_every=-1) if m.get("run") else m.update(run={"save_every": -1}), "save_every"),
    (lambda t, m: t["adam.0.avg"].fill_(float("inf")), "NaN or infinite values in adam.0.avg"),
    (lambda t, m: next(v for k, v in t.items() if k.startswith("model.")).fill_(float("nan")), "NaN or infinite"),
])
def test_a_tampered_state_is_refused_in_one_line(tmp_path, edit, problem):
    from nameorigin.training import trainstate

    _, path, tensors, meta = _state(tmp_path)
    edit(tensors, meta)
    trainstate.write(path, tensors, meta)
    with pytest.raises(trainstate.StateError, match="damaged training state") as err:
        trainstate.read(path)
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_a_state_of_other_shapes_is_refused_in_one_line(tmp_path):
    from nameorigin.training import trainstate

    _, path, tensors, meta = _state(tmp_path)
    tensors = {k: (v[:1] if k.startswith("model.") and v.dim() else v) for k, v in tensors.items()}
    trainstate.write(path, tensors, meta)
    (tmp_path / "other").mkdir()
    trainer, *_ = _state(tmp_path / "other")
    with pytest.raises(trainstate.StateError, match="does not match this run") as err:
        trainer.restore(*trainstate.read(path))
    assert "\n" not in str(err.value)


def test_a_run_refuses_to_resume_on_changed_data(small_corpus, tmp_path):
    """Names added to the corpus would redraw the test split mid-run: the state binds the data."""
    from nameorigin.training import trainstate

    trainer, path, tensors, meta = _state(tmp_path, run_meta={"fingerprint": "a"})
    trainer.run_meta = {"fingerprint": "b"}
    with pytest.raises(trainstate.StateError, match="the training data changed since the run began"):
        trainer.restore(tensors, meta)
    trainer.run_meta = {"fingerprint": "a"}
    assert trainer.restore(tensors, meta).epoch == 1
