"""The networks. Read them in this order:

* `tutorial`: the tutorial's RNN as the tutorial writes it, a cell and the loop over characters;
* `cells`: hand-written GRU and LSTM cells, the same arithmetic as PyTorch's layers;
* `recurrent`: the classifier over any of those layers, and the ensemble;
* `ngrams`: the hashed character n-grams some classifiers add;
* `fast`: the same networks computed with less work, for training the RNN and for prediction.

`build_model` makes the network a `Config` describes.
"""

from __future__ import annotations

from torch import nn

from ..config import Config
from ..text.names import N_CHARS
from .recurrent import LAYERS, Ensemble, RecurrentClassifier
from .tutorial import ScratchRNN


def build_model(config: Config, n_labels: int) -> nn.Module:
    """The network `config` describes, freshly initialised from the current torch seed. It keeps
    ``built_from = (config, n_labels)``, so its weights can be read into the numpy runtime
    (`tensors.module_logits`)."""
    if config.ensemble > 1:
        model = Ensemble([build_single(config, n_labels) for _ in range(config.ensemble)])
    else:
        model = build_single(config, n_labels)
    model.built_from = (config, n_labels)
    return model


def build_single(config: Config, n_labels: int) -> nn.Module:
    """One network of `config`. The package's RNNs train and predict with the fast kernel on."""
    if config.arch == "rnn":
        return ScratchRNN(N_CHARS, config.hidden_size, n_labels, fast=True)
    if config.arch in LAYERS:
        return RecurrentClassifier.from_config(config, n_labels)
    raise ValueError(f"unknown architecture {config.arch!r}; choose from {('rnn', *LAYERS)}")
