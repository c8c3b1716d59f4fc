"""Logits for many names at once: length-sorted batches through the fast kernels.

Training scores its validation names this way and prediction its inputs, so both live below
either of them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.encoded import encode
from ..device import use_fast_kernels
from ..models.fast import fast_model


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


@torch.no_grad()
def predict_logits(model: nn.Module, names: list[str], budget: int = 1 << 12) -> torch.Tensor:
    """Logits for prepared names (non-empty, inside the alphabet), in input order; the model is put
    in eval mode and fed length-sorted batches of at most `budget` padded characters.

    Batches run one after another on the calling thread; PyTorch parallelises inside each
    operation (docs/design.md says why not two batches at once).
    """
    model.eval()
    device = next(model.parameters()).device
    runner = fast_model(model) if use_fast_kernels(device) else model
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    batches = length_sorted_batches(lengths, budget)
    chunks = []
    for rows in batches:
        chars, lengths_ = encode([names[i] for i in rows])
        chunks.append(runner(chars.to(device), lengths_.to(device)).float().cpu())
    out = torch.empty(len(names), chunks[0].shape[1])
    out[torch.from_numpy(np.concatenate(batches))] = torch.cat(chunks)
    return out
