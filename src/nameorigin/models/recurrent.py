"""The recurrent classifier: stacked GRU or LSTM layers, PyTorch's or the hand-written ones of
`cells`, read at each name's last character, with an optional bag of n-grams and hidden head layer.

Every model reads a right-padded batch of character indices ``chars`` (batch, time) with the true
``lengths`` (batch,), and returns one row of logits per name, read at that name's own last
character, so padding never changes a prediction. Nothing is packed: the same code runs in
PyTorch and exported to ONNX.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from ..text.names import N_CHARS
from .cells import GRUCell, LSTMCell, ScratchLayers
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

    @classmethod
    def from_config(cls, config: Config, n_labels: int) -> "RecurrentClassifier":
        """The classifier `config` describes, over the package's alphabet."""
        return cls(config.arch, N_CHARS, config.hidden_size, n_labels, num_layers=config.num_layers,
                   embedding_dim=config.embedding_dim, bidirectional=config.bidirectional,
                   dropout=config.dropout, head_size=config.head_size, ngram_dim=config.ngram_dim,
                   ngram_buckets=config.ngram_buckets, ngram_drop=config.ngram_drop,
                   ngram_max=config.ngram_max, ngram_words=config.ngram_words)

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
