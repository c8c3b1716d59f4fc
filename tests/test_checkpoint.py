from __future__ import annotations

import json

import pytest
import torch

from nameorigin import checkpoint
from nameorigin.config import Config
from nameorigin.models.tensors import encode
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
    assert meta.labels == ("A", "B", "C") and meta.extra["package_version"]
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
    from nameorigin.training.pipeline import train_and_save

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
    (_edit(temperature=0), "'temperature' must be a positive number from 0.001 to 1000, not 0"),
    (_edit(temperature="hot"), "'temperature' must be a positive number"),
    (_edit(logit_bias=[0.0, 1.0]), "'logit_bias' must be null or 3 numbers"),
    (_edit(labels=["A", "A", "C"]), "names a language twice"),
    (_edit(labels="ABC"), "'labels' must be a list"),
    (_edit(config={"embedding_dim": -3}), r"'config.embedding_dim' must be a whole number from 0 to 4096, not -3"),
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
    assert checkpoint.load(tmp_path / "ckpt")[1].config.arch == survivor
    _save(tmp_path / "ckpt", "rnn")
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


@pytest.mark.parametrize("failure", [OSError("disk gone"), KeyboardInterrupt()])
def test_a_swap_that_fails_or_is_interrupted_keeps_the_old_checkpoint(tmp_path, tmp_path_factory, monkeypatch,
                                                                      failure):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("spare")))  # the failed save's copy
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
    assert checkpoint.load(tmp_path / "ckpt")[1].config.arch == "rnn"
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


@pytest.mark.parametrize("name", ["tutorial", "world"])
def test_a_bundled_checkpoint_saved_again_is_byte_identical(tmp_path, name):
    from nameorigin.checkpoint.bundled import bundled_path

    source = bundled_path(name)
    model, meta = checkpoint.load(source)
    checkpoint.save(tmp_path / name, model, meta)
    for file in (checkpoint.METADATA, checkpoint.WEIGHTS):
        assert (tmp_path / name / file).read_bytes() == (source / file).read_bytes()


def _save_weights(folder, damage):
    """A checkpoint whose weights `damage` edits before saving (save records their SHA-256)."""
    model = _save(folder)
    with torch.no_grad():
        damage(dict(model.named_parameters()))
    checkpoint.save(folder, model, {"config": checkpoint.read_metadata(folder)["config"], "labels": ["A", "B", "C"]})


@pytest.mark.parametrize("damage, message", [
    (lambda p: p["head.weight"].__setitem__((0, 0), float("nan")), "tensor 'head.weight' holds NaN or infinite"),
    (lambda p: p["layers.0.bias_hh_l0"].fill_(float("inf")), "tensor 'layers.0.bias_hh_l0' holds NaN or infinite"),
    (lambda p: p["head.bias"].fill_(1e30), "tensor 'head.bias' holds values beyond 1e\\+06"),
])
def test_weights_that_would_answer_nan_are_refused_naming_the_tensor(tmp_path, damage, message):
    _save_weights(tmp_path / "ckpt", damage)
    with pytest.raises(CheckpointError, match=rf"^{tmp_path / 'ckpt' / 'model.safetensors'}: {message}") as err:
        checkpoint.load(tmp_path / "ckpt")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("temperature", [1e-308, 1e-4, 1e308, 5e3, float("nan"), True])
def test_a_temperature_that_overflows_the_logits_is_refused(tmp_path, temperature):
    _save(tmp_path / "ckpt")
    _edit(temperature=temperature)(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match=r"model.json: 'temperature' must be a positive number from 0.001"):
        checkpoint.load(tmp_path / "ckpt")


@pytest.mark.parametrize("config, labels, message", [
    ({"num_layers": 1000000}, None, r"'config.num_layers' must be a whole number from 1 to 8, not 1000000"),
    ({"hidden_size": 10**9}, None, r"'config.hidden_size' must be a whole number from 1 to 4096"),
    ({"ensemble": 17}, None, r"'config.ensemble' must be a whole number from 1 to 16"),
    ({"hidden_size": 16.0}, None, r"'config.hidden_size' must be a whole number"),
    ({"arch": "transformer"}, None, r"'config.arch' must be one of rnn, gru"),
    ({"case": "upper"}, None, r"'config.case' must be one of words, lower"),
    ({"colour": "blue"}, None, r"'config' has fields this version of nameorigin does not know \(colour\)"),
    # within the limits, but not what the weights hold: refused from the header, before building
    ({"hidden_size": 4096, "num_layers": 8, "embedding_dim": 4096, "ensemble": 16, "bidirectional": True}, None,
     r"does not match its architecture \(missing members.0"),
    ({"num_layers": 2}, None, r"does not match its architecture \(missing layers.0.bias_hh_l1"),
    ({}, ["A", "B", "C", "D"], r"does not match its architecture \(wrong shape head.bias, head.weight\)"),
])
def test_sizes_are_checked_against_the_weights_before_building(tmp_path, monkeypatch, config, labels, message):
    import nameorigin.models

    _save(tmp_path / "ckpt")
    _edit(config, **({"labels": labels} if labels else {}))(tmp_path / "ckpt")
    monkeypatch.setattr(nameorigin.models, "build_model", lambda *a: pytest.fail("built the network"))
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(tmp_path / "ckpt")


def _header(folder, edit):
    """Rewrite the safetensors header of `folder`'s weights with `edit`, and record the new SHA-256."""
    import hashlib

    data = (folder / "model.safetensors").read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = edit(json.loads(data[8:8 + size]))
    data = len(header).to_bytes(8, "little") + header + data[8 + size:]
    (folder / "model.safetensors").write_bytes(data)
    _edit(weights_sha256=hashlib.sha256(data).hexdigest())(folder)


def test_a_header_that_disagrees_with_its_data_is_refused(tmp_path):
    _save(tmp_path / "ckpt")
    _header(tmp_path / "ckpt", lambda h: json.dumps({**h, "head.bias": {**h["head.bias"], "shape": [4]}}).encode())
    with pytest.raises(CheckpointError, match=r"wrong shape head.bias"):
        checkpoint.load(tmp_path / "ckpt")
    _save(tmp_path / "ckpt")
    _header(tmp_path / "ckpt", lambda h: b"[" * 200 + b"]" * 200)
    with pytest.raises(CheckpointError, match=r"model.safetensors: damaged weights \(nested more than 100"):
        checkpoint.load(tmp_path / "ckpt")


@pytest.mark.parametrize("text, message", [
    ('{"format": ' + "[" * 100000 + "]" * 100000 + "}", r"damaged metadata \(nested more than 100 levels deep\)"),
    ('{"format": ' + "[" * 150 + "]" * 150 + "}", r"damaged metadata \(nested more than 100 levels deep\)"),
    ('{"format_version": ' + "7" * 5000 + "}", r"damaged metadata \(a number of 5000 digits, too long to read\)"),
    (b"\xff\xfe{}", r"damaged metadata \('utf-8' codec can't decode"),
])
def test_hostile_metadata_json_is_one_line(tmp_path, text, message):
    _save(tmp_path / "ckpt")
    path = tmp_path / "ckpt" / "model.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(CheckpointError, match=rf"^{path}: {message}") as err:
        checkpoint.load(tmp_path / "ckpt")
    assert "\n" not in str(err.value)


def _full_disk(monkeypatch, under):
    """Make every checkpoint file written under `under` fail as a full disk does."""
    import errno

    real = checkpoint.write_synced

    def write_synced(path, data):
        if str(path).startswith(str(under)):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(checkpoint, "write_synced", write_synced)


def test_a_full_disk_keeps_the_model_in_the_temporary_folder(tmp_path, tmp_path_factory, monkeypatch):
    import tempfile

    spare = tmp_path_factory.mktemp("spare")
    monkeypatch.setattr(tempfile, "tempdir", str(spare))
    _full_disk(monkeypatch, tmp_path)
    torch.manual_seed(0)
    config = Config(arch="gru", hidden_size=16, num_layers=1)
    model = build_model(config, 3).eval()
    with pytest.raises(checkpoint.CheckpointWriteError) as caught:
        checkpoint.save(tmp_path / "runs" / "gru", model, {"config": config.to_dict(), "labels": ["A", "B", "C"]})
    err = caught.value
    assert isinstance(err, OSError) and err.errno == 28 and err.model is model
    assert err.fallback is not None and err.fallback.parent == spare
    assert err.strerror == (f"could not write the checkpoint to {tmp_path / 'runs' / 'gru'} (No space left on "
                            f"device); the trained model was saved to {err.fallback} instead: move that folder "
                            "where it belongs")
    assert [p.name for p in (tmp_path / "runs").iterdir()] == []  # no half-written folder
    loaded, _ = checkpoint.load(err.fallback)
    chars, lengths = encode(["Qin", "Ivanov"])
    with torch.no_grad():
        assert torch.equal(model(chars, lengths), loaded(chars, lengths))


def test_a_full_disk_everywhere_says_the_model_was_not_saved(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    _full_disk(monkeypatch, tmp_path)
    config = Config(arch="rnn", hidden_size=8)
    with pytest.raises(checkpoint.CheckpointWriteError, match=r"\(No space left on device\), nor a copy to "
                       rf"{tmp_path / 'tmp'} \(No space left on device\); the trained model was not saved") as err:
        checkpoint.save(tmp_path / "out", build_model(config, 3), {"config": config.to_dict(), "labels": ["A", "B"]})
    assert err.value.fallback is None and err.value.metadata["labels"] == ["A", "B"]
    assert list((tmp_path / "tmp").iterdir()) == [] and not (tmp_path / "out").exists()
