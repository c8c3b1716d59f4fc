"""Logits to probabilities, in one place: logit bias, temperature, softmax, and the labels a
name's script allows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..checkpoint.metadata import ModelMeta
from ..runtime.networks import softmax


def name_temperatures(names: Sequence[str], temperature: float,
                      one_word: float | None = None) -> float | np.ndarray:
    """Each name's softmax temperature, as a ``(rows, 1)`` array or one number for all.

    A model calibrated on full names and on family names alone (the world model) has a second
    temperature for names of one word: a family name alone says less than a full name, and the
    one temperature that fits both leaves the one-word answers overconfident.
    """
    if one_word is None or one_word == temperature:
        return temperature
    return np.array([temperature if " " in n else one_word for n in names], dtype=np.float32)[:, None]


def probabilities(logits: np.ndarray, temperature: float | np.ndarray = 1.0, bias: np.ndarray | None = None,
                  allowed: np.ndarray | None = None) -> np.ndarray:
    """``softmax((logits + bias) / temperature)``, with the labels a row may not have (``allowed``
    False, a boolean (rows, labels) mask) given probability 0 and the rest renormalised.
    `temperature` is one number or one per row (`name_temperatures`)."""
    logits = np.asarray(logits, dtype=np.float32)
    if bias is not None:
        logits = logits + bias
    logits = logits / np.asarray(temperature, dtype=np.float32)
    if allowed is not None:
        logits = np.where(allowed, logits, np.float32(-np.inf))
    return softmax(logits)


@dataclass(frozen=True, eq=False)
class Calibration:
    """What turns a model's logits into probabilities: ``(logits + logit_bias) / temperature``,
    names of one word divided by `one_word_temperature` where there is one. Read once from a
    checkpoint's metadata (`from_metadata`), one object serves prediction and every evaluation."""

    temperature: float = 1.0
    one_word_temperature: float | None = None
    logit_bias: np.ndarray | None = None

    @classmethod
    def from_metadata(cls, metadata: ModelMeta) -> "Calibration":
        one_word, bias = metadata.one_word_temperature, metadata.logit_bias
        return cls(float(metadata.temperature), None if one_word is None else float(one_word),
                   None if bias is None else np.asarray(bias, dtype=np.float32))

    def proba(self, logits: np.ndarray, names: Sequence[str], allowed: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities of the `names` the `logits` are of."""
        temperature = name_temperatures(names, self.temperature, self.one_word_temperature)
        return probabilities(logits, temperature, self.logit_bias, allowed)

    def uncalibrated(self, logits: np.ndarray) -> np.ndarray:
        """The probabilities before any temperature (the logit bias kept), to say what calibration did."""
        return probabilities(logits, 1.0, self.logit_bias)
