"""The fast kernels: the networks of `models` computed with less work, to the same answers.

`models` says what each network computes, the way the tutorial writes it; this module computes the
same thing the way a CPU likes it. Two kernels:

* `scratch_rnn_forward`, behind ``ScratchRNN(fast=True)`` (the default, which training uses): the
  tutorial's RNN with its input projection looked up and its backpropagation through time written
  out (`SigmoidRecurrence`).
* `fast_model` / `FastGRU`, which every prediction goes through: a trained GRU classifier re-laid
  out for inference.

tests/test_fast.py holds each kernel to the readable network within 1e-5, outputs and gradients;
docs/design.md says what each one saves.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from .ngrams import mean_vectors, ngram_buckets
from .recurrent import Ensemble, RecurrentClassifier

# --- the tutorial's RNN, for training ------------------------------------------------------------


def scratch_rnn_forward(chars: torch.Tensor, lengths: torch.Tensor, h0: torch.Tensor,
                        in2hidden: nn.Linear, in2output: nn.Linear) -> torch.Tensor:
    """`models.ScratchRNN`'s logits from initial state `h0`, with two savings.

    ``in2hidden([x_t; h]) = W_x x_t + b + W_h h``, and with a one-hot x_t, ``W_x x_t + b`` is row
    x_t of the table ``W_x^T + b``: the input half is looked up for all steps at once, and only
    ``W_h h`` is multiplied inside the loop. And the logits at a name's last character T read
    h_{T-1}, so no name needs its last step run.
    """
    n_chars = in2hidden.in_features - h0.shape[1]
    w_x, w_h = in2hidden.weight.split([n_chars, h0.shape[1]], dim=1)
    steps = int(lengths.max()) - 1
    last = lengths.to(chars.device) - 1
    if steps:
        from_input = F.embedding(chars[:, :steps].T, (w_x.T + in2hidden.bias).contiguous())
        states = SigmoidRecurrence.apply(from_input, h0, w_h)
    else:  # one-character names only: nothing to run, and no gradient for in2hidden
        states = h0.unsqueeze(0)
    h_before_last = states[last, torch.arange(chars.shape[0], device=chars.device)]
    x_last = F.one_hot(chars.gather(1, last.unsqueeze(1)).squeeze(1), n_chars).to(states.dtype)
    return in2output(torch.cat([x_last, h_before_last], dim=1))


class SigmoidRecurrence(torch.autograd.Function):
    """The recurrence h_{t+1} = sigmoid(u_t + W_h h_t), with backpropagation through time by hand.

    ``u`` (steps, batch, H) is each step's input share, ``W_x x_t + b``. Returns every state,
    (steps + 1, batch, H), starting with ``h0``. Autograd gets the same gradients, but records
    every step and forms dL/dW_h from one small product per step; here the backward pass walks
    the steps in reverse for dL/dh only, and forms dL/dW_h from all steps in one large product.
    """

    @staticmethod
    def forward(ctx, u: torch.Tensor, h0: torch.Tensor, w_h: torch.Tensor) -> torch.Tensor:
        states = u.new_empty(u.shape[0] + 1, *h0.shape)
        states[0] = h0
        w_t, h = w_h.T, states.unbind(0)
        for t, u_t in enumerate(u.unbind(0)):
            torch.addmm(u_t, h[t], w_t, out=h[t + 1]).sigmoid_()
        ctx.save_for_backward(states, w_h)
        return states

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_states: torch.Tensor):
        states, w_h = ctx.saved_tensors
        steps, hidden = states.shape[0] - 1, states.shape[2]
        slope = states[1:] * (1 - states[1:])  # sigmoid'(a) = h (1 - h)
        grad_u = torch.empty_like(slope)  # dL/da_t, the gradient before each sigmoid
        grad_h, outer = grad_states[steps], grad_states.unbind(0)
        for t, slope_t, grad_u_t in zip(range(steps - 1, -1, -1), slope.unbind(0)[::-1], grad_u.unbind(0)[::-1]):
            torch.mul(grad_h, slope_t, out=grad_u_t)
            if t or ctx.needs_input_grad[1]:
                grad_h = torch.addmm(outer[t], grad_u_t, w_h)
        grad_w = grad_u.reshape(-1, hidden).T @ states[:-1].reshape(-1, hidden)
        return grad_u, grad_h if ctx.needs_input_grad[1] else None, grad_w


# --- GRU classifiers, for inference ----------------------------------------------------------------


class FastGRU:
    """Inference for a `models.RecurrentClassifier` over ``nn.GRU`` stacks (any depth, one or two
    directions, embeddings or one-hot). Built from the model's current weights; cheap to build.

    The module runs each direction's ``nn.GRU`` over the whole padded batch. Here the input
    projection of each of the 59 characters is computed once into a table and looked up; names
    are sorted longest first, so the names still being read at step t are a prefix of the batch
    and only that prefix is updated (packing by hand, so the backward direction needs no reversal
    pass); both directions advance together in batched products; and the update fuses operations
    with ``addcmul`` and ``lerp`` and computes tanh as ``2 sigmoid(2x) - 1``.
    """

    def __init__(self, model: nn.Module):
        stacks: list[nn.GRU] = list(model.layers)
        self.hidden = stacks[0].hidden_size
        self.num_layers = stacks[0].num_layers
        chars = (model.embedding.weight if model.embedding is not None
                 else torch.eye(model.n_chars, dtype=model.head.weight.dtype, device=model.head.weight.device))

        def stacked(name: str, layer: int) -> torch.Tensor:
            return torch.stack([getattr(s, f"{name}_l{layer}").detach() for s in stacks])

        # Gate order r, z, n as in nn.GRU. The candidate's rows are doubled for tanh through the
        # sigmoid, and the hidden biases of r and z move to the input side, added once per character.
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
        bag = getattr(model, "ngrams", None)
        self.ngrams = None if bag is None else (bag.vectors.weight.detach(), bag.n_buckets, bag.max_order, bag.words)
        mix = getattr(model, "mix", None)
        self.mix = None if mix is None else (mix.weight.detach().T, mix.bias.detach())
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
        features = torch.cat(list(h), dim=1)
        if self.ngrams is not None:
            table, *hashing = self.ngrams
            features = torch.cat([features, mean_vectors(table, ngram_buckets(chars, lengths, *hashing))], dim=1)
        if self.mix is not None:
            features = torch.addmm(self.mix[1], features, self.mix[0]).relu_()
        logits = torch.addmm(self.head_b, features, self.head_w.T)
        return logits[torch.argsort(order)]

    def _step(self, gi: torch.Tensor, h: torch.Tensor, layer: int) -> None:
        """One GRU step for every active name, in place on `h`."""
        H = self.hidden
        rz = torch.baddbmm(gi[..., :2 * H], h, self.w_rz[layer]).sigmoid_()
        gh_n = torch.baddbmm(self.b_n[layer], h, self.w_n[layer])
        n = torch.addcmul(gi[..., 2 * H:], rz[..., :H], gh_n).sigmoid_().mul_(2).sub_(1)
        torch.lerp(n, h, rz[..., H:], out=h)


def supports(model: nn.Module) -> bool:
    """Whether `fast_model` re-lays `model` out: a `models.RecurrentClassifier` whose stacks are
    all ``nn.GRU``, or a `models.Ensemble` (its ``members``) of those."""
    if isinstance(model, Ensemble):
        return all(supports(m) for m in model.members)
    return isinstance(model, RecurrentClassifier) and all(type(s) is nn.GRU for s in model.layers)


class _FastEnsemble:
    def __init__(self, model: nn.Module):
        self.members = [FastGRU(m) for m in model.members]
        self.vote = model.vote

    @torch.no_grad()
    def __call__(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.vote([m(chars, lengths) for m in self.members])


def fast_model(model: nn.Module):
    """A callable ``(chars, lengths) -> logits`` equal to ``model`` in eval mode, re-laid out when
    `supports` says it can be; otherwise ``model`` itself."""
    if not supports(model):
        return model
    return _FastEnsemble(model) if isinstance(model, Ensemble) else FastGRU(model)
