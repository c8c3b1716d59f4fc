"""The HTTP options for answers beyond one label: ``level``, ``coverage``, ``randomized`` and ``prior``
(`nameorigin.inference.answers`), checked against the model before any name is queued."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException

from ..errors import NameOriginError
from ..inference.priors import read_prior

if TYPE_CHECKING:
    from ..inference.classifier import Classifier


def answer_options(classifier: "Classifier", answers: dict | None) -> dict:
    """``level``, ``coverage``, ``randomized`` and ``prior`` as `Classifier.predict` takes them, without the
    defaults; checked against the model, so what it can't answer is a 422 with the reason."""
    defaults = {"level": "label", "randomized": False}
    answers = {k: v for k, v in (answers or {}).items() if v is not None and not (k in defaults and v == defaults[k])}
    if not answers:
        return answers
    try:
        if isinstance(answers.get("prior"), str):
            answers["prior"] = read_prior(answers["prior"], files=False)
        prior = answers.get("prior")
        classifier.check_answers(answers.get("level", "label"), answers.get("coverage"),
                                 None if prior == "auto" else prior, answers.get("randomized", False))
    except (NameOriginError, ValueError) as err:
        raise HTTPException(422, str(err)) from None
    return answers
