"""Checkpoints: a folder with ``model.safetensors`` (the weights) and ``model.json`` (everything else).

Loading never unpickles anything, and checks that the weights are the ones the metadata describes,
so a damaged, truncated or hand-edited checkpoint is refused with a message instead of predicting
garbage. `read` gives the weights as numpy arrays, which is all prediction needs; `load` builds
the PyTorch network and `save` writes one, for which PyTorch must be installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as from_bytes
from safetensors.numpy import save as to_bytes

from .. import __version__
from ..errors import CheckpointError
from ..files import fsync_dir, umask, write_synced
from ..jsontext import JSONError, parse_json
from ..text.names import ALPHABET
from .metadata import ModelMeta
from .weights import architecture_problem, check_values, declared_shapes

if TYPE_CHECKING:
    from torch import nn

FORMAT = "nameorigin-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
METADATA = "model.json"
# A model.json holds a few kilobytes; far more is not one.
MAX_METADATA_BYTES = 16 << 20


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


def _write_folder(folder: Path, model: nn.Module, metadata: ModelMeta | Mapping[str, Any]) -> None:
    """The checkpoint's two files in `folder`, flushed to the disk before anything is replaced."""
    from ..models.ngrams import stored_state  # PyTorch: saving a trained network

    if isinstance(metadata, ModelMeta):
        metadata = metadata.to_dict()
    weights = to_bytes({name: tensor.numpy() for name, tensor in stored_state(model).items()})
    write_synced(folder / WEIGHTS, weights)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
            "alphabet": ALPHABET, **metadata, "weights_sha256": hashlib.sha256(weights).hexdigest()}
    write_synced(folder / METADATA, _json_bytes(meta))
    mask = umask()
    for path, mode in ((folder, 0o777), (folder / WEIGHTS, 0o666), (folder / METADATA, 0o666)):
        os.chmod(path, mode & ~mask)
    fsync_dir(folder)


class CheckpointWriteError(OSError):
    """The system refused to write a checkpoint (a full disk, a read-only place). The trained
    model is not lost: it is in `model` and `metadata`, and a copy in `fallback` unless that
    could not be written either. The message says which, on one line."""

    def __init__(self, message: str, errno: int | None, model: nn.Module, metadata: Mapping[str, Any],
                 fallback: Path | None):
        super().__init__(errno, message)
        self.model, self.metadata, self.fallback = model, metadata, fallback


def _unsaved(out: str | os.PathLike, err: OSError, model: nn.Module,
             metadata: Mapping[str, Any]) -> CheckpointWriteError:
    """The error for a save to `out` refused with `err`, after one try at writing the checkpoint
    to the system's temporary folder instead (often another file system), so that hours of
    training survive a full disk."""
    reason, tmp = err.strerror or str(err), None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"nameorigin-unsaved-{_real(out).name}-"))
        _write_folder(tmp, model, metadata)
    except OSError as second:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return CheckpointWriteError(
            f"could not write the checkpoint to {out} ({reason}), nor a copy to {tempfile.gettempdir()} "
            f"({second.strerror or second}); the trained model was not saved: free space and train again",
            err.errno, model, metadata, None)
    return CheckpointWriteError(f"could not write the checkpoint to {out} ({reason}); the trained model was "
                                f"saved to {tmp} instead: move that folder where it belongs",
                                err.errno, model, metadata, tmp)


def save(out: str | os.PathLike, model: nn.Module, metadata: ModelMeta | Mapping[str, Any]) -> Path:
    """Write `model` and `metadata` (config, labels, split, metrics, ...) to the folder `out`,
    replacing an earlier checkpoint there (see `check_replaceable` and `replace_dir`). A symlink
    at `out` stays, and the folder it points to is replaced. When the system refuses the write,
    the error is a `CheckpointWriteError` that keeps the model (see `_unsaved`)."""
    check_replaceable(out)
    real = _real(out)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=real.parent, prefix=f".{real.name}.tmp-{os.getpid()}-"))
        try:
            _write_folder(tmp, model, metadata)
            replace_dir(tmp, real)
        finally:
            if tmp.exists():  # never `real`: once renamed, the new checkpoint is no longer at `tmp`
                shutil.rmtree(tmp, ignore_errors=True)
    except OSError as err:
        raise _unsaved(out, err, model, metadata) from err
    return Path(out)


def read_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    """The JSON of a checkpoint's model.json, once it is known to be a checkpoint this version
    reads (format, version, alphabet); `ModelMeta.from_dict` checks the rest."""
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
    if path.stat().st_size > MAX_METADATA_BYTES:
        raise CheckpointError(f"{path}: {path.stat().st_size} bytes, too large for a checkpoint's metadata")
    try:
        meta = parse_json(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, JSONError) as err:
        raise CheckpointError(f"{path}: damaged metadata ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a nameorigin checkpoint")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format_version')!r} is not supported by "
                              f"nameorigin {__version__} (it reads format {FORMAT_VERSION})")
    if meta.get("alphabet") != ALPHABET:
        raise CheckpointError(f"{path}: the checkpoint was trained on a different alphabet")
    return meta


def revision(folder: str | os.PathLike) -> str:
    """SHA-256 over the weights and the metadata files: changes whenever either does."""
    return revision_of({name: (Path(folder) / name).read_bytes() for name in (WEIGHTS, METADATA)})


def revision_of(files: Mapping[str, bytes]) -> str:
    """`revision` of a checkpoint's two files already read (`WEIGHTS` and `METADATA` by name)."""
    digest = hashlib.sha256()
    for name in (WEIGHTS, METADATA):
        digest.update(files[name])
    return digest.hexdigest()


def read(folder: str | os.PathLike) -> tuple[dict[str, np.ndarray], ModelMeta]:
    """The weights of a checkpoint folder as float32 numpy arrays, by name, with its metadata.
    Everything is checked before the weights are read: the metadata, the file's hash, and the
    weights' declared shapes against the metadata; then the weights' values."""
    folder = Path(folder)
    raw = read_metadata(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{folder}: {WEIGHTS} is missing")
    data = weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != raw.get("weights_sha256"):
        raise CheckpointError(f"{weights}: the weights do not match the checkpoint's recorded SHA-256 "
                              "(damaged or replaced); retrain or restore the folder")
    meta = ModelMeta.from_dict(raw, folder / METADATA)
    problem = architecture_problem(meta, declared_shapes(data, weights))
    if problem:
        raise CheckpointError(f"{folder}: the checkpoint does not match its architecture ({problem}); "
                              "was it written by another version of nameorigin?")
    try:
        state = from_bytes(data)
    except (SafetensorError, TypeError, ValueError) as err:
        raise CheckpointError(f"{weights}: damaged weights ({err})") from None
    check_values(state, weights)
    return {name: array.astype(np.float32, copy=False) for name, array in state.items()}, meta


def load(folder: str | os.PathLike) -> tuple[nn.Module, ModelMeta]:
    """Rebuild the PyTorch network of a checkpoint folder, in eval mode on the CPU, with its
    metadata, from the weights `read` checked."""
    import torch  # PyTorch: the network as a module, for training, export and GPU inference

    from ..models import build_model

    state, meta = read(folder)
    model = build_model(meta.config, len(meta.labels))
    model.load_state_dict({name: torch.from_numpy(array) for name, array in state.items()})
    return model.eval(), meta
