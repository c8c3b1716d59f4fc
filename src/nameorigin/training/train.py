"""Training: mini-batches of similar-length names, Adam, cross-entropy, gradient clipping.

With ``batch_size=1`` and a constant learning rate every step sees one name, which is the
tutorial's learning dynamics; larger batches do the same arithmetic for many names per Python
step, which is where the speed comes from. When a validation split is held out, every epoch is
scored on it and the best epoch's weights are kept.

A run given a state file (`trainstate`) saves everything it needs to continue after every epoch
(and every ``save_every`` steps), and on SIGINT, SIGTERM or SIGHUP finishes its step, saves and
stops; resumed, it ends with the same weights, bit for bit, as a run never stopped. Under torchrun
each process takes its share of every batch (`distributed`).
"""

from __future__ import annotations

import copy
import math
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from tqdm import tqdm

from ..config import Config
from ..data.corpus import Sampler
from ..device import autocast
from ..errors import NameOriginError, Stopped
from ..evaluation.metrics import f1_of_confusion
from ..models.tensors import batch_source, module_logits
from . import distributed, trainstate
from .optim import AdamW, OneCycle, clip_grad_norm

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr)


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
        return asdict(self)



@dataclass
class Progress:
    """Where a run is, besides its weights and optimizer: what a resumed run needs."""

    epoch: int = 1  # the epoch in progress
    position: int = 0  # its batches already done
    step: int = 0
    epoch_loss: float = 0.0
    epoch_rows: int = 0
    epoch_rng: dict | None = None  # the batch-order generator's state when the epoch began
    best_score: float = -1.0
    history: History = field(default_factory=History)


class Trainer:
    """One model's training run, which can stop after any step and continue later.

    `train` is the training names and labels, or a function drawing a new set for each epoch.
    With a validation set, the weights of the epoch with the best validation macro-F1 are the
    ones kept: macro-F1, not accuracy, so small classes are not traded away for Russian.
    """

    def __init__(self, model: nn.Module, config: Config, train: tuple[list[str], np.ndarray] | Sampler,
                 val: tuple[list[str], np.ndarray] | None = None, *, n_labels: int,
                 device: torch.device = torch.device("cpu"), progress: bool = True, log_every: int = 0,
                 log: Log = stderr_log, state: Path | None = None, save_every: int = 0, resume_hint: str = "",
                 run_meta: dict | None = None, precision: str = "fp32"):
        self.model, self.config, self.val, self.n_labels = model.to(device), config, val, n_labels
        self.device, self.progress, self.log_every, self.log = device, progress, log_every, log
        self.state, self.save_every, self.resume_hint = state, save_every, resume_hint
        self.run_meta = run_meta or {}  # what the run was started with (data sources), kept in the state
        self.precision = precision
        self.sample = train if callable(train) else (lambda _rng: train)
        self.rng = np.random.default_rng(config.seed)
        labels = self.sample(np.random.default_rng(config.seed))[1]
        self.optimizer = AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        weight = class_weights(labels, n_labels, config.class_weight)
        self.criterion = nn.CrossEntropyLoss(weight=None if weight is None else weight.to(device),
                                             label_smoothing=config.label_smoothing)
        self.n_batches = -(-len(labels) // config.batch_size)
        self.scheduler = make_scheduler(self.optimizer, config, self.n_batches * config.epochs)
        self.network = model
        if distributed.world_size() > 1:
            self.network = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        self.best_state: dict | None = None
        self.signal: int | None = None

    def run(self, progress: Progress | None = None) -> History:
        """Train to the last epoch (or early stop) from `progress`, and keep the best weights."""
        p = progress or Progress()
        start = time.perf_counter() - p.history.seconds
        with self._stopping_on_signals():
            while p.epoch <= self.config.epochs:
                self._epoch(p)
                stop = self._end_epoch(p, start)
                p.epoch, p.position, p.epoch_loss, p.epoch_rows, p.epoch_rng = p.epoch + 1, 0, 0.0, 0, None
                if stop:
                    break
                self.save(p)
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        p.history.seconds = time.perf_counter() - start
        self.model.eval()
        return p.history

    def _epoch(self, p: Progress) -> None:
        if p.epoch_rng is None:
            p.epoch_rng = copy.deepcopy(self.rng.bit_generator.state)
        else:
            self.rng.bit_generator.state = copy.deepcopy(p.epoch_rng)
        names, labels = self.sample(self.rng)
        chars, lengths = batch_source(names)  # chars(rows, width): those rows, padded
        targets, np_lengths = torch.as_tensor(labels), lengths.numpy()
        batches = list(length_batches(np_lengths, self.config.batch_size, self.rng))
        self.model.train()
        bar = tqdm(batches[p.position:], total=len(batches), initial=p.position, unit="batch", leave=False,
                   desc=f"epoch {p.epoch}/{self.config.epochs}", file=sys.stderr,
                   disable=None if self.progress and distributed.is_main() else True)
        for batch in bar:
            rows = torch.from_numpy(distributed.share(batch))
            width = int(np_lengths[rows].max())
            loss = self._step(chars(rows, width).to(self.device), lengths[rows], targets[rows].to(self.device))
            p.position, p.step = p.position + 1, p.step + 1
            p.epoch_loss, p.epoch_rows = p.epoch_loss + loss * len(rows), p.epoch_rows + len(rows)
            if self.log_every and p.step % self.log_every == 0 and distributed.is_main():
                message = f"epoch {p.epoch}/{self.config.epochs} step {p.step}: loss {loss:.4f}"
                bar.write(message, file=sys.stderr) if self.progress else self.log(message)
            if self.signal is not None or (self.save_every and p.step % self.save_every == 0):
                self.save(p)
            if self.signal is not None:
                bar.close()
                raise Stopped(self.signal, f"stopped at epoch {p.epoch}, step {p.step}; state saved to "
                                           f"{self.state}. {self.resume_hint}")

    def _step(self, chars: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor) -> float:
        with autocast(self.device, self.precision):
            logits = self.network(chars, lengths)
        loss = self.criterion(logits.float(), targets)
        value = loss.item()
        if not math.isfinite(value):
            raise NameOriginError(f"training diverged: the loss is {value} at step {self.optimizer.steps[0].item():.0f} "
                                  f"(--lr {self.config.lr:g}); lower --lr, or keep --clip above 0")
        self.optimizer.zero_grad()
        loss.backward()
        if self.config.clip:
            clip_grad_norm(self.optimizer.params, self.config.clip)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return value

    def _end_epoch(self, p: Progress, start: float) -> bool:
        """Record the epoch, score it on validation, keep the best weights; True to stop early."""
        h = p.history
        seen = distributed.total(torch.tensor([p.epoch_loss, p.epoch_rows], dtype=torch.float64, device=self.device))
        h.train_loss.append(float(seen[0] / seen[1]))
        summary = f"epoch {p.epoch}/{self.config.epochs}: train loss {h.train_loss[-1]:.4f}"
        stop = False
        if self.val is not None and len(self.val[0]):
            loss, accuracy, f1 = self.validate()
            h.val_loss.append(loss), h.val_accuracy.append(accuracy), h.val_macro_f1.append(f1)
            summary += f", val loss {loss:.4f}, accuracy {accuracy:.4f}, macro-F1 {f1:.4f}"
            if f1 > p.best_score:
                p.best_score, h.best_epoch = f1, p.epoch
                self.best_state = copy.deepcopy(self.model.state_dict())
            elif self.config.patience and p.epoch - h.best_epoch >= self.config.patience:
                summary += f" (no better since epoch {h.best_epoch}: stopping)"
                stop = True
        else:
            h.best_epoch = p.epoch
        if distributed.is_main():
            self.log(summary + f" ({time.perf_counter() - start:.1f} s)")
        return stop

    def validate(self) -> tuple[float, float, float]:
        """Validation loss, accuracy and macro-F1; each process scores its share, and the sums
        and the confusion matrix are added up over processes."""
        names, labels = self.val
        mine = distributed.share(np.arange(len(names)))
        logits = module_logits(self.model, [names[i] for i in mine])
        y = torch.as_tensor(labels[mine])
        n = self.n_labels
        confusion = torch.bincount(y * n + logits.argmax(1), minlength=n * n).double()
        loss_sum = nn.functional.cross_entropy(logits, y, reduction="sum").double().reshape(1)
        sums = distributed.total(torch.cat([loss_sum, confusion]).to(self.device)).cpu()
        confusion = sums[1:].reshape(n, n).long().numpy()
        count = confusion.sum()
        return float(sums[0] / count), float(np.trace(confusion) / count), f1_of_confusion(confusion)

    @contextmanager
    def _stopping_on_signals(self):
        """While a run that can be resumed trains, SIGINT, SIGTERM and SIGHUP ask it to stop
        after the current step (see `_epoch`) instead of interrupting it."""
        if self.state is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        wanted = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
        previous = {s: signal.signal(s, lambda signum, _frame: setattr(self, "signal", signum)) for s in wanted}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def save(self, p: Progress) -> None:
        """Write everything needed to continue from here (only the main process writes)."""
        if self.state is not None and distributed.is_main():
            trainstate.write(self.state, *trainstate.capture(self, {**asdict(p), "history": p.history.to_dict()}))

    def restore(self, tensors: dict[str, torch.Tensor], meta: dict) -> Progress:
        """Put the run back where `save` left it; returns where to continue from."""
        fields = trainstate.apply(self, tensors, meta)
        try:
            return Progress(**{**fields, "history": History(**fields["history"])})
        except TypeError as err:
            raise trainstate.StateError(f"{self.state}: the training state does not match this run "
                                        f"({trainstate.one_line(err)})") from None


def fit(model: nn.Module, config: Config, train: tuple[list[str], np.ndarray] | Sampler,
        val: tuple[list[str], np.ndarray] | None = None, *, n_labels: int,
        device: torch.device = torch.device("cpu"), progress: bool = True, log_every: int = 0,
        log: Log = stderr_log, state: Path | None = None, save_every: int = 0, resume: bool = False,
        resume_hint: str = "", run_meta: dict | None = None, precision: str = "fp32") -> History:
    """Train `model` in place for ``config.epochs`` epochs (fewer with early stopping); see
    `Trainer`. With `state`, the run can be stopped and, with `resume`, continued from it."""
    trainer = Trainer(model, config, train, val, n_labels=n_labels, device=device, progress=progress,
                      log_every=log_every, log=log, state=state, save_every=save_every, resume_hint=resume_hint,
                      run_meta=run_meta, precision=precision)
    start = trainer.restore(*trainstate.read(state)) if resume else None
    return trainer.run(start)
