"""The classifiers: recurrent networks written by hand, and the same jobs done by PyTorch's layers.

Every model reads a right-padded batch of character indices ``chars`` (batch, time) with the true
``lengths`` (batch,), and returns one row of logits per name, read at that name's own last
character, so padding never changes a prediction. Nothing is packed: the same code runs in
PyTorch and exported to ONNX.

The hand-written cells (`ScratchRNN`, `GRUCell`, `LSTMCell`) are there to be read; the PyTorch
layers (`nn.GRU`, `nn.LSTM`) are there to be fast. `RecurrentClassifier` runs either kind.
`ScratchRNN` has one switch, ``fast``: on, it trains with the kernel in `fast`, which computes the
same logits and gradients with less work; off, it runs the tutorial's step as written below.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import fast
from .config import Config
from .data import N_CHARS
from .ngrams import MAX_ORDER, NgramBag


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

    The initial hidden state h_0 is drawn with ``kaiming_uniform_`` while training, as the
    reference does for every name; in eval mode it is that distribution's mean (zero), so a
    prediction is the same every time it is asked for.

    ``fast=True`` (the default; training uses it) computes the same logits and gradients with
    `fast.scratch_rnn_forward`; ``fast=False`` runs the steps above as written.
    """

    def __init__(self, n_chars: int, hidden_size: int, n_labels: int, fast: bool = True):
        super().__init__()
        self.n_chars = n_chars
        self.hidden_size = hidden_size
        self.fast = fast
        self.in2hidden = nn.Linear(n_chars + hidden_size, hidden_size)
        self.in2output = nn.Linear(n_chars + hidden_size, n_labels)

    def init_hidden(self, batch_size: int) -> torch.Tensor:
        h = torch.zeros(batch_size, self.hidden_size, device=self.in2hidden.weight.device)
        return nn.init.kaiming_uniform_(h) if self.training else h

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.init_hidden(chars.shape[0])
        if self.fast:
            return fast.scratch_rnn_forward(chars, lengths, h, self.in2hidden, self.in2output)
        # the tutorial's step, written out, for a batch of right-padded names: each name keeps
        # the output of its own last character
        x = F.one_hot(chars, self.n_chars).to(h.dtype)
        last = (lengths.to(chars.device) - 1).unsqueeze(1)
        output = h.new_zeros(chars.shape[0], self.in2output.out_features)
        for t in range(chars.shape[1]):
            combined = torch.cat([x[:, t], h], dim=1)
            output = torch.where(last == t, self.in2output(combined), output)
            h = torch.sigmoid(self.in2hidden(combined))
        return output


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
    stacks' states after the whole name. With ``head_size`` the head has a hidden ReLU layer
    (``mix``): it combines what the two readings saw, at a cost per name rather than per character.
    With ``ngram_dim`` the head also sees the mean of the name's hashed character n-grams
    (`ngrams.NgramBag`). ``cell`` picks PyTorch's layers ("gru", "lstm") or the
    hand-written ones ("gru-cell", "lstm-cell"); the arithmetic is the same.
    """

    def __init__(self, cell: str, n_chars: int, hidden_size: int, n_labels: int, num_layers: int = 1,
                 embedding_dim: int = 0, bidirectional: bool = False, dropout: float = 0.0,
                 head_size: int = 0, ngram_dim: int = 0, ngram_buckets: int = 0, ngram_drop: float = 0.0,
                 ngram_max: int = MAX_ORDER, ngram_words: bool = False):
        super().__init__()
        self.n_chars = n_chars
        self.embedding = nn.Embedding(n_chars, embedding_dim) if embedding_dim else None
        input_size = embedding_dim or n_chars
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(self._stack(cell, input_size, hidden_size, num_layers, dropout)
                                    for _ in range(directions))
        self.dropout = nn.Dropout(dropout)
        self.ngrams = NgramBag(ngram_buckets, ngram_dim, ngram_drop, ngram_max, ngram_words) if ngram_dim else None
        features = directions * hidden_size + ngram_dim
        self.mix = nn.Linear(features, head_size) if head_size else None
        self.head = nn.Linear(head_size or features, n_labels)

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
        if self.ngrams is not None:
            states.append(self.ngrams(chars, lengths))
        features = self.dropout(torch.cat(states, dim=1))
        if self.mix is not None:
            features = self.dropout(torch.relu(self.mix(features)))
        return self.head(features)


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
                                   config.embedding_dim, config.bidirectional, config.dropout, config.head_size,
                                   config.ngram_dim, config.ngram_buckets, config.ngram_drop,
                                   config.ngram_max, config.ngram_words)
    raise ValueError(f"unknown architecture {config.arch!r}; choose from {('rnn', *LAYERS)}")
