"""ONNX export: onnxruntime must give the PyTorch model's probabilities for any batch shape."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from nameorigin import checkpoint  # noqa: E402
from nameorigin.config import Config  # noqa: E402
from nameorigin.text.names import ALPHABET  # noqa: E402
from nameorigin.models.tensors import encode  # noqa: E402
from nameorigin.errors import NameOriginError  # noqa: E402
from nameorigin.checkpoint.onnx import export_onnx, exportable, to_onnx_bytes  # noqa: E402
from nameorigin.models import build_model  # noqa: E402
from nameorigin.inference.onnx import OnnxModel, load_onnx_classifier  # noqa: E402
from nameorigin.inference.classifier import Classifier, load_model  # noqa: E402
from nameorigin.models.tensors import module_logits  # noqa: E402
from nameorigin.runtime.batches import network_logits  # noqa: E402

# Names of every length from 1 to 20 in one batch, shuffled so the lengths are mixed, plus two that
# the alphabet's punctuation and spaces reach: 22 names, unlike the 3-name export example.
_rng = np.random.default_rng(0)
NAMES = [("".join(_rng.choice(list(ALPHABET[:52]), n))) for n in _rng.permutation(np.arange(1, 21))]
NAMES += ["O'Neil-Smith", "van der Berg"]

TINY = dict(hidden_size=16, epochs=1, batch_size=32, lr=1e-2)
CHECKPOINTS = {
    "gru": Config(arch="gru", num_layers=2, **TINY),  # the reference's: one-hot, 2 layers
    "lstm-emb-bidir": Config(arch="lstm", num_layers=2, embedding_dim=8, bidirectional=True, **TINY),
    # calibrated and bias-tuned, so temperature and logit_bias are part of the comparison
    "gru-ensemble": Config(arch="gru", num_layers=1, ensemble=2, val_size=0.2, calibrate=True, tune_bias=True,
                           **TINY),
}


@pytest.fixture(scope="module", params=sorted(CHECKPOINTS))
def trained(request, small_corpus, tmp_path_factory):
    from nameorigin.training.pipeline import train_and_save

    out = tmp_path_factory.mktemp("export") / request.param
    train_and_save(CHECKPOINTS[request.param], str(out), data=str(small_corpus), progress=False,
                   log=lambda s: None)
    return out


@pytest.fixture(scope="module")
def exported(trained):
    return trained, export_onnx(trained, trained.parent / "model.onnx")


def test_onnxruntime_matches_torch_probabilities(exported):
    folder, onnx_file = exported
    expected = Classifier.from_checkpoint(folder).predict_proba(NAMES)
    # a budget of 40 padded characters: many batches, of other sizes and lengths than the export example
    for options in ({"budget": 40}, {}):
        got = load_onnx_classifier(onnx_file, threads=1, **options).predict_proba(NAMES)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    predictions = load_onnx_classifier(onnx_file, threads=1).predict(NAMES, top_k=2)
    assert [p.label for p in predictions] == [p.label for p in Classifier.from_checkpoint(folder).predict(NAMES)]


def test_file_describes_its_checkpoint(exported):
    import onnx

    folder, onnx_file = exported
    meta = checkpoint.read_metadata(folder)
    proto = onnx.load(str(onnx_file))
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["labels"]) == meta["labels"]
    assert json.loads(props["temperature"]) == meta["temperature"]
    assert json.loads(props["logit_bias"]) == meta["logit_bias"]
    assert json.loads(props["revision"]) == checkpoint.revision(folder)
    if folder.name == "gru-ensemble":  # so the probability comparison covers bias and temperature
        assert meta["logit_bias"] is not None and meta["temperature"] != 1.0
    assert [i.name for i in proto.graph.input] == ["chars", "lengths"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    clf = load_onnx_classifier(onnx_file)
    assert clf.labels == meta["labels"] and clf.revision == checkpoint.revision(folder)
    assert clf.metadata.to_dict()["config"] == meta["config"]


@pytest.mark.parametrize("config", [
    Config(arch="rnn", hidden_size=16),
    Config(arch="gru-cell", hidden_size=16, num_layers=2),
    Config(arch="lstm-cell", hidden_size=16, num_layers=2, embedding_dim=8, bidirectional=True),
    Config(arch="rnn", hidden_size=16, ensemble=2),
    Config(arch="gru", hidden_size=16, num_layers=1, embedding_dim=8, bidirectional=True, head_size=12,
           ngram_dim=6, ngram_buckets=101),
    Config(arch="gru", hidden_size=16, num_layers=1, ngram_dim=6, ngram_buckets=101, ngram_max=8, ngram_words=True),
], ids=["rnn", "gru-cell", "lstm-cell-emb-bidir", "rnn-ensemble", "gru-head-ngrams", "gru-word-ngrams"])
def test_hand_written_cells_export(config):
    torch.manual_seed(0)
    model = build_model(config, 4).eval()
    chars, lengths = encode(NAMES)
    with torch.no_grad():
        expected = model(chars, lengths).numpy()
    got = OnnxModel(to_onnx_bytes(model), threads=1)(chars.numpy(), lengths.numpy())
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_runner_is_a_drop_in_network(tiny_model):
    model, _ = checkpoint.load(tiny_model)
    runner = OnnxModel(to_onnx_bytes(model), threads=1)
    np.testing.assert_allclose(network_logits(runner, NAMES, budget=40),
                               module_logits(model, NAMES, budget=40).numpy(), rtol=0, atol=1e-5)


def test_checkpoint_folder_loads_without_writing_a_file(tiny_model):
    before = sorted(p.name for p in tiny_model.iterdir())
    got = load_onnx_classifier(tiny_model, threads=1).predict_proba(NAMES)
    np.testing.assert_allclose(got, Classifier.from_checkpoint(tiny_model).predict_proba(NAMES), rtol=0, atol=1e-5)
    assert sorted(p.name for p in tiny_model.iterdir()) == before


def test_export_replaces_atomically(tiny_model, tmp_path):
    out = tmp_path / "sub" / "model.onnx"
    assert export_onnx(tiny_model, out) == out  # creates the folder
    out.write_bytes(b"an older file")
    export_onnx(tiny_model, out)
    assert load_onnx_classifier(out).revision == checkpoint.revision(tiny_model)
    assert [p.name for p in out.parent.iterdir()] == ["model.onnx"]  # no temporary file left
    exported = out.read_bytes()
    with pytest.raises(NameOriginError, match="no such checkpoint"):
        export_onnx(tmp_path / "missing", out)
    assert out.read_bytes() == exported  # a failed export leaves the old file alone


def test_export_through_a_symlink_replaces_its_target(tiny_model, tmp_path):
    target, link = tmp_path / "real.onnx", tmp_path / "model.onnx"
    target.write_bytes(b"an older file")
    link.symlink_to(target)
    export_onnx(tiny_model, link)
    assert link.is_symlink() and load_onnx_classifier(target).revision == checkpoint.revision(tiny_model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "real.onnx"]


@pytest.mark.parametrize("edit, message", [
    ({"temperature": "0"}, "'temperature' must be a positive number"),
    ({"logit_bias": "[1.0, 2.0]"}, "'logit_bias' must be null or"),
    ({"labels": '["A", "A", "B"]'}, "names a language twice"),
    ({"labels": '["A", "B"]', "label_prior": "[0.5, 0.5]"}, "scores 4 labels but its metadata names 2"),
    ({"label_prior": "[1.0]"}, "'label_prior' must be null or 4 positive shares"),
    ({"conformal": '{"method": "aps"}'}, "'conformal' must be an object with method 'aps'"),
    # the checks a checkpoint's model.json gets, through the same constructor
    ({"temperature": "1e-308"}, r"model.onnx: 'temperature' must be a positive number from 0.001 to 1000"),
    ({"config": '{"num_layers": 1000000}'}, r"'config.num_layers' must be a whole number from 1 to 8"),
    ({"labels": "[" * 100000 + "]" * 100000}, r"model.onnx: damaged nameorigin ONNX metadata \(nested more than 100"),
    ({"metrics": '{"n": ' + "9" * 5000 + "}"}, r"damaged nameorigin ONNX metadata \(a number of 5000 digits"),
    ({"revision": "7"}, r"model.onnx: 'revision' must be a string"),
])
def test_an_export_with_edited_metadata_is_refused(tiny_model, tmp_path, edit, message):
    import onnx

    out = export_onnx(tiny_model, tmp_path / "model.onnx")
    proto = onnx.load(out)
    props = {p.key: p.value for p in proto.metadata_props} | edit
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, out)
    with pytest.raises(NameOriginError, match=message):
        load_onnx_classifier(out)


def test_user_errors_are_clear(tiny_model, tmp_path):
    with pytest.raises(NameOriginError, match="is a directory"):
        export_onnx(tiny_model, tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NameOriginError, match="cannot write"):
        export_onnx(tiny_model, blocker / "model.onnx")
    with pytest.raises(NameOriginError, match="exportable architectures"):
        exportable(torch.nn.Linear(2, 2))
    with pytest.raises(NameOriginError, match="no such ONNX file"):
        load_onnx_classifier(tmp_path / "missing.onnx")
    with pytest.raises(NameOriginError, match="not a loadable ONNX model"):
        load_onnx_classifier(blocker)
    plain = tmp_path / "plain.onnx"
    plain.write_bytes(to_onnx_bytes(checkpoint.load(tiny_model)[0]))  # no nameorigin metadata
    with pytest.raises(NameOriginError, match="not a nameorigin ONNX export"):
        load_onnx_classifier(plain)


def test_command(tiny_model, tmp_path, capsys):
    from nameorigin.cli.commands import cmd_export
    from nameorigin.cli.model_args import add_export

    parser = argparse.ArgumentParser()
    add_export(parser.add_subparsers(dest="command"))
    out = tmp_path / "m.onnx"
    cmd_export(parser.parse_args(["export", "--model", str(tiny_model), "--format", "onnx", "--out", str(out)]))
    assert capsys.readouterr().out.strip() == str(out)
    assert out.is_file()
    for bad in (["export", "--model", str(tiny_model)], ["export", "--out", str(out), "--format", "tflite"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_an_export_whose_weights_answer_nan_is_refused(tiny_model, tmp_path):
    import onnx
    from onnx import numpy_helper

    out = export_onnx(tiny_model, tmp_path / "model.onnx")
    proto = onnx.load(out)
    # the GRU's input weights: onnxruntime clamps its gates' inputs, so these NaN answer finite logits
    tensor = max(proto.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(tensor).copy()
    values.flat[0] = np.nan
    tensor.CopyFrom(numpy_helper.from_array(values, tensor.name))
    onnx.save(proto, out)
    with pytest.raises(NameOriginError, match=rf"model.onnx: tensor '{tensor.name}' holds NaN, infinite or absurdly"):
        load_onnx_classifier(out)


def test_an_export_that_answers_nan_is_refused_by_its_probe_batch(tiny_model, tmp_path, monkeypatch):
    import onnx
    from onnx import numpy_helper

    import nameorigin.inference.onnx as onnx_backend

    out = export_onnx(tiny_model, tmp_path / "model.onnx")
    proto = onnx.load(out)
    head = next(t for t in proto.graph.initializer if t.name == "head.bias")
    head.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(head).shape, np.inf, np.float32), head.name))
    onnx.save(proto, out)
    monkeypatch.setattr(onnx_backend, "_check_weights", lambda path: None)  # the batch alone must catch it
    with pytest.raises(NameOriginError, match=r"model.onnx: the network answers NaN or infinite logits"):
        load_onnx_classifier(out)


def test_export_checks_the_metadata_it_writes(tiny_model, tmp_path):
    from nameorigin.checkpoint.onnx import export_model

    model, meta = checkpoint.load(tiny_model)
    with pytest.raises(NameOriginError, match="'temperature' must be a positive number"):
        export_model(model, {**meta.to_dict(), "temperature": 1e-308}, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_load_model_finds_the_onnx_backend(tiny_model):
    clf = load_model(tiny_model, backend="onnx")
    assert isinstance(clf.network, OnnxModel) and clf.revision == checkpoint.revision(tiny_model)
    assert list(clf.metadata.labels) == clf.labels and clf.metadata.to_dict()["config"] == checkpoint.read_metadata(
        tiny_model)["config"]


def test_export_takes_a_bundled_model_by_name(tmp_path):
    pytest.importorskip("onnxruntime")
    from nameorigin.cli import main

    assert main(["export", "--model", "tutorial", "--out", str(tmp_path / "tutorial.onnx")]) == 0
    assert (tmp_path / "tutorial.onnx").stat().st_size > 1000
