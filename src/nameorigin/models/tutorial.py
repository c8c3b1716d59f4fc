"""The tutorial's RNN, as the tutorial writes it: start reading the models here.

`RNNCell` is the tutorial's network: one step over one character, ``forward(x, hidden)`` returning
``(output, hidden)``. `ScratchRNN` is the same network over a batch of names: the tutorial's loop
runs that step one character at a time, and each name keeps its output at its own last character.

One switch, ``fast``, gives the same logits and gradients from the kernel in `models.fast` with
less work; `build_model` turns it on for training and for the checkpoints it loads. Off (the
default), the loop below runs as the tutorial writes it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fast import scratch_rnn_forward


class RNNCell(nn.Module):
    """The tutorial's RNN: two linear layers and a sigmoid.

    At each character the one-hot input and the previous hidden state are concatenated,
        combined = [x ; hidden]
        hidden'  = sigmoid(in2hidden(combined))
        output   = in2output(combined)
    """

    def __init__(self, n_chars: int, hidden_size: int, n_labels: int):
        super().__init__()
        self.n_chars = n_chars
        self.hidden_size = hidden_size
        self.in2hidden = nn.Linear(n_chars + hidden_size, hidden_size)
        self.in2output = nn.Linear(n_chars + hidden_size, n_labels)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        combined = torch.cat([x, hidden], dim=1)
        hidden = torch.sigmoid(self.in2hidden(combined))
        output = self.in2output(combined)
        return output, hidden

    def init_hidden(self, batch_size: int) -> torch.Tensor:
        """h_0: drawn with ``kaiming_uniform_`` while training, as the tutorial does for every name;
        in eval mode that distribution's mean (zero), so a prediction is the same every time."""
        h = torch.zeros(batch_size, self.hidden_size, device=self.in2hidden.weight.device)
        return nn.init.kaiming_uniform_(h) if self.training else h


class ScratchRNN(RNNCell):
    """`RNNCell` over a right-padded batch of names: ``(chars, lengths) -> logits``, the output at
    each name's last character."""

    def __init__(self, n_chars: int, hidden_size: int, n_labels: int, fast: bool = False):
        super().__init__(n_chars, hidden_size, n_labels)
        self.fast = fast

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        hidden = self.init_hidden(chars.shape[0])
        if self.fast:
            return scratch_rnn_forward(chars, lengths, hidden, self.in2hidden, self.in2output)
        # the tutorial's loop: one character at a time
        x = F.one_hot(chars, self.n_chars).to(hidden.dtype)
        last = (lengths.to(chars.device) - 1).unsqueeze(1)
        logits = hidden.new_zeros(chars.shape[0], self.in2output.out_features)
        for t in range(chars.shape[1]):  # RNNCell.forward, for every name at once
            combined = torch.cat([x[:, t], hidden], dim=1)
            hidden = torch.sigmoid(self.in2hidden(combined))
            output = self.in2output(combined)
            logits = torch.where(last == t, output, logits)  # each name keeps its own last character's
        return logits
