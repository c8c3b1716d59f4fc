"""The bundled default model: it loads offline, and its files, revision and recorded metrics agree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nameorigin import checkpoint
from nameorigin.predict import default_model_path

BUNDLED = default_model_path()
pytestmark = pytest.mark.skipif(not (BUNDLED / "model.json").is_file(), reason="no bundled model built yet")


def test_revision_file_and_model_card_name_the_shipped_files():
    revision = checkpoint.revision(BUNDLED)
    assert (BUNDLED.parent / "default.revision").read_text().strip() == revision
    card = (Path(__file__).resolve().parents[1] / "MODEL_CARD.md").read_text()
    assert revision in card


def test_recorded_metrics_and_fingerprint_match_the_corpus(names_dir):
    from nameorigin.data import load_corpus
    from nameorigin.evaluate import evaluate_checkpoint

    meta = checkpoint.read_metadata(BUNDLED)
    assert meta["corpus"]["fingerprint"] == load_corpus(names_dir).fingerprint
    assert meta["split"]["kind"] == "seed" and meta["split"]["n_test"] == 2007
    report = evaluate_checkpoint(None, str(names_dir))
    for key in ("accuracy", "macro_f1", "top3_accuracy", "ece"):
        assert report[key] == pytest.approx(meta["metrics"][key], abs=1e-6), key


def test_small_enough_to_ship():
    assert (BUNDLED / "model.safetensors").stat().st_size < 8 * 2**20


def test_predict_works_with_no_data_no_network_no_training(tmp_path):
    env = {"NAMEORIGIN_CACHE": str(tmp_path), "NAMEORIGIN_DATA_URL": "http://127.0.0.1:9/x.zip", "PATH": ""}
    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "predict", "--json", "Mike", "Qin", "Slaveya",
                           "Fernando"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["name"] for r in results] == ["Mike", "Qin", "Slaveya", "Fernando"]
    assert all(r["label"] and not r["abstained"] for r in results)
    assert {r["model_revision"] for r in results} == {checkpoint.revision(BUNDLED)}
    assert list(tmp_path.iterdir()) == []
