"""The writing system a name is typed in, as evidence of its origin.

Transliteration to ASCII throws this away: unidecode writes Hangul's 김 as "gim" (the corpus
writes Kim) and Arabic script's محمد as "mHmd". So the script is read first, and a script that
belongs to a few traditions limits the answer to them. Latin, Cyrillic and Greek limit nothing:
they are written by many of the traditions, and their transliteration reads well.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

# Script (the first word of a character's Unicode name) -> the labels it allows.
ALLOWED = {
    "HANGUL": ("Korean",),
    "HIRAGANA": ("Japanese",),
    "KATAKANA": ("Japanese",),
    "CJK": ("Chinese", "Japanese"),
    "ARABIC": ("Arabic",),
}
# How far the model's reading of a transliteration is trusted between the labels a script allows.
# A Han name is scored on its Japanese reading (`predict.Classifier._proba_once`), which tells
# Japanese names from Chinese ones on the locale lists' validation names, but not always: a
# single character such as 林 is Lin in China and Hayashi in Japan.
TRUST = {"CJK": 0.9}
HAN = "CJK"
KANA = frozenset({"HIRAGANA", "KATAKANA"})
# Scripts that every tradition of the labels writes in.
OPEN = frozenset({"LATIN", "CYRILLIC", "GREEK"})
# Any other script with letters (Devanagari, Thai, Ethiopic, Hebrew, Georgian, ...) allows only this.
OTHER = "Other"


def script_of(name: str) -> str | None:
    """The script most of `name`'s letters are in, None for plain ASCII. Kana anywhere makes a
    name Japanese-script: Japanese mixes kana with Han characters, Chinese never does. A script
    that limits the answer outweighs the open ones: in `Kim 민준` the Hangul is the evidence."""
    if name.isascii():
        return None
    scripts = Counter(unicodedata.name(c, "?").split(" ", 1)[0] for c in name if c.isalpha())
    if not scripts:
        return None
    for kana in ("HIRAGANA", "KATAKANA"):
        if kana in scripts:
            return kana
    closed = Counter({script: n for script, n in scripts.items() if script not in OPEN})
    return (closed or scripts).most_common(1)[0][0]


def allowed_labels(script: str | None) -> tuple[str, ...] | None:
    """The labels a name in `script` may have; None when the script says nothing."""
    if script is None or script in OPEN:
        return None
    return ALLOWED.get(script, (OTHER,))


def transliteration_trust(script: str | None) -> float:
    return TRUST.get(script, 1.0)


def display(script: str) -> str:
    return {"CJK": "Han"}.get(script, script.capitalize())
