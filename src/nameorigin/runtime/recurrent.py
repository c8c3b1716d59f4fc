"""The recurrent layers in numpy, laid out for a CPU: every network `models` builds, to its answers.

Two re-layouts do most of the work, for every architecture:

* **Folded input tables.** A layer's input projection of a character, ``W_i x + b``, depends on
  the character alone, so the first layer's projections of the 59 characters are computed once
  into a table and each step looks its row up instead of multiplying.
* **Names packed by length.** A batch is sorted longest first, so the names still being read at
  step t are a prefix of the batch and only that prefix is updated; each name's state stops at
  its own last character, with no padding read and no mask.

Both directions of a bidirectional network advance together, as one batched product per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` in place, as ``(1 + tanh(x / 2)) / 2``: no overflow for large -x."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


@dataclass(frozen=True)
class Layer:
    """One layer of a recurrent stack, both directions stacked on the first axis and each gate
    on the second, in PyTorch's order (GRU: reset, update, new; LSTM: input, forget, cell,
    output): ``w_ih`` (directions, gates, inputs, hidden), ``w_hh`` (directions, gates, hidden,
    hidden), ``bias`` (directions, gates, 1, hidden), transposed so a batch of rows multiplies
    them. Gate-major, every gate of a batch is one contiguous block, which numpy's elementwise
    operations read several times faster than a gate's columns inside a row of all gates.

    For a GRU, ``bias`` holds the input bias plus the hidden bias of the reset and update gates,
    and ``bias_hn`` (directions, 1, hidden) the new gate's hidden bias, which the reset gate
    multiplies; the reset and update gates and the new gate's hidden share are halved
    (`_gru_step` says why). For an LSTM ``bias`` holds both biases.
    """

    kind: str  # "gru" or "lstm"
    w_ih: np.ndarray
    w_hh: np.ndarray
    bias: np.ndarray
    bias_hn: np.ndarray | None = None

    @property
    def hidden(self) -> int:
        return self.w_hh.shape[-1]

    def run(self, gates: Callable[[int, int], np.ndarray], steps: int, batch: int, active: list[int],
            keep_outputs: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Run the layer over a batch; ``gates(t, k)`` is step t's input share for the first k
        names (directions, gates, k, hidden), and `active[t]` names are read at step t. Returns
        the final states (directions, batch, hidden) and, with `keep_outputs`, every step's state
        for the next layer to read."""
        directions, n_gates, dtype = self.w_hh.shape[0], self.w_hh.shape[1], self.w_hh.dtype
        h = np.zeros((directions, batch, self.hidden), dtype=dtype)
        c = np.zeros_like(h) if self.kind == "lstm" else None
        outputs = np.zeros((directions, steps, batch, self.hidden), dtype=dtype) if keep_outputs else None
        scratch = np.empty((directions, n_gates, batch, self.hidden), dtype=dtype)
        spare = np.empty_like(h)
        for t, k in enumerate(active):
            if c is None:
                self._gru_step(gates(t, k), h[:, :k], scratch[:, :, :k], spare[:, :k])
            else:
                self._lstm_step(gates(t, k), h[:, :k], c[:, :k], scratch[:, :, :k], spare[:, :k])
            if keep_outputs:
                outputs[:, t, :k] = h[:, :k]
        return h, outputs

    def _gru_step(self, gi: np.ndarray, h: np.ndarray, gh: np.ndarray, n: np.ndarray) -> None:
        """``r, z = sigmoid(gi + W_h h)``, ``n = tanh(gi_n + r (W_hn h + b_hn))``,
        ``h' = n + z (h - n)`` (that is, (1 - z) n + z h), in place on `h`.

        With ``sigmoid(a) = (1 + tanh(a / 2)) / 2``, and the reset and update gates' weights and
        the new gate's hidden weights halved when the layer was built (`networks`), each gate is
        one ``tanh``: ``t = tanh(a / 2)``, ``r (W_hn h + b_hn) = (1 + t_r) (W_hn h + b_hn) / 2``.
        """
        np.matmul(h[:, None], self.w_hh, out=gh)
        t = gh[:, :2]
        t += gi[:, :2]
        np.tanh(t, out=t)
        t_r, z = t[:, 0], t[:, 1]
        half = gh[:, 2]
        half += self.bias_hn
        np.multiply(t_r, half, out=n)
        n += half
        n += gi[:, 2]
        np.tanh(n, out=n)
        z += 1
        z *= 0.5
        h -= n
        h *= z
        h += n

    def _lstm_step(self, gi: np.ndarray, h: np.ndarray, c: np.ndarray, g: np.ndarray, spare: np.ndarray) -> None:
        """``i, f, o = sigmoid(.)``, ``g = tanh(.)`` of ``gi + W_h h``; ``c' = f c + i g``,
        ``h' = o tanh(c')``, in place on `h` and `c`."""
        np.matmul(h[:, None], self.w_hh, out=g)
        g += gi
        sigmoid(g[:, :2])
        sigmoid(g[:, 3])
        np.tanh(g[:, 2], out=g[:, 2])
        c *= g[:, 1]
        np.multiply(g[:, 0], g[:, 2], out=spare)
        c += spare
        np.tanh(c, out=h)
        h *= g[:, 3]


def step_indices(chars: np.ndarray, lengths: np.ndarray, directions: int) -> np.ndarray:
    """(directions, steps, batch): the character each direction reads at each step, the second
    direction from each name's last character back to its first."""
    index = [chars.T]
    if directions == 2:
        back = np.maximum(lengths[None, :] - 1 - np.arange(chars.shape[1])[:, None], 0)
        index.append(np.take_along_axis(chars.T, back, axis=0))
    return np.stack(index)


@dataclass(frozen=True)
class Stack:
    """A recurrent stack over characters: ``table`` (directions, gates, characters, hidden) is
    the first layer's folded input projection of each character; `layers` run in order."""

    table: np.ndarray
    layers: list[Layer]

    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Each name's final states, (batch, directions x hidden); `chars` sorted longest first."""
        (batch, steps), (directions, n_gates, _, hidden) = chars.shape, self.table.shape
        index = step_indices(chars, lengths, directions)
        looked_up = np.empty((directions, n_gates, batch, hidden), dtype=self.table.dtype)

        def first(t: int, k: int) -> np.ndarray:
            for d in range(directions):
                np.take(self.table[d], index[d, t, :k], axis=1, out=looked_up[d, :, :k])
            return looked_up[:, :, :k]

        active = np.count_nonzero(lengths[None, :] > np.arange(steps)[:, None], axis=1).tolist()
        gates, outputs = first, None
        for depth, layer in enumerate(self.layers):
            if depth:
                inputs = (np.matmul(outputs.reshape(directions, 1, steps * batch, -1), layer.w_ih) + layer.bias
                          ).reshape(directions, n_gates, steps, batch, hidden)
                gates = lambda t, k, inputs=inputs: inputs[:, :, t, :k]  # noqa: E731
            h, outputs = layer.run(gates, steps, batch, active, keep_outputs=depth < len(self.layers) - 1)
        return np.concatenate(list(h), axis=1)


@dataclass(frozen=True)
class ScratchStack:
    """The tutorial's RNN: ``h' = sigmoid(W_x x + b + W_h h)``, with ``W_x x + b`` the row of
    `table` (characters, hidden) for x, and ``w_h`` (hidden, hidden) transposed. The output at a
    name's last character reads the state before it, so no name runs its last step."""

    table: np.ndarray
    w_h: np.ndarray

    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Each name's state before its last character, (batch, hidden); `chars` sorted longest first."""
        h = np.zeros((chars.shape[0], self.w_h.shape[0]), dtype=self.table.dtype)
        active = np.count_nonzero(lengths[None, :] - 1 > np.arange(chars.shape[1])[:, None], axis=1)
        for t, k in enumerate(active.tolist()):
            step = np.matmul(h[:k], self.w_h)
            step += self.table[chars[:k, t]]
            h[:k] = sigmoid(step)
        return h
