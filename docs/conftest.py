"""Runs docs/tutorial.ipynb (collected by nbmake) against the test corpus, never the network, and
checks the outputs stored in it against that fresh run.

The notebook reads the corpus as a learner's would, through ``$NAMEORIGIN_DATA``; while it runs,
that points at the folder the tests use (``$NAMEORIGIN_TEST_DATA``, else ``../shared/data``).

The docs site shows the outputs stored in the notebook (the site builds offline, without the
corpus), so they must be what the code gives today: every number the stored outputs print must
match the fresh run's, to the last digit printed, except the versions and the training time.
After a change that moves them, store the fresh outputs with

    python -m pytest -q docs/tutorial.ipynb --overwrite
"""

from __future__ import annotations

import os
import re
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


# Lines that differ from machine to machine, not with the code: masked before comparing.
VOLATILE = (re.compile(r"nameorigin \S+ \| torch \S+"), re.compile(r"trained in [0-9.]+ s"))
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def cell_outputs(nb) -> list[list[str]]:
    """Each code cell's outputs as text: printed text, a result's plain text, or ``<image/png>``."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(f"[{out.name}] {out.text}")
            elif out.output_type == "error":
                texts.append(f"[error] {out.ename}: {out.evalue}")
            elif "image/png" in out.get("data", {}):
                texts.append("<image/png>")
            else:
                texts.append(str(out.get("data", {}).get("text/plain", "")))
        cells.append(texts)
    return cells


def _numbers_match(stored: str, fresh: str) -> bool:
    """The same text around the numbers, and each number within one unit of its last printed digit."""
    for pattern in VOLATILE:
        stored, fresh = pattern.sub("<volatile>", stored), pattern.sub("<volatile>", fresh)
    if NUMBER.sub("#", stored) != NUMBER.sub("#", fresh):
        return False
    for a, b in zip(NUMBER.findall(stored), NUMBER.findall(fresh)):
        decimals = len(a.split(".")[1]) if "." in a else 0
        if decimals == 0 and a != b:
            return False
        if abs(float(a.replace(",", "")) - float(b.replace(",", ""))) > 1.01 * 10 ** -decimals:
            return False
    return True


def output_differences(stored_nb, fresh_nb) -> list[str]:
    """What the stored outputs say that a fresh run does not; empty when they agree."""
    stored, fresh = cell_outputs(stored_nb), cell_outputs(fresh_nb)
    if len(stored) != len(fresh):
        return [f"{len(stored)} code cells stored, {len(fresh)} run"]
    problems = []
    for number, (old, new) in enumerate(zip(stored, fresh), 1):
        if not new and not old:
            continue
        if len(old) != len(new) or not all(_numbers_match(a, b) for a, b in zip(old, new)):
            problems.append(f"code cell {number}:\n  stored: {old!r}\n  fresh:  {new!r}")
    return problems


def tidy(nb):
    """The executed notebook as stored: no per-cell timing metadata, which changes on every run."""
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    return nb


def _run_and_compare(item) -> None:
    import nbformat
    from nbmake.nb_run import NotebookRun
    from nbmake.pytest_items import NotebookFailedException

    option = item.config.option
    path = Path(item.path)
    result = NotebookRun(path, option.nbmake_timeout, verbose=bool(option.verbose),
                         kernel=option.nbmake_kernel, find_import_errors=option.nbmake_find_import_errors).execute()
    if result.error is not None:
        raise NotebookFailedException(result)
    fresh = tidy(result.nb)
    if option.overwrite:
        nbformat.write(fresh, str(path))
        return
    problems = output_differences(nbformat.read(str(path), as_version=4), fresh)
    if problems:
        pytest.fail(f"{path.name}: the stored outputs differ from a fresh run (store the fresh ones with "
                    f"`python -m pytest -q {path.relative_to(item.config.rootpath)} --overwrite`):\n"
                    + "\n".join(problems), pytrace=False)


def _repr_failure(item, original):
    def repr_failure(excinfo, style=None):
        if excinfo.errisinstance(pytest.fail.Exception):  # the comparison's own message, not nbmake's
            return str(excinfo.value)
        return original(excinfo, style)
    return repr_failure


def pytest_collection_modifyitems(items):
    """nbmake runs the notebook; this also compares the stored outputs with that run's."""
    for item in items:
        if _is_notebook(item) and getattr(item, "nbmake", False):
            item.runtest = lambda item=item: _run_and_compare(item)
            item.repr_failure = _repr_failure(item, item.repr_failure)
