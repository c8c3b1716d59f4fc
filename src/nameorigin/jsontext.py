"""`parse_json`: JSON from files anyone can edit (model metadata, the JSONL inputs of `stream`),
without the tracebacks Python's parser gives on hostile input. Needs nothing beyond the standard
library, so reading inputs imports no PyTorch."""

from __future__ import annotations

import json
import math
from typing import Any

# No JSON nameorigin reads nests more than a few levels; deeper is damage or an attack.
MAX_DEPTH = 100
# Python 3.11's own limit on int(); applied on every version, where int() of more is refused or slow.
MAX_DIGITS = 4300


class JSONError(ValueError):
    """Text that is not JSON nameorigin will read; the message says why in a few words."""


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise JSONError(f"a number of {digits} digits, too long to read")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is too large")
    return value


def _constant(text: str) -> float:
    raise JSONError(f"{text} is not a JSON value")


# Built once: json.loads with hooks would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_int=_int)
_FINITE = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def parse_json(text: str, finite: bool = False) -> Any:
    """`text` as JSON, or a `JSONError`: for malformed text, and for what makes Python's own parser
    fail with a traceback or takes the process's stack (nesting thousands deep, a number of
    thousands of digits). `finite` also refuses NaN, Infinity and numbers too large for a float,
    which a strict JSON writer can't write back."""
    try:
        value = (_FINITE if finite else _DECODER).decode(text)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno} column {err.colno}" if err.lineno > 1 else f"column {err.colno}"
        raise JSONError(f"not valid JSON ({err.msg}, {where})") from None
    except JSONError:
        raise
    except RecursionError:
        raise JSONError(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # an integer past a limit on digits set lower for this interpreter
        raise JSONError("a number with too many digits to read") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise JSONError(f"nested more than {MAX_DEPTH} levels deep")
    return value
