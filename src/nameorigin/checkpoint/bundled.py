"""The models shipped inside the package, and how a user's ``--model`` finds a checkpoint folder."""

from __future__ import annotations

import os
from pathlib import Path

from . import METADATA

PRETRAINED = Path(__file__).parent.parent / "pretrained"
# The models shipped inside the package (see MODEL_CARD.md); the first is the default.
BUNDLED = ("world", "tutorial")


def default_model_path() -> Path:
    """The checkpoint `load_model()` uses when given none: the bundled `world` model."""
    return bundled_path(BUNDLED[0])


def bundled_path(name: str) -> Path:
    return PRETRAINED / name


def model_path(model: str | os.PathLike | None) -> Path:
    """A checkpoint folder from what a user gives: None (the default model), the name of a
    bundled model ("world", "tutorial"), or a path. A folder of that name in the working
    directory is taken as the bundled model only when it is not a checkpoint itself."""
    if model is None:
        return default_model_path()
    if isinstance(model, str) and model in BUNDLED and not (Path(model) / METADATA).is_file():
        return bundled_path(model)
    return Path(model)
