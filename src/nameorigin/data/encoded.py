"""Names held as arrays of character codes instead of one Python string each.

A Python string costs about 50 bytes besides its characters, and a corpus padded to its longest
name as an int64 matrix costs 8 bytes a cell for every name: millions of names, or one
1,000-character outlier among them, and that is gigabytes. `EncodedNames` keeps every name's
alphabet indices back to back in one uint8 buffer with int64 offsets, about a byte a character
and 8 a name, and builds a padded tensor only for the rows a batch asks for.

`text.names.encode` is the list-of-strings form of the same encoding, which prediction and small
corpora use.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ..text.names import ALPHABET, LOOKUP

# Character index -> its ASCII byte: for decoding, and for sorting in the order strings sort in.
ASCII = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
# Rows handled at a time where a step makes index arrays of a chunk's characters: bounds memory.
_ROWS = 1 << 18


def spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indices of the spans ``[start, start + length)``, one after another: gathers ragged rows
    from a flat buffer in one numpy operation."""
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    return np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths) + np.arange(total)


class EncodedNames:
    """Normalized names as one buffer of alphabet indices (`codes`, uint8) and `offsets` (int64,
    one more than there are names): name ``i`` is ``codes[offsets[i]:offsets[i + 1]]``.

    It is a read-only sequence of strings (``len``, ``names[i]``, iteration) for code that reads a
    few names; training reads `lengths` and `padded` instead.
    """

    def __init__(self, codes: np.ndarray, offsets: np.ndarray):
        self.codes, self.offsets = codes, offsets
        self._ranks: np.ndarray | None = None

    @classmethod
    def from_names(cls, names: Iterable[str]) -> EncodedNames:
        """Encode normalized names (non-empty, inside the alphabet), a chunk at a time."""
        codes, lengths, chunk = [], [], []
        for name in names:
            chunk.append(name)
            if len(chunk) == _ROWS:
                codes.append(flat_codes(chunk)), lengths.append(name_lengths(chunk))
                chunk = []
        if chunk:
            codes.append(flat_codes(chunk)), lengths.append(name_lengths(chunk))
        return cls.join(codes, lengths)

    @classmethod
    def join(cls, codes: list[np.ndarray], lengths: list[np.ndarray]) -> EncodedNames:
        """Names from chunks of codes and the lengths of the names in each."""
        lengths = np.concatenate(lengths) if lengths else np.empty(0, dtype=np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.concatenate(codes) if codes else np.empty(0, dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> str:
        i = range(len(self))[i]  # negative indices count from the end; out of range is an IndexError
        return ASCII[self.codes[self.offsets[i]:self.offsets[i + 1]]].tobytes().decode("ascii")

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), _ROWS):
            yield from self.decode(np.arange(start, min(start + _ROWS, len(self))))

    def decode(self, rows: np.ndarray | None = None) -> list[str]:
        """The names at `rows` (all of them by default) as strings: for the small parts (validation,
        test) that are scored through `models.tensors.module_logits`."""
        part = self if rows is None else self.subset(rows)
        text = ASCII[part.codes].tobytes().decode("ascii")
        bounds = part.offsets.tolist()
        return [text[a:b] for a, b in itertools.pairwise(bounds)]

    def gather(self, rows: np.ndarray, start: int = 0, most: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The codes of names `rows` from character `start` on (at most `most` of them), one after
        another, and how many each name gave."""
        first = self.offsets[rows] + start
        lengths = np.maximum(self.offsets[rows + 1] - first, 0)
        lengths = lengths if most is None else np.minimum(lengths, most)
        return self.codes[spans(first, lengths)], lengths

    def subset(self, rows: np.ndarray) -> EncodedNames:
        """The names at `rows`, in that order, as a new `EncodedNames`."""
        rows = np.asarray(rows, dtype=np.int64)
        parts = [self.gather(rows[i:i + _ROWS]) for i in range(0, len(rows), _ROWS)]
        return EncodedNames.join([codes for codes, _ in parts], [lengths for _, lengths in parts])

    def padded(self, rows: np.ndarray, width: int | None = None) -> np.ndarray:
        """The names at `rows` as a right-padded int64 index matrix `width` wide (by default their
        longest): the values `text.names.encode` gives for them, built for these rows alone."""
        rows = np.asarray(rows, dtype=np.int64)
        codes, lengths = self.gather(rows)
        width = int(lengths.max(initial=0)) if width is None else width
        out = np.zeros((len(rows), width), dtype=np.int64)
        out[np.arange(width) < lengths[:, None]] = codes
        return out

    def ranks(self) -> np.ndarray:
        """Each name's rank among the distinct names in string order (0 for the first): what
        ``np.unique(names, return_inverse=True)[1]`` gives, without a string per name."""
        if self._ranks is None:
            self._ranks = _ranks(self)
        return self._ranks


def name_lengths(names: list[str]) -> np.ndarray:
    return np.fromiter(map(len, names), dtype=np.int64, count=len(names))


def flat_codes(names: list[str]) -> np.ndarray:
    """The alphabet indices of `names`, one after another (they must be inside the alphabet)."""
    codes = LOOKUP[np.frombuffer("".join(names).encode("ascii"), dtype=np.uint8)]
    if (codes < 0).any():
        raise ValueError("EncodedNames got a character outside the alphabet")
    return codes.astype(np.uint8)


def _key(names: EncodedNames, rows: np.ndarray, block: int) -> np.ndarray:
    """Characters ``8*block`` to ``8*block + 7`` of each name as ASCII bytes in a big-endian
    uint64, zero after the name's end: comparing keys compares the strings there, shorter first."""
    key = np.empty(len(rows), dtype=np.uint64)
    for i in range(0, len(rows), _ROWS):
        codes, lengths = names.gather(rows[i:i + _ROWS], 8 * block, 8)
        bytes_ = np.zeros((len(lengths), 8), dtype=np.uint8)
        bytes_[np.arange(8) < lengths[:, None]] = ASCII[codes]
        key[i:i + _ROWS] = bytes_.view(">u8").ravel()
    return key


def _ranks(names: EncodedNames) -> np.ndarray:
    """Sort by the first 8 characters, then re-sort only the groups still tied (and holding a
    longer name) by the next 8, and so on: each pass touches only the rows it has to."""
    n, lengths = len(names), names.lengths
    order = np.arange(n)
    group = np.zeros(n, dtype=np.int64)  # per sorted position: where its group of equal prefixes starts
    active, block = (np.arange(n) if n > 1 else np.empty(0, dtype=np.int64)), 0
    while active.size:
        rows = order[active]
        key = _key(names, rows, block)
        by = np.lexsort((key, group[active]))
        order[active], key, old = rows[by], key[by], group[active]
        new = np.r_[True, (old[1:] != old[:-1]) | (key[1:] != key[:-1])]
        group[active] = active[np.flatnonzero(new)][np.cumsum(new) - 1]
        block += 1
        active = active[_tied(group[active], lengths[order[active]] > 8 * block)]
    rank = np.empty(n, dtype=np.int64)
    if n:
        rank[order] = np.cumsum(np.r_[True, group[1:] != group[:-1]]) - 1
    return rank


def _tied(group: np.ndarray, longer: np.ndarray) -> np.ndarray:
    """Which of these sorted positions sit in a group of two or more that holds a longer name."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, len(group)])
    keep = (sizes > 1) & (np.add.reduceat(longer.astype(np.int64), starts) > 0)
    return np.repeat(keep, sizes)


def fingerprint(names: EncodedNames, labels: np.ndarray, label_names: list[str]) -> str:
    """`data.Corpus.fingerprint` from the arrays: SHA-256 of the rows ``label<TAB>name<LF>`` in
    string order, assembled a chunk of rows at a time. Sorting by label, then by name, is that
    order because no label holds a tab (`data._checked` refuses control characters in labels)."""
    prefixes = [f"{label}\t".encode() for label in label_names]
    label_rank = np.argsort(np.argsort(np.array(prefixes, dtype=object), kind="stable"), kind="stable")
    pool = np.frombuffer(b"".join(prefixes), dtype=np.uint8)
    prefix_len = np.array([len(p) for p in prefixes], dtype=np.int64)
    prefix_at = np.cumsum(prefix_len) - prefix_len
    order = np.lexsort((names.ranks(), label_rank[labels]))
    digest = hashlib.sha256()
    for i in range(0, len(order), _ROWS):
        rows = order[i:i + _ROWS]
        codes, lengths = names.gather(rows)
        lab = labels[rows]
        size = prefix_len[lab] + lengths + 1
        at = np.cumsum(size) - size
        out = np.full(int(size.sum()), ord("\n"), dtype=np.uint8)
        out[spans(at, prefix_len[lab])] = pool[spans(prefix_at[lab], prefix_len[lab])]
        out[spans(at + prefix_len[lab], lengths)] = ASCII[codes]
        digest.update(out)
    return digest.hexdigest()
