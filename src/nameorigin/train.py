"""Training: mini-batches of similar-length names, Adam, cross-entropy, gradient clipping.

With ``batch_size=1`` and a constant learning rate every step sees one name, which is the
reference's learning dynamics; larger batches do the same arithmetic for many names per Python
step, which is where the speed comes from. When a validation split is held out, every epoch is
scored on it, the best epoch's weights are kept, and a softmax temperature is fitted on it.
"""

from __future__ import annotations

import copy
import random
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .config import Config
from .data import Corpus, Split, encode, split_corpus
from .errors import NameOriginError
from .evaluate import macro_f1
from .models import build_model
from .optim import AdamW, OneCycle, clip_grad_norm
from .predict import predict_logits

Log = Callable[[str], None]
# Draws an epoch's training names and labels (a corpus whose names take several forms).
Sampler = Callable[[np.random.Generator], tuple[list[str], np.ndarray]]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise NameOriginError("--device cuda was asked for, but PyTorch sees no CUDA device")
    return torch.device(device)


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled batches whose members have similar lengths, so little time is spent on padding.

    Rows are shuffled, cut into pools of 50 batches, each pool sorted by length and cut into
    batches, and the batches shuffled again: every epoch sees a different, seed-determined order.
    """
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    for i in rng.permutation(len(batches)):
        yield batches[i]


def make_scheduler(optimizer: AdamW, config: Config, total_steps: int) -> OneCycle | None:
    """None for a constant learning rate (the reference); else one-cycle: a short warm-up to
    ``config.lr`` and a cosine anneal, which gets more out of the few steps large batches take."""
    if config.schedule == "constant":
        return None
    if config.schedule == "onecycle":
        return OneCycle(optimizer, max_lr=config.lr, total_steps=total_steps, pct_start=0.1)
    raise ValueError(f"unknown schedule {config.schedule!r}")


def class_weights(labels: np.ndarray, n_labels: int, power: float) -> torch.Tensor | None:
    """Loss weights ~ (class share)^-power, mean 1 over the training rows: 0 leaves the loss as it
    is, 1 makes every class count as much as Russian (47 % of the corpus) in total."""
    if not power:
        return None
    counts = np.bincount(labels, minlength=n_labels).astype(np.float64)
    weights = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    weights /= (weights[labels]).mean()
    return torch.tensor(weights, dtype=torch.float32)


@dataclass
class History:
    """Per-epoch curves for reports; validation entries stay empty without a validation split."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_macro_f1: list[float] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def fit(model: nn.Module, config: Config, train: tuple[list[str], np.ndarray] | Sampler,
        val: tuple[list[str], np.ndarray] | None = None, *, n_labels: int,
        device: torch.device = torch.device("cpu"), progress: bool = True, log_every: int = 0,
        log: Log = stderr_log) -> History:
    """Train `model` in place for ``config.epochs`` epochs (fewer with early stopping).

    `train` is the training names and labels, or a function drawing a new set for each epoch.

    With a validation set, the weights of the epoch with the best validation macro-F1 are the
    ones kept: macro-F1, not accuracy, so small classes are not traded away for Russian.
    """
    from tqdm import tqdm

    rng = np.random.default_rng(config.seed)
    sample = train if callable(train) else (lambda _rng: train)
    names, labels = sample(rng)
    chars, lengths = encode(names)
    model.to(device)
    optimizer = AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    weight = class_weights(labels, n_labels, config.class_weight)
    criterion = nn.CrossEntropyLoss(weight=None if weight is None else weight.to(device),
                                    label_smoothing=config.label_smoothing)
    n_batches = -(-len(names) // config.batch_size)
    scheduler = make_scheduler(optimizer, config, n_batches * config.epochs)
    history, best_state, best_score, step = History(), None, -1.0, 0
    start = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        if epoch > 1 and callable(train):
            names, labels = sample(rng)
            chars, lengths = encode(names)
        targets, np_lengths = torch.as_tensor(labels), lengths.numpy()
        model.train()
        total = 0.0
        bar = tqdm(length_batches(np_lengths, config.batch_size, rng), total=n_batches,
                   desc=f"epoch {epoch}/{config.epochs}", disable=None if progress else True, leave=False,
                   unit="batch", file=sys.stderr)
        for batch in bar:
            width, rows = int(np_lengths[batch].max()), torch.from_numpy(batch)
            loss = criterion(model(chars[rows, :width].to(device), lengths[rows]), targets[rows].to(device))
            optimizer.zero_grad()
            loss.backward()
            if config.clip:
                clip_grad_norm(optimizer.params, config.clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            total += loss.item() * len(batch)
            if log_every and step % log_every == 0:
                message = f"epoch {epoch}/{config.epochs} step {step}: loss {loss.item():.4f}"
                bar.write(message, file=sys.stderr) if progress else log(message)
        history.train_loss.append(total / len(names))
        summary = f"epoch {epoch}/{config.epochs}: train loss {history.train_loss[-1]:.4f}"
        if val is not None and len(val[0]):
            logits = predict_logits(model, val[0])
            y_val = torch.as_tensor(val[1])
            history.val_loss.append(float(nn.functional.cross_entropy(logits, y_val)))
            predicted = logits.argmax(1).numpy()
            history.val_accuracy.append(float((predicted == val[1]).mean()))
            history.val_macro_f1.append(macro_f1(val[1], predicted, n_labels))
            summary += (f", val loss {history.val_loss[-1]:.4f}, accuracy {history.val_accuracy[-1]:.4f}, "
                        f"macro-F1 {history.val_macro_f1[-1]:.4f}")
            if history.val_macro_f1[-1] > best_score:
                best_score, history.best_epoch = history.val_macro_f1[-1], epoch
                best_state = copy.deepcopy(model.state_dict())
            elif config.patience and epoch - history.best_epoch >= config.patience:
                log(summary + f" (no better since epoch {history.best_epoch}: stopping)")
                break
        else:
            history.best_epoch = epoch
        log(summary + f" ({time.perf_counter() - start:.1f} s)")
    if best_state is not None:
        model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


@dataclass
class TrainResult:
    model: nn.Module
    config: Config
    split: Split
    history: History
    temperature: float = 1.0
    logit_bias: list[float] | None = None


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
          log_every: int = 0, log: Log = stderr_log) -> TrainResult:
    """Split `corpus` as `config` says, build the model, fit it (each ensemble member with its own
    seed) on the training part and, if asked, tune and calibrate it on the validation part."""
    from .calibration import fit_temperature
    from .models import Ensemble

    split = split_corpus(corpus, config.split, config.seed, config.test_size, config.val_size)
    n_labels = len(corpus.label_names)
    train_part = corpus.subset(split.train)
    val = corpus.subset(split.val) if len(split.val) else None
    if val is None and (config.calibrate or config.tune_bias or config.patience):
        raise NameOriginError("early stopping, --calibrate and --tune-bias need a validation split: "
                              "set --val-size above 0")
    members, histories = [], []
    for k in range(config.ensemble):
        member_config = replace(config, seed=config.seed + k, ensemble=1)
        seed_everything(member_config.seed)
        member = build_model(member_config, n_labels)
        if config.ensemble > 1:
            log(f"ensemble member {k + 1}/{config.ensemble}")
        histories.append(fit(member, member_config, train_part, val, n_labels=n_labels,
                             device=pick_device(device), progress=progress, log_every=log_every, log=log))
        members.append(member)
    model = members[0] if config.ensemble == 1 else Ensemble(members)
    history = histories[0]
    history.seconds = sum(h.seconds for h in histories)
    temperature, bias = 1.0, None
    if val is not None and (config.tune_bias or config.calibrate):
        logits = predict_logits(model, val[0])
        if config.tune_bias:
            prior = np.bincount(train_part[1], minlength=n_labels) / len(train_part[1])
            t, bias = tune_logit_bias(logits, val[1], prior)
            logits = logits + torch.from_numpy(bias)
            log(f"logit adjustment on {len(val[0])} validation names: t = {t:g}")
        if config.calibrate:
            temperature = fit_temperature(logits, torch.as_tensor(val[1]))
            log(f"calibrated on {len(val[0])} validation names: temperature {temperature:.3f}")
    return TrainResult(model.cpu(), config, split, history, temperature,
                       None if bias is None else bias.tolist())


def train_and_save(config: Config, out: str, *, data: str | None = None, wiki: str | None = None,
                   device: str = "auto",
                   progress: bool = True, log_every: int = 0, log: Log = stderr_log) -> dict:
    """The whole `nameorigin train` run: load the corpus, train, score the test split once, and
    write the checkpoint. Returns the checkpoint's metadata."""
    from . import checkpoint
    from .calibration import expected_calibration_error
    from .data import load_corpus
    from .evaluate import headline

    checkpoint.check_replaceable(out)
    if config.corpus == "world":
        from .world import train_world

        model, metadata = train_world(config, data, wiki, device=device, progress=progress,
                                      log_every=log_every, log=log)
        checkpoint.save(out, model, metadata)
        return metadata
    corpus = load_corpus(data, progress=progress)
    if corpus.skipped:
        raw, label = corpus.skipped[0]
        log(f"skipped {len(corpus.skipped)} names with symbols outside the alphabet (e.g. {raw!r} in {label})")
    result = train(config, corpus, device=device, progress=progress, log_every=log_every, log=log)
    test_names, test_labels = corpus.subset(result.split.test)
    logits = predict_logits(result.model, test_names)
    if result.logit_bias is not None:
        logits = logits + torch.tensor(result.logit_bias)
    proba = torch.softmax(logits / result.temperature, dim=1).numpy()
    scores = headline(test_labels, proba)
    scores["ece_uncalibrated"] = expected_calibration_error(torch.softmax(logits, 1).numpy(), test_labels)
    metadata = {
        "config": config.to_dict(),
        "labels": corpus.label_names,
        "split": result.split.describe(),
        "corpus": {"fingerprint": corpus.fingerprint, "n_names": len(corpus), "n_skipped": len(corpus.skipped)},
        "temperature": result.temperature,
        "logit_bias": result.logit_bias,
        "history": result.history.to_dict(),
        "metrics": scores,
    }
    checkpoint.save(out, result.model, metadata)
    return metadata
