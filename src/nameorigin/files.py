"""Where an output file really goes, before it is written through a temporary file beside it.

Writing to a temporary file and renaming it over the target means a failed run leaves the old
file untouched. But the rename replaces whatever sits at the path, so it must only ever replace a
regular file: a symlink is followed (the file it points to is replaced, the link stays), and a
device, FIFO or socket (``/dev/null``, a named pipe a reader waits on) is written in place, since a
rename would swap it for a plain file (``--output /dev/null`` run as root replaced the system's).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import NameOriginError


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
        raise NameOriginError(f"{path}: is a folder; give the name of a file to write")
    return real, stat.S_ISREG(mode)
