"""What prediction sets and population priors need from training, as checkpoint metadata.

Training computes it at the end, beside temperature calibration, on the names the model was
calibrated on: the tutorial corpus's validation part, or for a world model Wikipedia's validation
people (full names and family names alone) and the locale lists' validation parts. The
probabilities are the ones `predict` answers with (through a `Classifier`), so the sets promise
what they measure. ``nameorigin calibrate-sets`` does the same for a checkpoint trained before
(`setcalibration`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from torch import nn

from ..checkpoint.metadata import ModelMeta
from ..config import Config
from ..conformal import Conformal, Scores, name_uniforms
from ..inference.classifier import Classifier
from ..inference.groups import Grouping
from ..inference.priors import label_mix
from ..models.tensors import as_runtime

MIN_SHARE = 1e-6
# Fewer calibration names than this of one kind (one word, several) and the kinds share one set
# of scores: a threshold from a few hundred names would be too coarse to be worth its own.
MIN_KIND = 500


def answer_set_metadata(model: nn.Module, meta: ModelMeta, val: tuple[list[str], np.ndarray] | None,
                        train_labels: np.ndarray, source: str) -> dict[str, Any]:
    """Given validation names `val`, `model`'s ``conformal`` scores on them (label and group
    level), and the ``label_prior`` its answers carry: the mean of its probabilities there.

    That mix, not the count of training labels, is what Bayes' rule and EM must start from: class
    weights and logit adjustment make a model answer as if the mix were flatter than it was, and
    EM started from the counted mix walks away from the truth even on names like the training
    ones. Without `val`, the count of `train_labels` stands in. With enough names of one word and
    of several, each kind gets its own scores and mix (``one_word_label_prior``), as it has its own
    temperature."""
    labels = list(meta.labels)
    if val is None or not len(val[0]):
        return {"label_prior": _shares(label_mix(train_labels, len(labels)))}
    names, truth = val
    proba = Classifier(as_runtime(model), meta).predict_proba(names)
    one = np.asarray([" " not in n for n in names])
    split = min(one.sum(), (~one).sum()) >= MIN_KIND
    several = ~one if split else np.ones(len(names), dtype=bool)
    grouping = Grouping.of(labels)

    draws = name_uniforms(names)

    def fit(rows: np.ndarray, u: np.ndarray | None = None) -> tuple[Scores, Scores]:
        u = None if u is None else u[rows]
        return (Scores.fit(proba[rows], truth[rows], u),
                Scores.fit(grouping.sum(proba[rows]), grouping.ids(truth[rows]), u))

    about = f"{source}: {len(names)} names"
    exact = Conformal(*fit(several, draws), about, fit(one, draws) if split else None, randomized=True)
    conformal = Conformal(*fit(several), about, fit(one) if split else None, exact=exact)
    out = {"conformal": conformal.to_dict(), "label_prior": _shares(np.nanmean(proba[several], axis=0))}
    if split:
        out["one_word_label_prior"] = _shares(np.nanmean(proba[one], axis=0))
    return out


def _shares(mix: np.ndarray) -> list[float]:
    mix = np.maximum(mix, MIN_SHARE)
    return (mix / mix.sum()).round(8).tolist()


def world_train_labels(world, config: Config, relabelled: Mapping[str, int] | None = None) -> np.ndarray:
    """The labels of one world training epoch (`world.WorldData.sampler`'s mix). `relabelled`
    ("A -> B": count, as a checkpoint records it) moves training people between labels, for a
    world rebuilt without relabelling it."""
    labels = [world.wiki_train_labels, np.tile(world.tutorial_train()[1], config.tutorial_repeat)]
    if config.locale_repeat and world.locales is not None:
        labels.append(world.locale_epoch(config.locale_repeat, np.random.default_rng(config.seed))[1])
    out = np.concatenate(labels)
    for change, n in (relabelled or {}).items():
        old, new = (world.labels.index(x.strip()) for x in change.split("->"))
        rows = np.flatnonzero(out == old)[:n]
        out[rows] = new
    return out
