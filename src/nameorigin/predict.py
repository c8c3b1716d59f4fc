"""Predictions for raw names, with probabilities and an explicit abstention when a name can't be read.

`Classifier` wraps a trained network in the scikit-learn shape: ``labels``, ``predict`` and
``predict_proba``. Batching, padding and normalization happen inside.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import checkpoint
from .data import OUTSIDE_ALPHABET, encode, normalize
from .inference import fast_model


def _one_thread_after_fork() -> None:
    """PyTorch's OpenMP threads do not survive fork(): a child of a process that has predicted
    would hang on its first prediction (multiprocessing's default on Linux). One thread per child
    runs inline; the worker processes are the parallelism."""
    torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_one_thread_after_fork)


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
    operation. Two batches at once on two threads was tried: no faster for large inputs, and it
    leaves more OpenMP threads than cores, after which every later small call in the process ran
    2-3 times slower (libgomp stops spinning between operations when oversubscribed).
    """
    model.eval()
    device = next(model.parameters()).device
    runner = fast_model(model)
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    batches = length_sorted_batches(lengths, budget)
    chunks = []
    for rows in batches:
        chars, lengths_ = encode([names[i] for i in rows])
        chunks.append(runner(chars.to(device), lengths_.to(device)).float().cpu())
    out = torch.empty(len(names), chunks[0].shape[1])
    out[torch.from_numpy(np.concatenate(batches))] = torch.cat(chunks)
    return out


_SPACES = re.compile(r"\s+")


# Surnames in the corpus have at most 20 characters. Past this a text is not a name, and scoring it
# costs memory in proportion (2.5 KB a character for the bundled model): a line of binary junk
# with no newline would otherwise take all of it.
MAX_NAME_LENGTH = 1000


def prepare(name: str) -> tuple[str, str | None]:
    """The form of `name` the model reads, and why it cannot be scored (None if it can).

    Names are transliterated to ASCII; symbols outside the alphabet (digits, emoji, ...) are
    dropped rather than failing the whole name. A name left with no Latin letter is not guessed at,
    nor is one longer than `MAX_NAME_LENGTH` characters.
    """
    if not isinstance(name, str):
        return "", "not a string"
    text = normalize(name)
    if not (text.isalpha() and text.isascii()):  # most names are letters only, with nothing to clean
        text = _SPACES.sub(" ", OUTSIDE_ALPHABET.sub("", text)).strip()
        if not name.strip():
            return text, "empty name"
        if not any(c.isalpha() for c in text):
            return text, "no Latin letters after transliteration"
    if len(text) > MAX_NAME_LENGTH:  # its normalized form is not echoed back either
        return "", f"longer than {MAX_NAME_LENGTH} characters"
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
    model_revision: str

    def to_dict(self) -> dict:
        return asdict(self)


class Classifier:
    """A trained name-origin model; build it with `load_model` or `Classifier.from_checkpoint`."""

    def __init__(self, model: nn.Module, metadata: dict, revision: str = "", budget: int = 1 << 12):
        self.model = model.eval()
        self.metadata = metadata
        self.labels: list[str] = list(metadata["labels"])
        self.revision = revision
        self.temperature = float(metadata.get("temperature", 1.0))
        bias = metadata.get("logit_bias")
        self.logit_bias = None if bias is None else torch.tensor(bias, dtype=torch.float32)
        self.budget = budget

    @classmethod
    def from_checkpoint(cls, folder: str | os.PathLike) -> "Classifier":
        model, meta = checkpoint.load(folder)
        return cls(model, meta, checkpoint.revision(folder))

    def _proba(self, names: list[str]) -> np.ndarray:
        """Calibrated class probabilities for prepared names."""
        logits = predict_logits(self.model, names, self.budget)
        if self.logit_bias is not None:
            logits = logits + self.logit_bias
        return torch.softmax(logits / self.temperature, dim=1).numpy()

    @staticmethod
    def _as_list(names: Iterable[str]) -> list:
        """Any iterable of names as a list read by position: a pandas Series indexes by label, so
        ``names[i]`` on a filtered one found another row's name, or none."""
        if isinstance(names, (str, bytes)):
            raise TypeError("pass a list of names; wrap a single name in a list")
        return names if type(names) is list else list(names)

    def _score(self, names: list) -> tuple[list[tuple[str, str | None]], np.ndarray]:
        """Prepared forms and probabilities, one row per name. Each distinct name is prepared and
        scored once: real name lists repeat themselves (a few thousand surnames cover most people)."""
        slots: dict = {}
        inverse = np.fromiter((slots.setdefault(n if type(n) is str else (None, i), len(slots))
                               for i, n in enumerate(names)), dtype=np.int64, count=len(names))
        distinct = [key if type(key) is str else names[key[1]] for key in slots]
        prepared = [prepare(n) for n in distinct]
        ok = [i for i, (_, why) in enumerate(prepared) if why is None]
        proba = np.full((len(distinct), len(self.labels)), np.nan, dtype=np.float32)
        if ok:
            proba[ok] = self._proba([prepared[i][0] for i in ok])
        return [prepared[i] for i in inverse], proba[inverse]

    def predict_proba(self, names: Iterable[str]) -> np.ndarray:
        """(n_names, n_labels) probabilities; rows of names that can't be scored are NaN."""
        return self._score(self._as_list(names))[1]

    def predict(self, names: Iterable[str], top_k: int = 3, min_confidence: float = 0.0) -> list[Prediction]:
        """The top-k labels with probabilities for each name, or an abstention with its reason.

        A name is abstained on when nothing readable is left of it, or when its top probability
        is below `min_confidence` (0 to 1); in the latter case its top-k are still reported.
        A `top_k` above the number of labels gives them all.
        """
        if not (isinstance(top_k, (int, np.integer)) and top_k >= 1):
            raise ValueError(f"top_k must be an integer of at least 1, not {top_k!r}")
        if not 0 <= min_confidence <= 1:
            raise ValueError(f"min_confidence must be from 0 to 1, not {min_confidence!r}")
        top_k = min(int(top_k), len(self.labels))
        names = self._as_list(names)
        prepared, proba = self._score(names)
        results = []
        for name, (text, why), row in zip(names, prepared, proba):
            if why is not None:
                results.append(Prediction(str(name), text, None, None, [], True, why, self.revision))
                continue
            best = np.argsort(-row, kind="stable")[:top_k]
            top = [{"label": self.labels[i], "probability": float(row[i])} for i in best]
            confidence = top[0]["probability"]
            if confidence < min_confidence:
                why = f"top probability {confidence:.3f} is below the minimum confidence {min_confidence:g}"
            results.append(Prediction(name, text, None if why else top[0]["label"], confidence, top,
                                      why is not None, why, self.revision))
        return results

    def predict_frame(self, frame, column: str = "name", top_k: int = 3, min_confidence: float = 0.0):
        """A copy of a pandas DataFrame with the prediction columns added: ``predicted_label``,
        ``probability``, ``abstained``, ``reason``, ``normalized``. If the frame already has one
        of those names, all of them are prefixed with ``predicted_``, as in file mode, so none of
        the caller's columns is overwritten. (Pandas is optional: only this method needs it.)"""
        if column not in frame.columns:
            raise KeyError(f"no column {column!r}; the frame has {list(frame.columns)}")
        fields = ("label", "probability", "abstained", "reason", "normalized")
        names = {field: "predicted_label" if field == "label" else field for field in fields}
        if set(names.values()) & set(frame.columns):
            names = {field: f"predicted_{field}" for field in fields}
            clash = [c for c in frame.columns if c in names.values()]
            if clash:
                raise ValueError(f"column {clash[0]!r} is also a result column; rename it")
        results = self.predict(frame[column].tolist(), top_k=top_k, min_confidence=min_confidence)
        out = frame.copy()
        for field, name in names.items():
            out[name] = [getattr(r, field) for r in results]
        return out


PRETRAINED = Path(__file__).with_name("pretrained")


def default_model_path() -> Path:
    """The checkpoint shipped inside the package (see MODEL_CARD.md)."""
    return PRETRAINED / "default"


def load_model(path: str | os.PathLike | None = None, backend: str = "torch") -> Classifier:
    """Load a checkpoint folder as a `Classifier`; without a path, the bundled default model.

    ``backend="onnx"`` runs the same network in onnxruntime (exported in memory; a ``.onnx``
    file written by ``nameorigin export`` is accepted too), for deployments built on onnxruntime.
    """
    path = Path(path) if path is not None else default_model_path()
    if backend == "onnx":
        from .export import load_onnx_classifier

        return load_onnx_classifier(path)
    if backend != "torch":
        raise ValueError(f"unknown backend {backend!r}; choose 'torch' or 'onnx'")
    return Classifier.from_checkpoint(path)
