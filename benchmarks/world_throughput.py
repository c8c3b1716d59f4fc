"""Batch prediction speed on the names the world model is for, as the model card reports it.

`Classifier.predict_proba` on 20,000 distinct Wikipedia full names, 20,000 distinct family names
and 10,000 distinct tutorial names (no name twice, so each one costs a forward pass), best of 3
runs with the slowest beside it, on 2 PyTorch threads and on 1, for each model given. The issue's
goals are 25,000 full names/s and 50,000 family names/s. Run it on a quiet machine (the load
average is printed): on a shared 2-core machine the figures move a lot with what else runs.

    python benchmarks/world_throughput.py git:3d020bd world     # world v1 beside the bundled v2
    python benchmarks/world_throughput.py runs/candidate --wiki ../shared/data/wiki/names.tsv

A model is a bundled name, a checkpoint folder, or ``git:REV`` (`revisions.py`).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import torch
from revisions import load

from nameorigin.data.corpus import load_corpus
from nameorigin.inference.classifier import Classifier
from nameorigin.data.wiki import load_people

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def names_per_second(clf: Classifier, names: list[str], runs: int = 3) -> list[float]:
    clf.predict_proba(names[:500])
    speeds = []
    for _ in range(runs):
        start = time.perf_counter()
        clf.predict_proba(names)
        speeds.append(len(names) / (time.perf_counter() - start))
    return speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["world"], help="bundled names, checkpoint folders or git:REV")
    parser.add_argument("--wiki", type=Path, default=SHARED / "wiki" / "names.tsv")
    parser.add_argument("--data", type=Path, default=SHARED / "names")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    people = load_people(args.wiki)
    rng = random.Random(args.seed)
    sets = {"full names": rng.sample(sorted(set(people.full)), 20000),
            "family names": rng.sample(sorted(set(people.surname)), 20000),
            "tutorial names": rng.sample(sorted(set(load_corpus(args.data, progress=False).names)), 10000)}
    print(f"load average {os.getloadavg()[0]:.2f}; best of 3 (slowest-fastest)")
    print("| model | threads | " + " | ".join(f"{k} ({len(v):,})" for k, v in sets.items()) + " |")
    for model in args.models:
        clf = load(model)
        for threads in (2, 1):
            torch.set_num_threads(threads)
            cells = []
            for names in sets.values():
                speeds = names_per_second(clf, names)
                cells.append(f"{max(speeds):,.0f}/s ({min(speeds):,.0f}-{max(speeds):,.0f})")
            print(f"| {model} | {threads} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
