"""Is world run B better than run A on validation? A paired bootstrap over family names.

The validation part is drawn by family name, so people sharing one (the Singhs, the Gonzalezes)
are right or wrong together, and their count overstates how much the part can tell two runs
apart. This resamples whole families with replacement, scores both checkpoints on the same
draws, and prints the difference in validation accuracy with its 95 % interval: full names,
family names alone, and both together (the figure training selects on). With the locale lists
(runs that read them), their validation parts too, resampled name by name. Validation only: the
test part is for the run already chosen.

    python benchmarks/paired_bootstrap.py src/nameorigin/pretrained/world runs/candidate --locales runs/locales.tsv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from nameorigin import checkpoint
from nameorigin.models.tensors import module_logits
from nameorigin.data.world import WorldData, load_world

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def right_per_family(model: torch.nn.Module, world: WorldData, form: str, family: np.ndarray) -> np.ndarray:
    """How many validation people of each family the model reads right in `form`."""
    names, labels = world.wiki(form, world.wiki_split.val)
    with torch.no_grad():
        right = module_logits(model, names).argmax(1).numpy() == labels
    return np.bincount(family, right.astype(float))


def right_per_name(model: torch.nn.Module, names: list[str], labels: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return (module_logits(model, names).argmax(1).numpy() == labels).astype(float)


def row(form: str, a: np.ndarray, b: np.ndarray, count: np.ndarray, draws: list[np.ndarray]) -> str:
    diffs = [(b[d].sum() - a[d].sum()) / count[d].sum() for d in draws]
    low, high = np.percentile(diffs, [2.5, 97.5]) * 100
    return (f"| {form} | {100 * a.sum() / count.sum():.2f} % | {100 * b.sum() / count.sum():.2f} % | "
            f"{100 * (b.sum() - a.sum()) / count.sum():+.2f} | {low:+.2f} to {high:+.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="checkpoint folder of run A")
    parser.add_argument("b", help="checkpoint folder of run B")
    parser.add_argument("--wiki", type=Path, default=SHARED / "wiki" / "names.tsv")
    parser.add_argument("--data", type=Path, default=SHARED / "names")
    parser.add_argument("--locales", type=Path, help="the locale table (for runs that read it)")
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    (model_a, meta_a), (model_b, meta_b) = checkpoint.load(args.a), checkpoint.load(args.b)
    if (meta_a.config.seed, meta_a.config.val_size) != (meta_b.config.seed, meta_b.config.val_size):
        parser.error("the two runs split the people differently (seed or val_size differ)")
    world = load_world(meta_a.config, str(args.data), str(args.wiki), args.locales and str(args.locales),
                       progress=False, training=False)
    surnames = [s.lower() for s in world.people.form("surname", world.wiki_split.val)]
    keys, family = np.unique(surnames, return_inverse=True)
    people = np.bincount(family).astype(float)
    right = {form: [right_per_family(m.eval(), world, form, family) for m in (model_a, model_b)]
             for form in ("full", "surname")}
    right["both"] = [right["full"][k] + right["surname"][k] for k in range(2)]
    rng = np.random.default_rng(args.seed)
    draws = [rng.integers(0, len(keys), len(keys)) for _ in range(args.draws)]
    print(f"{len(surnames):,} validation people, {len(keys):,} families, {args.draws} draws")
    print("| names | A | B | B - A | 95 % interval |\n| --- | --- | --- | --- | --- |")
    for form, (a, b) in right.items():
        print(row(form, a, b, people * (2 if form == "both" else 1), draws))
    if world.locales is None:
        return
    for kind in ("full", "family"):
        names, labels = world.locale_part("val", kind)
        a, b = (right_per_name(m, names, labels) for m in (model_a, model_b))
        picks = [rng.integers(0, len(names), len(names)) for _ in range(args.draws)]
        print(row(f"locale lists, {kind}", a, b, np.ones(len(names)), picks))


if __name__ == "__main__":
    main()
