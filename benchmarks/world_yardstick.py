"""The issue's yardstick on this project's world split: a character n-gram logistic regression.

Issue 12 quotes a character 1-4-gram logistic regression trained on 200,000 rows at 78.9 % (full
names) and 65.5 % (family names alone) on a surname-disjoint split. This trains one on the world
model's own split (seed 42), so the two can be compared on the same people: the training side
only, each person drawn as their full name or their family name alone, lower case as the world
model reads them; it is scored on the validation and test parts, full names and family names.
The defaults (n-grams within words, C = 1) were the best on validation of those tried; the
model card has the table.

    python benchmarks/world_yardstick.py                 # 200,000 rows, about 2 minutes here
    python benchmarks/world_yardstick.py --analyzer char --C 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nameorigin.config import PRESETS
from nameorigin.data.world import WorldData, load_world

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def training_rows(world: WorldData, rows: int, seed: int) -> tuple[list[str], np.ndarray]:
    """`rows` names from the training side: half full names, half family names alone, of
    people drawn without repeats."""
    rng = np.random.default_rng(seed)
    people = rng.permutation(world.wiki_split.train)[:rows // 2]
    full, y_full = world.wiki("full", people)
    surname, y_surname = world.wiki("surname", people)
    return full + surname, np.concatenate([y_full, y_surname])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--wiki", type=Path, default=SHARED / "wiki" / "names.tsv")
    parser.add_argument("--data", type=Path, default=SHARED / "names")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--analyzer", choices=("char", "char_wb"), default="char_wb",
                        help="char: n-grams over the whole name; char_wb: within words, padded with spaces")
    parser.add_argument("--max-iter", type=int, default=1000, help="L-BFGS iterations")
    parser.add_argument("--C", type=float, default=1.0, help="inverse L2 strength")
    args = parser.parse_args()
    world = load_world(PRESETS["world"][0], str(args.data), str(args.wiki), progress=False)
    names, labels = training_rows(world, args.rows, args.seed)
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer=args.analyzer, ngram_range=(1, 4), sublinear_tf=True, min_df=2)
    model = LogisticRegression(max_iter=args.max_iter, C=args.C).fit(vectorizer.fit_transform(names), labels)
    print(f"{args.analyzer} 1-4-grams, C={args.C}: trained on {len(names):,} rows, "
          f"{len(vectorizer.vocabulary_):,} n-grams, {model.n_iter_[0]} iterations, in {time.perf_counter() - start:.0f} s")
    print("| part | full names | family name alone |\n| --- | --- | --- |")
    for part in ("val", "test"):
        rows = getattr(world.wiki_split, part)
        scores = []
        for form in ("full", "surname"):
            x, y = world.wiki(form, rows)
            scores.append(f"{(model.predict(vectorizer.transform(x)) == y).mean() * 100:.1f} %")
        print(f"| {part} ({len(rows):,} people) | " + " | ".join(scores) + " |", flush=True)


if __name__ == "__main__":
    main()
