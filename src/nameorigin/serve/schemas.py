"""The request and response shapes of the HTTP API, built per app so the schema states its limits.

Numbers are read as JSON Schema reads them, the same over GET and POST: ``top_k`` is an
``integer``, and JSON Schema counts 6.0 as one, so 6 and 6.0 are both accepted and mean 6, while
6.5, ``"6"`` and ``true`` in a JSON body are refused; ``min_confidence`` is a number from 0 to 1.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from .limits import Limits

MAX_ERRORS_SHOWN = 5


def _whole_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # StrictInt refuses the rest, a bool or a string included


def _number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value  # StrictFloat refuses the rest; NaN fails the range


class LabelProbability(BaseModel):
    label: str
    probability: float


class PredictionOut(BaseModel):
    name: str
    normalized: str = Field(description="the ASCII form the model reads")
    label: str | None = Field(description="the most likely label; null when abstained")
    probability: float | None
    predictions: list[LabelProbability] = Field(description="top-k labels, most likely first")
    abstained: bool
    reason: str | None = Field(description="why the name was not scored, or its top probability is below "
                                           "min_confidence, when abstained")
    model_revision: str
    prediction_set: list[str] | None = Field(None, description="with coverage: the labels, most likely first, "
                                                               "that hold the true one for that share of names "
                                                               "like the calibration names; absent otherwise")


class PredictResponse(BaseModel):
    predictions: list[PredictionOut]
    model_revision: str


class ExplainStep(BaseModel):
    prefix: str
    predictions: list[LabelProbability] = Field(description="top-k labels after this prefix; empty when the "
                                                            "prefix has nothing to read yet")


class ExplainOut(BaseModel):
    name: str
    normalized: str
    abstained: bool
    reason: str | None
    steps: list[ExplainStep] = Field(description="one per prefix of the normalized name, shortest first")
    model_revision: str | None = None


class ModelInfo(BaseModel):
    labels: list[str]
    revision: str
    metrics: dict[str, Any]
    config: dict[str, Any]
    limits: dict[str, int]
    explain: bool = Field(description="whether GET /v1/explain is served")


class Health(BaseModel):
    status: str
    model_revision: str


class ErrorOut(BaseModel):
    detail: str


Level = Literal["label", "group"]
LEVEL_HELP = "answer with labels, or with coarse groups of them, probabilities summed"
COVERAGE_HELP = "add each name's prediction set with this coverage (between 0 and 1)"
RANDOMIZED_HELP = ("with coverage: randomized sets, whose coverage is the level itself rather than the level or "
                   "more; a name the model is sure of may get an empty set")
PRIOR_HELP = "the population's label mix, a JSON object of label to share, or \"auto\" to estimate it from the names"
MAX_PRIOR_CHARS = 4096
Share = Annotated[StrictFloat, Field(ge=0), BeforeValidator(_number)]


def top_k_type(n_labels: int) -> Any:
    # the constraints before the validator, or the schema shows them as "ge"/"le" instead of
    # "minimum"/"maximum"
    return Annotated[StrictInt, Field(ge=1, le=n_labels, description=f"how many labels to return (1 to {n_labels})"),
                     BeforeValidator(_whole_number)]


ConfidenceType = Annotated[StrictFloat, Field(ge=0, le=1, description="abstain when the top probability is below "
                                                                      "this (0 to 1)"), BeforeValidator(_number)]


def predict_request(limits: Limits, n_labels: int) -> type[BaseModel]:
    """The POST body of one app: its limits and label count go into its schema."""
    Name = Annotated[str, Field(max_length=limits.max_name_chars)]

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        names: list[Name] = Field(
            min_length=1, max_length=limits.max_names,
            description=f"1 to {limits.max_names} names, each at most {limits.max_name_chars} characters, "
                        f"also once transliterated to Latin letters, and {limits.max_request_chars} "
                        "transliterated characters in all")
        top_k: top_k_type(n_labels) = min(3, n_labels)
        min_confidence: ConfidenceType = 0.0
        level: Level = Field("label", description=LEVEL_HELP)
        coverage: Annotated[StrictFloat, Field(gt=0, lt=1), BeforeValidator(_number)] | None = Field(
            None, description=COVERAGE_HELP)
        randomized: StrictBool = Field(False, description=RANDOMIZED_HELP)
        prior: dict[str, Share] | Literal["auto"] | None = Field(None, max_length=n_labels, description=PRIOR_HELP)

    return PredictRequest


def describe(errors: list[dict]) -> str:
    """One readable line for a list of pydantic errors (which would otherwise echo the input back)."""
    parts = []
    for err in errors[:MAX_ERRORS_SHOWN]:
        loc = ".".join(str(x) for x in err.get("loc", ()))
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            msg = f"malformed JSON ({(err.get('ctx') or {}).get('error', 'decode error')})"
        parts.append(f"{loc}: {msg}" if loc else msg)
    if len(errors) > MAX_ERRORS_SHOWN:
        parts.append(f"and {len(errors) - MAX_ERRORS_SHOWN} more errors")
    return "; ".join(parts)
