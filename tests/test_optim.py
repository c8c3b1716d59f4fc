"""Our Adam(W) + one-cycle must take exactly the steps torch.optim.AdamW + OneCycleLR take."""

from __future__ import annotations

import pytest
import torch

from nameorigin.training.optim import AdamW, OneCycle, clip_grad_norm


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


@pytest.mark.parametrize("weight_decay, schedule", [(0.0, False), (0.05, False), (0.0, True), (0.05, True)])
def test_matches_torch_optim_step_by_step(weight_decay, schedule):
    ours, theirs = _model(), _model()
    opt_a = AdamW(ours.parameters(), lr=1e-2, weight_decay=weight_decay)
    opt_b = torch.optim.AdamW(theirs.parameters(), lr=1e-2, weight_decay=weight_decay, foreach=False)
    steps = 40
    sched_a = OneCycle(opt_a, max_lr=1e-2, total_steps=steps) if schedule else None
    sched_b = torch.optim.lr_scheduler.OneCycleLR(opt_b, max_lr=1e-2, total_steps=steps, pct_start=0.1) \
        if schedule else None
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(16, 6, generator=gen), torch.randint(0, 3, (16,), generator=gen)
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        if schedule:
            sched_a.step()
            sched_b.step()
            assert opt_a.lr == pytest.approx(opt_b.param_groups[0]["lr"], rel=1e-9)
            assert opt_a.beta1 == pytest.approx(opt_b.param_groups[0]["betas"][0], rel=1e-9)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert not torch.equal(next(ours.parameters()), next(_model().parameters()))


def test_a_parameter_without_gradient_is_left_alone_and_keeps_its_own_step_count():
    ours, theirs = _model(), _model()
    opt_a = AdamW(ours.parameters(), lr=1e-2, weight_decay=0.05)
    opt_b = torch.optim.AdamW(theirs.parameters(), lr=1e-2, weight_decay=0.05, foreach=False)
    gen = torch.Generator().manual_seed(2)
    for step in range(12):
        x, y = torch.randn(16, 6, generator=gen), torch.randint(0, 3, (16,), generator=gen)
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            if step % 3 == 0:  # the first layer sits some steps out, as in2hidden does on a batch of 1-letter names
                model[0].weight.grad = None
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("max_norm", [1e-3, 1e3])
def test_clip_grad_norm_matches_torch(max_norm):
    ours, theirs = _model(), _model()
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    for model in (ours, theirs):
        torch.nn.functional.cross_entropy(model(x), y).backward()
    norm_a = clip_grad_norm(list(ours.parameters()), max_norm)
    norm_b = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm)
    torch.testing.assert_close(norm_a, norm_b, atol=0, rtol=1e-5)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=0, rtol=1e-5)  # relative: clipped grads are tiny
    clipped = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours.parameters()]))
    assert clipped <= max_norm * (1 + 1e-5) and (max_norm < 1 or clipped == pytest.approx(float(norm_a)))


def test_a_gradient_laid_out_unlike_its_parameter_gets_the_same_step():
    ours, theirs = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    theirs.load_state_dict(ours.state_dict())
    opt_a = AdamW(ours.parameters(), lr=1e-2, weight_decay=0.05)
    opt_b = torch.optim.AdamW(theirs.parameters(), lr=1e-2, weight_decay=0.05, foreach=False)
    gen = torch.Generator().manual_seed(3)
    for _ in range(3):
        grad_w, grad_b = torch.randn(5, 3, generator=gen).T, torch.randn(3, generator=gen)  # a transposed view
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            model.weight.grad, model.bias.grad = grad_w.clone() if model is theirs else grad_w, grad_b.clone()
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
