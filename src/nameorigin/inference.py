"""The GRU classifiers re-laid out for fast inference: same weights, same answers, less work.

`models.RecurrentClassifier` is written to be read and trained: each direction is its own
``nn.GRU``, run over the whole padded batch. At prediction time three things cost more than they
need to, and `FastGRU` removes them:

* the input projection. Its input is one of 59 characters, so ``W_ih · embed(c) + b_ih`` is
  computed once per character into a table and looked up, instead of multiplied per position;
* padding. Names are sorted by length, longest first, so at step t the names still being read
  are a prefix of the batch, and only that prefix is updated (what ``pack_padded_sequence``
  does, here by hand so the backward direction needs no reversal pass);
* small operations. Both directions advance together through batched matrix products; the GRU
  update uses ``addcmul`` and ``lerp``, which fuse two operations each, and computes tanh as
  ``2 sigmoid(2x) - 1`` (PyTorch's CPU tanh is about three times slower per element).

The result matches the module within float rounding (tests check 1e-5). Only the GRU family is
re-laid out; `fast_model` returns any other network unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from .models import Ensemble, RecurrentClassifier


class FastGRU:
    """Inference for a `RecurrentClassifier` over ``nn.GRU`` stacks (any depth, one or two
    directions, embeddings or one-hot). Built from the model's current weights; cheap to build."""

    def __init__(self, model: RecurrentClassifier):
        stacks: list[nn.GRU] = list(model.layers)
        self.hidden = stacks[0].hidden_size
        self.num_layers = stacks[0].num_layers
        chars = (model.embedding.weight if model.embedding is not None
                 else torch.eye(model.n_chars, dtype=model.head.weight.dtype, device=model.head.weight.device))

        def stacked(name: str, layer: int) -> torch.Tensor:
            return torch.stack([getattr(s, f"{name}_l{layer}").detach() for s in stacks])

        # Gate order r, z, n as in nn.GRU. The candidate's rows are doubled because
        # tanh(x) = 2 sigmoid(2x) - 1 is cheaper than tanh on CPU, and the hidden biases of r and z
        # move to the input side, where they are added once per character instead of once per step.
        H = self.hidden
        scale = torch.ones(3 * H, dtype=chars.dtype, device=chars.device)
        scale[2 * H:] = 2.0
        w_ih = [stacked("weight_ih", k).transpose(1, 2) * scale for k in range(self.num_layers)]
        b_ih = [(stacked("bias_ih", k) * scale).unsqueeze(1) for k in range(self.num_layers)]
        w_hh = [stacked("weight_hh", k).transpose(1, 2) * scale for k in range(self.num_layers)]
        b_hh = [(stacked("bias_hh", k) * scale).unsqueeze(1) for k in range(self.num_layers)]
        for k in range(self.num_layers):
            b_ih[k][..., :2 * H] += b_hh[k][..., :2 * H]
        self.table = torch.baddbmm(b_ih[0], chars.expand(len(stacks), -1, -1), w_ih[0])
        self.w_ih, self.b_ih = w_ih[1:], b_ih[1:]
        self.w_rz = [w[..., :2 * H].contiguous() for w in w_hh]
        self.w_n = [w[..., 2 * H:].contiguous() for w in w_hh]
        self.b_n = [b[..., 2 * H:].contiguous() for b in b_hh]
        self.head_w = model.head.weight.detach()
        self.head_b = model.head.bias.detach()

    @torch.no_grad()
    def __call__(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        directions, n_chars = self.table.shape[0], self.table.shape[1]
        lengths = lengths.to(chars.device)
        order = torch.argsort(lengths, descending=True, stable=True)
        chars, lengths = chars[order], lengths[order]
        batch, steps = chars.shape
        time = torch.arange(steps, device=chars.device)
        # index[d, t, i]: the character direction d reads at step t for name i (right to left for d=1)
        index = [chars.T]
        if directions == 2:
            back = (lengths.unsqueeze(0) - 1 - time.unsqueeze(1)).clamp_min(0)
            index.append(chars.gather(1, back.T).T)
        offsets = torch.arange(directions, device=chars.device).view(-1, 1, 1) * n_chars
        index = (torch.stack(index) + offsets).view(-1)
        gates = self.table.view(-1, self.table.shape[2]).index_select(0, index).view(directions, steps, batch, -1)
        active = (lengths.unsqueeze(0) > time.unsqueeze(1)).sum(1).tolist()

        for layer in range(self.num_layers):
            if layer:
                gates = torch.baddbmm(self.b_ih[layer - 1], outputs.view(directions, steps * batch, -1),
                                      self.w_ih[layer - 1]).view(directions, steps, batch, -1)
            last = layer == self.num_layers - 1
            outputs = None if last else gates.new_zeros(directions, steps, batch, self.hidden)
            h = gates.new_zeros(directions, batch, self.hidden)
            for t, k in enumerate(active):
                h_k = h[:, :k]
                self._step(gates[:, t, :k], h_k, layer)
                if not last:
                    outputs[:, t, :k] = h_k
        logits = torch.addmm(self.head_b, torch.cat(list(h), dim=1), self.head_w.T)
        return logits[torch.argsort(order)]

    def _step(self, gi: torch.Tensor, h: torch.Tensor, layer: int) -> None:
        """One GRU step for every active name, in place on `h`."""
        H = self.hidden
        rz = torch.baddbmm(gi[..., :2 * H], h, self.w_rz[layer]).sigmoid_()
        gh_n = torch.baddbmm(self.b_n[layer], h, self.w_n[layer])
        n = torch.addcmul(gi[..., 2 * H:], rz[..., :H], gh_n).sigmoid_().mul_(2).sub_(1)
        torch.lerp(n, h, rz[..., H:], out=h)


def supports(model: nn.Module) -> bool:
    if isinstance(model, Ensemble):
        return all(supports(m) for m in model.members)
    return isinstance(model, RecurrentClassifier) and all(type(s) is nn.GRU for s in model.layers)


class _FastEnsemble:
    def __init__(self, model: Ensemble):
        self.members = [FastGRU(m) for m in model.members]

    @torch.no_grad()
    def __call__(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return Ensemble.vote([m(chars, lengths) for m in self.members])


def fast_model(model: nn.Module):
    """A callable ``(chars, lengths) -> logits`` equal to ``model`` in eval mode, re-laid out when
    `supports` says it can be; otherwise ``model`` itself."""
    if not supports(model):
        return model
    return _FastEnsemble(model) if isinstance(model, Ensemble) else FastGRU(model)
