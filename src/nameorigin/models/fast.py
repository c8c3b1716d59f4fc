"""The fast kernel for training the tutorial's RNN: the same answers with less work.

`models.tutorial` says what the RNN computes, the way the tutorial writes it; `scratch_rnn_forward`,
behind ``ScratchRNN(fast=True)`` (which training turns on), computes the same thing the way a CPU
likes it: its input projection looked up and its backpropagation through time written out
(`SigmoidRecurrence`). Prediction runs on the numpy runtime (`nameorigin.runtime`) instead.

tests/test_fast.py holds the kernel to the readable network within 1e-5, outputs and gradients;
docs/design.md says what it saves.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


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
