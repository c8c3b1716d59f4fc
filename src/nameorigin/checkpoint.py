"""Checkpoints: a folder with ``model.safetensors`` (the weights) and ``model.json`` (everything else).

Loading never unpickles anything, and checks that the weights are the ones the metadata describes,
so a damaged, truncated or hand-edited checkpoint is refused with a message instead of predicting
garbage.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from torch import nn

from . import __version__
from .config import Config
from .data import ALPHABET
from .errors import CheckpointError

FORMAT = "nameorigin-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
METADATA = "model.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished folder `tmp` to `out`, replacing an old one only once the new one is
    complete: a crash leaves either the old or the new folder, never a mix."""
    backup = None
    if out.exists():
        backup = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, backup)
    os.replace(tmp, out)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


# What a checkpoint folder may hold, so replacing it loses nothing else: its two files and the
# report `nameorigin report` writes inside it by default (it describes the weights replaced).
_OURS = {WEIGHTS, METADATA, "report"}


def check_replaceable(out: str | os.PathLike) -> None:
    """Refuse an `out` that saving would destroy something in: a file, or a folder holding
    anything but an earlier checkpoint. Called before training, so a run is not lost to it."""
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise CheckpointError(f"{out}: exists and is not a folder; choose another --out")
    entries = sorted(p.name for p in out.iterdir())
    if entries and (METADATA not in entries or not set(entries) <= _OURS):
        others = [name for name in entries if name not in _OURS] or entries
        raise CheckpointError(f"{out}: holds files that are not a nameorigin checkpoint (such as {others[0]!r}); "
                              "choose another --out, or empty the folder")


def save(out: str | os.PathLike, model: nn.Module, metadata: dict[str, Any]) -> Path:
    """Write `model` and `metadata` (config, labels, split, metrics, ...) to the folder `out`,
    replacing an earlier checkpoint there (see `check_replaceable`)."""
    from safetensors.torch import save_file

    check_replaceable(out)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, tmp / WEIGHTS)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
                "alphabet": ALPHABET, **metadata, "weights_sha256": _sha256(tmp / WEIGHTS)}
        _write_json(tmp / METADATA, meta)
        for path, mode in ((tmp, 0o777), (tmp / WEIGHTS, 0o666), (tmp / METADATA, 0o666)):
            os.chmod(path, mode & ~_umask())
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    folder = Path(folder)
    path = folder / METADATA
    if folder.is_file():
        hint = (" (an exported .onnx file is read by `predict` and `serve` with --backend onnx)"
                if folder.suffix == ".onnx" else "")
        raise CheckpointError(f"{folder}: a file, but a checkpoint is a folder{hint}")
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: no such checkpoint folder")
    if not path.is_file():
        raise CheckpointError(f"{folder}: not a checkpoint ({METADATA} is missing)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: damaged metadata ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a nameorigin checkpoint")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format_version')} is not supported by "
                              f"nameorigin {__version__} (it reads format {FORMAT_VERSION})")
    if meta.get("alphabet") != ALPHABET:
        raise CheckpointError(f"{path}: the checkpoint was trained on a different alphabet")
    return meta


def revision(folder: str | os.PathLike) -> str:
    """SHA-256 over the weights and the metadata files: changes whenever either does."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for name in (WEIGHTS, METADATA):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_decisions(meta: dict[str, Any], where: str | os.PathLike) -> None:
    """The metadata that turns logits into answers: labels, temperature, logit bias. A hand edit
    here would otherwise load and then fail on every prediction, or answer NaN. `where` names the
    file in the message (a checkpoint's model.json, or an exported .onnx)."""
    labels, temperature, bias = meta.get("labels"), meta.get("temperature", 1.0), meta.get("logit_bias")
    problem = None
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        problem = "'labels' must be a list of at least two names"
    elif len(set(labels)) != len(labels):
        problem = "'labels' names a language twice"
    elif not _finite(temperature) or temperature <= 0:
        problem = f"'temperature' must be a positive number, not {temperature!r}"
    elif bias is not None and not (isinstance(bias, list) and len(bias) == len(labels) and all(map(_finite, bias))):
        problem = f"'logit_bias' must be null or {len(labels)} numbers, one per label"
    if problem:
        raise CheckpointError(f"{where}: {problem}; retrain or restore it")


def load(folder: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint folder, in eval mode on the CPU, with its metadata."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .models import build_model

    folder = Path(folder)
    meta = read_metadata(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{folder}: {WEIGHTS} is missing")
    if _sha256(weights) != meta.get("weights_sha256"):
        raise CheckpointError(f"{weights}: the weights do not match the checkpoint's recorded SHA-256 "
                              "(damaged or replaced); retrain or restore the folder")
    check_decisions(meta, folder / METADATA)
    try:
        config = Config.from_dict(meta["config"])
        model = build_model(config, len(meta["labels"]))
        state = load_file(weights)
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as err:
        raise CheckpointError(f"{folder}: the checkpoint does not match its architecture ({err})") from None
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = [f"{what} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                 for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError(f"{folder}: the checkpoint does not match its architecture ({'; '.join(parts)}); "
                              "was it written by another version of nameorigin?")
    model.load_state_dict(state)
    return model.eval(), meta
