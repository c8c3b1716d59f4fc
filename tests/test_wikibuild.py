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


def _patched(path: Path, offset_in_local: int, offset_in_central: int, value: bytes) -> Path:
    """The wheel with a field of the pickle member's local and central headers overwritten."""
    data = bytearray(path.read_bytes())
    name = PICKLE_MEMBER.encode()
    for signature, offset in ((b"PK\x03\x04", offset_in_local), (b"PK\x01\x02", offset_in_central)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            header_name = data[start + (30 if signature == b"PK\x03\x04" else 46):][:len(name)]
            if bytes(header_name) == name:
                data[start + offset:start + offset + len(value)] = value
            start += 4
    path.write_bytes(bytes(data))
    return path


def _deflated(tmp_path: Path, payload: bytes, name: str = "n.whl") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr(PICKLE_MEMBER, payload)
    return path


@pytest.mark.parametrize("payload, problem", [
    (b"\x80\x02}}b.", "damaged"),                         # BUILD on a dict
    (b"\x80\x02}r\xff\xff\xff\xff.", "damaged"),      # LONG_BINPUT at index 2**32 - 1
    (b"\x80\x02]", "damaged"),                           # cut short
])
def test_a_hostile_pickle_is_one_line(tmp_path, payload, problem):
    with pytest.raises(DataError, match=problem) as err:
        build_wiki(make_wheel(tmp_path / "n.whl", payload), tmp_path / "names.tsv")
    assert "\n" not in str(err.value) and not (tmp_path / "names.tsv").exists()


def test_a_member_that_inflates_like_a_bomb_is_refused_before_it_is_inflated(tmp_path):
    wheel = _deflated(tmp_path, bytes(10_000_000))
    with pytest.raises(DataError, match="too large to be the dictionary"):
        build_wiki(wheel, tmp_path / "names.tsv")


def test_a_person_with_endless_nationalities_is_no_person(tmp_path):
    many = ["German"] * 10_000
    table = {"Angela Merkel": ["German"], "Bomb Person": many, "x" * 10_000: ["German"]}
    out = tmp_path / "names.tsv"
    assert build_wiki(make_wheel(tmp_path / "n.whl", pickle.dumps(table)), out) == 1


@pytest.mark.parametrize("damage, problem", [
    ("deflate", "not a readable wheel"), ("encrypted", "not a readable wheel"), ("method", "not a readable wheel"),
])
def test_a_damaged_archive_is_one_line(tmp_path, damage, problem):
    wheel = _deflated(tmp_path, pickle.dumps({"Angela Merkel": ["German"]} | {f"N{i} X": ["German"] for i in range(500)}))
    if damage == "deflate":
        data = bytearray(wheel.read_bytes())
        start = data.index(PICKLE_MEMBER.encode()) + len(PICKLE_MEMBER)
        data[start + 5:start + 40] = bytes(range(35))
        wheel.write_bytes(bytes(data))
    elif damage == "encrypted":
        _patched(wheel, 6, 8, b"\x01\x00")    # general purpose flag: encrypted
    else:
        _patched(wheel, 8, 10, b"\x63\x00")   # compression method 99
    with pytest.raises(DataError, match=problem) as err:
        build_wiki(wheel, tmp_path / "names.tsv")
    assert "\n" not in str(err.value)


def test_only_a_regular_file_is_read_and_never_written_over(tmp_path):
    import os

    with pytest.raises(DataError, match="not a regular file"):
        build_wiki("/dev/zero", tmp_path / "names.tsv")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        build_wiki(fifo, tmp_path / "names.tsv")
    wheel = make_wheel(tmp_path / "n.whl", pickle.dumps({"Angela Merkel": ["German"]}))
    before = wheel.read_bytes()
    (tmp_path / "link.whl").symlink_to(wheel)
    for out in (wheel, tmp_path / "link.whl"):
        with pytest.raises(DataError, match="is the wheel itself"):
            build_wiki(wheel, out)
    assert wheel.read_bytes() == before
