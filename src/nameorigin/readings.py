"""How a name in Han characters or kana is read aloud, by the people who write it that way.

unidecode reads every Han character in Mandarin: 田中 (Tanaka) becomes "Tian Zhong", so a model that
reads transliterations cannot tell a Japanese name in kanji from a Chinese one. Japanese readings
come from pykakasi's dictionary instead, in Hepburn romanisation as Wikipedia and passports write
names: long vowels folded (Tarou -> Taro, Yuuki -> Yuki), so they match the romanised names the
model was trained on.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .names import normalize
from .scripts import script_of

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
    for part in _kakasi().convert(text):
        romaji = part["hepburn"] if part["hepburn"] else part["orig"]
        out.append(_LONG_U.sub("u", _LONG_O.sub("o", romaji)) if part["hepburn"] else romaji)
    words = " ".join(out).split()  # pykakasi's tokens are words: 鈴木一郎 -> Suzuki Ichiro
    return " ".join(w[:1].upper() + w[1:] for w in words)


JAPANESE_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA"})


def romanize(name: str, label: str | None = None) -> str:
    """The ASCII form of `name` read as `label`'s writers read it: a Japanese name in Han
    characters or kana by its Japanese reading, any other name by unidecode's."""
    if label == "Japanese" and script_of(name) in JAPANESE_SCRIPTS:
        return normalize(japanese(name))
    return normalize(name)
