"""Every knob of a training run, in one dataclass.

A `Config` is saved inside each checkpoint, so a model can always be rebuilt and its run repeated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

ARCHS = ("rnn", "gru")
SCHEDULES = ("constant", "onecycle")


# Batch size and peak learning rate per architecture that reach the reference's accuracy within the
# reference's 2 epochs while taking far fewer steps (measured in benchmarks/train_speed.py).
TUNED = {
    "rnn": {"batch_size": 64, "lr": 2e-2},
    "gru": {"batch_size": 96, "lr": 2e-2},
}


@dataclass
class Config:
    arch: str = "gru"  # "rnn": the reference's hand-written cell; "gru": nn.GRU with a linear head
    hidden_size: int = 256
    num_layers: int = 2  # gru only; the scratch rnn is a single cell, as in the reference
    epochs: int = 2
    batch_size: int = 96
    lr: float = 2e-2
    schedule: str = "onecycle"  # "constant" (the reference) or "onecycle": warm up to lr, then anneal
    clip: float = 1.0  # max gradient norm
    seed: int = 42
    split: str = "seed"  # "seed" (the reference's split) or "dedup" (no name on both sides)
    test_size: float = 0.1

    @classmethod
    def for_arch(cls, arch: str, **overrides) -> "Config":
        """The tuned defaults for `arch`, with every override that is not None applied on top."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(**{"arch": arch, **TUNED.get(arch, {}), **given})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config fields: {sorted(unknown)}")
        return cls(**values)
