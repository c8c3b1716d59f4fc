from __future__ import annotations

import json

import pytest
import torch

from nameorigin import checkpoint
from nameorigin.config import Config
from nameorigin.data import encode
from nameorigin.errors import CheckpointError
from nameorigin.models import build_model


def _save(folder, arch="gru"):
    torch.manual_seed(0)
    config = Config(arch=arch, hidden_size=16, num_layers=1)
    model = build_model(config, 3).eval()
    checkpoint.save(folder, model, {"config": config.to_dict(), "labels": ["A", "B", "C"]})
    return model


@pytest.mark.parametrize("arch", ["rnn", "gru"])
def test_round_trip_gives_identical_outputs(tmp_path, arch):
    model = _save(tmp_path / "ckpt", arch)
    loaded, meta = checkpoint.load(tmp_path / "ckpt")
    chars, lengths = encode(["Qin", "Ivanov"])
    with torch.no_grad():
        assert torch.equal(model(chars, lengths), loaded(chars, lengths))
    assert meta["labels"] == ["A", "B", "C"] and meta["package_version"]
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["model.json", "model.safetensors"]


def test_overwrite_leaves_no_temporary_folders(tmp_path):
    _save(tmp_path / "ckpt")
    _save(tmp_path / "ckpt", "rnn")
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    assert checkpoint.read_metadata(tmp_path / "ckpt")["config"]["arch"] == "rnn"


def test_saving_replaces_only_an_earlier_checkpoint(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    with pytest.raises(CheckpointError, match="'thesis.txt'"):
        _save(mine)
    with pytest.raises(CheckpointError, match="not a folder"):
        _save(a_file)
    assert (mine / "thesis.txt").read_text() == "years of work" and a_file.read_text() == "keep me"

    (tmp_path / "empty").mkdir()
    _save(tmp_path / "empty")
    (tmp_path / "empty" / "report").mkdir()  # `nameorigin report`'s default place
    _save(tmp_path / "empty", "rnn")
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == ["model.json", "model.safetensors"]
    (tmp_path / "empty" / "mine.csv").write_text("x")
    with pytest.raises(CheckpointError, match="'mine.csv'"):
        _save(tmp_path / "empty")


def test_train_refuses_the_folder_before_any_work(tmp_path):
    from nameorigin.train import train_and_save

    (tmp_path / "thesis.txt").write_text("years of work")
    with pytest.raises(CheckpointError, match="not a nameorigin checkpoint"):
        train_and_save(Config(), str(tmp_path), data=str(tmp_path / "no-corpus-here"))


def test_revision_changes_with_the_weights(tmp_path):
    _save(tmp_path / "a")
    before = checkpoint.revision(tmp_path / "a")
    meta = json.loads((tmp_path / "a" / "model.json").read_text())
    (tmp_path / "a" / "model.json").write_text(json.dumps({**meta, "note": "x"}))
    assert checkpoint.revision(tmp_path / "a") != before


def _corrupt_weights(folder):
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))


def _edit_config(folder):
    meta = json.loads((folder / "model.json").read_text())
    meta["config"]["hidden_size"] = 32
    (folder / "model.json").write_text(json.dumps(meta))


def _edit(config=None, **changes):
    """A damage: hand-edit model.json's top-level keys (and its config's)."""
    def damage(folder):
        meta = json.loads((folder / "model.json").read_text())
        meta.update(changes)
        meta["config"].update(config or {})
        (folder / "model.json").write_text(json.dumps(meta))
    return damage


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "model.json").unlink(), "model.json is missing"),
    (_edit(temperature=0), "'temperature' must be a positive number, not 0"),
    (_edit(temperature="hot"), "'temperature' must be a positive number"),
    (_edit(logit_bias=[0.0, 1.0]), "'logit_bias' must be null or 3 numbers"),
    (_edit(labels=["A", "A", "C"]), "names a language twice"),
    (_edit(labels="ABC"), "'labels' must be a list"),
    (_edit(config={"embedding_dim": -3}), "does not match its architecture"),
    (lambda f: (f / "model.json").write_text("{not json"), "damaged metadata"),
    (lambda f: (f / "model.json").write_text("[1, 2]"), "not a nameorigin checkpoint"),
    (lambda f: (f / "model.safetensors").unlink(), "model.safetensors is missing"),
    (_corrupt_weights, "do not match the checkpoint's recorded SHA-256"),
    (_edit_config, "does not match its architecture"),
])
def test_damaged_checkpoints_are_refused(tmp_path, damage, message):
    _save(tmp_path / "ckpt")
    damage(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(tmp_path / "ckpt")


def test_missing_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        checkpoint.load(tmp_path / "nope")
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    with pytest.raises(CheckpointError, match="a file, but a checkpoint is a folder .*`predict` and `serve` with --backend onnx"):
        checkpoint.load(tmp_path / "model.onnx")


_KILL = """
import os, sys, torch
from nameorigin import checkpoint
from nameorigin.config import Config
from nameorigin.models import build_model

folder, at = sys.argv[1], sys.argv[2]
calls = {"replace": 0}
real_replace, real_rmtree = os.replace, checkpoint.shutil.rmtree

def replace(src, dst):
    calls["replace"] += 1
    if at == "between-renames" and calls["replace"] == 2:
        os._exit(9)  # killed: no cleanup of any kind runs
    return real_replace(src, dst)

def rmtree(path, *args, **kwargs):
    if at == "after-swap" and ".old" in str(path):
        os._exit(9)
    return real_rmtree(path, *args, **kwargs)

os.replace, checkpoint.shutil.rmtree = replace, rmtree
config = Config(arch="gru", hidden_size=16, num_layers=1)
checkpoint.save(folder, build_model(config, 3), {"config": config.to_dict(), "labels": ["A", "B", "C"]})
"""


@pytest.mark.parametrize("at, survivor", [("between-renames", "rnn"), ("after-swap", "gru")])
def test_a_kill_while_replacing_is_recovered_at_the_next_start(tmp_path, at, survivor):
    import subprocess
    import sys

    _save(tmp_path / "ckpt", "rnn")
    proc = subprocess.run([sys.executable, "-c", _KILL, str(tmp_path / "ckpt"), at], capture_output=True,
                          timeout=120, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 9, proc.stderr.decode()
    assert checkpoint.load(tmp_path / "ckpt")[1]["config"]["arch"] == survivor
    _save(tmp_path / "ckpt", "rnn")
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


@pytest.mark.parametrize("failure", [OSError("disk gone"), KeyboardInterrupt()])
def test_a_swap_that_fails_or_is_interrupted_keeps_the_old_checkpoint(tmp_path, monkeypatch, failure):
    import os

    _save(tmp_path / "ckpt", "rnn")
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the new folder is about to take the old one's place
            raise failure
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(type(failure)):
        _save(tmp_path / "ckpt", "gru")
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "ckpt")[1]["config"]["arch"] == "rnn"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_a_symlinked_out_keeps_the_link_and_replaces_its_target(tmp_path):
    _save(tmp_path / "real", "rnn")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    _save(tmp_path / "link", "gru")
    assert (tmp_path / "link").is_symlink()
    assert checkpoint.read_metadata(tmp_path / "real")["config"]["arch"] == "gru"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]
    (tmp_path / "real" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="'notes.txt'"):
        _save(tmp_path / "link")
