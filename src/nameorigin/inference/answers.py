"""What `Classifier.predict` does to a model's probabilities beyond ranking them: a population
prior (`priors`), the coarse level (`groups`) and prediction sets (`conformal`), in that order.

The prior comes first because it changes which answers are likely; groups sum the probabilities
so changed; the sets are made last, at the level answered, from the scores calibrated at that
level. Numpy alone: prediction needs nothing of the training stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checkpoint.metadata import ModelMeta
from ..conformal import check_coverage, name_uniforms, prediction_sets
from ..errors import NameOriginError
from . import priors
from .groups import Grouping, check_level

HOW_TO_ADD = ("add it with: nameorigin calibrate-sets --model DIR --data CORPUS "
              "(and --wiki/--locales for a world model)")


@dataclass(frozen=True)
class AnswerOptions:
    """How to answer: ``level`` "label" or "group"; ``coverage`` in (0, 1) for prediction sets,
    ``randomized`` for sets whose coverage is the level itself (`nameorigin.conformal`); ``prior`` a
    label mix (a mapping, or JSON text or a file path holding one) or "auto"."""

    level: str = "label"
    coverage: float | None = None
    prior: Any = None
    randomized: bool = False

    def checked(self) -> "AnswerOptions":
        check_level(self.level)
        if self.coverage is not None:
            check_coverage(self.coverage)
        if not isinstance(self.randomized, bool):
            raise ValueError(f"randomized must be true or false, not {self.randomized!r}")
        if self.randomized and self.coverage is None:
            raise ValueError("randomized sets need a coverage")
        return AnswerOptions(self.level, self.coverage, priors.prior_source(self.prior), self.randomized)

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


def train_mix_of(metadata: ModelMeta, one_word: np.ndarray | None = None) -> np.ndarray | None:
    """The label mix the model's answers carry: one row, or with `one_word` (which names are of one
    word) one row per name, names of one word taking ``one_word_label_prior`` where there is one."""
    mix, single = metadata.label_prior, metadata.one_word_label_prior
    if mix is None:
        return None
    mix = np.asarray(mix, dtype=np.float64)
    if single is None or one_word is None:
        return mix
    return np.where(np.asarray(one_word)[:, None], np.asarray(single, dtype=np.float64), mix)


def apply_prior(proba: np.ndarray, labels: Sequence[str], metadata: ModelMeta, prior: Any,
                one_word: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """`proba` moved to the mix `prior` names ("auto": the mix EM estimates from `proba` itself)."""
    train = train_mix_of(metadata, one_word)
    if train is None:
        raise NameOriginError(f"this model records no label mix to apply a prior against; {HOW_TO_ADD}")
    if prior == priors.AUTO:
        mix = priors.estimate(proba, train)
    else:
        mix = priors.resolve(prior, labels, train_mix_of(metadata))
    return priors.reweight(proba, mix, train), {label: float(m) for label, m in zip(labels, mix)}


def answer(proba: np.ndarray, labels: Sequence[str], metadata: ModelMeta, options: AnswerOptions,
           one_word: np.ndarray | None = None, texts: Sequence[str] = ()) -> Answers:
    """The answers `options` ask for, from a model's calibrated probabilities over `labels`;
    `one_word` says which names are of one word (default: none); `texts`, the names as read, fix
    randomized sets' draws."""
    one_word = np.zeros(len(proba), dtype=bool) if one_word is None else np.asarray(one_word, dtype=bool)
    mix = None
    if options.prior is not None:
        proba, mix = apply_prior(proba, labels, metadata, options.prior, one_word)
    labels = list(labels)
    if options.level == "group":
        grouping = Grouping.of(labels)
        proba, labels = grouping.sum(proba), list(grouping.names)
    sets = None
    if options.coverage is not None:
        conformal = metadata.conformal
        if conformal is None:
            raise NameOriginError(f"this model has no prediction-set calibration for coverage; {HOW_TO_ADD}")
        if options.randomized:
            if conformal.exact is None:
                raise NameOriginError(f"this model has no calibration for randomized sets; {HOW_TO_ADD}")
            if len(texts) != len(proba):
                raise ValueError("randomized sets need the names' texts, one per row")
            conformal, u = conformal.exact, name_uniforms(texts)
        else:
            u = None
        sets = prediction_sets(proba, conformal.thresholds(options.coverage, options.level, one_word), u)
    return Answers(labels, proba, sets, mix)
