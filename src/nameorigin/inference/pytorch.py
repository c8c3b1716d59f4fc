"""Predictions with the PyTorch network: ``load_model(..., backend="torch")``, for a GPU.

The numpy runtime is the CPU's fast path; a GPU runs the network faster through PyTorch's fused
layers (cuDNN's GRU). `models.tensors.ModuleNetwork` is a `runtime.Network` over the module: numpy
in and out, so the classifier around it is the one every backend shares. PyTorch is the
``train`` extra.
"""

from __future__ import annotations

import os

import torch

from .. import checkpoint
from ..device import pick_device
from ..models.tensors import ModuleNetwork
from .classifier import Classifier


def load_torch_classifier(path: str | os.PathLike, threads: int | None = None, device: str = "auto") -> Classifier:
    """A `Classifier` whose network runs in PyTorch, on CUDA when there is one. Batches run one
    after another; PyTorch shares each out over `threads` CPU threads (None: its default)."""
    if threads is not None:
        torch.set_num_threads(threads)
    model, meta = checkpoint.load(path)
    network = ModuleNetwork(model.to(pick_device(device)).eval())
    return Classifier(network, meta, checkpoint.revision(path), threads=1)
