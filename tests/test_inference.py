"""The re-laid-out inference path must give the module's answers: it is what every prediction uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nameorigin.data import encode
from nameorigin.inference import fast_model, supports
from nameorigin.models import Ensemble, RecurrentClassifier
from nameorigin.predict import predict_logits

NAMES = ["O", "Li", "Qin", "Nguyen", "Abramovich", "Ng", "Schwarzenegger-Montgomery", "Xu", "D'Arcy", "Ma"]


@pytest.mark.parametrize("options", [
    dict(),
    dict(bidirectional=True),
    dict(bidirectional=True, embedding_dim=12),
    dict(num_layers=2, embedding_dim=8),
    dict(num_layers=3, bidirectional=True, dropout=0.3),
])
def test_fast_gru_equals_the_module_on_mixed_lengths(options):
    torch.manual_seed(0)
    model = RecurrentClassifier("gru", 59, 24, 18, **options).eval()
    chars, lengths = encode(NAMES)
    fast = fast_model(model)
    assert fast is not model
    torch.testing.assert_close(fast(chars, lengths), model(chars, lengths), atol=1e-5, rtol=0)


def test_fast_ensemble_equals_the_module():
    torch.manual_seed(1)
    model = Ensemble([RecurrentClassifier("gru", 59, 16, 5, bidirectional=True) for _ in range(3)]).eval()
    chars, lengths = encode(NAMES)
    torch.testing.assert_close(fast_model(model)(chars, lengths), model(chars, lengths), atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ["lstm", "gru-cell"])
def test_other_layers_are_run_as_they_are(arch):
    model = RecurrentClassifier(arch, 59, 8, 3)
    assert not supports(model) and fast_model(model) is model


def test_predict_logits_keeps_input_order_across_batches():
    torch.manual_seed(2)
    model = RecurrentClassifier("gru", 59, 16, 4, bidirectional=True, embedding_dim=8)
    names = NAMES * 7
    chars, lengths = encode(names)
    expected = model.eval()(chars, lengths)
    got = predict_logits(model, names, budget=40)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
