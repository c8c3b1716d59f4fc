"""``nameorigin calibrate-sets``: add prediction-set scores and the label mix for priors to a
checkpoint trained without them.

It rebuilds the model's split from the data it was trained on (refusing other data, by
fingerprint) and computes them as training does (`answersets`).
"""

from __future__ import annotations

import os
from typing import Any

from .. import checkpoint
from ..checkpoint.metadata import ModelMeta
from ..data.corpus import load_corpus, split_corpus
from ..data.world import check_world_fingerprints, load_world
from ..errors import NameOriginError
from .answersets import answer_set_metadata, world_train_labels
from .train import Log, stderr_log


def _world_data(meta: ModelMeta, data: str | None, wiki: str | None, locales: str | None):
    config = meta.config
    world = load_world(config, data, wiki, locales, training=False)
    check_world_fingerprints(world, meta.extra.get("world", {}))
    relabelled = meta.extra.get("world", {}).get("relabelled", {}).get("by_label")
    return world.validation(), world_train_labels(world, config, relabelled), "world validation"


def _tutorial_data(meta: ModelMeta, data: str | None):
    corpus = load_corpus(data)
    if corpus.fingerprint != meta.corpus["fingerprint"]:
        raise NameOriginError(f"{corpus.source}: this is not the corpus the model was trained on (its fingerprint "
                              "differs), so its validation part cannot be rebuilt; pass --data with the training corpus")
    s = meta.split
    split = split_corpus(corpus, s["kind"], s["seed"], s["test_size"], s.get("val_size", 0.0))
    val = corpus.subset(split.val) if len(split.val) else None
    return val, corpus.labels[split.train], "tutorial validation"


def calibrate_sets(folder: str | os.PathLike, data: str | None = None, wiki: str | None = None,
                   locales: str | None = None, log: Log = stderr_log) -> dict[str, Any]:
    """Add (or recompute) a checkpoint folder's prediction-set scores and label mix for priors from
    the data it was trained on; the folder is replaced whole, as training writes it. Returns the
    new metadata."""
    model, meta = checkpoint.load(folder)
    if meta.config.corpus == "world":
        val, train_labels, source = _world_data(meta, data, wiki, locales)
    else:
        val, train_labels, source = _tutorial_data(meta, data)
    if val is None:
        log("no validation part (the model was trained with val_size 0): recording the training label mix "
            "only; prediction sets need held-out names, so retrain with --val-size for them")
    else:
        log(f"calibrating prediction sets on {len(val[0])} {source} names")
    added = answer_set_metadata(model, meta, val, train_labels, source)
    out = {**meta.to_dict(), **added}
    checkpoint.save(folder, model, out)
    return out
