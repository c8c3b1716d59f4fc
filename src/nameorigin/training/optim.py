"""Adam(W), gradient clipping and the one-cycle schedule, without ``torch.optim``.

Why not ``torch.optim``: constructing any of its optimizers imports PyTorch's compiler stack
(``torch._dynamo``), a large share of a short run of the scratch RNN (docs/design.md measures
it). The arithmetic here is the same as ``torch.optim.AdamW`` driven by
``torch.optim.lr_scheduler.OneCycleLR`` (cosine, momentum cycled between 0.85 and 0.95);
tests/test_optim.py checks the two against each other step by step.
"""

from __future__ import annotations

import math

import torch


class AdamW:
    """Adam with decoupled weight decay (Loshchilov & Hutter); ``weight_decay=0`` is plain Adam.

    The update of all parameters is one call of PyTorch's fused AdamW kernel, the one behind
    ``torch.optim.AdamW(fused=True)``: on a CPU it is four times quicker than the multi-tensor ops.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.beta1, self.beta2 = lr, betas[0], betas[1]
        self.eps, self.weight_decay = eps, weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        # Each parameter counts its own steps (for Adam's bias correction), as torch.optim does:
        # a parameter with no gradient in a step is not updated and does not count it.
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        pick = lambda tensors: [tensors[i] for i in live]
        params, steps = pick(self.params), pick(self.steps)
        torch._foreach_add_(steps, 1)
        # The kernel walks a parameter and its gradient as flat memory: a gradient laid out
        # differently (set by hand, say a transposed view) is copied into the parameter's layout.
        grads = [p.grad if p.grad.stride() == p.stride() else torch.empty_like(p).copy_(p.grad) for p in params]
        torch._fused_adamw_(params, grads, pick(self.exp_avg), pick(self.exp_avg_sq), [], steps, lr=self.lr,
                            beta1=self.beta1, beta2=self.beta2, weight_decay=self.weight_decay, eps=self.eps,
                            amsgrad=False, maximize=False)


def clip_grad_norm(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale the gradients down so that their joint L2 norm is at most `max_norm`; returns the norm
    before clipping. The arithmetic of ``torch.nn.utils.clip_grad_norm_`` in a third of its time."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, (max_norm / (norm + 1e-6)).clamp_(max=1.0))
    return norm


def _cosine(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


class OneCycle:
    """Warm the learning rate up from lr/25 to lr over the first `pct_start` of the steps while
    lowering Adam's beta1 from 0.95 to 0.85, then anneal to lr/25e4 and raise beta1 back: large
    steps early, fine ones at the end, which is what lets big batches train in few epochs."""

    def __init__(self, optimizer: AdamW, max_lr: float, total_steps: int, pct_start: float = 0.1,
                 momentum: tuple[float, float] = (0.85, 0.95)):
        self.optimizer, self.max_lr, self.total = optimizer, max_lr, total_steps
        self.warmup_end = float(pct_start * total_steps) - 1
        self.momentum = momentum
        self.step_num = 0
        self._apply()

    def _apply(self) -> None:
        low, high = self.momentum
        first, last = self.max_lr / 25, self.max_lr / 25 / 1e4
        if self.step_num <= self.warmup_end:
            pct = self.step_num / self.warmup_end if self.warmup_end > 0 else 1.0
            lr, beta1 = _cosine(first, self.max_lr, pct), _cosine(high, low, pct)
        else:
            pct = (self.step_num - self.warmup_end) / (self.total - 1 - self.warmup_end)
            lr, beta1 = _cosine(self.max_lr, last, pct), _cosine(low, high, pct)
        self.optimizer.lr, self.optimizer.beta1 = lr, beta1

    def step(self) -> None:
        self.step_num += 1
        self._apply()
