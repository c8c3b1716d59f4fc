"""A whole `nameorigin train` run: corpus in, checkpoint out.

The tutorial recipe splits the corpus, trains (each ensemble member with its own seed), tunes and
calibrates on validation and scores the test split once; the world recipe is in `world`. Both
keep a training state beside ``--out`` while they train (`trainstate`), so that a run stopped by
a signal continues with ``nameorigin train --resume OUT``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import checkpoint
from ..checkpoint.metadata import ModelMeta
from ..config import Config
from ..data.corpus import Corpus, Split, load_corpus, split_corpus
from ..data.localedata import LOCALES_ENV
from ..device import pick_device
from ..errors import NameOriginError
from ..evaluation.evaluate import world_test_sets
from ..evaluation.metrics import expected_calibration_error, headline, macro_f1
from ..models.tensors import module_logits
from ..inference.scoring import Calibration
from ..models.ngrams import round_like_storage
from . import distributed, trainstate
from .answersets import answer_set_metadata
from .calibration import fit_temperature
from .members import fit_members
from .train import History, Log, stderr_log
from .world import train_world

# Where a run's metadata comes from, in a message about it.
RUN = "the run's metadata"


@dataclass
class TrainResult:
    model: nn.Module
    config: Config
    split: Split
    history: History
    temperature: float = 1.0
    logit_bias: list[float] | None = None


@dataclass(frozen=True)
class RunOptions:
    """How a run trains beside its config: where it keeps its state, whether it continues from
    it, what it was started with (kept in the state), and the forward pass's precision."""

    state: Path | None = None
    resume: bool = False
    save_every: int = 0
    meta: dict | None = None
    precision: str = "fp32"

    def bound_to(self, fingerprint: str) -> "RunOptions":
        """These options with the training data's fingerprint kept in the state, so that a resumed
        run refuses data changed in between (its splits would be redrawn)."""
        return replace(self, meta={**(self.meta or {}), "fingerprint": fingerprint})

    @property
    def hint(self) -> str:
        out = "" if self.state is None else str(self.state)[: -len(".resume")]
        return f"Continue with: nameorigin train --resume {out}"

    def fit_options(self) -> dict:
        return {"state": self.state, "resume": self.resume, "save_every": self.save_every,
                "resume_hint": self.hint, "run_meta": self.meta, "precision": self.precision}


def checked(config: Config) -> Config:
    """`Config.validate` for library callers: a config no run could train is a `NameOriginError`."""
    try:
        return config.validate()
    except ValueError as err:
        raise NameOriginError(str(err)) from None


def tune_logit_bias(logits: torch.Tensor, labels: np.ndarray, prior: np.ndarray) -> tuple[float, np.ndarray]:
    """Post-hoc logit adjustment: add -t*log(prior) to the logits, with t on a grid chosen for the
    best macro-F1 on held-out names (t=0 keeps the model's own decisions; ties prefer small |t|)."""
    n_labels = len(prior)
    log_prior = np.log(np.maximum(prior, 1e-12))
    best_t, best_score = 0.0, macro_f1(labels, logits.argmax(1).numpy(), n_labels)
    for t in sorted(np.round(np.arange(-0.5, 1.51, 0.1), 2), key=abs):
        score = macro_f1(labels, (logits.numpy() - t * log_prior).argmax(1), n_labels)
        if score > best_score + 1e-9:
            best_t, best_score = float(t), score
    return best_t, (-best_t * log_prior).astype(np.float32)


def train(config: Config, corpus: Corpus, *, device: str = "auto", progress: bool = True,
          log_every: int = 0, log: Log = stderr_log, run: RunOptions = RunOptions()) -> TrainResult:
    """Split `corpus` as `config` says, build the model, fit it on the training part and, if
    asked, tune and calibrate it on the validation part."""
    checked(config)
    split = split_corpus(corpus, config.split, config.seed, config.test_size, config.val_size)
    n_labels = len(corpus.label_names)
    train_part = corpus.subset(split.train, encoded=True)  # a CSV corpus's stays arrays; val/test: strings
    val = corpus.subset(split.val) if len(split.val) else None
    run = run.bound_to(corpus.fingerprint)
    model, history = fit_members(config, train_part, val, n_labels=n_labels, device=device, progress=progress,
                                 log_every=log_every, log=log, options=run.fit_options())
    round_like_storage(model)
    temperature, bias = 1.0, None
    if val is not None and (config.tune_bias or config.calibrate):
        logits = module_logits(model, val[0])
        if config.tune_bias:
            prior = np.bincount(train_part[1], minlength=n_labels) / len(train_part[1])
            t, bias = tune_logit_bias(logits, val[1], prior)
            logits = logits + torch.from_numpy(bias)
            log(f"logit adjustment on {len(val[0])} validation names: t = {t:g}")
        if config.calibrate:
            temperature = fit_temperature(logits, torch.as_tensor(val[1]))
            log(f"calibrated on {len(val[0])} validation names: temperature {temperature:.3f}")
    return TrainResult(model.cpu(), config, split, history, temperature, None if bias is None else bias.tolist())


def tutorial_metadata(corpus: Corpus, result: TrainResult, score_test: bool = True) -> dict:
    """The checkpoint metadata of a tutorial-corpus run, with its test split scored once (or,
    without `score_test`, not at all)."""
    meta = {
        "config": result.config.to_dict(), "labels": corpus.label_names, "split": result.split.describe(),
        "corpus": {"fingerprint": corpus.fingerprint, "n_names": len(corpus), "n_skipped": len(corpus.skipped)},
        "temperature": result.temperature, "logit_bias": result.logit_bias, "history": result.history.to_dict(),
    }
    val = corpus.subset(result.split.val) if len(result.split.val) else None
    meta.update(answer_set_metadata(result.model, ModelMeta.from_dict(meta, RUN), val, corpus.labels[result.split.train],
                                    "tutorial validation"))
    if not score_test:
        return meta
    test_names, test_labels = corpus.subset(result.split.test)
    logits = module_logits(result.model, test_names)
    calibration = Calibration.from_metadata(ModelMeta.from_dict(meta, RUN))
    scores = headline(test_labels, calibration.proba(logits, test_names))
    scores["ece_uncalibrated"] = expected_calibration_error(calibration.uncalibrated(logits), test_labels)
    return {**meta, "metrics": scores}


def train_and_save(config: Config, out: str, *, data: str | None = None, wiki: str | None = None,
                   locales: str | None = None, device: str = "auto", progress: bool = True, log_every: int = 0, log: Log = stderr_log,
                   save_every: int = 0, resume: bool = False, precision: str = "fp32",
                   score_test: bool = True) -> dict:
    """The whole `nameorigin train` run: load the corpus, train, score the test split once, and
    write the checkpoint. Returns the checkpoint's metadata (under torchrun, only the first
    process scores and writes; the others return an empty dict). Without `score_test` the test
    split is left unscored, for candidate runs compared on validation: `evaluate` scores the one
    chosen."""
    checked(config)
    checkpoint.check_replaceable(out)
    try:
        return _train_and_save(config, out, data, wiki, locales, device, progress, log_every, log, save_every, resume,
                               precision, score_test)
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as err:
        if isinstance(err, RuntimeError) and "allocate memory" not in str(err) and "out of memory" not in str(err):
            raise
        raise NameOriginError(f"out of memory while training ({str(err).splitlines()[0][:160] or 'no detail'}); "
                              "lower --batch-size, --hidden-size, --num-layers or --embedding-dim") from None


def _train_and_save(config: Config, out: str, data: str | None, wiki: str | None, locales: str | None, device: str,
                    progress: bool,
                    log_every: int, log: Log, save_every: int, resume: bool, precision: str,
                    score_test: bool) -> dict:
    distributed.init_from_env(pick_device(device))
    main = distributed.is_main()
    log = log if main else (lambda _message: None)
    locales = locales or os.environ.get(LOCALES_ENV) or None
    locales = os.path.abspath(locales) if locales else None  # what --resume reads, wherever it runs from
    started = {"data": data, "wiki": wiki, "locales": locales, "save_every": save_every, "skip_test": not score_test}
    run = RunOptions(trainstate.state_path(out), resume, save_every, started, precision)
    if config.corpus == "world":
        model, metadata, world = train_world(config, data, wiki, locales, device=device, progress=progress and main,
                                             log_every=log_every, log=log, run=run)
        if main and score_test:
            metadata.update(world_test_sets(lambda names: module_logits(model, names).numpy(), world,
                                             Calibration.from_metadata(ModelMeta.from_dict(metadata, RUN))))
    else:
        corpus = load_corpus(data, progress=progress and main)
        if corpus.skipped:
            raw, label = corpus.skipped[0]
            log(f"skipped {len(corpus.skipped)} names with symbols outside the alphabet (e.g. {raw!r} in {label})")
        result = train(config, corpus, device=device, progress=progress and main, log_every=log_every, log=log,
                       run=run)
        model, metadata = result.model, tutorial_metadata(corpus, result, score_test) if main else {}
    if main:
        checkpoint.save(out, model, metadata)
        run.state.unlink(missing_ok=True)
    distributed.finish()
    return metadata


def resume_and_save(out: str, *, device: str = "auto", progress: bool = True, log_every: int = 0,
                    log: Log = stderr_log, given: dict | None = None, precision: str = "fp32") -> dict:
    """Continue the run whose state sits beside `out`. Of the flags a run was started with,
    only the device and the progress display may be given again; any other that disagrees with
    the saved run is an error."""
    _, meta = trainstate.read(trainstate.state_path(out))  # checked: its config is valid
    config = Config.from_dict(meta["config"])
    started = meta.get("run") or {}
    for key, value in (given or {}).items():
        saved = started.get(key) if key in started else getattr(config, key, None)
        if value is not None and value != saved:
            raise NameOriginError(f"--{key.replace('_', '-')} {value} disagrees with the run being resumed "
                                  f"({saved}); leave it out to continue that run")
    return train_and_save(config, out, data=started.get("data"), wiki=started.get("wiki"),
                          locales=started.get("locales"), device=device,
                          progress=progress, log_every=log_every, log=log, resume=True, precision=precision,
                          save_every=int(started.get("save_every") or 0),
                          score_test=not started.get("skip_test", False))
