"""Checkpoints: a folder with ``model.safetensors`` (the weights) and ``model.json`` (everything else).

Loading never unpickles anything, and checks that the weights are the ones the metadata describes,
so a damaged, truncated or hand-edited checkpoint is refused with a message instead of predicting
garbage.
"""

from __future__ import annotations

import contextlib
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
from .files import fsync_dir, umask, write_synced

FORMAT = "nameorigin-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
METADATA = "model.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_bytes(data: dict) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


# What a checkpoint folder may hold, so replacing it loses nothing else: its two files and the
# report `nameorigin report` writes inside it by default (it describes the weights replaced).
_OURS = {WEIGHTS, METADATA, "report"}


def _real(out: str | os.PathLike) -> Path:
    """Where the folder `out` really is: replacing a symlinked --out replaces what it points to."""
    return Path(os.path.realpath(out))


def _old(out: Path) -> Path:
    """Where the checkpoint being replaced waits while the new one is moved into place."""
    return out.with_name(f".{out.name}.old")


def _is_ours(folder: Path) -> bool:
    return folder.is_dir() and not folder.is_symlink() and {p.name for p in folder.iterdir()} <= _OURS


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def _remove_dead_temporaries(out: Path) -> None:
    """The unfinished folders of saves to `out` whose process is gone (killed mid-way)."""
    for tmp in out.parent.glob(f".{out.name}.tmp-*-*"):
        pid = tmp.name.removeprefix(f".{out.name}.tmp-").split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and _is_ours(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def recover(out: str | os.PathLike) -> None:
    """Finish a replacement that a killed run left half done: put the old checkpoint back if the
    new one never arrived, else remove the old one; and remove the unfinished folders of killed
    saves. Best effort: a read-only place stays as it is."""
    out = _real(out)
    old = _old(out)
    with contextlib.suppress(OSError):
        _remove_dead_temporaries(out)
    if not _is_ours(old):
        return
    with contextlib.suppress(OSError):
        if out.exists() or out.is_symlink() or not (old / METADATA).is_file():
            shutil.rmtree(old)  # the new checkpoint arrived, or what is left is not a whole one
        else:
            os.replace(old, out)


def replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished folder `tmp` to `out` (both in one folder), replacing an earlier one.

    The earlier checkpoint is first renamed aside to `_old(out)`, then `tmp` renamed to `out`. If
    the second step fails or is interrupted (Ctrl+C, SIGTERM) the first is undone here; if the
    process is killed between the two, the next save or load undoes it (`recover`). Either way
    `out` ends up holding the old checkpoint or the new one, each whole.
    """
    old = _old(out)
    if old.exists() or old.is_symlink():
        raise CheckpointError(f"{old}: is in the way of replacing {out}; remove it")
    try:
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    except BaseException:
        if old.exists() and not out.exists():
            os.replace(old, out)
        raise
    fsync_dir(out.parent)
    shutil.rmtree(old, ignore_errors=True)


def check_replaceable(out: str | os.PathLike) -> None:
    """Refuse an `out` that saving would destroy something in: a file, or a folder holding
    anything but an earlier checkpoint. Called before training, so a run is not lost to it."""
    shown, out = Path(out), _real(out)
    recover(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise CheckpointError(f"{shown}: exists and is not a folder; choose another --out")
    entries = sorted(p.name for p in out.iterdir())
    if entries and (METADATA not in entries or not set(entries) <= _OURS):
        others = [name for name in entries if name not in _OURS] or entries
        raise CheckpointError(f"{shown}: holds files that are not a nameorigin checkpoint (such as {others[0]!r}); "
                              "choose another --out, or empty the folder")


def _write_folder(folder: Path, model: nn.Module, metadata: dict[str, Any]) -> None:
    """The checkpoint's two files in `folder`, flushed to the disk before anything is replaced."""
    from safetensors.torch import save as to_bytes

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = to_bytes(state)
    write_synced(folder / WEIGHTS, weights)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
            "alphabet": ALPHABET, **metadata, "weights_sha256": hashlib.sha256(weights).hexdigest()}
    write_synced(folder / METADATA, _json_bytes(meta))
    mask = umask()
    for path, mode in ((folder, 0o777), (folder / WEIGHTS, 0o666), (folder / METADATA, 0o666)):
        os.chmod(path, mode & ~mask)
    fsync_dir(folder)


def save(out: str | os.PathLike, model: nn.Module, metadata: dict[str, Any]) -> Path:
    """Write `model` and `metadata` (config, labels, split, metrics, ...) to the folder `out`,
    replacing an earlier checkpoint there (see `check_replaceable` and `replace_dir`). A symlink
    at `out` stays, and the folder it points to is replaced."""
    check_replaceable(out)
    real = _real(out)
    real.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=real.parent, prefix=f".{real.name}.tmp-{os.getpid()}-"))
    try:
        _write_folder(tmp, model, metadata)
        replace_dir(tmp, real)
    finally:
        if tmp.exists():  # never `real`: once renamed, the new checkpoint is no longer at `tmp`
            shutil.rmtree(tmp, ignore_errors=True)
    return Path(out)


def read_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.exists():
        recover(folder)
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
