"""Imports point one way: a module imports from its own layer and the layers below it, never above.

The layers let a reader (and a deployment) take the package from the bottom up: prediction needs
text, data encoding, models, checkpoints and inference, and none of training.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "nameorigin"
# Lowest first: the first package of each part of `nameorigin.` (or top-level module).
LAYERS = (
    ("errors", "files", "jsontext", "config", "conformal", "argtypes", "threads", "device"),
    ("text",),
    ("data",),
    ("runtime",),
    ("models",),
    ("checkpoint",),
    ("inference",),
    ("evaluation",),
    ("training",),
    ("report", "stream", "serve"),
    ("cli", "__main__", "__init__"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
MODULES = sorted(p.relative_to(PACKAGE.parent) for p in PACKAGE.rglob("*.py"))


def module_name(path: Path) -> tuple[str, bool]:
    """(dotted name, whether it is a package's __init__)."""
    parts = path.with_suffix("").parts
    return (".".join(parts[:-1]), True) if parts[-1] == "__init__" else (".".join(parts), False)


def rank(module: str) -> int | None:
    """The layer of `module`; None for the package root, which every import of the package runs
    first anyway (it holds the version and nothing heavy)."""
    parts = module.split(".")
    if parts[0] != "nameorigin" or len(parts) == 1:
        return None
    return RANK[parts[1]]


def imported(tree: ast.Module, name: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module of the package that `tree` imports, anywhere in it, with its line."""
    found = []
    here = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if node.module is None and len(base) == 1:  # `from . import x` in a top-level module
                found += [(node.lineno, f"{module}.{a.name}") for a in node.names if a.name in RANK]
            else:
                found.append((node.lineno, module))
    return found


def test_every_module_has_a_layer():
    unplaced = {p.parts[1].removesuffix(".py") for p in MODULES if len(p.parts) > 1} - set(RANK)
    assert not unplaced, f"add {sorted(unplaced)} to LAYERS"


@pytest.mark.parametrize("path", MODULES, ids=str)
def test_imports_point_down(path: Path):
    name, is_package = module_name(path)
    own = RANK["__init__"] if name == "nameorigin" else rank(name)
    tree = ast.parse((PACKAGE.parent / path).read_text(encoding="utf-8"))
    upward = [f"line {line}: {target}" for line, target in imported(tree, name, is_package)
              if (r := rank(target)) is not None and r > own]
    assert not upward, f"{name} imports from a higher layer: {upward}"


def test_prediction_imports_no_training():
    code = ("import sys\nfrom nameorigin import load_model\n"
            "load_model('tutorial').predict(['Dostoevsky'])\n"
            "print(sorted(m for m in sys.modules if m.startswith(('nameorigin.training', 'nameorigin.evaluation'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
