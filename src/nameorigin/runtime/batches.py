"""Logits for many names at once: length-sorted batches, on one thread or several.

Batches of similar length waste no work on padding, and independent batches run side by side on
a pool of threads (numpy lets go of the interpreter inside each operation). BLAS runs on one
thread throughout: its products here are small, and its own threads, spinning on a core another
process holds, made a batch of 32 names 30 times slower on a shared machine (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from ..text.names import encode
from .networks import Network


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries, found once (a lookup costs 0.6 ms; a limit then costs 6 us)."""
    return ThreadpoolController()


def length_sorted_batches(lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    """Row indices in batches of similar length, each padded to at most `budget` characters, so
    one very long name costs its own batch instead of padding thousands of short ones."""
    order = np.argsort(lengths, kind="stable")
    longest = lengths[order]
    batches, start = [], 0
    while start < len(order):
        # the largest end with (end - start) * longest[end - 1] <= budget; at least one name
        low, high = start + 1, len(order)
        while low < high:
            mid = (low + high + 1) // 2
            if (mid - start) * longest[mid - 1] <= budget:
                low = mid
            else:
                high = mid - 1
        batches.append(order[start:low])
        start = low
    return batches


def network_logits(network: Network, names: list[str], budget: int = 1 << 12, threads: int = 1) -> np.ndarray:
    """Logits (names, labels) for prepared names (non-empty, inside the alphabet), in input order,
    fed to `network` in length-sorted batches of at most `budget` padded characters, on `threads`
    threads."""
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    batches = length_sorted_batches(lengths, budget)

    def run(rows: np.ndarray) -> np.ndarray:
        return network(*encode([names[i] for i in rows]))

    with _blas().limit(limits=1, user_api="blas"):
        if threads == 1 or len(batches) == 1:
            chunks = [run(rows) for rows in batches]
        else:
            with ThreadPoolExecutor(min(threads, len(batches))) as pool:
                chunks = list(pool.map(run, batches))
    out = np.empty((len(names), chunks[0].shape[1]), dtype=np.float32)
    out[np.concatenate(batches)] = np.concatenate(chunks)
    return out
