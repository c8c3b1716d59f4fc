"""The bag of hashed character n-grams (`models.ngrams`) in numpy: the same hash, bucket for
bucket, and the same mean of the bucket vectors."""

from __future__ import annotations

import numpy as np

from ..text.names import ALPHABET

# The hash's constants; `models.ngrams` hashes with these, and tests hold the two to the same buckets.
BASE = 61  # more than the 59 characters and the boundary mark, so a code names one n-gram
MIX = 2654435761  # Knuth's multiplicative hash: spreads neighbouring codes over the buckets
PRIME = 2147483647  # codes are reduced below it first, so the product stays inside int64
SPACE = ALPHABET.index(" ") + 1


def ngram_buckets(chars: np.ndarray, lengths: np.ndarray, n_buckets: int, max_order: int = 4,
                  words: bool = False) -> np.ndarray:
    """``(batch, positions)`` bucket ids of each name's 2- to `max_order`-grams, 0 where a
    position holds none; with `words` a space marks a word's ends as a name's are marked."""
    if max_order > 4:  # room for the longest n-gram even in a batch of one-letter names
        chars = np.pad(chars, ((0, 0), (0, max_order - 4)))
    batch, steps = chars.shape
    lengths = lengths.reshape(-1, 1)
    positions = np.arange(steps + 2).reshape(1, -1)
    marked = np.zeros((batch, steps + 2), dtype=np.int64)
    marked[:, 1:steps + 1] = chars + 1
    marked[positions > lengths] = 0
    if words:
        marked[marked == SPACE] = 0
    ids = []
    for n in range(2, max_order + 1):
        width = steps + 3 - n
        code = np.zeros((batch, width), dtype=np.int64)
        for k in range(n):
            code = code * BASE + marked[:, k:k + width]
        bucket = ((code % PRIME) * MIX + n) % (n_buckets - 1) + 1
        bucket[positions[:, :width] + n > lengths + 2] = 0
        ids.append(bucket)
    return np.concatenate(ids, axis=1)


def mean_vectors(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Each row's mean of the `table` vectors its bucket `ids` name, padding (0) not counted."""
    present = np.maximum((ids > 0).sum(axis=1, keepdims=True), 1).astype(table.dtype)
    return table[ids].sum(axis=1) / present
