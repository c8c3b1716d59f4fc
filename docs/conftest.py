"""Runs docs/tutorial.ipynb (collected by nbmake) against the test corpus, never the network.

The notebook reads the corpus as a learner's would, through ``$NAMEORIGIN_DATA``; while it runs,
that points at the folder the tests use (``$NAMEORIGIN_TEST_DATA``, else ``../shared/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
NOTEBOOK_ENV = {"NAMEORIGIN_DATA_URL": "http://127.0.0.1:9/unreachable/data.zip", "OMP_NUM_THREADS": "1",
                "TQDM_DISABLE": "1"}
_saved: dict[str, str | None] = {}


def _names_dir() -> Path:
    shared = os.environ.get("NAMEORIGIN_TEST_DATA") or HERE.parents[1] / "shared" / "data"
    return Path(shared).expanduser().resolve() / "names"


def _is_notebook(item) -> bool:
    return item.path.suffix == ".ipynb" and HERE in item.path.parents


def pytest_runtest_setup(item):
    if not _is_notebook(item):
        return
    names = _names_dir()
    if not names.is_dir():
        reason = (f"the tutorial corpus is not at {names}: download https://download.pytorch.org/tutorial/data.zip, "
                  "unzip it so that DIR/names/*.txt exists, keep data.zip beside it, set NAMEORIGIN_TEST_DATA=DIR")
        if os.environ.get("NAMEORIGIN_REQUIRE_DATA", "") not in ("", "0"):
            pytest.fail(reason + " (NAMEORIGIN_REQUIRE_DATA is set, so this is an error)", pytrace=False)
        pytest.skip(reason)
    env = {**NOTEBOOK_ENV, "NAMEORIGIN_DATA": str(names)}
    for key, value in env.items():  # the notebook's kernel inherits these
        _saved[key] = os.environ.get(key)
        os.environ[key] = value


def pytest_runtest_teardown(item):
    if not _is_notebook(item):
        return
    for key, value in _saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _saved.clear()
