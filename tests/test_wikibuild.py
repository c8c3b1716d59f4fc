"""`nameorigin data build-wiki`: names.tsv rebuilt from a name2nat wheel, whose pickle is read
without loading any class."""

from __future__ import annotations

import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nameorigin.errors import DataError
from nameorigin.data.wikibuild import PICKLE_MEMBER, build_wiki


def make_wheel(path: Path, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("name2nat/__init__.py", "")
        wheel.writestr(PICKLE_MEMBER, payload)
    return path


class Touch:
    """Unpickling this would create a file: the test's stand-in for a pickle that runs code."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_builds_the_labelled_file(tmp_path):
    table = {"Angela Merkel": ["German"], "Mike Tyson": ["American"], "Ivan\tPetrov": ["Russian"],
             "Kurt Binder": ["Austrian", "German"], "Ana Silva": ["Brazilian", "Argentine"],
             "Lars Cramer": ["Norwegian"]}
    out = tmp_path / "names.tsv"
    n = build_wiki(make_wheel(tmp_path / "n.whl", pickle.dumps(table)), out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "name\tlabel\tnationality" and n == len(lines) - 1 == 4
    assert "Angela Merkel\tGerman\tGerman" in lines and "Ivan Petrov\tRussian\tRussian" in lines
    assert "Kurt Binder\tGerman\tAustrian|German" in lines and "Lars Cramer\tOther\tNorwegian" in lines
    assert not any(line.startswith(("Mike Tyson", "Ana Silva")) for line in lines)


def test_a_pickle_that_loads_a_class_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    wheel = make_wheel(tmp_path / "evil.whl", pickle.dumps({"A B": ["German"], "x": Touch(marker)}))
    with pytest.raises(DataError, match="only plain dicts, lists and strings"):
        build_wiki(wheel, tmp_path / "names.tsv")
    assert not marker.exists() and not (tmp_path / "names.tsv").exists()


def test_cli_errors_are_one_line_with_exit_2(tmp_path):
    (tmp_path / "not.whl").write_bytes(b"not a zip")
    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "data", "build-wiki", str(tmp_path / "not.whl"),
                           "--out", str(tmp_path / "o.tsv")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not a readable wheel" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
