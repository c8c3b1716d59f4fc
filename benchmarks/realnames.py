"""Real-name check: `world` models on the locale lists' test parts, per locale, worst first.

The locale table (``nameorigin data build-locales``) splits every Faker and Mimesis list by name
into train / validation / test parts; the world model trains on the first and is chosen on the
second. This script predicts the test part's family names, as written (kanji, Cyrillic, Greek),
and full names made from the same locale's test given and family names, through the whole
`Classifier` as a user would, and prints top-1 accuracy per locale as a Markdown table, the
worst locale (by the candidate's full names) first, a baseline model beside the candidate.

    pip install -e '.[locales]'
    nameorigin data build-locales --out runs/locales.tsv
    python benchmarks/realnames.py --locales runs/locales.tsv                   # world v1 (git) beside v2
    python benchmarks/realnames.py --locales runs/locales.tsv --candidate runs/world --baseline world

A baseline given as ``git:REV`` is the bundled `world` model at that commit, read from git.
"""

from __future__ import annotations

import argparse

import numpy as np
from revisions import WORLD_V1, load

from nameorigin.data.localedata import read_table

SEED = 2  # the full names made for the test part, as `world.PART_SEEDS["test"]`


def accuracy(clf, names: list[str], labels: list[str]) -> float:
    if not names:
        return float("nan")
    return float(np.mean([r.label == y for r, y in zip(clf.predict(names, top_k=1), labels)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locales", required=True, help="the locale table (nameorigin data build-locales)")
    parser.add_argument("--candidate", default="world", help="model to check (default: the bundled world)")
    parser.add_argument("--baseline", default=WORLD_V1, help=f"model beside it (default: {WORLD_V1}, world v1)")
    args = parser.parse_args()
    table = read_table(args.locales)
    models = {"baseline": load(args.baseline), "candidate": load(args.candidate)}
    rows = []
    for locale in table.mapped_locales():
        family = table.rows("test", "family", locale)
        surnames, surname_labels = [table.written[i] for i in family], [table.labels[i] for i in family]
        full, full_labels = table.full_names("test", np.random.default_rng(SEED), locale, written=True)
        scores = [accuracy(m, names, ys) for m in models.values()
                  for names, ys in ((surnames, surname_labels), (full, full_labels))]
        rows.append((locale, surname_labels[0], len(surnames), len(full), *scores))
    rows.sort(key=lambda r: (np.nan_to_num(r[7], nan=2.0), r[0]))
    print(f"baseline: {args.baseline}; candidate: {args.candidate}\n")
    print("| locale | label | family names | full names | baseline family | baseline full | candidate family "
          "| candidate full |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for locale, label, n_family, n_full, *scores in rows:
        print(f"| {locale} | {label} | {n_family} | {n_full} | " + " | ".join(f"{x:.1%}" for x in scores) + " |")
    for other in (False, True):
        picked = [r[4:] for r in rows if (r[1] == "Other") == other]
        mean = np.nanmean(picked, axis=0)
        print(f"| mean of {len(picked)} | {'Other' if other else 'the 18'} | | | "
              + " | ".join(f"{x:.1%}" for x in mean) + " |")


if __name__ == "__main__":
    main()
