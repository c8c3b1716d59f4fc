"""Prediction sets, population priors and coarse groups, measured on the test sets (issue 23).

For each test set of a checkpoint (the tutorial test split; for a world model also Wikipedia's test
people as full names and as family names, and the locale lists' test parts): the share of names
whose prediction set holds the true label, and the mean set size, at 80, 90 and 95 % (label and
group level); and top-1 accuracy at label and group level. Then the prior experiment: samples of
`--sample` test names re-drawn so that Spanish and Portuguese are half of them (each label keeps
its own share within its half), scored with no prior, the sample's true mix, and ``auto`` (EM);
and how far the EM estimate and the count of the model's own answers are from the true mix (L1).

    python benchmarks/answer_sets.py --model tutorial --data ../shared/data/names
    python benchmarks/answer_sets.py --model /tmp/world --data ../shared/data/names \\
        --wiki ../shared/data/wiki/names.tsv --locales runs/locales.tsv

The checkpoint must hold prediction-set scores (``nameorigin calibrate-sets``).
"""

from __future__ import annotations

import argparse

import numpy as np

from nameorigin.data.corpus import load_corpus, split_corpus
from nameorigin.inference import priors
from nameorigin.inference.answers import AnswerOptions, answer, train_mix_of
from nameorigin.inference.classifier import load_model
from nameorigin.inference.groups import Grouping

LEVELS = (0.8, 0.9, 0.95)
SHIFTED = ("Spanish", "Portuguese")


def test_sets(clf, data: str | None, wiki: str | None, locales: str | None) -> dict:
    meta = clf.metadata
    if meta.config.corpus == "world":
        from nameorigin.data.world import check_world_fingerprints, load_world

        world = load_world(meta.config, data, wiki, locales, training=False)
        check_world_fingerprints(world, meta.extra.get("world", {}))
        return world.test_sets()
    corpus = load_corpus(data)
    s = meta.split
    split = split_corpus(corpus, s["kind"], s["seed"], s["test_size"], s.get("val_size", 0.0))
    return {"tutorial": corpus.subset(split.test)}


def coverage_rows(name: str, proba: np.ndarray, truth: np.ndarray, one_word: np.ndarray, clf,
                  texts: list[str]) -> list[str]:
    grouping, cells = Grouping.of(clf.labels), []
    kinds = (False, True) if clf.metadata.conformal.exact is not None else (False,)
    for level, ids in (("label", truth), ("group", grouping.ids(truth))):
        for randomized in kinds:
            out = []
            for c in LEVELS:
                answers = answer(proba, clf.labels, clf.metadata, AnswerOptions(level, c, None, randomized),
                                 one_word, texts)
                sizes = np.array([len(s) for s in answers.sets])
                covered = np.mean([t in s for s, t in zip(answers.sets, ids)])
                out.append(f"{100 * covered:.1f} / {sizes.mean():.2f}" + (f" / {100 * np.mean(sizes == 0):.1f}"
                                                                         if randomized else ""))
            accuracy = np.mean(answers.proba.argmax(axis=1) == ids)
            sets = "randomized" if randomized else "deterministic"
            cells.append(f"| {name} | {level} | {sets} | {len(ids)} | {100 * accuracy:.1f} | " + " | ".join(out) + " |")
    return cells


def shifted_sample(truth: np.ndarray, labels: list[str], n: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a sample of `n`, half of it Spanish and Portuguese (drawn with replacement
    where there are too few), each label keeping its share within its half."""
    shifted = np.isin(truth, [labels.index(x) for x in SHIFTED if x in labels])
    inside, outside = np.flatnonzero(shifted), np.flatnonzero(~shifted)
    half = n // 2
    pick = [rng.choice(rows, size=size, replace=size > len(rows)) for rows, size in ((inside, half), (outside, n - half))]
    return np.concatenate(pick)


def prior_rows(name: str, proba: np.ndarray, truth: np.ndarray, one_word: np.ndarray, clf, n: int,
               seed: int) -> list[str]:
    rows = shifted_sample(truth, clf.labels, n, np.random.default_rng(seed))
    p, y, train = proba[rows], truth[rows], train_mix_of(clf.metadata, one_word[rows])
    true_mix = priors.label_mix(y, len(clf.labels))
    em = priors.estimate(p, train)
    counted = priors.label_mix(p.argmax(axis=1), len(clf.labels))
    accuracy = [np.mean(q.argmax(axis=1) == y) for q in (p, priors.reweight(p, true_mix, train),
                                                           priors.reweight(p, em, train))]
    natural = priors.label_mix(truth, len(clf.labels))
    return [f"| {name} | {len(y)} | " + " | ".join(f"{100 * a:.1f}" for a in accuracy)
            + f" | {np.abs(em - true_mix).sum():.3f} | {np.abs(counted - true_mix).sum():.3f}"
            + f" | {np.abs(natural - true_mix).sum():.3f} |"]


def scored_sets(clf, args) -> dict:
    """Each test set's probabilities, true labels and one-word flags, less names not scored."""
    out = {}
    for name, (names, truth) in test_sets(clf, args.data, args.wiki, args.locales).items():
        proba = clf.predict_proba(names)
        ok = ~np.isnan(proba).any(axis=1)
        texts = [r.normalized for r in clf.predict(names, top_k=1)]
        one_word = np.asarray([" " not in t for t in texts])
        out[name] = (proba[ok], np.asarray(truth)[ok], one_word[ok], [t for t, k in zip(texts, ok) if k])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tutorial")
    parser.add_argument("--data")
    parser.add_argument("--wiki")
    parser.add_argument("--locales")
    parser.add_argument("--sample", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clf = load_model(args.model)
    scored = scored_sets(clf, args)
    print(f"model {args.model} ({clf.revision[:12]}); sets calibrated on {clf.metadata.conformal.label.n} names\n")
    print("covered % / mean size (/ empty sets %, randomized sets)\n")
    print("| test set | level | sets | names | top-1 % | " + " | ".join(f"{int(100 * c)} %" for c in LEVELS) + " |")
    print("|---|---|---|---:|---:|" + "---:|" * len(LEVELS))
    for name, (proba, truth, one_word, texts) in scored.items():
        print("\n".join(coverage_rows(name, proba, truth, one_word, clf, texts)))
    print(f"\nprior experiment: {args.sample} names re-drawn to 50 % {' and '.join(SHIFTED)} (seed {args.seed})\n")
    print("| test set | names | top-1 % no prior | true prior | auto (EM) | L1 EM | L1 counting | L1 test mix |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (proba, truth, one_word, _) in scored.items():
        print("\n".join(prior_rows(name, proba, truth, one_word, clf, args.sample, args.seed)))


if __name__ == "__main__":
    main()
