"""`Classifier.explain` and `nameorigin explain`: the top labels after each prefix of a name."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from nameorigin.cli import main
from nameorigin.checkpoint.metadata import ModelMeta
from nameorigin.config import ARCHS, Config
from nameorigin.models import build_model
from nameorigin.models.tensors import as_runtime
from nameorigin.inference.classifier import Classifier, load_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIELDS = {"name", "normalized", "abstained", "reason", "steps", "model_revision"}


@pytest.fixture(scope="module")
def clf(tiny_model):
    return load_model(tiny_model)


def explained(clf, name: str, top_k: int = 3) -> dict:
    """`Classifier.explain` as the JSON the command line and HTTP give."""
    return clf.explain(name, top_k=top_k).to_dict()


def same(a: list[dict], b: list) -> bool:
    """Equal top-k lists (a step's, as JSON, and `predict`'s); probabilities to float32 rounding,
    which batch composition may change."""
    return ([p["label"] for p in a] == [p.label for p in b]
            and np.allclose([p["probability"] for p in a], [p.probability for p in b], atol=1e-6))


def test_one_step_per_prefix_of_the_text_the_model_reads(clf):
    result = explained(clf, "Ślusàrski")
    assert set(result) == FIELDS
    assert result["normalized"] == "Slusarski"
    assert [s["prefix"] for s in result["steps"]] == ["S", "Sl", "Slu", "Slus", "Slusa", "Slusar", "Slusars",
                                                       "Slusarsk", "Slusarski"]
    spaced = explained(clf, "van Dyke")
    assert [s["prefix"] for s in spaced["steps"]] == ["V", "Va", "Van", "Van D", "Van Dy", "Van Dyk", "Van Dyke"]


def test_top_k_is_sorted_and_sums_to_at_most_one(clf):
    for step in explained(clf, "Qin", top_k=2)["steps"]:
        probabilities = [p["probability"] for p in step["predictions"]]
        assert len(probabilities) == 2
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
    for step in explained(clf, "Qin", top_k=99)["steps"]:
        assert {p["label"] for p in step["predictions"]} == set(clf.labels)
        assert sum(p["probability"] for p in step["predictions"]) == pytest.approx(1, abs=1e-5)


def test_each_step_is_the_prefix_scored_as_a_name_and_the_last_is_the_names_prediction(clf):
    result = explained(clf, "Papadopoulos", top_k=3)
    for step in result["steps"]:
        assert same(step["predictions"], clf.predict([step["prefix"]], top_k=3)[0].predictions)
    assert same(result["steps"][-1]["predictions"], clf.predict(["Papadopoulos"], top_k=3)[0].predictions)
    assert result["model_revision"] == clf.revision


def test_a_name_in_a_script_that_limits_the_labels_is_read_as_typed_and_keeps_that_limit(clf):
    result = explained(clf, "田中", top_k=4)
    whole = clf.predict(["田中"])[0]  # shown in the reading of its answer: Tanaka if Japanese
    assert result["normalized"] == whole.normalized == ("Tanaka" if whole.label == "Japanese" else "Tian Zhong")
    typed = [clf.predict([p])[0].normalized for p in ("田", "田中")]
    assert [s["prefix"] for s in result["steps"]] == typed  # one step per character typed
    assert same(result["steps"][0]["predictions"], clf.predict(["田"], top_k=4)[0].predictions)
    assert same(result["steps"][-1]["predictions"], clf.predict(["田中"], top_k=4)[0].predictions)
    for step in result["steps"]:  # Han script: Chinese or Japanese, whatever the letters say
        assert {p["label"] for p in step["predictions"]} <= {"Chinese", "Japanese"}
        assert sum(p["probability"] for p in step["predictions"]) == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_architecture_can_be_explained(arch):
    labels = ["A", "B", "C"]
    config = Config(arch=arch, hidden_size=8, num_layers=1)
    meta = ModelMeta.from_dict({"labels": labels, "config": config.to_dict()}, "test")
    result = Classifier(as_runtime(build_model(config, len(labels))), meta).explain("Qin", top_k=2).to_dict()
    assert [s["prefix"] for s in result["steps"]] == ["Q", "Qi", "Qin"]
    assert all(len(s["predictions"]) == 2 for s in result["steps"])


@pytest.mark.parametrize("name", ["42", "", "🙂"])
def test_an_unreadable_name_is_abstained_on_with_no_steps(clf, name):
    result = explained(clf, name)
    assert result["abstained"] is True and result["reason"]
    assert result["steps"] == []


def test_cli_json(tiny_model, capsys):
    assert main(["explain", "--model", str(tiny_model), "--json", "--top-k", "2", "Qin", "42"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in out] == ["Qin", "42"]
    assert all(set(r) == FIELDS for r in out)
    assert [s["prefix"] for s in out[0]["steps"]] == ["Q", "Qi", "Qin"]
    assert all(len(s["predictions"]) == 2 for s in out[0]["steps"])
    assert out[1]["abstained"] and out[1]["steps"] == []


def test_cli_table_has_a_row_per_prefix(tiny_model, capsys):
    assert main(["explain", "--model", str(tiny_model), "Qin"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split()[0] for line in lines[2:]]
    assert rows == ["Q", "Qi", "Qin"]
    label = load_model(tiny_model).predict(["Qin"])[0].label
    assert lines[-1].split()[1] == label


def test_cli_plot_writes_a_png(tiny_model, tmp_path, capsys):
    from matplotlib.image import imread

    path = tmp_path / "q.png"
    assert main(["explain", "--model", str(tiny_model), "--plot", str(path), "Qin", "Ivanov"]) == 0
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image) > 0  # not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["q.png"]  # no temporary file left behind


@pytest.mark.parametrize("args, message", [
    (["--plot", "{tmp}/q.jpg", "Qin"], "ending in .png"),
    (["--plot", "{tmp}/missing/q.png", "Qin"], "does not exist"),
    (["--plot", "{tmp}/q.png", "42"], "abstained on every name"),
])
def test_cli_plot_errors_are_one_line_and_exit_2(tiny_model, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(["explain", "--model", str(tiny_model), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.glob("**/*.png"))


def test_python_dash_m_nameorigin_runs_the_command(tiny_model):
    proc = subprocess.run([sys.executable, "-m", "nameorigin", "explain", "--model", str(tiny_model), "--json", "Qin"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["steps"][-1]["prefix"] == "Qin"
    bad = subprocess.run([sys.executable, "-m", "nameorigin", "explain", "--model", str(tiny_model), "--top-k", "0",
                          "Qin"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
