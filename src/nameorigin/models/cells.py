"""Hand-written GRU and LSTM cells, weight-compatible with ``nn.GRU`` / ``nn.LSTM``, and the stack
that runs them over time: the same arithmetic as PyTorch's layers, there to be read."""

from __future__ import annotations

import torch
from torch import nn


def gate_layers(input_size: int, hidden_size: int, n_gates: int) -> tuple[nn.Linear, nn.Linear]:
    """The input and hidden projections of `n_gates` gates, initialised as PyTorch's layers are."""
    ih, hh = nn.Linear(input_size, n_gates * hidden_size), nn.Linear(hidden_size, n_gates * hidden_size)
    bound = hidden_size ** -0.5
    for p in (*ih.parameters(), *hh.parameters()):
        nn.init.uniform_(p, -bound, bound)
    return ih, hh


class GRUCell(nn.Module):
    """One GRU step, written out (same gate order and weights as ``nn.GRU``: reset, update, new).

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)        how much of the past to use
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)        how much of the past to keep
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))     the candidate state
        h' = (1 - z) * n + z * h
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih, self.hh = gate_layers(input_size, hidden_size, 3)

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


class LSTMCell(nn.Module):
    """One LSTM step, written out (same gate order and weights as ``nn.LSTM``: input, forget, cell, output).

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (W_i x + b_i + W_h h + b_h)
        c' = f * c + i * g       the memory: forget some, write some
        h' = o * tanh(c')        what the memory shows
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih, self.hh = gate_layers(input_size, hidden_size, 4)

    def initial_state(self, batch_size: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = like.new_zeros(batch_size, self.hidden_size)
        return zeros, zeros

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        h, c = state
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class ScratchLayers(nn.Module):
    """Stacked hand-written cells run over time, a drop-in for a batch-first ``nn.GRU``/``nn.LSTM``
    (returns the top layer's output at every step; the second value is unused here)."""

    def __init__(self, cell: type[GRUCell] | type[LSTMCell], input_size: int, hidden_size: int, num_layers: int,
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


