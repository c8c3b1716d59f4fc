"""Training the `world` model on `data.world`'s corpora, and calibrating it per name length."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..checkpoint.metadata import ModelMeta
from ..config import Config
from ..data.world import WorldData, load_world
from ..models.tensors import module_logits
from ..models.ngrams import round_like_storage
from .answersets import answer_set_metadata, world_train_labels
from .calibration import ece_temperature
from .members import fit_members
from .train import Log, stderr_log


def calibrate(model: torch.nn.Module, val: tuple[list[str], np.ndarray], log: Log) -> tuple[float, float]:
    """Softmax temperatures fitted on validation for the lowest ECE (`calibration.ece_temperature`
    says why not likelihood alone): one for names of several words and one for names of one word
    (`scoring.name_temperatures` says why); either part missing, one for all."""
    names, labels = val
    logits, labels = module_logits(model, names), torch.as_tensor(labels)
    one = torch.tensor([" " not in n for n in names], dtype=torch.bool)
    if one.all() or not one.any():
        temperature = ece_temperature(logits, labels)
        log(f"calibrated on {len(names)} validation names: temperature {temperature:.3f}")
        return temperature, temperature
    several, single = ece_temperature(logits[~one], labels[~one]), ece_temperature(logits[one], labels[one])
    log(f"calibrated on {len(names)} validation names: temperature {several:.3f} for names of several "
        f"words, {single:.3f} for one word")
    return several, single


def train_world(config: Config, data: str | None, wiki: str | None, locales: str | None = None, *, device: str = "auto",
                progress: bool = True, log_every: int = 0, log: Log = stderr_log,
                run=None) -> tuple[torch.nn.Module, dict, WorldData]:
    """Train and calibrate the world model; returns the network, its checkpoint metadata so far
    (the test sets are scored by `evaluate.world_test_sets`) and the data."""
    world = load_world(config, data, wiki, locales, progress=progress)
    log(f"wiki: {world.wiki_split.describe()}; tutorial: {world.tutorial_split.describe()}")
    if world.relabelling is not None:
        r = world.relabelling
        log(f"relabelled {sum(r.changed.values())} Wikipedia training people (teacher threshold {r.threshold}, "
            f"precision {r.precision:.3f}): {dict(r.changed.most_common(12))}")
    val = world.validation()
    sampler = world.sampler(config.tutorial_repeat, config.surname_share, config.locale_repeat)
    if run is not None:
        sources = [world.people.fingerprint, world.tutorial.fingerprint, world.locales and world.locales.fingerprint]
        run = run.bound_to(hashlib.sha256(repr(sources).encode()).hexdigest())
    model, history = fit_members(config, sampler, val, n_labels=len(world.labels), device=device, progress=progress,
                                 log_every=log_every, log=log, options={} if run is None else run.fit_options())
    model = model.cpu()
    round_like_storage(model)
    temperature, one_word = calibrate(model, val, log) if config.calibrate else (1.0, None)
    meta = {
        "config": config.to_dict(), "labels": world.labels, "split": world.tutorial_split.describe(),
        "corpus": {"fingerprint": world.tutorial.fingerprint, "n_names": len(world.tutorial),
                   "n_skipped": len(world.tutorial.skipped)},
        "world": world.describe(), "temperature": temperature, "one_word_temperature": one_word,
        "logit_bias": None, "history": history.to_dict(),
    }
    meta.update(answer_set_metadata(model, ModelMeta.from_dict(meta, "the run's metadata"), val,
                                    world_train_labels(world, config), "world validation"))
    return model, meta, world
