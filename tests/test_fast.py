"""The fast kernel must give the readable network's answers: training the tutorial's RNN runs it.
(The numpy runtime, which every prediction runs, is held to the modules in test_runtime.py.)"""

from __future__ import annotations

import pytest
import torch

from nameorigin.models.tensors import encode
from nameorigin.models.fast import SigmoidRecurrence
from nameorigin.models.tutorial import ScratchRNN
from nameorigin.config import Config
from nameorigin.models import build_model

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
