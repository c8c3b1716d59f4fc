"""Predictions for raw names, with probabilities and an explicit abstention when a name can't be read.

`Classifier` wraps a trained network in the scikit-learn shape: ``labels``, ``predict`` and
``predict_proba``. Batching, padding and normalization happen inside.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import checkpoint
from .data import ALPHABET, encode, normalize

_OUTSIDE_ALPHABET = re.compile("[^" + re.escape(ALPHABET) + "]")
_SPACES = re.compile(r"\s+")


def prepare(name: str) -> tuple[str, str | None]:
    """The form of `name` the model reads, and why it cannot be scored (None if it can).

    Names are transliterated to ASCII; symbols outside the alphabet (digits, emoji, ...) are
    dropped rather than failing the whole name. A name left with no Latin letter is not guessed at.
    """
    if not isinstance(name, str):
        return "", "not a string"
    text = _SPACES.sub(" ", _OUTSIDE_ALPHABET.sub("", normalize(name))).strip()
    if not name.strip():
        return text, "empty name"
    if not any(c.isalpha() for c in text):
        return text, "no Latin letters after transliteration"
    return text, None


@dataclass
class Prediction:
    """One name's answer. ``label`` is None exactly when ``abstained`` is True, with a ``reason``."""

    name: str
    normalized: str
    label: str | None
    probability: float | None
    predictions: list[dict]
    abstained: bool
    reason: str | None

    def to_dict(self) -> dict:
        return asdict(self)


class Classifier:
    """A trained name-origin model; build it with `load_model` or `Classifier.from_checkpoint`."""

    def __init__(self, model: nn.Module, metadata: dict, revision: str = "", batch_size: int = 4096):
        self.model = model.eval()
        self.metadata = metadata
        self.labels: list[str] = list(metadata["labels"])
        self.revision = revision
        self.batch_size = batch_size

    @classmethod
    def from_checkpoint(cls, folder: str | os.PathLike) -> "Classifier":
        model, meta = checkpoint.load(folder)
        return cls(model, meta, checkpoint.revision(folder))

    @torch.inference_mode()
    def _proba(self, names: list[str]) -> np.ndarray:
        """Class probabilities for names already prepared (non-empty, inside the alphabet)."""
        out = np.empty((len(names), len(self.labels)), dtype=np.float32)
        order = np.argsort([len(n) for n in names], kind="stable")
        for start in range(0, len(names), self.batch_size):
            rows = order[start:start + self.batch_size]
            chars, lengths = encode([names[i] for i in rows])
            out[rows] = torch.softmax(self.model(chars, lengths).float(), dim=1).numpy()
        return out

    def _score(self, names: list[str]) -> tuple[list[tuple[str, str | None]], np.ndarray]:
        if isinstance(names, str):
            raise TypeError("pass a list of names; wrap a single name in a list")
        prepared = [prepare(n) for n in names]
        ok = [i for i, (_, why) in enumerate(prepared) if why is None]
        proba = np.full((len(names), len(self.labels)), np.nan, dtype=np.float32)
        if ok:
            proba[ok] = self._proba([prepared[i][0] for i in ok])
        return prepared, proba

    def predict_proba(self, names: list[str]) -> np.ndarray:
        """(n_names, n_labels) probabilities; rows of names that can't be scored are NaN."""
        return self._score(names)[1]

    def predict(self, names: list[str], top_k: int = 3) -> list[Prediction]:
        """The top-k labels with probabilities for each name, or an abstention with its reason."""
        top_k = max(1, min(top_k, len(self.labels)))
        prepared, proba = self._score(names)
        results = []
        for name, (text, why), row in zip(names, prepared, proba):
            if why is not None:
                results.append(Prediction(str(name), text, None, None, [], True, why))
                continue
            best = np.argsort(-row, kind="stable")[:top_k]
            top = [{"label": self.labels[i], "probability": float(row[i])} for i in best]
            results.append(Prediction(name, text, top[0]["label"], top[0]["probability"], top, False, None))
        return results


def load_model(path: str | os.PathLike) -> Classifier:
    """Load a checkpoint folder as a `Classifier`."""
    return Classifier.from_checkpoint(Path(path))
