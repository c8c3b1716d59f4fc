"""The text a model reads: transliteration, cleaning, case and the parts of a person's name.

Everything here works on plain strings and is shared by training and prediction, so that a model
reads a name at prediction time exactly as it read its training names.
"""

from __future__ import annotations

import re
import string
import unicodedata

import numpy as np
from unidecode import unidecode

ALPHABET = string.ascii_letters + " .,:;-'"
N_CHARS = len(ALPHABET)
# Byte -> character index, -1 for bytes outside the alphabet; lets encoding work on whole arrays.
LOOKUP = np.full(256, -1, dtype=np.int64)
LOOKUP[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(N_CHARS)
OUTSIDE_ALPHABET = re.compile("[^" + re.escape(ALPHABET) + "]")
_SPACES = re.compile(r"\s+")
_LETTER_RUNS = re.compile(r"[A-Za-z]+")
# Two capitals with no small letter or space between them: every word `_in_capitals` takes has them.
_TWO_CAPITALS = re.compile(r"[A-Z][^a-z ]*[A-Z]")

# How a model reads case (a checkpoint's ``config.case``):
#   "words": a word written all in capitals or all in small letters is read capitalized
#            (SMITH, smith -> Smith); a word of mixed case (McDonald) is read as written.
#            The tutorial corpus writes surnames capitalized, so this reads typed names its way.
#   "lower": everything in small letters, so case can never change an answer.
CASES = ("words", "lower")

# Words after a surname that are not part of it.
SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "v"})


def normalize(name: str) -> str:
    """Transliterate to ASCII and trim, as the tutorial does before looking characters up."""
    return unidecode(name).strip()


def compatible(name: str) -> str:
    """Compatibility-normalised (NFKC), less invisible format characters: fullwidth ＳＭＩＴＨ, bold
    𝐌𝐞𝐫𝐤𝐞𝐥 and halfwidth ｷﾑﾗ are the letters they look like, and a zero-width space is no word
    break. Read before the script is, so styled Latin is not taken for a foreign script."""
    if name.isascii():
        return name
    return "".join(c for c in unicodedata.normalize("NFKC", name) if unicodedata.category(c) != "Cf")


def unprintable(text: str) -> bool:
    """Whether `text` holds a control or format character: a label with a tab or a line end would
    break every table and line that names it."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def in_alphabet(text: str) -> bool:
    return OUTSIDE_ALPHABET.search(text) is None


def clean(text: str) -> str:
    """Drop symbols outside the alphabet (digits, emoji, ...) and collapse runs of spaces."""
    if text.isalpha() and text.isascii():
        return text
    return _SPACES.sub(" ", OUTSIDE_ALPHABET.sub("", _SPACES.sub(" ", text))).strip()


def _capitalize_plain(match: re.Match) -> str:
    run = match.group(0)
    return run.capitalize() if run.isupper() or run.islower() else run


def fold_case(text: str, case: str) -> str:
    """`text` in the case the model reads (see `CASES`)."""
    if case == "lower":
        return text.lower()
    if case == "words":
        return _LETTER_RUNS.sub(_capitalize_plain, text)
    raise ValueError(f"unknown case {case!r}; choose from {CASES}")


def uncomma(text: str) -> str:
    """"Merkel, Angela" -> "Angela Merkel": the library-catalogue form in reading order.
    Text with no comma, or with more than one, is returned as it is."""
    family, sep, given = text.partition(",")
    if not sep or "," in given or not family.strip() or not given.strip():
        return text
    return f"{given.strip()} {family.strip()}"


def family_last(text: str) -> str:
    """"MERKEL Angela" -> "Angela MERKEL": a family name written first in capitals, as passports and
    many official lists write it, moved to the end, in reading order. Only when the leading words
    in capitals are followed by words that are not; a name all in capitals, or with its capitals
    last, is returned as it is."""
    if _TWO_CAPITALS.search(text) is None:  # no word in capitals: the common case, found at C speed
        return text
    words = text.split(" ")
    lead = 0
    while lead < len(words) and _in_capitals(words[lead]):
        lead += 1
    if lead == 0 or lead == len(words) or any(_in_capitals(w) for w in words[lead:]):
        return text
    return " ".join(words[lead:] + words[:lead])


def _in_capitals(word: str) -> bool:
    """A family name written in capitals (MERKEL, LI), not initials (J.R.R., H.G., BB)."""
    letters = [c for c in word if c.isalpha()]
    initials = "." in word or (len(letters) <= 3 and not any(c in "AEIOUY" for c in letters))
    return len(letters) >= 2 and all(c.isupper() for c in letters) and not initials


def surname_index(words: list[str], family_first: bool) -> int:
    """Which word of a full name is the family name: the first for a family-first name, else
    the last one that is not a suffix such as Jr. or III."""
    if family_first:
        return 0
    for i in range(len(words) - 1, 0, -1):
        if words[i].lower() not in SUFFIXES:
            return i
    return len(words) - 1


def encode(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pack normalized names into a right-padded (names, longest) index matrix and their lengths.

    Padding uses index 0; models read each name only up to its own length, so the pad value
    never reaches a prediction. Every name must be non-empty and inside `ALPHABET`.
    """
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    if len(names) == 0 or lengths.min() == 0:
        raise ValueError("encode() needs at least one name and no empty names")
    codes = LOOKUP[np.frombuffer("".join(names).encode("ascii"), dtype=np.uint8)]
    if (codes < 0).any():
        raise ValueError("encode() got a character outside the alphabet")
    padded = np.zeros((len(names), int(lengths.max())), dtype=np.int64)
    padded[np.arange(padded.shape[1]) < lengths[:, None]] = codes
    return padded, lengths
