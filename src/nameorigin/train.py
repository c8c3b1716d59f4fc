"""Training: mini-batches of similar-length names, Adam, cross-entropy, gradient clipping.

With ``batch_size=1`` every step sees one name, which is the reference's learning dynamics; larger
batches do the same arithmetic for many names per Python step, which is where the speed comes from.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from .config import Config
from .data import Corpus, Split, encode, split_corpus
from .models import build_model


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from .errors import NameOriginError

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


def make_scheduler(optimizer: torch.optim.Optimizer, config: Config, total_steps: int):
    """None for a constant learning rate (the reference); else one-cycle: a short warm-up to
    ``config.lr`` and a cosine anneal, which gets more out of the few steps large batches take."""
    if config.schedule == "constant":
        return None
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps,
                                                   pct_start=0.1)
    raise ValueError(f"unknown schedule {config.schedule!r}")


@dataclass
class History:
    """What happened during training, per epoch, for reports and curves."""

    epoch_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def fit(model: nn.Module, config: Config, names: list[str], labels: np.ndarray, *,
        device: torch.device = torch.device("cpu"), progress: bool = True,
        log_every: int = 0, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> History:
    """Train `model` in place on ``names``/``labels`` for ``config.epochs`` epochs."""
    from tqdm import tqdm

    chars, lengths = encode(names)
    targets = torch.as_tensor(labels)
    np_lengths = lengths.numpy()
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    criterion = nn.CrossEntropyLoss()
    n_batches = -(-len(names) // config.batch_size)
    scheduler = make_scheduler(optimizer, config, n_batches * config.epochs)
    model.to(device).train()
    history = History()
    start = time.perf_counter()
    step = 0
    for epoch in range(config.epochs):
        total, seen = 0.0, 0
        bar = tqdm(length_batches(np_lengths, config.batch_size, rng), total=n_batches,
                   desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False,
                   unit="batch", file=sys.stderr)
        for batch in bar:
            width = int(np_lengths[batch].max())
            x = chars[batch, :width].to(device)
            y = targets[batch].to(device)
            loss = criterion(model(x, lengths[batch]), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            total += loss.item() * len(batch)
            seen += len(batch)
            if log_every and step % log_every == 0:
                bar.set_postfix(loss=f"{total / seen:.4f}")
                if not progress:
                    log(f"epoch {epoch + 1}/{config.epochs} step {step}: loss {total / seen:.4f}")
        history.epoch_loss.append(total / seen)
        log(f"epoch {epoch + 1}/{config.epochs}: mean loss {total / seen:.4f} "
            f"({time.perf_counter() - start:.1f} s)")
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


@dataclass
class TrainResult:
    model: nn.Module
    config: Config
    split: Split
    history: History


def train(config: Config, corpus: Corpus, *, device: str = "auto", progress: bool = True,
          log_every: int = 0, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> TrainResult:
    """Split `corpus` as `config` says, build the model and fit it on the training part."""
    split = split_corpus(corpus, config.split, config.seed, config.test_size)
    seed_everything(config.seed)
    model = build_model(config, len(corpus.label_names))
    names, labels = corpus.subset(split.train)
    history = fit(model, config, names, labels, device=pick_device(device), progress=progress,
                  log_every=log_every, log=log)
    return TrainResult(model.cpu(), config, split, history)
