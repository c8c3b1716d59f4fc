"""Logits to probabilities, in one place: logit bias, temperature, softmax, and the labels a
name's script allows."""

from __future__ import annotations

import numpy as np
import torch


def probabilities(logits: torch.Tensor, temperature: float = 1.0, bias: torch.Tensor | None = None,
                  allowed: np.ndarray | None = None) -> np.ndarray:
    """``softmax((logits + bias) / temperature)``, with the labels a row may not have (``allowed``
    False, a boolean (rows, labels) mask) given probability 0 and the rest renormalised."""
    if bias is not None:
        logits = logits + bias
    logits = logits / temperature
    if allowed is not None:
        logits = logits.masked_fill(~torch.from_numpy(allowed), float("-inf"))
    return torch.softmax(logits, dim=1).numpy()
