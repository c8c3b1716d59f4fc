"""How far can this corpus's seed split be pushed? Ensembles, an n-gram blend, and bounds.

Trains several members of the `default` recipe (and of its LSTM variant) on the training part of
the seed split, and a logistic regression over TF-IDF character 1-5-grams beside them. It then
prints the test figures two ways:

- **honest**: every choice (members averaged, blend weight, logit adjustment) made on the
  validation part, the test names touched once;
- **bounds**: the same models with the blend weight and 18 per-class decision biases fitted on
  the test names themselves, for the best accuracy and, separately, the best macro-F1. No model
  anyone could ship is tuned on its test labels, so these estimate from above what tuning these
  models' decisions could ever gain here (coordinate ascent finds a local best, not a proven one).

    python benchmarks/accuracy_ceiling.py --data ../shared/data/names                  # ~12 min here
    python benchmarks/accuracy_ceiling.py --data ... --seeds 2 --archs gru             # quicker look
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from nameorigin.config import PRESETS
from nameorigin.data.corpus import load_corpus, split_corpus
from nameorigin.evaluation.metrics import macro_f1
from nameorigin.models import build_model
from nameorigin.models.tensors import module_logits
from nameorigin.training.pipeline import tune_logit_bias
from nameorigin.training.train import fit
from nameorigin.device import seed_everything

BLEND_WEIGHTS = np.round(np.arange(0.0, 1.001, 0.1), 2)


def figures(y: np.ndarray, scores: np.ndarray, n_labels: int) -> tuple[float, float]:
    predicted = scores.argmax(1)
    return float((predicted == y).mean()), macro_f1(y, predicted, n_labels)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    return torch.log_softmax(torch.as_tensor(logits), 1).numpy()


def ngram_log_proba(train: tuple[list[str], np.ndarray], *parts: list[str]) -> list[np.ndarray]:
    """A logistic regression over TF-IDF character 1-5-grams, with the name's edges marked."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def marked(names: list[str]) -> list[str]:
        return [f"^{name.lower()}$" for name in names]

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 5), sublinear_tf=True)
    model = LogisticRegression(C=30, max_iter=3000).fit(vectorizer.fit_transform(marked(train[0])), train[1])
    return [model.predict_log_proba(vectorizer.transform(marked(names))) for names in parts]


def best_with_class_biases(scores: np.ndarray, y: np.ndarray, n_labels: int, which: str, rounds: int = 3) -> float:
    """The highest `which` ("accuracy" or "macro_f1") that per-class additive biases reach on
    (scores, y), found by coordinate ascent on a grid."""
    metric = ("accuracy", "macro_f1").index(which)
    bias, best = np.zeros(n_labels), figures(y, scores, n_labels)[metric]
    for _ in range(rounds):
        for k in range(n_labels):
            for value in np.linspace(-3, 3, 61):
                trial = bias.copy()
                trial[k] = value
                score = figures(y, scores + trial, n_labels)[metric]
                if score > best + 1e-9:
                    bias, best = trial, score
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="corpus folder or zip (default: as nameorigin finds it)")
    parser.add_argument("--seeds", type=int, default=5, help="members per architecture (default: %(default)s)")
    parser.add_argument("--archs", nargs="+", default=["gru", "lstm"], choices=["gru", "lstm"],
                        help="architectures of the default recipe to train (default: gru lstm)")
    args = parser.parse_args()

    corpus = load_corpus(args.data, progress=False)
    recipe = PRESETS["default"][0]
    split = split_corpus(corpus, "seed", recipe.seed, recipe.test_size, recipe.val_size)
    train, val, test = (corpus.subset(rows) for rows in (split.train, split.val, split.test))
    n_labels = len(corpus.label_names)
    rows: list[tuple[str, tuple[float, float], tuple[float, float]]] = []

    def row(label: str, val_scores: np.ndarray, test_scores: np.ndarray) -> None:
        rows.append((label, figures(val[1], val_scores, n_labels), figures(test[1], test_scores, n_labels)))
        (va, vf), (ta, tf) = rows[-1][1:]
        print(f"{label:<58} val {va:6.2%} {vf:.3f}   test {ta:6.2%} {tf:.3f}", flush=True)

    members: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {arch: [] for arch in args.archs}
    for arch in args.archs:
        for seed in range(recipe.seed, recipe.seed + args.seeds):
            config = replace(recipe, arch=arch, seed=seed)
            seed_everything(seed)
            model = build_model(config, n_labels)
            start = time.perf_counter()
            fit(model, config, train, val, n_labels=n_labels, progress=True, log=lambda _: None)
            members[arch].append(tuple(log_softmax(module_logits(model, part[0]).numpy()) for part in (val, test)))
            row(f"{arch} seed {seed} ({time.perf_counter() - start:.0f} s)", *members[arch][-1])

    ensembles = {f"{arch} x{len(found)}": found for arch, found in members.items()}
    if len(args.archs) > 1:
        ensembles[" + ".join(ensembles)] = [m for found in members.values() for m in found]
    ngram_val, ngram_test = ngram_log_proba(train, val[0], test[0])
    row("n-gram logistic regression", ngram_val, ngram_test)
    prior = np.bincount(train[1], minlength=n_labels) / len(train[1])

    bounds = []
    for label, found in ensembles.items():
        ens_val, ens_test = (np.mean([m[i] for m in found], axis=0) for i in (0, 1))
        row(f"{label} (mean log-probability)", ens_val, ens_test)
        best = None
        for w in BLEND_WEIGHTS:
            blend_val = (1 - w) * ens_val + w * ngram_val
            t, bias = tune_logit_bias(torch.as_tensor(blend_val), val[1], prior)
            key = figures(val[1], blend_val + bias, n_labels)[::-1]
            if best is None or key > best[0]:
                best = (key, w, t, bias)
        _, w, t, bias = best
        row(f"{label} + n-grams, w={w:g} t={t:g} chosen on validation",
            (1 - w) * ens_val + w * ngram_val + bias, (1 - w) * ens_test + w * ngram_test + bias)
        blends = {w: (1 - w) * ens_test + w * ngram_test for w in (0.0, 0.3, 0.5, 0.7)}
        bounds.append((label, *(max((best_with_class_biases(s, test[1], n_labels, which), w) for w, s in blends.items())
                                for which in ("accuracy", "macro_f1"))))

    print("\nBounds: blend weight (0, 0.3, 0.5 or 0.7) and 18 per-class biases fitted on the test names"
          " themselves, for each figure separately (not a model anyone could ship):")
    for label, (accuracy, w_acc), (f1, w_f1) in bounds:
        print(f"  {label} + n-grams: accuracy at most {accuracy:.2%} (w={w_acc:g}), "
              f"macro-F1 at most {f1:.3f} (w={w_f1:g})")


if __name__ == "__main__":
    main()
