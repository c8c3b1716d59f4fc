"""What a model's metadata says, checked once: `ModelMeta`.

A checkpoint's ``model.json`` and an ONNX export's metadata are files anyone can edit or damage.
`ModelMeta.from_dict` is the one place their values are checked, for both, before anything is
built from them: the sizes that shape the network (capped, so an edited size can't ask for
gigabytes or hang), and the labels, temperature and logit bias that turn logits into answers (so
a bad value is refused at load, not answered as NaN). `to_dict` gives back the JSON it was built
from, key for key, so loading and saving a checkpoint changes nothing in it.

Code reads its fields (``meta.labels``, ``meta.config.case``); keys it does not model (a world
model's ``world`` and ``test_sets``) are in ``meta.extra``.

`jsontext.parse_json` reads such files' JSON.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from ..config import ARCHS, SIZE_LIMITS, Config
from ..conformal import Conformal
from ..errors import CheckpointError
from ..text.names import CASES, unprintable

# The largest sizes a model may ask for: far above any model trained here (hidden 256, 2 layers),
# and bounded, so that an edited file can't make building the network take all memory or hang.
# Logits are divided by the temperature: outside this range that overflows, or is not a calibration.
TEMPERATURE_RANGE = (1e-3, 1e3)
MAX_LOGIT_BIAS = 1e3


# --- checking values ---------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _labels(value: Any) -> str | None:
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(x, str) and x for x in value):
        return "'labels' must be a list of at least two names"
    if len(set(value)) != len(value):
        return "'labels' names a language twice"
    if any(unprintable(x) for x in value):
        return "'labels' holds a control character (a tab, a line end, ...)"
    return None


def _decisions(data: dict[str, Any]) -> str | None:
    """What is wrong with the values that turn logits into answers, if anything."""
    labels, temperature, bias = data.get("labels"), data.get("temperature", 1.0), data.get("logit_bias")
    low, high = TEMPERATURE_RANGE
    if problem := _labels(labels):
        return problem
    for key, value in (("temperature", temperature), ("one_word_temperature", data.get("one_word_temperature"))):
        if not (value is None and key != "temperature" or _number(value) and low <= value <= high):
            return f"{key!r} must be a positive number from {low:g} to {high:g}, not {value!r}"
    if bias is not None and not (isinstance(bias, list) and len(bias) == len(labels)
                                 and all(_number(b) and abs(b) <= MAX_LOGIT_BIAS for b in bias)):
        return f"'logit_bias' must be null or {len(labels)} numbers from {-MAX_LOGIT_BIAS:g} to {MAX_LOGIT_BIAS:g}"
    return None


def _config_problem(raw: Any) -> str | None:
    """What is wrong with a recorded `Config`, if anything: fields this version does not know, and
    the values the network is built from."""
    if not isinstance(raw, dict):
        return "'config' must be a JSON object"
    unknown = sorted(set(raw) - {f.name for f in fields(Config)})
    if unknown:
        return f"'config' has fields this version of nameorigin does not know ({', '.join(unknown)})"
    values = {**Config().to_dict(), **raw}
    for name, (low, high) in SIZE_LIMITS.items():
        value = values[name]
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            return f"'config.{name}' must be a whole number from {low} to {high}, not {value!r}"
    if values["arch"] not in ARCHS:
        return f"'config.arch' must be one of {', '.join(ARCHS)}, not {values['arch']!r}"
    for key in ("bidirectional", "ngram_words"):
        if not isinstance(values[key], bool):
            return f"'config.{key}' must be true or false, not {values[key]!r}"
    for key in ("dropout", "ngram_drop", "surname_share"):
        if not (_number(values[key]) and 0 <= values[key] <= 1):
            return f"'config.{key}' must be a number from 0 to 1, not {values[key]!r}"
    if values["case"] not in CASES:
        return f"'config.case' must be one of {', '.join(CASES)}, not {values['case']!r}"
    return None


def _others_problem(data: dict[str, Any]) -> str | None:
    for key in ("metrics", "split", "corpus", "history"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"{key!r} must be a JSON object"
    for key in ("weights_sha256", "revision"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"{key!r} must be a string"
    return _answer_sets_problem(data)


def _answer_sets_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the prediction-set scores and the label mixes for priors, if anything."""
    if data.get("conformal") is not None:
        try:
            Conformal.from_dict(data["conformal"])
        except ValueError as err:
            return f"'conformal' {err}"
    n = len(data["labels"])
    for key in ("label_prior", "one_word_label_prior"):
        mix = data.get(key)
        if mix is not None and not (isinstance(mix, list) and len(mix) == n
                                    and all(_number(v) and 0 < v <= 1 for v in mix) and abs(sum(mix) - 1) < 1e-3):
            return f"{key!r} must be null or {n} positive shares summing to 1"
    return None


# --- the object --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ModelMeta:
    """A model's metadata, checked: build it with `from_dict`. ``temperature`` and ``logit_bias``
    are applied to the logits as ``(logits + logit_bias) / temperature``; names of one word take
    ``one_word_temperature`` instead where there is one (`scoring.name_temperatures`). ``revision`` is recorded
    by ONNX exports (a checkpoint's is computed from its files); ``weights_sha256`` by checkpoints.
    ``conformal`` holds the scores prediction sets are made from, and ``label_prior`` the label
    mix the model's answers carry, which population priors are applied against (names of one word:
    ``one_word_label_prior`` where there is one; `conformal`, `priors`).
    ``extra`` holds the keys this class does not model (the file's format and version, a world
    model's ``world`` and ``test_sets``, ...). Equal when their JSON is."""

    config: Config
    labels: tuple[str, ...]
    temperature: float = 1.0
    one_word_temperature: float | None = None
    logit_bias: tuple[float, ...] | None = None
    weights_sha256: str | None = None
    revision: str | None = None
    metrics: dict[str, Any] | None = None
    split: dict[str, Any] | None = None
    corpus: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    conformal: Conformal | None = None
    label_prior: tuple[float, ...] | None = None
    one_word_label_prior: tuple[float, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The keys the source had ("config.<field>" for its config), so `to_dict` writes those back
    # even where they hold the default, and no others.
    given: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str | os.PathLike) -> "ModelMeta":
        """Check `data` (a model.json's or an ONNX export's metadata) and build the object; anything
        wrong is a one-line `CheckpointError` naming `where` (the file) and the key."""
        if not isinstance(data, Mapping):
            raise CheckpointError(f"{where}: the metadata must be a JSON object; retrain or restore it")
        data = copy.deepcopy(dict(data))
        problem = _decisions(data) or _config_problem(data.get("config")) or _others_problem(data)
        if problem:
            raise CheckpointError(f"{where}: {problem}; retrain or restore it")
        modelled = _MODELLED & set(data)
        values = {key: data[key] for key in modelled}
        values["config"] = Config.from_dict(data["config"])
        values["labels"] = tuple(data["labels"])
        for key in ("logit_bias", "label_prior", "one_word_label_prior"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        if values.get("conformal") is not None:
            values["conformal"] = Conformal.from_dict(values["conformal"])
        given = modelled | {f"config.{key}" for key in data["config"]}
        return cls(**values, extra={k: v for k, v in data.items() if k not in modelled}, given=frozenset(given))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelMeta) and self.to_dict() == other.to_dict()

    __hash__ = None  # equal by value, and not immutable all the way down (its dicts)

    def to_dict(self) -> dict[str, Any]:
        """The metadata as JSON values: the keys it was built from, and any set since."""
        out = copy.deepcopy(self.extra)
        defaults = Config().to_dict()
        out["config"] = {key: value for key, value in self.config.to_dict().items()
                         if f"config.{key}" in self.given or value != defaults[key]}
        for f in fields(self):
            if f.name in _MODELLED - {"config"}:
                value = getattr(self, f.name)
                if f.name in self.given or f.default is MISSING or value != f.default:
                    out[f.name] = (list(value) if isinstance(value, tuple) else value.to_dict()
                                   if isinstance(value, Conformal) else copy.deepcopy(value))
        return out


_MODELLED = frozenset(f.name for f in fields(ModelMeta)) - {"extra", "given"}
