"""What `Classifier.predict` does to a model's probabilities beyond ranking them: a population
prior (`priors`), the coarse level (`groups`) and prediction sets (`conformal`), in that order.

The prior comes first because it changes which answers are likely; groups sum the probabilities
so changed; the sets are made last, at the level answered, from the scores calibrated at that
level. Numpy alone: prediction needs nothing of the training stack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import priors
from .conformal import Conformal, check_coverage, prediction_sets
from .errors import NameOriginError
from .groups import Grouping, check_level

HOW_TO_ADD = ("add it with: nameorigin calibrate-sets --model DIR --data CORPUS "
              "(and --wiki/--locales for a world model)")


@dataclass(frozen=True)
class AnswerOptions:
    """How to answer: ``level`` "label" or "group"; ``coverage`` in (0, 1) for prediction sets;
    ``prior`` a label mix (a mapping, or JSON text or a file path holding one) or "auto"."""

    level: str = "label"
    coverage: float | None = None
    prior: Any = None

    def checked(self) -> "AnswerOptions":
        check_level(self.level)
        if self.coverage is not None:
            check_coverage(self.coverage)
        return AnswerOptions(self.level, self.coverage, priors.prior_source(self.prior))

    @property
    def plain(self) -> bool:
        return self.level == "label" and self.coverage is None and self.prior is None


@dataclass
class Answers:
    """The probabilities to answer with, over ``labels``; each row's prediction set (label
    indices, best first) when a coverage was asked for; the prior's mix when one was applied."""

    labels: list[str]
    proba: np.ndarray
    sets: list[list[int]] | None = None
    mix: dict[str, float] | None = None


def conformal_of(metadata: Mapping) -> Conformal | None:
    data = getattr(metadata, "conformal", None)
    if data is None and not hasattr(metadata, "conformal") and metadata.get("conformal") is not None:
        data = Conformal.from_dict(metadata["conformal"])
    return data


def train_mix_of(metadata: Mapping) -> np.ndarray | None:
    mix = metadata.get("label_prior")
    return None if mix is None else np.asarray(mix, dtype=np.float64)


def apply_prior(proba: np.ndarray, labels: Sequence[str], metadata: Mapping,
                prior: Any) -> tuple[np.ndarray, dict[str, float]]:
    """`proba` moved to the mix `prior` names ("auto": the mix EM estimates from `proba` itself)."""
    train = train_mix_of(metadata)
    if train is None:
        raise NameOriginError(f"this model records no training label mix for a prior; {HOW_TO_ADD}")
    mix = priors.estimate(proba, train) if prior == priors.AUTO else priors.resolve(prior, labels, train)
    return priors.reweight(proba, mix, train), {label: float(m) for label, m in zip(labels, mix)}


def answer(proba: np.ndarray, labels: Sequence[str], metadata: Mapping, options: AnswerOptions) -> Answers:
    """The answers `options` ask for, from a model's calibrated probabilities over `labels`."""
    mix = None
    if options.prior is not None:
        proba, mix = apply_prior(proba, labels, metadata, options.prior)
    labels = list(labels)
    if options.level == "group":
        grouping = Grouping.of(labels)
        proba, labels = grouping.sum(proba), list(grouping.names)
    sets = None
    if options.coverage is not None:
        conformal = conformal_of(metadata)
        if conformal is None:
            raise NameOriginError(f"this model has no prediction-set calibration for coverage; {HOW_TO_ADD}")
        scores = conformal.group if options.level == "group" else conformal.label
        sets = prediction_sets(proba, scores.threshold(options.coverage))
    return Answers(labels, proba, sets, mix)
