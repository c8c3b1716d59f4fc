"""Names as tensors, and the logits of a PyTorch network for many names at once, as training and
its evaluation score them.

On the CPU the network's weights are handed to the numpy runtime (`nameorigin.runtime`), the
fast path every prediction takes; on a GPU the network runs itself over the same length-sorted
batches, where PyTorch's fused layers (cuDNN's GRU) are the fast path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..data.encoded import EncodedNames
from ..runtime import Network, build
from ..runtime.batches import network_logits
from ..text import names as text


def encode(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """`text.names.encode` as tensors: the padded index matrix and the lengths."""
    padded, lengths = text.encode(names)
    return torch.from_numpy(padded), torch.from_numpy(lengths)


def batch_source(names: list[str] | EncodedNames) -> tuple[Callable[[torch.Tensor, int], torch.Tensor],
                                                            torch.Tensor]:
    """``(take, lengths)`` for training: ``take(rows, width)`` is those rows' padded index matrix.
    A list is encoded whole, as it always was; an `EncodedNames` pads each batch on its own, so no
    corpus-wide matrix exists."""
    if isinstance(names, EncodedNames):
        return (lambda rows, width: torch.from_numpy(names.padded(np.asarray(rows), width))), \
            torch.from_numpy(names.lengths)
    chars, lengths = encode(names)
    return (lambda rows, width: chars[rows, :width]), lengths


def as_runtime(model: nn.Module) -> Network:
    """The current weights of a network `build_model` made, as a numpy runtime network (shared,
    not copied, where they are float32 on the CPU)."""
    state = {name: tensor.detach().float().cpu().numpy() for name, tensor in model.state_dict().items()}
    config, n_labels = model.built_from
    return build(config, state, n_labels)


class ModuleNetwork:
    """A PyTorch network as a `runtime.Network`: called with numpy arrays, run on the device its
    weights are on, answering numpy logits. Its caller sets the mode (eval for answers)."""

    def __init__(self, model: nn.Module):
        self.model, self.device = model, next(model.parameters()).device

    @torch.no_grad()
    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        chars_, lengths_ = torch.from_numpy(chars).to(self.device), torch.from_numpy(lengths).to(self.device)
        return self.model(chars_, lengths_).float().cpu().numpy()


def module_logits(model: nn.Module, names: list[str], budget: int = 1 << 12) -> torch.Tensor:
    """Logits (names, labels) of prepared names (non-empty, inside the alphabet) in input order,
    as `model` gives them in eval mode; its mode is left as it was. A network `build_model` made
    runs on the numpy runtime when it is on the CPU, any other on itself."""
    if next(model.parameters()).device.type == "cpu" and getattr(model, "built_from", None) is not None:
        return torch.from_numpy(network_logits(as_runtime(model), names, budget, torch.get_num_threads()))
    was_training = model.training
    model.eval()
    try:
        return torch.from_numpy(network_logits(ModuleNetwork(model), names, budget))
    finally:
        model.train(was_training)
