"""Predictions with the PyTorch network: ``load_model(..., backend="torch")``, for a GPU.

The numpy runtime is the CPU's fast path; a GPU runs the network faster through PyTorch's fused
layers (cuDNN's GRU). `TorchNetwork` is a `runtime.Network` over the module: numpy in and out, so
the classifier around it is the one every backend shares. PyTorch is the ``train`` extra.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from .. import checkpoint
from ..device import pick_device
from .classifier import Classifier


class TorchNetwork:
    """A checkpoint's PyTorch network on `device`, in eval mode, called with numpy arrays."""

    def __init__(self, model: nn.Module, device: torch.device):
        self.model, self.device = model.to(device).eval(), device

    @torch.no_grad()
    def __call__(self, chars: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        chars_, lengths_ = torch.from_numpy(chars).to(self.device), torch.from_numpy(lengths).to(self.device)
        return self.model(chars_, lengths_).float().cpu().numpy()


def load_torch_classifier(path: str | os.PathLike, threads: int | None = None, device: str = "auto") -> Classifier:
    """A `Classifier` whose network runs in PyTorch, on CUDA when there is one. Batches run one
    after another; PyTorch shares each out over `threads` CPU threads (None: its default)."""
    if threads is not None:
        torch.set_num_threads(threads)
    model, meta = checkpoint.load(path)
    return Classifier(TorchNetwork(model, pick_device(device)), meta, checkpoint.revision(path), threads=1)
