"""Rebuild the Wikipedia corpus (``names.tsv``) from the name2nat wheel a user downloads.

The wheel (PyPI's ``name2nat==0.5.1``) ships ``name2nat/name2nats.pkl``, a pickled
``dict[str, list[str]]`` of full names to nationalities. A pickle can run code when it is loaded,
so it is read with an unpickler that refuses every class: plain dicts, lists and strings need
none, and anything else is refused with a message instead of being imported.

The wheel is a file a user downloaded, so it is read as hostile: only a regular file, never the
output path; a member that decompresses past `MAX_RATIO` times its stored size (a zip bomb) or
past `MAX_PICKLE_BYTES` is refused before it is inflated; any failure of the archive or the
unpickler (a memo index of 2**32, BUILD on a dict, a bad deflate, an encrypted member) is one
line; and a person with more than `MAX_NATIONALITIES` nationalities or a name past `MAX_NAME`
characters is no person, which bounds what a pickle of repeated references can write.

Each nationality maps to a label through ``nationalities.tsv`` (shipped with the package, the
mapping the bundled model's corpus was built with); a person is kept only when all their
nationalities map to the same label.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
import zlib
from pathlib import Path

from ..errors import DataError
from ..files import atomic_write

PICKLE_MEMBER = "name2nat/name2nats.pkl"
MAPPING = Path(__file__).with_name("nationalities.tsv")
# name2nat 0.5.1's member: 54 MB, stored at 2.5 times smaller; its people have at most 9
# nationalities and 99 characters.
MAX_PICKLE_BYTES = 1 << 27
MAX_RATIO = 20
MAX_NATIONALITIES = 32
MAX_NAME = 300


class _NoClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise DataError(f"the pickle asks for {module}.{name}; only plain dicts, lists and strings are read")


def read_mapping(path: Path = MAPPING) -> dict[str, str]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    return {nationality.strip(): label.strip() for nationality, label in rows}


def _member(wheel: str | Path) -> bytes:
    if not Path(wheel).is_file():
        raise DataError(f"{wheel}: not a regular file; give the downloaded name2nat wheel")
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(PICKLE_MEMBER)
            if info.file_size > MAX_PICKLE_BYTES or info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise DataError(f"{wheel}: {PICKLE_MEMBER} inflates to {info.file_size:,} bytes from "
                                f"{info.compress_size:,}, too large to be the dictionary")
            return archive.read(info)
    except KeyError:
        raise DataError(f"{wheel}: no {PICKLE_MEMBER} inside; is this the name2nat wheel?") from None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error) as err:
        raise DataError(f"{wheel}: not a readable wheel ({err})") from None


def read_wheel(wheel: str | Path) -> dict[str, list[str]]:
    """The name → nationalities dictionary inside the wheel, unpickled without any class."""
    raw = _member(wheel)
    try:
        table = _NoClasses(io.BytesIO(raw)).load()
    except DataError as err:
        raise DataError(f"{wheel}: {err}") from None
    except MemoryError:
        raise DataError(f"{wheel}: {PICKLE_MEMBER} is damaged (it asks for more memory than a dictionary of "
                        "names needs)") from None
    except Exception as err:  # noqa: BLE001 - a hostile pickle can make the unpickler raise anything
        raise DataError(f"{wheel}: {PICKLE_MEMBER} is damaged ({type(err).__name__}: {err})") from None
    if not isinstance(table, dict):
        raise DataError(f"{wheel}: {PICKLE_MEMBER} holds a {type(table).__name__}, not a dictionary")
    return table


def label_people(table: dict, mapping: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(name, label, nationalities)`` for every person whose nationalities all map to one label."""
    rows = []
    for name, nationalities in table.items():
        if (not isinstance(name, str) or not isinstance(nationalities, list) or not nationalities
                or len(nationalities) > MAX_NATIONALITIES or len(name) > MAX_NAME):
            continue
        labels = {mapping.get(n) if isinstance(n, str) else None for n in nationalities}
        name = " ".join(name.replace("\t", " ").split())
        if len(labels) == 1 and None not in labels and name:
            rows.append((name, labels.pop(), "|".join(nationalities)))
    return sorted(rows)


def build_wiki(wheel: str | Path, out: str | Path) -> int:
    """Write ``names.tsv`` from the wheel; returns the number of people written."""
    if Path(out).exists() and Path(wheel).exists() and os.path.samefile(out, wheel):
        raise DataError(f"{out}: is the wheel itself; write names.tsv to another file")
    rows = label_people(read_wheel(wheel), read_mapping())
    if not rows:
        raise DataError(f"{wheel}: no person's nationalities map to a label")
    text = "name\tlabel\tnationality\n" + "".join(f"{n}\t{lab}\t{nat}\n" for n, lab, nat in rows)
    with atomic_write(Path(out), "wb") as handle:
        handle.write(text.encode("utf-8"))
    return len(rows)
