"""The classifiers: recurrent networks written by hand, and the same jobs done by PyTorch's layers.

Every model reads a right-padded batch of character indices ``chars`` (batch, time) with the true
``lengths`` (batch,), and returns one row of logits per name, read at that name's own last
character, so padding never changes a prediction. Nothing is packed: the same code runs in
PyTorch and exported to ONNX.

The hand-written cells (`ScratchRNN`, `GRUCell`, `LSTMCell`) are there to be read; the PyTorch
layers (`nn.GRU`, `nn.LSTM`) are there to be fast. `RecurrentClassifier` runs either kind.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from .config import Config
from .data import N_CHARS


def last_step(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence's output at its own last position: (batch, time, H) -> (batch, H)."""
    index = (lengths - 1).to(outputs.device).view(-1, 1, 1).expand(-1, 1, outputs.shape[2])
    return outputs.gather(1, index).squeeze(1)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length, leaving the padding where it is, so a
    left-to-right layer reads the name from its last character to its first."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


# --- the reference's hand-written RNN --------------------------------------------------------


class ScratchRNN(nn.Module):
    """The reference's RNN, built from two linear layers and a sigmoid.

    At each character t the one-hot input and the previous hidden state are concatenated,
        combined_t = [x_t ; h_{t-1}]
        h_t        = sigmoid(in2hidden(combined_t))
        logits_t   = in2output(combined_t)
    and the name's class logits are logits_T at its last character T.

    The initial hidden state is drawn with ``kaiming_uniform_`` while training, as the reference
    does for every name; in eval mode it is that distribution's mean (zero), so a prediction is
    the same every time it is asked for.
    """

    def __init__(self, n_chars: int, hidden_size: int, n_labels: int):
        super().__init__()
        self.n_chars = n_chars
        self.hidden_size = hidden_size
        self.in2hidden = nn.Linear(n_chars + hidden_size, hidden_size)
        self.in2output = nn.Linear(n_chars + hidden_size, n_labels)

    def init_hidden(self, batch_size: int) -> torch.Tensor:
        h = torch.zeros(batch_size, self.hidden_size, device=self.in2hidden.weight.device)
        return nn.init.kaiming_uniform_(h) if self.training else h

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        # in2hidden([x_t; h]) = W_x x_t + b + W_h h. With x_t one-hot, W_x x_t + b is just row x_t
        # of the table W_x^T + b, so the input half is looked up for every step at once and only
        # W_h h is multiplied inside the loop: the arithmetic of the concatenation, a fifth fewer
        # multiplications.
        w_x, w_h = self.in2hidden.weight.split([self.n_chars, self.hidden_size], dim=1)
        # The logits at a name's last character read h_{T-1}, so no name needs its last step run.
        steps = int(lengths.max()) - 1
        last = lengths.to(chars.device) - 1
        h0 = self.init_hidden(chars.shape[0])
        if steps:
            from_input = F.embedding(chars[:, :steps].T, (w_x.T + self.in2hidden.bias).contiguous())
            states = SigmoidRecurrence.apply(from_input, h0, w_h)
        else:  # one-character names only: nothing to run, and no gradient for in2hidden
            states = h0.unsqueeze(0)
        h_before_last = states[last, torch.arange(chars.shape[0], device=chars.device)]
        x_last = F.one_hot(chars.gather(1, last.unsqueeze(1)).squeeze(1), self.n_chars).to(states.dtype)
        return self.in2output(torch.cat([x_last, h_before_last], dim=1))


class SigmoidRecurrence(torch.autograd.Function):
    """The scratch RNN's recurrence, h_{t+1} = sigmoid(u_t + W_h h_t), with backpropagation
    through time written out by hand.

    ``u`` (steps, batch, H) is each step's input share, ``W_x x_t + b``. Returns every state,
    (steps + 1, batch, H), starting with ``h0``. Autograd would get the same gradients, but it
    records every step and forms dL/dW_h from one small product per step; here the backward pass
    walks the steps in reverse for dL/dh only, and forms dL/dW_h from all steps in one large
    product, which takes about a sixth off an epoch of the rnn.
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


# --- hand-written GRU and LSTM cells, weight-compatible with nn.GRU / nn.LSTM -----------------


class GRUCell(nn.Module):
    """One GRU step, written out (same gate order and weights as ``nn.GRU``: reset, update, new).

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)        how much of the past to use
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)        how much of the past to keep
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))     the candidate state
        h' = (1 - z) * n + z * h
    """

    n_gates = 3

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih = nn.Linear(input_size, self.n_gates * hidden_size)
        self.hh = nn.Linear(hidden_size, self.n_gates * hidden_size)
        bound = hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def initial_state(self, batch_size: int, like: torch.Tensor):
        return like.new_zeros(batch_size, self.hidden_size)

    def forward(self, x: torch.Tensor, h: torch.Tensor):
        i_r, i_z, i_n = self.ih(x).chunk(3, dim=1)
        h_r, h_z, h_n = self.hh(h).chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * h
        return h, h


class LSTMCell(GRUCell):
    """One LSTM step, written out (same gate order and weights as ``nn.LSTM``: input, forget, cell, output).

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (W_i x + b_i + W_h h + b_h)
        c' = f * c + i * g       the memory: forget some, write some
        h' = o * tanh(c')        what the memory shows
    """

    n_gates = 4

    def initial_state(self, batch_size: int, like: torch.Tensor):
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros

    def forward(self, x: torch.Tensor, state):
        h, c = state
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class ScratchLayers(nn.Module):
    """Stacked hand-written cells run over time, a drop-in for a batch-first ``nn.GRU``/``nn.LSTM``
    (returns the top layer's output at every step; the second value is unused here)."""

    def __init__(self, cell: type[GRUCell], input_size: int, hidden_size: int, num_layers: int,
                 dropout: float = 0.0):
        super().__init__()
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(cell(size, hidden_size) for size in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor):
        for depth, cell in enumerate(self.cells):
            if depth:
                x = self.dropout(x)
            state = cell.initial_state(x.shape[0], x)
            outputs = []
            for t in range(x.shape[1]):
                out, state = cell(x[:, t], state)
                outputs.append(out)
            x = torch.stack(outputs, dim=1)
        return x, None


# --- a recurrent classifier over any of these layers ------------------------------------------

LAYERS = {"gru": nn.GRU, "lstm": nn.LSTM, "gru-cell": GRUCell, "lstm-cell": LSTMCell}


class RecurrentClassifier(nn.Module):
    """Characters -> (one-hot or learned embedding) -> stacked recurrent layers -> linear head.

    With ``bidirectional`` a second stack reads each name from its end, and the head sees both
    stacks' states after the whole name. ``cell`` picks PyTorch's layers ("gru", "lstm") or the
    hand-written ones ("gru-cell", "lstm-cell"); the arithmetic is the same.
    """

    def __init__(self, cell: str, n_chars: int, hidden_size: int, n_labels: int, num_layers: int = 1,
                 embedding_dim: int = 0, bidirectional: bool = False, dropout: float = 0.0):
        super().__init__()
        self.n_chars = n_chars
        self.embedding = nn.Embedding(n_chars, embedding_dim) if embedding_dim else None
        input_size = embedding_dim or n_chars
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(self._stack(cell, input_size, hidden_size, num_layers, dropout)
                                    for _ in range(directions))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(directions * hidden_size, n_labels)

    @staticmethod
    def _stack(cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> nn.Module:
        layer = LAYERS[cell]
        if layer in (nn.GRU, nn.LSTM):
            return layer(input_size, hidden_size, num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0)
        return ScratchLayers(layer, input_size, hidden_size, num_layers, dropout)

    def embed(self, chars: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:
            return self.embedding(chars)
        return F.one_hot(chars, self.n_chars).to(self.head.weight.dtype)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embed(chars)
        states = [last_step(self.layers[0](x)[0], lengths)]
        if len(self.layers) == 2:
            states.append(last_step(self.layers[1](reverse_padded(x, lengths))[0], lengths))
        return self.head(self.dropout(torch.cat(states, dim=1)))


class Ensemble(nn.Module):
    """Independently trained members voting with probabilities: the ensemble's logits are the log
    of the members' mean softmax, so it plugs in wherever a single model does."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.vote([m(chars, lengths) for m in self.members])

    @staticmethod
    def vote(member_logits: list[torch.Tensor]) -> torch.Tensor:
        """The log of the members' mean softmax."""
        proba = torch.stack([logits.softmax(dim=1) for logits in member_logits]).mean(dim=0)
        return proba.clamp_min(1e-12).log()


def build_model(config: Config, n_labels: int) -> nn.Module:
    """The network `config` describes, freshly initialised from the current torch seed."""
    if config.ensemble > 1:
        return Ensemble([build_single(config, n_labels) for _ in range(config.ensemble)])
    return build_single(config, n_labels)


def build_single(config: Config, n_labels: int) -> nn.Module:
    if config.arch == "rnn":
        return ScratchRNN(N_CHARS, config.hidden_size, n_labels)
    if config.arch in LAYERS:
        return RecurrentClassifier(config.arch, N_CHARS, config.hidden_size, n_labels, config.num_layers,
                                   config.embedding_dim, config.bidirectional, config.dropout)
    raise ValueError(f"unknown architecture {config.arch!r}; choose from {('rnn', *LAYERS)}")
