"""Whole networks in numpy, built from a checkpoint's `Config` and weights: what `models` builds in
PyTorch, answering the same logits (tests hold every architecture to 1e-5).

`build` reads the weights by the names PyTorch's ``state_dict`` gives them, and `expected_shapes`
says which names and shapes a `Config` has, so a checkpoint can be checked without PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..config import Config
from ..text.names import N_CHARS
from .ngrams import mean_vectors, ngram_buckets
from .recurrent import Layer, ScratchStack, Stack

State = dict[str, np.ndarray]


class Network(Protocol):
    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Logits (batch, labels) of a right-padded batch of character indices and their lengths."""


@dataclass(frozen=True)
class Bag:
    """The n-gram bag: a table of bucket vectors and how names are hashed into it."""

    table: np.ndarray
    n_buckets: int
    max_order: int
    words: bool

    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return mean_vectors(self.table, ngram_buckets(chars, lengths, self.n_buckets, self.max_order, self.words))


@dataclass(frozen=True)
class RecurrentNetwork:
    """`models.RecurrentClassifier`: the stack's final states, the n-gram bag beside them, an
    optional hidden ReLU layer (`mix`, transposed weight and bias), then the linear `head`."""

    stack: Stack
    bag: Bag | None
    mix: tuple[np.ndarray, np.ndarray] | None
    head: tuple[np.ndarray, np.ndarray]

    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        order = np.argsort(-lengths, kind="stable")
        chars, lengths = chars[order], lengths[order]
        features = [self.stack(chars, lengths)]
        if self.bag is not None:
            features.append(self.bag(chars, lengths))
        x = np.concatenate(features, axis=1) if len(features) > 1 else features[0]
        if self.mix is not None:
            x = np.maximum(x @ self.mix[0] + self.mix[1], 0)
        logits = x @ self.head[0] + self.head[1]
        out = np.empty_like(logits)
        out[order] = logits
        return out


@dataclass(frozen=True)
class ScratchNetwork:
    """`models.ScratchRNN`: ``in2output([x_T; h_{T-1}])``, its input half looked up by character
    (`out_x`, characters x labels) and its hidden half multiplied (`out_h`)."""

    stack: ScratchStack
    out_x: np.ndarray
    out_h: np.ndarray
    out_b: np.ndarray

    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        order = np.argsort(-lengths, kind="stable")
        chars, lengths = chars[order], lengths[order]
        last = chars[np.arange(len(chars)), lengths - 1]
        logits = self.stack(chars, lengths) @ self.out_h + self.out_x[last] + self.out_b
        out = np.empty_like(logits)
        out[order] = logits
        return out


@dataclass(frozen=True)
class EnsembleNetwork:
    """`models.Ensemble`: the log of the members' mean probabilities."""

    members: list[Network]

    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        proba = np.mean([softmax(m(chars, lengths)) for m in self.members], axis=0)
        return np.log(np.maximum(proba, 1e-12)).astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax; a row of -inf but one is that one label's certainty."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


# --- building from weights ----------------------------------------------------------------------


def build(config: Config, state: State, n_labels: int) -> Network:
    """The network `config` describes, over `state`'s weights (float32 numpy arrays, named as
    PyTorch's ``state_dict`` names them)."""
    if config.ensemble > 1:
        return EnsembleNetwork([_single(config, state, f"members.{i}.") for i in range(config.ensemble)])
    return _single(config, state, "")


def _single(config: Config, state: State, prefix: str) -> Network:
    def get(name: str) -> np.ndarray:
        return state[prefix + name]

    if config.arch == "rnn":
        w, w_out = get("in2hidden.weight"), get("in2output.weight")
        table = w[:, :N_CHARS].T + get("in2hidden.bias")
        return ScratchNetwork(ScratchStack(np.ascontiguousarray(table), np.ascontiguousarray(w[:, N_CHARS:].T)),
                              np.ascontiguousarray(w_out[:, :N_CHARS].T), np.ascontiguousarray(w_out[:, N_CHARS:].T),
                              get("in2output.bias"))
    chars = get("embedding.weight") if config.embedding_dim else np.eye(N_CHARS, dtype=np.float32)
    directions = 2 if config.bidirectional else 1
    layers = [_layer(config.arch, [_gates(config.arch, state, f"{prefix}layers.{d}.", k) for d in range(directions)])
              for k in range(config.num_layers)]
    table = np.matmul(chars, layers[0].w_ih) + layers[0].bias  # (directions, gates, characters, hidden)
    bag = (Bag(get("ngrams.vectors.weight"), config.ngram_buckets, config.ngram_max, config.ngram_words)
           if config.ngram_dim else None)
    mix = (np.ascontiguousarray(get("mix.weight").T), get("mix.bias")) if config.head_size else None
    return RecurrentNetwork(Stack(table, layers), bag, mix, (np.ascontiguousarray(get("head.weight").T),
                                                             get("head.bias")))


def _gates(arch: str, state: State, prefix: str, k: int) -> tuple[np.ndarray, ...]:
    """Layer `k`'s (W_ih, W_hh, b_ih, b_hh) of one direction, as ``nn.GRU``/``nn.LSTM`` or the
    hand-written cells (`models.cells`, the same arithmetic) name them."""
    if arch in ("gru", "lstm"):
        names = (f"weight_ih_l{k}", f"weight_hh_l{k}", f"bias_ih_l{k}", f"bias_hh_l{k}")
    else:
        names = (f"cells.{k}.ih.weight", f"cells.{k}.hh.weight", f"cells.{k}.ih.bias", f"cells.{k}.hh.bias")
    return tuple(state[prefix + name] for name in names)


def _layer(arch: str, directions: list[tuple[np.ndarray, ...]]) -> Layer:
    """One layer with its directions stacked, its gates split out (`recurrent.Layer`), its weights
    transposed and its biases folded."""
    w_ih, w_hh, b_ih, b_hh = (np.stack(parts) for parts in zip(*directions))
    n_gates = 4 if arch.startswith("lstm") else 3
    hidden = w_hh.shape[2]

    def gate_major(w: np.ndarray) -> np.ndarray:  # (D, gates*H, inputs) -> (D, gates, inputs, H)
        return np.ascontiguousarray(w.reshape(w.shape[0], n_gates, hidden, -1).transpose(0, 1, 3, 2))

    def per_gate(b: np.ndarray) -> np.ndarray:  # (D, gates*H) -> (D, gates, 1, H)
        return b.reshape(b.shape[0], n_gates, 1, hidden).copy()

    w_ih, w_hh, b_ih, b_hh = gate_major(w_ih), gate_major(w_hh), per_gate(b_ih), per_gate(b_hh)
    if n_gates == 4:
        return Layer("lstm", w_ih, w_hh, b_ih + b_hh)
    half = np.array([0.5, 0.5, 1.0], dtype=w_ih.dtype).reshape(1, 3, 1, 1)
    bias = b_ih.copy()
    bias[:, :2] += b_hh[:, :2]
    return Layer("gru", w_ih * half, w_hh * 0.5, bias * half, 0.5 * b_hh[:, 2])


def expected_shapes(config: Config, n_labels: int) -> dict[str, tuple[int, ...]]:
    """Every weight `config`'s network has, by name, with its shape: what a checkpoint's file must
    hold. Tests hold this to the PyTorch modules' ``state_dict``."""
    if config.ensemble > 1:
        one = _single_shapes(config, n_labels)
        return {f"members.{i}.{k}": v for i in range(config.ensemble) for k, v in one.items()}
    return _single_shapes(config, n_labels)


def _single_shapes(config: Config, n_labels: int) -> dict[str, tuple[int, ...]]:
    H = config.hidden_size
    if config.arch == "rnn":
        return {"in2hidden.weight": (H, N_CHARS + H), "in2hidden.bias": (H,),
                "in2output.weight": (n_labels, N_CHARS + H), "in2output.bias": (n_labels,)}
    gates = (3 if config.arch.startswith("gru") else 4) * H
    shapes: dict[str, tuple[int, ...]] = {}
    if config.embedding_dim:
        shapes["embedding.weight"] = (N_CHARS, config.embedding_dim)
    directions = 2 if config.bidirectional else 1
    for d in range(directions):
        for k in range(config.num_layers):
            inputs = (config.embedding_dim or N_CHARS) if k == 0 else H
            for (name, shape) in _gate_names(config.arch, k, inputs, H, gates):
                shapes[f"layers.{d}.{name}"] = shape
    features = directions * H + config.ngram_dim
    if config.ngram_dim:
        shapes["ngrams.vectors.weight"] = (config.ngram_buckets, config.ngram_dim)
    if config.head_size:
        shapes.update({"mix.weight": (config.head_size, features), "mix.bias": (config.head_size,)})
    shapes.update({"head.weight": (n_labels, config.head_size or features), "head.bias": (n_labels,)})
    return shapes


def _gate_names(arch: str, k: int, inputs: int, hidden: int, gates: int) -> list[tuple[str, tuple[int, ...]]]:
    if arch in ("gru", "lstm"):
        return [(f"weight_ih_l{k}", (gates, inputs)), (f"weight_hh_l{k}", (gates, hidden)),
                (f"bias_ih_l{k}", (gates,)), (f"bias_hh_l{k}", (gates,))]
    return [(f"cells.{k}.ih.weight", (gates, inputs)), (f"cells.{k}.ih.bias", (gates,)),
            (f"cells.{k}.hh.weight", (gates, hidden)), (f"cells.{k}.hh.bias", (gates,))]
