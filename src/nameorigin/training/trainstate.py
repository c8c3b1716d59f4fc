"""A training run's state on disk, so an interrupted run continues exactly where it stopped.

One safetensors file beside the ``--out`` folder (``OUT.resume``): the tensors (weights, the best
epoch's weights so far, Adam's moments and step counts, PyTorch's random state) and, in the
file's metadata, JSON for the rest (the config, the data sources, where in which epoch the run
is, the numpy and Python random states, the schedule, the history). Nothing is pickled, so a
state file from anywhere can be read safely; a damaged or foreign one is a one-line error.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from ..config import Config
from ..errors import NameOriginError
from ..files import atomic_write

FORMAT = "nameorigin-train-state"
VERSION = 1


class StateError(NameOriginError):
    """A training state file that cannot be resumed from."""


def state_path(out: str | os.PathLike) -> Path:
    """Where the run writing the checkpoint `out` keeps its state."""
    out = Path(out)
    return out.with_name(out.name + ".resume")


def write(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write the state atomically: an interrupted write leaves the previous state in place. Its
    folder is made as the checkpoint's is (``--out runs/rnn`` with no ``runs/`` yet)."""
    header = {"format": FORMAT, "version": str(VERSION), "state": json.dumps(meta)}
    blob = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=header)
    with atomic_write(path, "wb", parents=True) as handle:
        handle.write(blob)


def read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and JSON state of a state file, or a `StateError` saying why not."""
    if not path.is_file():
        raise StateError(f"{path}: no training state to resume (it is written beside --out while a run trains, "
                         "and removed when it completes)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            if header.get("format") != FORMAT:
                raise StateError(f"{path}: not a nameorigin training state")
            if header.get("version") != str(VERSION):
                raise StateError(f"{path}: training state version {header.get('version')} is not supported")
            meta = json.loads(header["state"])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, KeyError, RecursionError) as err:
        raise StateError(f"{path}: damaged training state ({one_line(err)})") from None
    problem = _problem(tensors, meta)
    if problem:
        raise StateError(f"{path}: damaged training state ({problem})")
    return tensors, meta


def one_line(err: BaseException) -> str:
    """An exception's message on one line, at most 200 characters (torch's span several)."""
    return " ".join(str(err).split())[:200]


def _problem(tensors: dict[str, torch.Tensor], meta: Any) -> str | None:
    """What makes a state impossible to continue from, checked as strictly as a checkpoint is,
    or None: a state is a file anyone may have edited."""
    if not isinstance(meta, dict):
        return "its metadata is not an object"
    try:
        config = Config.from_dict(meta["config"]).validate()
    except Exception as err:  # noqa: BLE001 - any field of any type: the message says which
        return f"its config: {one_line(err)}"
    progress = meta.get("progress")
    if not isinstance(progress, dict):
        return "no progress record"
    counts = {"epoch": (1, config.epochs), "position": (0, 10**9), "step": (0, 10**12), "epoch_rows": (0, 10**12)}
    for key, (low, high) in counts.items():
        value = progress.get(key)
        if type(value) is not int or not low <= value <= high:
            return f"progress.{key} must be a whole number from {low} to {high}, not {value!r}"
    for key in ("epoch_loss", "best_score"):
        if not isinstance(progress.get(key), (int, float)) or not math.isfinite(progress[key]):
            return f"progress.{key} must be a finite number, not {progress.get(key)!r}"
    run = meta.get("run") or {}
    save_every = (run.get("save_every") or 0) if isinstance(run, dict) else None
    if type(save_every) is not int or save_every < 0:
        return "run.save_every must be a whole number, 0 or more"
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            return f"NaN or infinite values in {key}"
    return None


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors stored under ``prefix.``, with the prefix taken off."""
    start = len(prefix) + 1
    return {key[start:]: value for key, value in tensors.items() if key.startswith(prefix + ".")}


def capture(trainer, progress: dict) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A `train.Trainer`'s state at a step boundary, as tensors and JSON."""
    opt = trainer.optimizer
    tensors = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    tensors.update({f"best.{k}": v for k, v in (trainer.best_state or {}).items()})
    for i in range(len(opt.params)):
        tensors.update({f"adam.{i}.avg": opt.exp_avg[i], f"adam.{i}.sq": opt.exp_avg_sq[i],
                        f"adam.{i}.steps": opt.steps[i]})
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"config": trainer.config.to_dict(), "progress": progress, "rng": trainer.rng.bit_generator.state,
            "python_random": _lists(random.getstate()), "adam": {"lr": opt.lr, "beta1": opt.beta1},
            "schedule": None if trainer.scheduler is None else trainer.scheduler.step_num,
            "has_best": trainer.best_state is not None, "run": trainer.run_meta}
    return tensors, meta


def apply(trainer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict:
    """Put `capture`'s state back into a freshly built `train.Trainer`, if it was saved from the
    same training data; returns its progress."""
    saved, now = (meta.get("run") or {}).get("fingerprint"), trainer.run_meta.get("fingerprint")
    if saved is not None and now is not None and saved != now:
        raise StateError(f"{trainer.state}: the training data changed since the run began (fingerprint differs), "
                         "so its splits would be redrawn and test names could leak into training; restore the "
                         "data, or start the run afresh")
    opt = trainer.optimizer
    try:
        trainer.model.load_state_dict(prefixed(tensors, "model"))
        if meta["has_best"]:
            trainer.best_state = prefixed(tensors, "best")
        for i in range(len(opt.params)):
            opt.exp_avg[i].copy_(tensors[f"adam.{i}.avg"])
            opt.exp_avg_sq[i].copy_(tensors[f"adam.{i}.sq"])
            opt.steps[i].copy_(tensors[f"adam.{i}.steps"])
        opt.lr, opt.beta1 = float(meta["adam"]["lr"]), float(meta["adam"]["beta1"])
        if trainer.scheduler is not None:
            trainer.scheduler.step_num = int(meta["schedule"])
        torch.set_rng_state(tensors["rng.torch"])
        trainer.rng.bit_generator.state = meta["rng"]
        random.setstate(_tuples(meta["python_random"]))
        return dict(meta["progress"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise StateError(f"{trainer.state}: the training state does not match this run ({one_line(err)})") from None


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
