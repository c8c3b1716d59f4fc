"""Names labelled by their tradition: the per-locale name lists that Faker and Mimesis ship.

Wikipedia labels a person by nationality, so whole traditions are missing from it (no Polish,
Spanish or Swedish people) while their emigrants' families sit under the country they live in.
The fake-data packages list the given names and family names of each locale instead, which is
the label we want. `build_table` reads them from the installed packages (``pip install
'nameorigin[locales]'``), maps each locale to one of the 18 labels or Other (`LOCALES`), curates
the entries (`curate` says what is dropped and why) and writes one table: ``name``, ``label``,
``kind`` (given/family), ``locale``, ``source``, ``part`` (train/val/test).

The part is drawn from the name itself (`assign_parts`), so a name shared by several lists (Anna,
Nowak), or written and read two ways (田中, Tanaka), lands on one side for all of them. Only the
two PyPI packages are read: other packagings of Faker's lists are kept for independent evaluation.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import DataError
from ..files import atomic_write
from ..text.names import clean
from ..text.readings import JAPANESE_SCRIPTS, romanize
from ..text.scripts import OTHER, allowed_labels, script_of

KINDS = ("given", "family")
PARTS = ("train", "val", "test")
SHARES = (0.75, 0.10, 0.15)  # train, val, test: the lists are short, so the test part is not tiny

# Locale (as each package spells it) -> label. Not read: lists of countries whose names mix the
# 18 traditions with others, as the Wikipedia mapping leaves out American, Swiss and Belgian people
# (en, en_US, en_AU, en_CA, de_CH, fr_CH, fr_BE, de_LU, and Mimesis's pt-br: Garza, Lubowitz,
# Crozatti, Kilpatrick), and those between a label and Other (uk_UA, bg_BG, sk_SK, fa_IR, he_IL,
# uz_UZ, kk, az).
LOCALES: dict[str, str] = {
    **dict.fromkeys(["ar_AA", "ar_DZ", "ar_PS", "ar_SA", "fr_DZ", "ar", "ar-ae", "ar-bh", "ar-dz", "ar-eg", "ar-jo",
                     "ar-kw", "ar-ly", "ar-ma", "ar-om", "ar-qa", "ar-sa", "ar-sy", "ar-tn", "ar-ye"], "Arabic"),
    **dict.fromkeys(["zh_CN", "zh_TW", "zh"], "Chinese"),
    **dict.fromkeys(["cs_CZ", "cs"], "Czech"),
    **dict.fromkeys(["nl_NL", "nl_BE", "nl", "nl-be"], "Dutch"),
    **dict.fromkeys(["en_GB", "en-gb"], "English"),
    **dict.fromkeys(["fr_FR", "fr_CA", "fr"], "French"),
    **dict.fromkeys(["de_DE", "de_AT", "de_LI", "de", "de-at"], "German"),
    **dict.fromkeys(["el_GR", "el"], "Greek"),
    **dict.fromkeys(["ga_IE", "en_IE"], "Irish"),
    **dict.fromkeys(["it_IT", "it"], "Italian"),
    **dict.fromkeys(["ja_JP", "ja"], "Japanese"),
    **dict.fromkeys(["ko_KR", "ko"], "Korean"),
    **dict.fromkeys(["pl_PL", "pl"], "Polish"),
    **dict.fromkeys(["pt_PT", "pt_BR", "pt"], "Portuguese"),
    **dict.fromkeys(["ru_RU", "ru"], "Russian"),
    **dict.fromkeys(["es_ES", "es_MX", "es_AR", "es_CL", "es_CO", "es", "es-mx"], "Spanish"),
    **dict.fromkeys(["vi_VN"], "Vietnamese"),
    # Other: traditions outside the 18 (Turkish, Nordic, Finnic, Hungarian, Romanian, Baltic, South
    # Asian, South-East Asian, Caucasian, African).
    **dict.fromkeys(["tr_TR", "tr", "sv_SE", "sv", "da_DK", "da", "no_NO", "no", "is_IS", "is", "fi_FI", "fi",
                     "et_EE", "et", "hu_HU", "hu", "ro_RO", "lt_LT", "lv_LV", "hi_IN", "en_IN", "ta_IN", "gu_IN",
                     "mr_IN", "or_IN", "ne_NP", "bn_BD", "si_LK", "en_PK", "id_ID", "th_TH", "en_TH", "ka_GE",
                     "hy_AM", "yo_NG", "ig_NG", "ha_NG", "en_NG", "en_KE", "sw", "tw_GH", "zu_ZA"], OTHER),
}
LABELS = frozenset(LOCALES.values()) | {"Scottish"}  # what a table may hold: see GAELIC
# Attribute-name words that mark a Faker list as something else than plain names of the locale's
# own tradition: kana and (kanji, kana) pairs repeat the Japanese lists; Estonia's `_rus` lists are
# Russian names; Iceland's suffix-less family names are fathers' given names.
_SKIP_WORDS = ("kana", "pairs", "_rus", "without_suffix", "language", "middle", "prefix", "suffix")


@dataclass(frozen=True)
class Entry:
    """One name from one list: as the package writes it, the label, given or family, and where from."""

    name: str
    label: str
    kind: str
    locale: str
    source: str


def _kind_of(attribute: str) -> str | None:
    if any(word in attribute for word in _SKIP_WORDS) or "names" not in attribute:
        return None
    return "given" if "first" in attribute else "family" if "last" in attribute else None


def _values(value) -> Iterator[str]:
    """A Faker list is a tuple, a list, or a dict of name -> weight."""
    if isinstance(value, dict):
        value = list(value)
    if isinstance(value, (list, tuple)):
        yield from (v for v in value if isinstance(v, str))


def read_faker() -> Iterator[Entry]:
    """Every name list of every mapped locale in the installed `faker` package."""
    try:
        person = importlib.import_module("faker.providers.person")
    except ImportError:
        raise DataError("the locale lists need faker and mimesis: pip install 'nameorigin[locales]'") from None
    for module in pkgutil.iter_modules(person.__path__):
        label = LOCALES.get(module.name)
        if label is None:
            continue
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        for attribute, value in vars(provider).items():
            kind = _kind_of(attribute)
            if kind is not None:
                yield from (Entry(v, label, kind, module.name, "faker") for v in _values(value))


def read_mimesis() -> Iterator[Entry]:
    """Every name list of every mapped locale in the installed `mimesis` package."""
    try:
        root = Path(importlib.import_module("mimesis").__file__).parent / "datasets"
    except ImportError:
        raise DataError("the locale lists need faker and mimesis: pip install 'nameorigin[locales]'") from None
    for path in sorted(root.glob("*/person.json")):
        label = LOCALES.get(path.parent.name)
        if label is None:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, kind in (("names", "given"), ("surnames", "family")):
            value = data.get(key, [])
            lists = value.values() if isinstance(value, dict) else [value]
            for names in lists:
                yield from (Entry(v, label, kind, path.parent.name, "mimesis") for v in _values(names))


def part_of(text: str, shares: tuple[float, float, float] = SHARES) -> str:
    """train, val or test, drawn from a hash of a name's ASCII reading in small letters: stable
    across runs, machines and package versions, and the same for every list that holds it."""
    key = clean(text).lower().encode("utf-8")
    draw = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return PARTS[0] if draw < shares[0] else PARTS[1] if draw < shares[0] + shares[1] else PARTS[2]


@dataclass(frozen=True)
class Row:
    """One curated name: the duplicates of all lists merged into it."""

    name: str
    label: str
    kind: str
    locales: tuple[str, ...]
    sources: tuple[str, ...]
    part: str = ""


def assign_parts(rows: list[Row]) -> list[Row]:
    """Each row's part, one for all the rows that share a written form or a reading: 文 in a
    Chinese list (Wen) and in a Japanese one (Bun) are one name, and so are 田中 and Tanaka; the
    part of such a group is drawn from the first of its readings."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    readings = [clean(romanize(r.name, r.label)).lower() for r in rows]
    for i, row in enumerate(rows):
        for key in (f"w:{row.name.lower()}", f"r:{readings[i]}"):
            j = owner.setdefault(key, i)
            parent[find(i)] = find(j)
    first: dict[int, str] = {}
    for i in range(len(rows)):
        root = find(i)
        first[root] = min(first.get(root, readings[i]), readings[i])
    return [replace(row, part=part_of(first[find(i)])) for i, row in enumerate(rows)]


@dataclass
class Curated:
    rows: list[Row]
    dropped: Counter  # reason -> entries dropped
    examples: dict[str, list[str]]


# Why an entry is dropped (`curate`).
SCRIPT = "written in a script that decides the answer by itself (Arabic, Hangul, Devanagari, Thai, ...)"
NOT_A_NAME = "not a name: digits or symbols, no letters, or more than three words"
BORROWED = "an Other-labelled given name listed under one of the 18 labels too (John in Kenya's list, Anna in Sweden's)"
IMMIGRANT = ("a family name that lists of several labels hold, in the lists of the labels it reads least like "
             "(Yilmaz and Nowak in Austria's list, Becker in Poland's)")
DUPLICATE = "the same name, label and kind in another list (merged into one row)"
SCOTTISH = "a Mac/Mc family name in a British list: relabelled Scottish (kept)"
# Gaelic patronymics: in Britain Scotland's (Ireland's are in the Irish lists). No package ships a
# Scottish list, and the tutorial's 100 Scottish names are too few to learn the prefix from.
GAELIC = re.compile(r"^(mac|mc)[a-z]{3,}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z '.-]*$")


def _reason(entry: Entry) -> str | None:
    script = script_of(entry.name)
    if allowed_labels(script) is not None and script not in JAPANESE_SCRIPTS:
        return SCRIPT
    text = " ".join(romanize(entry.name, entry.label).split())
    if not _NAME.match(text) or len(text.split()) > 3 or len(text) > 40:
        return NOT_A_NAME
    return None


def curate(entries: list[Entry]) -> Curated:
    """Drop what is not a name of its tradition and merge duplicates; every drop is counted by
    its reason, with a few examples, for the build's report."""
    dropped, examples = Counter(), {}
    kept: dict[tuple[str, str, str], list[Entry]] = {}

    def drop(entry: Entry, reason: str) -> None:
        dropped[reason] += 1
        examples.setdefault(reason, [])
        if len(examples[reason]) < 8:
            examples[reason].append(f"{entry.name} ({entry.locale})")

    for entry in entries:
        entry = Entry(" ".join(entry.name.split()), entry.label, entry.kind, entry.locale, entry.source)
        reason = _reason(entry)
        if reason:
            drop(entry, reason)
        else:
            kept.setdefault((entry.name, entry.label, entry.kind), []).append(entry)
    labelled = {(romanize(name, label).lower(), kind) for name, label, kind in kept if label != OTHER}
    owner = _owners(kept)
    rows = []
    for (name, label, kind), group in kept.items():
        key = romanize(name, label).lower()
        reason = (BORROWED if label == OTHER and kind == "given" and (key, kind) in labelled else
                  IMMIGRANT if kind == "family" and owner.get(key, label) != label else None)
        if reason:
            for entry in group:
                drop(entry, reason)
            continue
        for entry in group[1:]:
            drop(entry, DUPLICATE)
        if label == "English" and kind == "family" and GAELIC.match(romanize(name).lower()):
            label = "Scottish"
            dropped[SCOTTISH] += len(group)
            examples.setdefault(SCOTTISH, [])
            if len(examples[SCOTTISH]) < 8:
                examples[SCOTTISH].append(name)
        rows.append(Row(name, label, kind, tuple(sorted({e.locale for e in group})),
                        tuple(sorted({e.source for e in group}))))
    rows.sort(key=lambda r: (r.label, r.kind, r.name))
    return Curated(assign_parts(rows), dropped, examples)


def _owners(kept: dict[tuple[str, str, str], list[Entry]]) -> dict[str, str]:
    """For each family name that lists of several labels hold, the label it reads most like, by a
    teacher trained on the family names only one label holds. Family names travel with families:
    Austria's list holds Yilmaz and Nowak, Poland's Becker, Estonia's Muller."""
    from .teacher import fit_teacher  # scikit-learn: only building the table needs it

    claims: dict[str, set[str]] = {}
    for name, label, kind in kept:
        if kind == "family":
            claims.setdefault(romanize(name, label).lower(), set()).add(label)
    single = [(key, labels.copy().pop()) for key, labels in claims.items() if len(labels) == 1]
    contested = sorted(key for key, labels in claims.items() if len(labels) > 1)
    if not contested or len({label for _, label in single}) < 2:
        return {}
    teacher = fit_teacher([k for k, _ in single], [label for _, label in single])
    proba = teacher.predict_proba(contested)
    column = {label: j for j, label in enumerate(teacher.classes_)}
    return {key: max(sorted(claims[key]), key=lambda label: proba[i, column[label]] if label in column else -1.0)
            for i, key in enumerate(contested)}


HEADER = ("name", "label", "kind", "locale", "source", "part")


def write_table(curated: Curated, out: str | Path) -> None:
    lines = ["\t".join(HEADER)] + ["\t".join((r.name, r.label, r.kind, ",".join(r.locales), ",".join(r.sources),
                                              r.part)) for r in curated.rows]
    with atomic_write(Path(out), "wb") as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))


def build_table(out: str | Path) -> Curated:
    """Read both packages' lists, curate them and write the table to `out`."""
    curated = curate([*read_faker(), *read_mimesis()])
    if not curated.rows:
        raise DataError("no names found in the installed faker and mimesis packages")
    write_table(curated, out)
    return curated
