"""argparse value types shared by the subcommands, so every flag rejects bad values the same way.

A value argparse rejects is one line and exit status 2, like a `NameOriginError`, but it is caught
before any work starts: a learning rate of inf would otherwise fail only after training. Each type
raises `argparse.ArgumentTypeError` with what the value must be, so the line reads
``argument --epochs: must be a whole number of at least 1, not 'x'`` rather than naming a Python
function the user never saw.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from .config import MAX_SEED
from .threads import usable_cpus

MAX_CLASS_WEIGHT = 10.0

__all__ = ["MAX_CLASS_WEIGHT", "MAX_SEED", "class_weight", "finite_non_negative_float", "fraction",
           "non_negative_float", "non_negative_int", "port", "positive_float", "positive_int", "seed", "threads"]


def _parse(text: str, kind: Callable[[str], float], what: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None


def positive_int(text: str) -> int:
    value = _parse(text, int, "a whole number of at least 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def threads(text: str) -> int:
    """A thread count, at most the CPUs this process can use: past them threads only wait, and a
    count in the thousands exhausts memory or crashes the thread pool before any work."""
    value, cpus = positive_int(text), usable_cpus()
    if value > cpus:
        raise argparse.ArgumentTypeError(f"must be at most {cpus}, the CPUs this process can use, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _parse(text, int, "a whole number, 0 or more")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def seed(text: str) -> int:
    """A random seed: NumPy accepts 0 to 2**32 - 1 and nothing else."""
    what = f"an integer from 0 to 2**32 - 1 ({MAX_SEED})"
    value = _parse(text, int, what)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value


def non_negative_float(text: str) -> float:
    value = _parse(text, float, "a number, 0 or more")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def finite_non_negative_float(text: str) -> float:
    """0 or more and finite: for factors in the loss or the update, where inf turns weights into nan."""
    value = _parse(text, float, "a finite number, 0 or more")
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number, 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    """More than 0 and finite: a learning rate of 0 learns nothing and inf ruins the weights."""
    value = _parse(text, float, "a finite number above 0")
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def class_weight(text: str) -> float:
    """The power of the class-share loss weights. Beyond 10 (1 already balances the classes) the
    weights of common classes underflow to 0, and with them the loss, into nan."""
    what = f"a number from 0 to {MAX_CLASS_WEIGHT:g} (1: balanced)"
    value = _parse(text, float, what)
    if not 0 <= value <= MAX_CLASS_WEIGHT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_CLASS_WEIGHT:g} (1: balanced), got {text}")
    return value


def fraction(text: str) -> float:
    value = _parse(text, float, "a number in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def probability(text: str) -> float:
    """A number from 0 to 1, both included: the rule Python and HTTP take for --min-confidence."""
    value = _parse(text, float, "a number from 0 to 1")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def port(text: str) -> int:
    what = "a TCP port, 0 to 65535 (0: any free one)"
    value = _parse(text, int, what)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value
