"""Names in Han characters: Chinese or Japanese? Measured on the locale lists' validation part.

Each Han-script family name of the validation part (Chinese lists and Japanese lists, as written)
is scored three ways between Chinese and Japanese: on its Mandarin reading (unidecode's, as
world v1 did), on its Japanese reading (pykakasi's, as `Classifier` does now), and on both
summed. For each, accuracy and ECE are printed at several trusts (the share of the answer the
model's reading gets; the rest is spread evenly), so that `scripts.TRUST` is chosen here, on
validation, never on the test part.

    python benchmarks/han_readings.py --locales runs/locales.tsv [--model world]
"""

from __future__ import annotations

import argparse

import numpy as np

from nameorigin import load_model
from nameorigin.data.localedata import read_table
from nameorigin.evaluation.metrics import expected_calibration_error
from nameorigin.text.readings import romanize
from nameorigin.text.scripts import HAN, script_of

TRUSTS = (0.5, 0.7, 0.8, 0.9, 0.95, 1.0)


def pair_proba(clf, texts: list[str]) -> np.ndarray:
    """P(Chinese), P(Japanese) of each reading, the other labels left out."""
    proba = clf.predict_proba(texts)[:, [clf.labels.index("Chinese"), clf.labels.index("Japanese")]]
    return proba / proba.sum(1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locales", required=True)
    parser.add_argument("--model", default="world")
    args = parser.parse_args()
    table, clf = read_table(args.locales), load_model(args.model)
    rows = [i for i in table.rows("val", "family") if table.labels[i] in ("Chinese", "Japanese")
            and script_of(table.written[i]) == HAN]
    names = [table.written[i] for i in rows]
    truth = np.asarray([table.labels[i] == "Japanese" for i in rows], dtype=np.int64)
    mandarin = pair_proba(clf, [romanize(n) for n in names])
    japanese = pair_proba(clf, [romanize(n, "Japanese") for n in names])
    both = np.stack([mandarin[:, 0], japanese[:, 1]], 1)
    ways = {"Mandarin reading": mandarin, "Japanese reading": japanese, "each on its own": both / both.sum(1, keepdims=True)}
    print(f"{len(names)} validation family names in Han characters: {int((1 - truth).sum())} Chinese, "
          f"{int(truth.sum())} Japanese")
    print("| reading | trust | accuracy | ECE |\n| --- | --- | --- | --- |")
    for way, proba in ways.items():
        for trust in TRUSTS:
            mixed = trust * proba + (1 - trust) / 2
            accuracy = float((mixed.argmax(1) == truth).mean())
            ece = expected_calibration_error(mixed, truth)
            print(f"| {way} | {trust} | {accuracy:.1%} | {ece:.3f} |")


if __name__ == "__main__":
    main()
