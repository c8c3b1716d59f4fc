"""Data-parallel training with PyTorch's own distributed package, when started by torchrun.

``torchrun --nproc_per_node=N -m nameorigin train ...`` starts N processes with ``RANK`` and
``WORLD_SIZE`` set; each joins one process group (gloo on the CPU, nccl on CUDA), reads its own
share of every batch, and `DistributedDataParallel` averages the gradients, so N processes take
the same steps one process would with the same global batch. Without torchrun nothing changes.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_env(device: torch.device) -> bool:
    """Join the process group torchrun describes; False (and nothing done) when not under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Only this process logs and writes files."""
    return rank() == 0


def share(rows, size: int | None = None):
    """This process's share of a batch's rows (every one of them when there are fewer rows than
    processes, so that no process steps on an empty batch)."""
    size = world_size() if size is None else size
    return rows if len(rows) < size else rows[rank()::size]


def total(value: torch.Tensor) -> torch.Tensor:
    """`value` summed over all processes (itself alone without torchrun)."""
    if dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value)
    return value


def finish() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
