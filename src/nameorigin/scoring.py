"""Logits to probabilities, in one place: logit bias, temperature, softmax, and the labels a
name's script allows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def name_temperatures(names: Sequence[str], temperature: float,
                      one_word: float | None = None) -> float | torch.Tensor:
    """Each name's softmax temperature, as a ``(rows, 1)`` tensor or one number for all.

    A model calibrated on full names and on family names alone (the world model) has a second
    temperature for names of one word: a family name alone says less than a full name, and the
    one temperature that fits both leaves the one-word answers overconfident.
    """
    if one_word is None or one_word == temperature:
        return temperature
    return torch.tensor([temperature if " " in n else one_word for n in names], dtype=torch.float32).unsqueeze(1)


def probabilities(logits: torch.Tensor, temperature: float | torch.Tensor = 1.0, bias: torch.Tensor | None = None,
                  allowed: np.ndarray | None = None) -> np.ndarray:
    """``softmax((logits + bias) / temperature)``, with the labels a row may not have (``allowed``
    False, a boolean (rows, labels) mask) given probability 0 and the rest renormalised.
    `temperature` is one number or one per row (`name_temperatures`)."""
    if bias is not None:
        logits = logits + bias
    logits = logits / temperature
    if allowed is not None:
        logits = logits.masked_fill(~torch.from_numpy(allowed), float("-inf"))
    return torch.softmax(logits, dim=1).numpy()
