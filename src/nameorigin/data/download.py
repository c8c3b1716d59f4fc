"""Finding the corpus, and downloading it when nothing local is given.

Sources, in the order `resolve_source` tries them:

1. an explicit path (``--data``), 2. ``$NAMEORIGIN_DATA``, 3. the archive cached by an earlier
download (``$NAMEORIGIN_CACHE``, else the platform's user cache), 4. a fresh download of the
official tutorial archive (``$NAMEORIGIN_DATA_URL`` overrides the address).

A download is streamed to a temporary file beside the cache, verified as a corpus archive (see
`sources.verify_archive`) and only then moved into place, so the cache only ever holds an archive
that was whole and safe when it arrived. Every failure says how to work offline.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from platformdirs import user_cache_dir
from tqdm import tqdm
from ..errors import DataError
from ..files import OutputError, atomic_write
from .sources import MAX_BYTES, MAX_FILES, verify_archive

OFFICIAL_URL = "https://download.pytorch.org/tutorial/data.zip"
OFFLINE_HINT = ("Point NAMEORIGIN_DATA (or --data) at a local copy: a folder of [Language].txt files "
                "or the tutorial's data.zip.")
# An archive's bytes can't exceed its text by more than its headers (a few hundred bytes a member).
MAX_DOWNLOAD = MAX_BYTES + MAX_FILES * 1024


def cache_dir() -> Path:
    """Where a downloaded corpus is kept: ``$NAMEORIGIN_CACHE`` or the platform's user cache."""
    explicit = os.environ.get("NAMEORIGIN_CACHE")
    if explicit:
        return Path(explicit)
    return Path(user_cache_dir("nameorigin"))


def cached_archive() -> Path:
    """Where the downloaded corpus archive is kept."""
    return cache_dir() / "data.zip"


def _too_large(url: str) -> DataError:
    return DataError(f"the download from {url} is larger than {MAX_DOWNLOAD >> 20} MB, so it is not the corpus "
                     f"archive. {OFFLINE_HINT}")


def _unreachable(url: str, err: Exception) -> DataError:
    reason = f"HTTP {err.code} {err.reason}" if isinstance(err, urllib.error.HTTPError) else getattr(err, "reason", err)
    return DataError(f"could not download the corpus from {url} ({reason}). {OFFLINE_HINT}")


def _fetch(url: str, out: IO[bytes], progress: bool) -> None:
    """Stream `url` into `out`, refusing a body cut short or too large to be a corpus. A failed
    write to `out` (a full disk) is not a download failure, and propagates as it is."""
    failures = (OSError, http.client.HTTPException, ValueError)  # URLError and socket errors are OSErrors
    try:
        response = urllib.request.urlopen(url, timeout=30)
    except failures as err:
        raise _unreachable(url, err) from None
    with response, tqdm(unit="B", unit_scale=True, desc="downloading corpus", leave=False,
                        disable=None if progress else True) as bar:
        length = response.headers.get("Content-Length") or ""
        total = int(length) if length.isdigit() and int(length) > 0 else None
        if total is not None and total > MAX_DOWNLOAD:
            raise _too_large(url)
        bar.total = total
        written = 0
        while True:
            try:
                chunk = response.read(1 << 16)
            except failures as err:
                raise _unreachable(url, err) from None
            if not chunk:
                break
            written += len(chunk)
            if written > MAX_DOWNLOAD:
                raise _too_large(url)
            out.write(chunk)
            bar.update(len(chunk))
    if total is not None and written != total:
        raise DataError(f"download from {url} was cut short ({written} of {total} bytes). {OFFLINE_HINT}")


def download(url: str, dest: Path, *, progress: bool = True) -> Path:
    """Fetch `url` to `dest`: stream it to a temporary file beside `dest`, verify the archive, then
    rename. On any failure nothing is left at `dest` or beside it."""
    def verify(tmp: Path) -> None:
        try:
            verify_archive(tmp)
        except DataError as err:
            raise DataError(f"the download from {url} is not the corpus archive "
                            f"({str(err).removeprefix(f'{tmp}: ')}). {OFFLINE_HINT}") from None

    try:
        with atomic_write(dest, "wb", parents=True, verify=verify) as out:
            _fetch(url, out, progress)
    except OutputError as err:
        raise DataError(f"can't write the download cache {dest.parent} ({err.reason}); set NAMEORIGIN_CACHE "
                        f"to a writable folder. {OFFLINE_HINT}") from None
    return dest


def resolve_source(data: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """The path to read the corpus from, downloading and caching it if nothing local is given."""
    explicit = data if data is not None else os.environ.get("NAMEORIGIN_DATA")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.exists():
            raise DataError(f"{path}: no such file or folder (from {'--data' if data is not None else 'NAMEORIGIN_DATA'})")
        return path
    cached = cached_archive()
    if cached.is_file():
        return cached
    return download(os.environ.get("NAMEORIGIN_DATA_URL") or OFFICIAL_URL, cached, progress=progress)
