"""argparse value types shared by the subcommands, so every flag rejects bad values the same way.

A value argparse rejects is one line and exit status 2, like a `NameOriginError`, but it is caught
before any work starts: a learning rate of inf would otherwise fail only after training.
"""

from __future__ import annotations

import argparse
import math

MAX_SEED = 2**32 - 1
MAX_CLASS_WEIGHT = 10.0


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def seed(text: str) -> int:
    """A random seed: NumPy accepts 0 to 2**32 - 1 and nothing else."""
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**32 - 1 ({MAX_SEED}), got {value}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def finite_non_negative_float(text: str) -> float:
    """0 or more and finite: for factors in the loss or the update, where inf turns weights into nan."""
    value = float(text)
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """More than 0 and finite: a learning rate of 0 learns nothing and inf ruins the weights."""
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def class_weight(text: str) -> float:
    """The power of the class-share loss weights. Beyond 10 (1 already balances the classes) the
    weights of common classes underflow to 0, and with them the loss, into nan."""
    value = float(text)
    if not 0 <= value <= MAX_CLASS_WEIGHT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_CLASS_WEIGHT:g} (1: balanced), got {text}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 0 to 65535 (0: any free one), got {value}")
    return value
