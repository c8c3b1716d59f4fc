"""Shared fixtures: the real corpus from ../shared/data, and small corpora cut from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NAMES_DIR = SHARED / "names"
DATA_ZIP = SHARED / "data.zip"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No test may read the user's cache or reach the official URL by accident."""
    for var in ("NAMEORIGIN_DATA", "NAMEORIGIN_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NAMEORIGIN_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("NAMEORIGIN_DATA_URL", "http://127.0.0.1:9/unreachable/data.zip")


@pytest.fixture(scope="session")
def names_dir() -> Path:
    if not NAMES_DIR.is_dir():
        pytest.fail(f"the corpus is expected at {NAMES_DIR}")
    return NAMES_DIR


@pytest.fixture(scope="session")
def data_zip() -> Path:
    if not DATA_ZIP.is_file():
        pytest.fail(f"the corpus archive is expected at {DATA_ZIP}")
    return DATA_ZIP


@pytest.fixture(scope="session")
def small_corpus(names_dir, tmp_path_factory) -> Path:
    """Four languages with very different spelling, 60 names each: trains in seconds."""
    out = tmp_path_factory.mktemp("small") / "names"
    out.mkdir()
    for label in ("Chinese", "Greek", "Japanese", "Russian"):
        lines = (names_dir / f"{label}.txt").read_text(encoding="utf-8").splitlines()
        (out / f"{label}.txt").write_text("\n".join(lines[:60]) + "\n", encoding="utf-8")
    return out


def pytest_configure(config):
    os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def tiny_model(small_corpus, tmp_path_factory) -> Path:
    """A small GRU checkpoint trained on `small_corpus` with a validation split and calibration."""
    from nameorigin.config import Config
    from nameorigin.train import train_and_save

    out = tmp_path_factory.mktemp("tiny") / "model"
    config = Config(arch="gru", hidden_size=24, num_layers=1, epochs=3, batch_size=16, lr=1e-2,
                    val_size=0.2, calibrate=True)
    train_and_save(config, str(out), data=str(small_corpus), progress=False, log=lambda s: None)
    return out
