from __future__ import annotations

import numpy as np
import pytest
import torch

from nameorigin.training.calibration import ece_temperature, fit_temperature
from nameorigin.evaluation.metrics import expected_calibration_error, reliability


def test_temperature_undoes_known_overconfidence():
    """Labels drawn from softmax(z); logits handed over as 3 z: the fitted T must be about 3."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(20_000, 5, generator=gen)
    labels = torch.multinomial(torch.softmax(z, 1), 1, generator=gen).squeeze(1)
    assert abs(fit_temperature(3 * z, labels) - 3) < 0.15


def test_the_ece_temperature_agrees_when_likelihood_is_right_and_lowers_ece_when_not():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(20_000, 5, generator=gen)
    labels = torch.multinomial(torch.softmax(z, 1), 1, generator=gen).squeeze(1)
    assert abs(ece_temperature(3 * z, labels) - 3) < 0.3
    # a model sure of its top answer in a way one temperature can't fix for likelihood and ECE alike
    bent = 3 * z + 4 * torch.nn.functional.one_hot(z.argmax(1), 5)
    likely, chosen = fit_temperature(bent, labels), ece_temperature(bent, labels)
    ece = [expected_calibration_error(torch.softmax(bent / t, 1).numpy(), labels.numpy()) for t in (likely, chosen)]
    assert ece[1] < ece[0] - 0.01 and likely / 2 <= chosen <= likely * 2


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 50_000)
    correct = rng.uniform(size=50_000) < confidence
    proba = np.stack([confidence, 1 - confidence], axis=1)
    labels = np.where(correct, 0, 1)
    assert expected_calibration_error(proba, labels) < 0.01
    assert expected_calibration_error(proba, np.ones_like(labels)) > 0.5


def test_reliability_bins_count_every_prediction():
    proba = np.array([[0.95, 0.05], [0.55, 0.45], [0.5, 0.5], [1.0, 0.0]])
    bins = reliability(proba, np.array([0, 1, 0, 0]), n_bins=10)
    assert sum(bins["count"]) == 4 and bins["count"][9] == 2
    assert bins["accuracy"][9] == 1.0


def test_headline_metrics_agree_with_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score, top_k_accuracy_score

    from nameorigin.evaluation.metrics import headline

    rng = np.random.default_rng(0)
    n_labels = 7
    y = rng.integers(0, n_labels - 1, 500)  # the last class never occurs
    proba = rng.dirichlet(np.ones(n_labels) * 0.3, size=500)
    proba[np.arange(100), y[:100]] += 2.0
    proba /= proba.sum(1, keepdims=True)
    got = headline(y, proba)
    ids = np.arange(n_labels)
    assert got["n_test"] == 500
    assert got["accuracy"] == pytest.approx(accuracy_score(y, proba.argmax(1)))
    assert got["macro_f1"] == pytest.approx(f1_score(y, proba.argmax(1), labels=ids, average="macro", zero_division=0))
    assert got["top3_accuracy"] == pytest.approx(top_k_accuracy_score(y, proba, k=3, labels=ids))
