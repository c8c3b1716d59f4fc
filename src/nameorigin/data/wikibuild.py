"""Rebuild the Wikipedia corpus (``names.tsv``) from the name2nat wheel a user downloads.

The wheel (PyPI's ``name2nat==0.5.1``) ships ``name2nat/name2nats.pkl``, a pickled
``dict[str, list[str]]`` of full names to nationalities. A pickle can run code when it is loaded,
so it is read with an unpickler that refuses every class: plain dicts, lists and strings need
none, and anything else is refused with a message instead of being imported.

Each nationality maps to a label through ``nationalities.tsv`` (shipped with the package, the
mapping the bundled model's corpus was built with); a person is kept only when all their
nationalities map to the same label.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

from ..errors import DataError
from ..files import atomic_write

PICKLE_MEMBER = "name2nat/name2nats.pkl"
MAPPING = Path(__file__).with_name("nationalities.tsv")
MAX_PICKLE_BYTES = 1 << 30


class _NoClasses(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise DataError(f"the pickle asks for {module}.{name}; only plain dicts, lists and strings are read")


def read_mapping(path: Path = MAPPING) -> dict[str, str]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    return {nationality.strip(): label.strip() for nationality, label in rows}


def read_wheel(wheel: str | Path) -> dict[str, list[str]]:
    """The name → nationalities dictionary inside the wheel, unpickled without any class."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(PICKLE_MEMBER)
            if info.file_size > MAX_PICKLE_BYTES:
                raise DataError(f"{wheel}: {PICKLE_MEMBER} is {info.file_size} bytes, too large to be the dictionary")
            raw = archive.read(info)
    except KeyError:
        raise DataError(f"{wheel}: no {PICKLE_MEMBER} inside; is this the name2nat wheel?") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"{wheel}: not a readable wheel ({err})") from None
    try:
        table = _NoClasses(io.BytesIO(raw)).load()
    except DataError as err:
        raise DataError(f"{wheel}: {err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as err:
        raise DataError(f"{wheel}: {PICKLE_MEMBER} is damaged ({err})") from None
    if not isinstance(table, dict):
        raise DataError(f"{wheel}: {PICKLE_MEMBER} holds a {type(table).__name__}, not a dictionary")
    return table


def label_people(table: dict, mapping: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(name, label, nationalities)`` for every person whose nationalities all map to one label."""
    rows = []
    for name, nationalities in table.items():
        if not isinstance(name, str) or not isinstance(nationalities, list) or not nationalities:
            continue
        labels = {mapping.get(n) if isinstance(n, str) else None for n in nationalities}
        name = " ".join(name.replace("\t", " ").split())
        if len(labels) == 1 and None not in labels and name:
            rows.append((name, labels.pop(), "|".join(nationalities)))
    return sorted(rows)


def build_wiki(wheel: str | Path, out: str | Path) -> int:
    """Write ``names.tsv`` from the wheel; returns the number of people written."""
    rows = label_people(read_wheel(wheel), read_mapping())
    if not rows:
        raise DataError(f"{wheel}: no person's nationalities map to a label")
    text = "name\tlabel\tnationality\n" + "".join(f"{n}\t{lab}\t{nat}\n" for n, lab, nat in rows)
    with atomic_write(Path(out), "wb") as handle:
        handle.write(text.encode("utf-8"))
    return len(rows)
