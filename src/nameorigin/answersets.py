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

from .config import Config
from .conformal import Conformal, Scores
from .groups import Grouping
from .priors import label_mix

MIN_SHARE = 1e-6


def answer_set_metadata(model: nn.Module, meta: Mapping[str, Any], val: tuple[list[str], np.ndarray] | None,
                        train_labels: np.ndarray, source: str) -> dict[str, Any]:
    """The ``label_prior`` of `model`'s training labels and, given validation names `val`, its
    ``conformal`` scores (label and group level) on them, as checkpoint metadata."""
    labels = list(meta["labels"])
    mix = np.maximum(label_mix(train_labels, len(labels)), MIN_SHARE)
    out: dict[str, Any] = {"label_prior": (mix / mix.sum()).round(8).tolist()}
    if val is None or not len(val[0]):
        return out
    from .predict import Classifier

    names, truth = val
    proba = Classifier(model, dict(meta)).predict_proba(names)
    grouping = Grouping.of(labels)
    conformal = Conformal(Scores.fit(proba, truth), Scores.fit(grouping.sum(proba), grouping.ids(truth)),
                          f"{source}: {len(names)} names")
    return {**out, "conformal": conformal.to_dict()}


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
