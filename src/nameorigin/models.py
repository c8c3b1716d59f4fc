"""The classifiers: a recurrent network written by hand, and the same job done by PyTorch's GRU.

Both read a right-padded batch of character indices ``chars`` (batch, time) with the true
``lengths`` (batch,), and return one row of logits per name, taken at that name's own last
character, so padding never changes a prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .config import ARCHS, Config
from .data import N_CHARS


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
        h = torch.empty(batch_size, self.hidden_size, device=self.in2hidden.weight.device)
        return nn.init.kaiming_uniform_(h) if self.training else h.zero_()

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = F.one_hot(chars, self.n_chars).to(self.in2hidden.weight.dtype)
        h = self.init_hidden(chars.shape[0])
        last_step = (lengths - 1).to(chars.device).unsqueeze(1)
        at_last = torch.zeros(chars.shape[0], self.n_chars + self.hidden_size, device=chars.device)
        for t in range(chars.shape[1]):
            combined = torch.cat([x[:, t], h], dim=1)
            at_last = torch.where(last_step == t, combined, at_last)
            h = torch.sigmoid(self.in2hidden(combined))
        return self.in2output(at_last)


class GRUClassifier(nn.Module):
    """The reference's PyTorch model: a stacked ``nn.GRU`` over one-hot characters and a linear
    layer on the top layer's state after each name's last character (sequences are packed, so
    padding is never read)."""

    def __init__(self, n_chars: int, hidden_size: int, n_labels: int, num_layers: int = 2):
        super().__init__()
        self.n_chars = n_chars
        self.gru = nn.GRU(n_chars, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, n_labels)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = F.one_hot(chars, self.n_chars).to(self.fc.weight.dtype)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.gru(packed)
        return self.fc(h_n[-1])


def build_model(config: Config, n_labels: int) -> nn.Module:
    """The network `config` describes, freshly initialised from the current torch seed."""
    if config.arch == "rnn":
        return ScratchRNN(N_CHARS, config.hidden_size, n_labels)
    if config.arch == "gru":
        return GRUClassifier(N_CHARS, config.hidden_size, n_labels, config.num_layers)
    raise ValueError(f"unknown architecture {config.arch!r}; choose from {ARCHS}")
