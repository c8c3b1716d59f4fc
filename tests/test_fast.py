"""The fast kernels must give the readable networks' answers: training runs one, every prediction the other."""

from __future__ import annotations

import pytest
import torch

from nameorigin.config import Config
from nameorigin.data.encoded import encode
from nameorigin.models.fast import SigmoidRecurrence, fast_model, supports
from nameorigin.models.recurrent import Ensemble, RecurrentClassifier
from nameorigin.models.tutorial import ScratchRNN
from nameorigin.models import build_model
from nameorigin.inference.classifier import predict_logits

NAMES = ["O", "Li", "Qin", "Nguyen", "Abramovich", "Ng", "Schwarzenegger-Montgomery", "Xu", "D'Arcy", "Ma"]


# --- the scratch RNN: fast=True (training's path) against the tutorial's step as written -----------


def _logits_and_gradients(model: ScratchRNN, names: list[str], seed: int):
    chars, lengths = encode(names)
    targets = torch.arange(len(names)) % model.in2output.out_features
    model.zero_grad()
    torch.manual_seed(seed)  # the same initial state h_0 for both paths in train mode
    logits = model(chars, lengths)
    torch.nn.functional.cross_entropy(logits, targets).backward()
    grads = {n: torch.zeros_like(p) if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    return logits.detach(), grads


@pytest.mark.parametrize("names", [NAMES, ["x", "Qin", "y", "Abdullah-Khan"], ["a", "b", "c"]],
                         ids=["mixed", "mixed-with-one-letter", "one-letter-only"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_fast_scratch_rnn_equals_the_tutorial_step(names, mode):
    torch.manual_seed(0)
    model = ScratchRNN(59, 32, 5).train(mode == "train")
    model.fast = True
    fast, fast_grads = _logits_and_gradients(model, names, seed=1)
    model.fast = False
    readable, readable_grads = _logits_and_gradients(model, names, seed=1)
    torch.testing.assert_close(fast, readable, atol=1e-5, rtol=0)
    for name, grad in readable_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=1e-5, rtol=0, msg=name)
    assert any(g.abs().sum() > 0 for g in readable_grads.values())


def test_training_uses_the_fast_path():
    assert build_model(Config(arch="rnn"), n_labels=3).fast
    assert not ScratchRNN(59, 8, 3, fast=False).fast


def test_hand_written_backprop_through_time_matches_autograd():
    """SigmoidRecurrence's backward pass against finite differences, in double precision."""
    torch.manual_seed(0)
    u = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(3, 5, dtype=torch.float64, requires_grad=True)
    w_h = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SigmoidRecurrence.apply, (u, h0, w_h))
    assert torch.autograd.gradcheck(SigmoidRecurrence.apply, (u[:0], h0, w_h))


# --- GRU classifiers: the re-laid-out inference path against the module ----------------------------


@pytest.mark.parametrize("options", [
    dict(),
    dict(bidirectional=True),
    dict(bidirectional=True, embedding_dim=12),
    dict(num_layers=2, embedding_dim=8),
    dict(num_layers=3, bidirectional=True, dropout=0.3),
    dict(bidirectional=True, embedding_dim=8, head_size=16),
    dict(bidirectional=True, embedding_dim=8, head_size=16, ngram_dim=6, ngram_buckets=97),
    dict(ngram_dim=4, ngram_buckets=11),
    dict(bidirectional=True, ngram_dim=6, ngram_buckets=97, ngram_max=6, ngram_words=True),
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
    assert supports(model)
    torch.testing.assert_close(fast_model(model)(chars, lengths), model(chars, lengths), atol=1e-5, rtol=0)


@pytest.mark.parametrize("model", [
    RecurrentClassifier("lstm", 59, 8, 3), RecurrentClassifier("gru-cell", 59, 8, 3), ScratchRNN(59, 8, 3),
    Ensemble([RecurrentClassifier("gru", 59, 8, 3), ScratchRNN(59, 8, 3)]),
], ids=["lstm", "gru-cell", "rnn", "mixed-ensemble"])
def test_other_networks_are_run_as_they_are(model):
    assert not supports(model) and fast_model(model) is model


def test_predict_logits_keeps_input_order_across_batches():
    torch.manual_seed(2)
    model = RecurrentClassifier("gru", 59, 16, 4, bidirectional=True, embedding_dim=8)
    names = NAMES * 7
    chars, lengths = encode(names)
    expected = model.eval()(chars, lengths)
    got = predict_logits(model, names, budget=40)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
