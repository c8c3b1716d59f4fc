"""Fitting a model or an ensemble of them, for both recipes (the tutorial's and the world's).

An ensemble's members are fitted one after another, each on its own with seed + k (its own
initialisation and its own draws of the training names), and vote only once trained
(`models.Ensemble`). Fitted together through the vote, a member's gradient on each name would be
weighted by its share of the probability the vote gives the right answer, so it would learn
little from names another member already reads right: the members would specialise instead of
erring independently, which is what averaging them relies on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from ..config import Config
from ..device import pick_device, seed_everything
from ..errors import NameOriginError
from ..models import build_model
from ..models.recurrent import Ensemble
from .train import History, Log, fit


def fit_members(config: Config, train, val, *, n_labels: int, device: str, progress: bool, log_every: int,
                log: Log, options: dict[str, Any]) -> tuple[nn.Module, History]:
    """The model `config` describes, fitted (each ensemble member with seed + k); `options` are
    `train.fit`'s run options (state, resume, ...), which only a single model can use."""
    if config.ensemble > 1 and (options.get("resume") or options.get("save_every")):
        raise NameOriginError("--resume and --save-every work for single models, not --ensemble")
    members, histories = [], []
    for k in range(config.ensemble):
        member_config = replace(config, seed=config.seed + k, ensemble=1)
        seed_everything(member_config.seed)
        member = build_model(member_config, n_labels)
        if config.ensemble > 1:
            log(f"ensemble member {k + 1}/{config.ensemble}")
        member_options = options if config.ensemble == 1 else {"precision": options.get("precision", "fp32")}
        histories.append(fit(member, member_config, train, val, n_labels=n_labels, device=pick_device(device),
                             progress=progress, log_every=log_every, log=log, **member_options))
        members.append(member)
    history = histories[0]
    history.seconds = sum(h.seconds for h in histories)
    model = members[0] if config.ensemble == 1 else Ensemble(members)
    model.built_from = (config, n_labels)
    return model, history
