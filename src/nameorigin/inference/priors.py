"""Population priors: answers for a population whose label mix is not the training data's.

A model's probabilities carry the label mix it was trained on: a name that could be Spanish or
Italian leans to whichever was commoner in training. A user scoring one population (a Brazilian
customer file) knows better, and Bayes' rule moves the answers to that mix without retraining:
``p'(y|x) ∝ p(y|x) prior(y) / train(y)``, ``train`` being the label mix the model's answers
carry, which the checkpoint records (``label_prior``: their mean on the validation names, by kind
of name; `answersets` says why not the count of training labels).

A prior is a JSON object of label to share. Shares are at least 0; labels left out share what the
named ones leave (up to 1) in their recorded proportions; when every label is named, the shares
are scaled to sum to 1. ``auto`` estimates the mix of a list of names from the model's own
answers by expectation-maximisation (Saerens, Latinne and Decaestecker 2002, "Adjusting the
outputs of a classifier to new a priori probabilities"): re-weight, average, repeat. That estimate
is better than counting the model's answers, which pulls every mix toward the training one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NameOriginError
from ..jsontext import JSONError, parse_json

AUTO = "auto"
MAX_PRIOR_BYTES = 1 << 20


class PriorError(NameOriginError, ValueError):
    """A prior that cannot be used; the message says why in one line."""


def read_prior(text: str, files: bool = True) -> dict[str, float] | str:
    """A prior given as text: ``auto``, a JSON object, or (with `files`) the path of a file holding one."""
    text = text.strip()
    if text == AUTO:
        return AUTO
    if not text.startswith("{") and not files:
        raise PriorError("the prior must be 'auto' or a JSON object of label to share, e.g. {\"Spanish\": 0.5}")
    if not text.startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise PriorError(f"--prior {text[:60]!r}: neither 'auto', a JSON object, nor a file")
        if path.stat().st_size > MAX_PRIOR_BYTES:
            raise PriorError(f"{text}: too large for a prior")
        text = path.read_text(encoding="utf-8", errors="replace")
    try:
        value = parse_json(text, finite=True)
    except JSONError as err:
        raise PriorError(f"the prior is {err}") from None
    if not isinstance(value, dict):
        raise PriorError("the prior must be a JSON object of label to share, e.g. {\"Spanish\": 0.5}")
    return value


def resolve(prior: Mapping[str, Any], labels: Sequence[str], train: np.ndarray) -> np.ndarray:
    """The full label mix a prior object means, as an array over `labels` summing to 1."""
    if not isinstance(prior, Mapping) or not prior:
        raise PriorError("the prior must be a non-empty object of label to share")
    unknown = [k for k in prior if k not in labels]
    if unknown:
        raise PriorError(f"the prior names {unknown[0]!r}, not a label of this model ({', '.join(labels)})")
    for key, value in prior.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise PriorError(f"the prior's share for {key!r} must be a number of at least 0, not {value!r}")
    named = np.asarray([label in prior for label in labels])
    mix = np.asarray([float(prior.get(label, 0.0)) for label in labels])
    if named.all():
        if mix.sum() <= 0:
            raise PriorError("the prior's shares must not all be 0")
        return mix / mix.sum()
    if mix.sum() > 1 + 1e-6:
        raise PriorError(f"the prior's shares sum to {mix.sum():.4g}; with labels left out they must sum to at most 1")
    rest = np.where(named, 0.0, train)
    mix = mix + (1 - mix.sum()) * rest / rest.sum()
    return mix / mix.sum()


def reweight(proba: np.ndarray, prior: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Bayes' rule: `proba` (made under the `train` mix: one row, or one per row of `proba`) moved
    to the `prior` mix. A row the prior leaves nothing of (every label it could have at share 0)
    stays as it was."""
    ratio = np.asarray(prior, dtype=np.float64) / np.maximum(np.asarray(train, dtype=np.float64), 1e-12)
    moved = proba.astype(np.float64) * ratio
    total = moved.sum(axis=1, keepdims=True)
    out = np.where(total > 0, moved / np.where(total > 0, total, 1), proba)
    return out.astype(proba.dtype)


def estimate(proba: np.ndarray, train: np.ndarray, max_iter: int = 1000, tol: float = 1e-7) -> np.ndarray:
    """The label mix of the names `proba` is of, by EM (Saerens et al. 2002), starting from the
    `train` mix (one row, or one per row of `proba`); NaN rows are skipped."""
    ok = ~np.isnan(proba).any(axis=1)
    train = np.asarray(train, dtype=np.float64)
    train = train[ok] if train.ndim == 2 else train
    proba = proba[ok].astype(np.float64)
    if len(proba) == 0:
        return train.mean(axis=0) if train.ndim == 2 else train.copy()
    mix = train.mean(axis=0) if train.ndim == 2 else train.copy()
    for _ in range(max_iter):
        new = reweight(proba, mix, train).mean(axis=0)
        done = np.abs(new - mix).sum() < tol
        mix = new
        if done:
            break
    return mix


def label_mix(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """The share of each label id in `labels`."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_labels).astype(np.float64)
    return counts / counts.sum()


def prior_source(prior: Any) -> Any:
    """A prior as the Python API takes it: a mapping, ``"auto"``, a JSON string or a file path."""
    if isinstance(prior, (str, os.PathLike)):
        return read_prior(os.fspath(prior))
    return prior
