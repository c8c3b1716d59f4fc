"""What the routes share: the loaded model, its limits, and the one thread that runs it.

`Service` turns a request into work for the model: limits first (`limits.model_chars`), then the
`MicroBatcher` (or, unbatched or with answer options the batcher does not take, a call of its own
on the model thread). An explanation goes through the batcher as well, its prefixes costed like
any request's names, so it takes turns with the rest instead of holding the model for a whole
100-prefix call.
"""

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from ..inference.explain import Explanation, explaining
from ..text.names import normalize
from .answer_options import answer_options
from .batcher import MicroBatcher, ModelThread
from .limits import Limits, model_chars

if TYPE_CHECKING:
    from ..inference.classifier import Classifier


class Service:
    """What the routes share: the model, its limits, and the one thread that runs it."""

    def __init__(self, classifier: "Classifier", limits: Limits, batcher: MicroBatcher | None):
        self.classifier = classifier
        self.limits = limits
        self.batcher = batcher
        self.model = batcher.model if batcher is not None else ModelThread()
        self.default_k = min(3, len(classifier.labels))

    async def start(self) -> None:
        if self.batcher is not None:
            await self.batcher.start()
        else:
            self.model.start()

    async def stop(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()
        else:
            self.model.stop()

    def predict(self, names: list[str], top_k: int, min_confidence: float, where: str,
                answers: dict | None = None) -> asyncio.Future:
        """The predictions for `names`, as a future; a name or names over a limit, or answer options
        (`answer_options`) the model can't give, raise here. Those options bypass the batcher;
        through it, a name the request repeats is run, and costed, once."""
        costs = model_chars(names, self.limits, where)
        answers = answer_options(self.classifier, answers)
        if self.batcher is None or answers:
            return self.model.submit(partial(self.classifier.predict, **(answers or {})), names, top_k,
                                     min_confidence)
        unique = dict(zip(names, costs))
        if len(unique) == len(names):
            return self.batcher.submit(names, top_k, min_confidence, costs)
        return asyncio.ensure_future(self._repeated(names, list(unique), list(unique.values()), top_k,
                                                    min_confidence))

    async def _repeated(self, names: list[str], unique: list[str], costs: list[int], top_k: int,
                        min_confidence: float) -> list:
        """A request that repeats names, run (and costed, so queued) as its distinct names: the model
        would score a repeated name once per turn of the batcher, and the request would wait as long
        as one of as many distinct names."""
        found = dict(zip(unique, await self.batcher.submit(unique, top_k, min_confidence, costs)))
        return [found[name] for name in names]

    def explain(self, name: str, top_k: int) -> asyncio.Future:
        """`inference.explain.explain` as a future. Batched, its prefixes (a 100-letter name has 100)
        are queued as a request of their own and take turns with the others, costed as the model
        reads them; cancelling the future drops those not run yet."""
        model_chars([name], self.limits, "name")
        if self.batcher is None:
            return self.model.submit(self.classifier.explain, name, top_k)
        return asyncio.ensure_future(self._explain(name, top_k))

    async def _explain(self, name: str, top_k: int) -> Explanation:
        steps = explaining(name)
        names = next(steps)
        while True:
            predictions = await self.batcher.submit(names, top_k, 0.0, [len(normalize(n)) for n in names])
            try:
                names = steps.send(predictions)
            except StopIteration as done:
                return done.value
