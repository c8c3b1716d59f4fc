"""The one atomic writer every output goes through: whole or not at all, links and devices kept,
and a failing disk named in the error."""

from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from nameorigin import files
from nameorigin.errors import NameOriginError
from nameorigin.files import OutputError, atomic_write


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("interrupt", [ValueError("a bad row"), KeyboardInterrupt()])
def test_a_failure_part_way_leaves_the_old_file_and_no_temporary_one(tmp_path, interrupt):
    path = tmp_path / "out.csv"
    path.write_text("precious\n")
    with pytest.raises(type(interrupt)):
        with atomic_write(path, "w") as out:
            out.write("half of the new")
            raise interrupt
    assert path.read_text() == "precious\n" and _listing(tmp_path) == ["out.csv"]


def test_the_new_file_keeps_the_old_ones_permissions(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    path.chmod(0o640)
    with atomic_write(path) as out:
        out.write(b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o640
    with atomic_write(tmp_path / "fresh.bin") as out:
        out.write(b"x")
    assert stat.S_IMODE((tmp_path / "fresh.bin").stat().st_mode) == 0o666 & ~files.umask()


def test_a_symlink_stays_and_its_target_is_replaced(tmp_path):
    target, link = tmp_path / "real.md", tmp_path / "link.md"
    target.write_text("old")
    link.symlink_to(target)
    with atomic_write(link, "w") as out:
        out.write("new")
    assert link.is_symlink() and target.read_text() == "new"
    assert _listing(tmp_path) == ["link.md", "real.md"]


def test_a_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with atomic_write(fifo) as out:
        out.write(b"through the pipe")
    reader.join(10)
    assert received == [b"through the pipe"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_failed_check_leaves_the_old_file(tmp_path):
    path = tmp_path / "data.zip"
    path.write_bytes(b"the good archive")

    def verify(tmp):
        assert tmp != path and tmp.read_bytes() == b"garbage"  # the finished temporary file
        raise NameOriginError("not an archive")

    with pytest.raises(NameOriginError, match="not an archive"):
        with atomic_write(path, verify=verify) as out:
            out.write(b"garbage")
    assert path.read_bytes() == b"the good archive" and _listing(tmp_path) == ["data.zip"]


def test_paths_that_cant_be_written_are_user_errors(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        with atomic_write(tmp_path):
            pass
    with pytest.raises(OutputError, match="cannot write it"):
        with atomic_write(tmp_path / "missing" / "out.csv"):
            pass
    with atomic_write(tmp_path / "made" / "out.csv", parents=True) as out:
        out.write(b"x")
    assert (tmp_path / "made" / "out.csv").read_bytes() == b"x"


def test_a_full_disk_is_an_os_error_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_text("precious\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        with atomic_write(path, "w") as out:
            out.write("new\n")
    assert not isinstance(caught.value, NameOriginError)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert path.read_text() == "precious\n" and _listing(tmp_path) == ["out.csv"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_export_to_a_full_disk_is_status_1_naming_the_file(tiny_model, capsys):
    from nameorigin.cli import main

    assert main(["export", "--model", str(tiny_model), "--out", "/dev/full"]) == 1
    assert capsys.readouterr().err == "nameorigin: error: No space left on device: /dev/full\n"


def test_a_part_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    """A SIGKILL leaves the temporary file; the next write of the same file removes it once its
    process is gone, and leaves a live writer's part and other files' parts alone."""
    import os

    from nameorigin.files import atomic_write

    dead = tmp_path / f".out.csv.{2**22 + 1}.abc123.part"  # above the largest pid Linux hands out
    live = tmp_path / f".out.csv.{os.getpid()}.def456.part"
    other = tmp_path / f".other.csv.{2**22 + 1}.ghi789.part"
    for part in (dead, live, other):
        part.write_text("half a file")
    with atomic_write(tmp_path / "out.csv", "w") as out:
        out.write("whole\n")
    assert (tmp_path / "out.csv").read_text() == "whole\n"
    assert not dead.exists() and live.exists() and other.exists()
