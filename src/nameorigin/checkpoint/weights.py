"""Checking a checkpoint's weights against its metadata before the network is built, and their
values before it answers.

An edited model.json can ask for a network of any size; the safetensors header says what the file
really holds. Comparing the two costs no memory (`runtime.expected_shapes` computes the shapes the
metadata's network has), so a mismatch, or a size that would need gigabytes, is refused before
anything is allocated. Weights that are NaN, infinite or beyond any trained magnitude would turn every answer
into NaN; they are refused too, naming the tensor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..jsontext import parse_json
from ..runtime import expected_shapes
from .metadata import ModelMeta

# Trained weights stay within a few units; past this, logits divided by the temperature overflow.
MAX_WEIGHT = 1e6


def declared_shapes(data: bytes, where: Path) -> dict[str, tuple[int, ...]]:
    """The tensor shapes a safetensors file's header declares (8 bytes of length, then JSON),
    read without loading any tensor."""
    try:
        size = int.from_bytes(data[:8], "little")
        if len(data) < 8 or size > len(data) - 8:
            raise ValueError("its header is longer than the file")
        header = parse_json(data[8:8 + size].decode("utf-8"))
        shapes = {key: tuple(entry["shape"]) for key, entry in header.items() if key != "__metadata__"}
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise CheckpointError(f"{where}: damaged weights ({err})") from None
    return shapes


def architecture_problem(meta: ModelMeta, declared: dict[str, tuple[int, ...]]) -> str | None:
    """How the tensors a file declares differ from those the metadata's network has, if they do."""
    expected = expected_shapes(meta.config, len(meta.labels))
    missing, unexpected = sorted(set(expected) - set(declared)), sorted(set(declared) - set(expected))
    wrong = sorted(k for k in set(expected) & set(declared) if expected[k] != declared[k])
    parts = [f"{what} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
             for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
    return "; ".join(parts) or None


def check_values(state: dict[str, np.ndarray], where: Path) -> None:
    """Refuse weights that would make logits NaN or infinite: NaN, infinities, or magnitudes no
    training reaches (with them the logits overflow once divided by the temperature)."""
    for name, array in state.items():
        if array.dtype.kind != "f":
            raise CheckpointError(f"{where}: tensor {name!r} holds {array.dtype} values, not floating point")
        if not np.isfinite(array).all():
            raise CheckpointError(f"{where}: tensor {name!r} holds NaN or infinite values; retrain or restore it")
        if array.size and float(np.abs(array).max()) > MAX_WEIGHT:
            raise CheckpointError(f"{where}: tensor {name!r} holds values beyond {MAX_WEIGHT:g}; retrain or restore it")
