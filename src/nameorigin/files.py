"""Writing output files so that a failed run leaves the old file, or none, never half of one.

Every file nameorigin writes (predictions, reports, an ONNX export, the downloaded corpus) goes
through `atomic_write`: the data goes to a temporary file beside the target, is flushed to the disk,
and only then renamed over the target. A crash, Ctrl+C or SIGTERM part-way removes the temporary
file, and leaves whatever was at the path before; one left by a SIGKILL (it names its process)
is removed by the next write of the same file once that process is gone.

The rename replaces whatever sits at the path, so it must only ever replace a regular file: a
symlink is followed (the file it points to is replaced, the link stays), and a device, FIFO or
socket (``/dev/null``, a named pipe a reader waits on) is written in place, since a rename would
swap it for a plain file (as root, ``--output /dev/null`` would replace the system's).

Errors split the way the command's exit status does: a path that can't be written at all (no such
folder, no permission, a folder where a file should go) is an `OutputError`, a user's mistake
(status 2); the system failing a write part-way (a full disk) is an `OSError` whose message names
the file (status 1).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import NameOriginError

# errno values that mean the system failed the write, not that the path is wrong.
_SYSTEM_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.ENOMEM}


class OutputError(NameOriginError):
    """A path that can't be written to; `reason` says why in a few words."""

    def __init__(self, path: str | os.PathLike, reason: str, hint: str = ""):
        super().__init__(f"{path}: {reason}{hint}")
        self.path, self.reason = path, reason


def output_target(path: str | os.PathLike) -> tuple[Path, bool]:
    """The path to write for `path` and whether it may be replaced by a rename (False: write in
    place, as for anything under /dev or /proc). A folder is refused: it takes a file name."""
    real = Path(os.path.realpath(path))
    if real.parts[1:2] in (("dev",), ("proc",)):  # /dev/stdout -> /proc/self/fd/1 -> a pipe, say
        return Path(path), False
    try:
        mode = real.stat().st_mode
    except OSError:  # not there yet, or unreachable: the write itself says why
        return real, True
    if stat.S_ISDIR(mode):
        raise OutputError(path, "is a folder", "; give the name of a file to write")
    return real, stat.S_ISREG(mode)


def named(err: OSError, path: str | os.PathLike) -> OSError:
    """`err` with `path` as its file name, so that the one-line message says which file failed."""
    return OSError(err.errno, err.strerror or str(err), str(path))


def _refused(err: OSError, path: str | os.PathLike) -> Exception:
    if err.errno in _SYSTEM_FAILURES:
        return named(err, path)
    return OutputError(path, f"cannot write it ({err.strerror or err})")


def umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename in it) to the disk; a no-op where folders can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder; the rename itself is done
        pass
    finally:
        os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    """Write `data` to a new file at `path` and flush it to the disk."""
    try:
        with open(path, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise named(err, path) from None


class _Output:
    """The open file, with a failed write naming the file (a full disk says which one)."""

    def __init__(self, file: IO, name: str | os.PathLike):
        self._file, self.name = file, name

    def write(self, data: Any) -> int:
        try:
            return self._file.write(data)
        except OSError as err:
            raise named(err, self.name) from None

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError as err:
            raise named(err, self.name) from None


def _open(path: Path | int, mode: str, name: str | os.PathLike) -> IO:
    text = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
    try:
        return open(path, mode, **text)
    except OSError as err:
        if isinstance(path, int):
            os.close(path)
        raise _refused(err, name) from None


@contextlib.contextmanager
def _writing(file: IO, name: str | os.PathLike, sync: bool) -> Iterator[_Output]:
    """Yield `file` for writing; then flush it (to the disk with `sync`) and close it. After a
    failure it is closed quietly, so the first error is the one reported."""
    try:
        yield _Output(file, name)
    except BaseException:
        with contextlib.suppress(OSError):
            file.close()
        raise
    try:
        file.flush()
        if sync:
            os.fsync(file.fileno())
        file.close()
    except OSError as err:
        with contextlib.suppress(OSError):
            file.close()
        raise named(err, name) from None


@contextlib.contextmanager
def _in_place(target: Path, mode: str, name: str | os.PathLike,
              verify: Callable[[Path], None] | None) -> Iterator[_Output]:
    with _writing(_open(target, mode, name), name, sync=False) as out:
        yield out
    if verify is not None:
        verify(target)


def _permissions(target: Path) -> int:
    return target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~umask()


def _remove_stale_parts(target: Path) -> None:
    """Remove the temporary files of earlier writes of `target` whose process is gone: a SIGKILL
    or a power cut leaves them, and nothing else would. Each names its writer's process id."""
    for part in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        pid = part.name[len(target.name) + 2:].split(".", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                part.unlink()
        except (PermissionError, OverflowError):
            pass


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, parents: bool = False,
                 verify: Callable[[Path], None] | None = None) -> Iterator[_Output]:
    """Open `path` for writing (``"wb"``, or ``"w"``: UTF-8 text, newlines as written) so that it
    is replaced only once the ``with`` block succeeds; see the module docstring.

    `parents` creates missing folders. `verify` is called with the finished temporary file before
    it replaces anything, so that a check that raises leaves the old file in place. A replaced
    file keeps its permission bits; a new one gets the umask's, as any created file does.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write opens for writing only ('w' or 'wb'), not {mode!r}")
    target, replaceable = output_target(path)
    if parents:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _refused(err, path) from None
    if not replaceable:
        with _in_place(target, mode, path, verify) as out:
            yield out
        return
    tmp = None
    try:
        try:
            _remove_stale_parts(target)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".part")
        except OSError as err:
            raise _refused(err, path) from None
        with _writing(_open(fd, mode, path), path, sync=True) as out:
            yield out
        try:
            os.chmod(tmp, _permissions(target))
            if verify is not None:
                verify(Path(tmp))
            os.replace(tmp, target)
        except OSError as err:
            raise named(err, path) from None
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    fsync_dir(target.parent)
