"""Models for the benchmarks by name: a bundled name, a checkpoint folder, or ``git:REV``, the
bundled `world` model as it was at a commit, so that a model no longer shipped (world v1 is
``git:3d020bd``) can be measured beside the one that replaced it, in one run."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from nameorigin.inference.classifier import Classifier, load_model

WORLD_V1 = "git:3d020bd"
ROOT = Path(__file__).resolve().parents[1]


def load(spec: str) -> Classifier:
    if not spec.startswith("git:"):
        return load_model(spec)
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("model.safetensors", "model.json"):
            blob = subprocess.run(["git", "-C", str(ROOT), "show", f"{spec[4:]}:src/nameorigin/pretrained/world/{name}"],
                                  check=True, capture_output=True).stdout
            (Path(scratch) / name).write_bytes(blob)
        return load_model(scratch)
