"""Where a run computes, and how reproducibly: the device, the seeds.

Training runs on the CPU or on CUDA. On CUDA a network is scored by PyTorch's own fused layers
(cuDNN's GRU), which are faster there; on the CPU by the numpy runtime (`models.tensors`).
`--precision bf16` runs the forward pass under autocast on GPUs that support it.
"""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from .config import PRECISIONS
from .errors import NameOriginError



def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise NameOriginError("--device cuda was asked for, but PyTorch sees no CUDA device")
    return torch.device(device)


def autocast(device: torch.device, precision: str = "fp32"):
    """A context for the forward pass: bf16 autocast on a device that has it, else nothing."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise NameOriginError(f"unknown precision {precision!r}; choose from {PRECISIONS}")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise NameOriginError("--precision bf16 was asked for, but this GPU does not support bfloat16")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

