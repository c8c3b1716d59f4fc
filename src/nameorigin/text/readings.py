"""What a model reads of a name (`prepare`), and how a name in Han characters or kana is read
aloud by the people who write it that way (`japanese`).

unidecode reads every Han character in Mandarin: 田中 (Tanaka) becomes "Tian Zhong", so a model that
reads transliterations cannot tell a Japanese name in kanji from a Chinese one. Japanese readings
come from pykakasi's dictionary instead, in Hepburn romanisation as Wikipedia and passports write
names: long vowels folded (Tarou -> Taro, Yuuki -> Yuki), so they match the romanised names the
model was trained on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from .names import clean, compatible, family_last, fold_case, normalize, uncomma
from .scripts import HAN, KANA, script_of

_LONG_O = re.compile(r"ou(?![aeiu])")
_LONG_U = re.compile(r"uu")


@lru_cache(maxsize=1)
def _kakasi():
    # Imported on first use: its dictionaries take a fraction of a second to load, and only
    # names in Japanese script need them.
    import pykakasi

    return pykakasi.kakasi()


@lru_cache(maxsize=65536)
def japanese(text: str) -> str:
    """`text` read as Japanese, each word capitalised (田中 太郎, 田中太郎 -> Tanaka Taro). A character the
    dictionary cannot read (a simplified Chinese one such as 伟) is left as it is; `names.normalize`
    transliterates what is left."""
    out = []
    for orig, hepburn in _tokens(text):
        out.append(_LONG_U.sub("u", _LONG_O.sub("o", hepburn)) if hepburn else orig)
    words = " ".join(out).split()  # pykakasi's tokens are words: 鈴木一郎 -> Suzuki Ichiro
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _tokens(text: str) -> list[tuple[str, str]]:
    """pykakasi's (written, Hepburn) tokens of `text`, none lost: it drops the second of two
    characters its dictionary cannot read (孙伟 comes back as 孙 alone), so what it skipped is read
    again on its own."""
    tokens, rest = [], text.strip()
    while rest:
        pos = 0
        for part in _kakasi().convert(rest):
            while pos < len(rest) and rest[pos].isspace():
                pos += 1
            if not part["orig"] or not rest.startswith(part["orig"], pos):
                break
            tokens.append((part["orig"], part["hepburn"]))
            pos += len(part["orig"])
        if pos == 0:  # not read at all: keep the first character as written
            tokens.append((rest[0], ""))
            pos = 1
        rest = rest[pos:].lstrip()
    return tokens


JAPANESE_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA"})


def romanize(name: str, label: str | None = None) -> str:
    """The ASCII form of `name` read as `label`'s writers read it: a Japanese name in Han
    characters or kana by its Japanese reading, any other name by unidecode's."""
    if label == "Japanese" and script_of(name) in JAPANESE_SCRIPTS:
        return normalize(japanese(name))
    return normalize(name)


# Surnames in the corpus have at most 20 characters. Past this a text is not a name, and scoring it
# costs memory in proportion (2.5 KB a character for the bundled model): a line of binary junk
# with no newline would otherwise take all of it.
MAX_NAME_LENGTH = 1000


class Prepared(NamedTuple):
    """What the model reads of a name, why it cannot be scored (None if it can), the script it
    was written in (None for ASCII; see `scripts`), and for a name in Han characters its Japanese
    reading (`text` is then the Mandarin one)."""

    text: str
    reason: str | None
    script: str | None = None
    japanese: str | None = None


def prepare(name: str, case: str = "words") -> Prepared:
    """The form of `name` the model reads.

    Names are transliterated to ASCII (kana by its Japanese reading, Han characters both ways:
    `Classifier._proba_once` says why); symbols outside the alphabet (digits, emoji, ...) are
    dropped rather than failing the whole name; "Family, Given" and "FAMILY Given" are read as
    "Given Family" (`names.uncomma`, `names.family_last`); case is
    folded as the model was trained (`names.CASES`). A name left with no Latin letter is not
    guessed at, nor is one longer than `MAX_NAME_LENGTH` characters.
    """
    if not isinstance(name, str):
        return Prepared("", "not a string")
    name = compatible(name)
    if len(name) > MAX_NAME_LENGTH:  # before any reading: a dictionary's work grows with the text
        return Prepared("", f"longer than {MAX_NAME_LENGTH} characters")
    script = script_of(name)
    text = clean(romanize(name, "Japanese" if script in KANA else None))
    if not name.strip():
        return Prepared(text, "empty name")
    if not any(c.isalpha() for c in text):
        return Prepared(text, "no Latin letters after transliteration")
    if len(text) > MAX_NAME_LENGTH:  # its normalized form is not echoed back either
        return Prepared("", f"longer than {MAX_NAME_LENGTH} characters")
    japanese = fold_case(clean(romanize(name, "Japanese")), case) if script == HAN else None
    return Prepared(fold_case(family_last(uncomma(text)), case), None, script, japanese)
