"""Reading a corpus's bytes without trusting them: bounded, and only from regular files.

A corpus is a list of names, so anything far larger is a mistake or an attack, and reading it
whole would take all the memory: a 7.8 MB zip can unpack to 8 GB, and ``X.txt`` may be a link to
``/dev/zero`` or a named pipe nobody writes to. So every read here is bounded:

* `MAX_BYTES` of text in the whole corpus, checked against a zip's declared sizes before anything
  is unpacked and again on the bytes actually read, since the declared sizes can lie;
* `MAX_FILES` members in an archive, ``[Label].txt`` files in a folder;
* `MAX_NAMES` names (non-blank lines or rows), since each costs a few hundred bytes of memory
  however short it is.

A CSV/TSV file of labelled names is read a block at a time and its names held as encoded arrays
(`encoded`), about a byte a character and 16 a name, so it has wider bounds of its own:
`MAX_TABLE_BYTES` and `MAX_TABLE_NAMES`. They still stop a mistake (a multi-gigabyte log file
passed as ``--data``) before it takes the memory.

The tutorial's corpus is 164 KB, 20,074 names in 18 files. Only regular files are read (a link to
one is followed); a folder, device, FIFO or socket is refused with its name, without being opened
for reading in a way that could block.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ..errors import DataError

MAX_BYTES = 64 << 20
MAX_FILES = 10_000
MAX_NAMES = 2_000_000
MAX_TABLE_BYTES = 2 << 30
MAX_TABLE_NAMES = 20_000_000
_CHUNK = 1 << 20
CLASS_FILE = re.compile(r"(?:^|/)names/([^/]+)\.txt$")


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


class Budget:
    """What is left of the bounds while one corpus is read; a CSV/TSV file (`table`) has its own."""

    def __init__(self, table: bool = False) -> None:
        self.max_bytes, self.max_names = (MAX_TABLE_BYTES, MAX_TABLE_NAMES) if table else (MAX_BYTES, MAX_NAMES)
        self.bytes, self.names = self.max_bytes, self.max_names
        self.what = "CSV/TSV corpora" if table else "corpora"

    def take_bytes(self, n: int, where: str) -> None:
        self.bytes -= n
        if self.bytes < 0:
            raise DataError(f"{where}: the corpus holds more than {_mb(self.max_bytes)} of text; nameorigin reads "
                            f"{self.what} up to that size")

    def take_names(self, n: int, where: str) -> None:
        self.names -= n
        if self.names < 0:
            raise DataError(f"{where}: the corpus holds more than {self.max_names:,} names; nameorigin reads "
                            f"{self.what} up to that size")


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def stream_regular(path: Path, budget: Budget) -> Iterator[bytes]:
    """The bytes of the regular file `path` (following links) in chunks, charged to `budget`."""
    try:  # O_NONBLOCK: opening a FIFO does not wait for a writer; it is refused below
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (a broken link?)") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DataError(f"{path}: {_kind(info.st_mode)}, not a [Label].txt file; a corpus holds regular files")
    with open(fd, "rb", buffering=0) as f:
        budget.take_bytes(info.st_size, str(path))  # a file too large is refused before it is read
        size, charged = 0, info.st_size
        while chunk := f.read(_CHUNK):
            size += len(chunk)
            if size > charged:  # the file grew since it was measured
                budget.take_bytes(size - charged, str(path))
                charged = size
            yield chunk


def read_regular(path: Path, budget: Budget) -> bytes:
    """The bytes of the regular file `path` (following links), charged to `budget`."""
    return b"".join(stream_regular(path, budget))


def decode(raw: bytes, where: str, first_line: int = 1) -> str:
    """`raw` as UTF-8 text (a byte-order mark dropped); a bad byte is named by its line. A block
    read from further into a file starts at `first_line`, and a U+FEFF there is kept: it is no
    byte-order mark."""
    try:
        return raw.decode("utf-8-sig" if first_line == 1 else "utf-8")
    except UnicodeDecodeError as err:
        before = raw[: err.start]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + first_line
        raise DataError(f"{where}, line {line}: not valid UTF-8 ({err.reason})") from None


def _unsafe(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or ":" in name


def verify_archive(path: Path) -> list[zipfile.ZipInfo]:
    """Check that `path` is a readable, intact zip within the bounds, with class files
    (``names/[Label].txt``) and no member that would land outside its folder; return the class
    files."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_FILES:
                raise DataError(f"{path}: {len(members):,} members, more than the {MAX_FILES:,} "
                                "nameorigin reads in a corpus archive")
            unsafe = next((m.filename for m in members if _unsafe(m.filename)), None)
            if unsafe is not None:
                raise DataError(f"{path}: unsafe member {unsafe!r} (path traversal); refusing the archive")
            declared = sum(m.file_size for m in members)
            if declared > MAX_BYTES:
                raise DataError(f"{path}: unpacks to {_mb(declared)}, more than the {_mb(MAX_BYTES)} of text "
                                "nameorigin reads as a corpus")
            for info in members:
                _check_member(archive, info, path)
    except zipfile.BadZipFile as err:
        raise DataError(f"{path}: not a readable zip archive ({err})") from None
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: could not read the archive ({err})") from None
    except (RuntimeError, NotImplementedError) as err:  # encrypted, or a compression zipfile lacks
        raise DataError(f"{path}: can't unpack the archive ({err}); re-zip it without a password, "
                        "with ordinary compression") from None
    classes = [m for m in members if CLASS_FILE.search(m.filename.replace("\\", "/"))
               and "__MACOSX" not in m.filename and not PurePosixPath(m.filename).name.startswith("._")]
    if not classes:
        raise DataError(f"{path}: no names/[Label].txt files in the archive")
    folders = sorted({m.filename.replace("\\", "/").rsplit("/", 1)[0] for m in classes})
    if len(folders) > 1:
        raise DataError(f"{path}: [Label].txt files in {len(folders)} folders ({', '.join(folders[:3])}); "
                        "an archive must hold one corpus")
    return classes


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    """Unpack one member in chunks, checking its CRC; zipfile never reads past the declared size."""
    try:
        with archive.open(info) as f:
            while f.read(_CHUNK):
                pass
    except zipfile.BadZipFile as err:
        if "CRC" not in str(err):
            raise
        raise DataError(f"{path}: member {info.filename!r} is corrupt (CRC mismatch)") from None
    except zlib.error as err:
        raise DataError(f"{path}: member {info.filename!r} is corrupt ({err})") from None


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: Budget, where: str) -> bytes:
    """One member's bytes, charged to `budget` as they are unpacked."""
    chunks = []
    try:
        with archive.open(info) as f:
            while chunk := f.read(_CHUNK):
                budget.take_bytes(len(chunk), where)
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        raise DataError(f"{where}: the member is corrupt ({err})") from None
    return b"".join(chunks)
