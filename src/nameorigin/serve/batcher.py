"""Model calls off the event loop: one model thread, and the micro-batcher that feeds it.

A network call per name is dominated by fixed costs (Python dispatch, one small matrix product per
character), so 32 clients asking one name each are served much faster as one call with 32 names.
A call is also bounded in size, and the requests waiting take turns in it, a few hundred
characters each: a GET waits for a turn of each request ahead of it, never for someone's whole
1,000-name POST or 100-prefix explanation.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..inference.classifier import Classifier, Prediction

SHUTTING_DOWN = "the server is shutting down"


class ModelThread:
    """Runs functions one at a time on a single daemon thread, answering through asyncio futures.

    A daemon thread, unlike a `ThreadPoolExecutor`'s, is not joined when the interpreter exits,
    so a model call still running when the server is told to stop cannot keep the process alive
    past its grace period.
    """

    def __init__(self) -> None:
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (the first `call` does, if this was not called)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="nameorigin-model", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._inbox.put(None)
            self._thread = None

    def submit(self, fn: Callable, *args: Any) -> asyncio.Future:
        """`fn(*args)` on the model thread; cancelling the future drops the call if it has not begun."""
        self.start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._inbox.put((fn, args, loop, future))
        return future

    def _work(self) -> None:
        while (item := self._inbox.get()) is not None:
            fn, args, loop, future = item
            if future.done():  # cancelled while it waited
                continue
            try:
                outcome, ok = fn(*args), True
            except BaseException as err:  # handed to the waiting request
                outcome, ok = err, False
            try:
                loop.call_soon_threadsafe(_settle, future, outcome, ok)
            except RuntimeError:  # the event loop has closed
                return


def _settle(future: asyncio.Future, outcome: Any, ok: bool) -> None:
    if future.done():
        return
    if ok:
        future.set_result(outcome)
    else:
        future.set_exception(outcome)


@dataclass(eq=False)
class _Job:
    names: list[str]
    costs: list[int]
    top_k: int
    min_confidence: float
    future: asyncio.Future = field(repr=False)
    taken: int = 0
    results: list = field(default_factory=list, repr=False)


class MicroBatcher:
    """Answers concurrent requests with few `Classifier.predict` calls, on a `ModelThread`.

    One worker task waits for the first request, gathers whatever else arrives within `max_wait_s`,
    and forms a batch of up to `max_names` names and `max_chars` characters (the model's cost; an
    explanation's cost is its prefixes), for one call per distinct `min_confidence`.

    The waiting requests take turns of at most `max_turn_chars` characters each (a whole name at
    least), round and round until the batch is full; a request with names left goes behind the
    others, and one that arrives goes behind them too. So a 1,000-name POST is served a turn at a
    time, and a GET that arrives waits for one turn of each request ahead of it, not for a
    batch-sized piece of each: beside two such POSTs it is in the next batch. The batch size
    bounds how long a batch takes, the turn how much of it one request may have.

    Under load the queue fills while the model runs, so batches form without waiting; at low load
    a request waits at most `max_wait_s`. A request whose client has gone (its future cancelled)
    is dropped before its names are run.
    """

    def __init__(self, classifier: "Classifier", *, max_wait_s: float = 0.002, max_names: int = 1024,
                 max_chars: int = 2048, max_turn_chars: int = 512, model: ModelThread | None = None):
        self.classifier = classifier
        self.max_wait_s = max_wait_s
        self.max_names = max_names
        self.max_chars = max_chars
        self.max_turn_chars = max_turn_chars
        self.model = model or ModelThread()
        self._jobs: deque[_Job] = deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self.model.start()
        self._task = asyncio.create_task(self._run(), name="nameorigin-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        _fail(list(self._jobs), RuntimeError(SHUTTING_DOWN))
        self._jobs.clear()
        self.model.stop()

    async def predict(self, names: list[str], top_k: int, min_confidence: float = 0.0,
                      costs: list[int] | None = None) -> "list[Prediction]":
        """The predictions for `names`, computed together with whatever else is waiting; `costs`
        are the names' lengths as the model reads them (their own lengths if not given)."""
        return await self.submit(names, top_k, min_confidence, costs)

    def submit(self, names: list[str], top_k: int, min_confidence: float = 0.0,
               costs: list[int] | None = None) -> asyncio.Future:
        """`predict` as a future: cancelling it drops the names not yet run."""
        if self._arrived is None:
            raise RuntimeError("MicroBatcher.start() was not awaited")
        future = asyncio.get_running_loop().create_future()
        if not names:
            future.set_result([])
            return future
        self._jobs.append(_Job(names, costs or [len(n) for n in names], top_k, min_confidence, future))
        self._arrived.set()
        return future

    def _waiting(self) -> tuple[int, int]:
        """Names and characters waiting to be run."""
        names = chars = 0
        for job in self._jobs:
            if not job.future.done():
                names += len(job.names) - job.taken
                chars += sum(job.costs[job.taken:])
                if names >= self.max_names or chars >= self.max_chars:
                    break
        return names, chars

    async def _gather(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._waiting()[0]:
            self._arrived.clear()
            await self._arrived.wait()
        deadline = loop.time() + self.max_wait_s
        while True:
            names, chars = self._waiting()
            remaining = deadline - loop.time()
            if names >= self.max_names or chars >= self.max_chars or remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[tuple[_Job, int, int]]:
        """The next batch, as (job, start, end) slices of the waiting jobs' names, taken in turns."""
        batch: dict[_Job, list[int]] = {}
        names = chars = 0
        while self._jobs and names < self.max_names and chars < self.max_chars:
            job = self._jobs.popleft()
            if job.future.done():  # its client went away
                continue
            start = end = job.taken
            turn = 0
            while end < len(job.names) and turn < self.max_turn_chars and names < self.max_names and (
                    names == 0 or chars + job.costs[end] <= self.max_chars):
                turn += job.costs[end]
                chars += job.costs[end]
                names += 1
                end += 1
            if end == start:  # its next name does not fit: it goes first next time
                self._jobs.appendleft(job)
                break
            batch.setdefault(job, [start, end])[1] = end
            job.taken = end
            if end < len(job.names):
                self._jobs.append(job)
        return [(job, start, end) for job, (start, end) in batch.items()]

    async def _run(self) -> None:
        while True:
            await self._gather()
            batch = self._take()
            if not batch:
                continue
            try:
                parts = await self.model.submit(_run_batch, self.classifier, batch)
            except asyncio.CancelledError:
                _fail([job for job, _, _ in batch], RuntimeError(SHUTTING_DOWN))
                raise
            except Exception as err:  # a bug in the model code: fail these requests, keep serving
                _fail([job for job, _, _ in batch], err)
                continue
            for (job, _, end), part in zip(batch, parts):
                job.results.extend(part)
                if end == len(job.names) and not job.future.done():
                    job.future.set_result(job.results)


def _run_batch(classifier: "Classifier", batch: list[tuple[_Job, int, int]]) -> "list[list[Prediction]]":
    """Each slice's predictions: one model call per distinct `min_confidence`, at the largest top_k
    asked for, cut down to each request's own."""
    out: list = [None] * len(batch)
    order = sorted(range(len(batch)), key=lambda i: batch[i][0].min_confidence)
    for min_confidence, group in groupby(order, key=lambda i: batch[i][0].min_confidence):
        group = list(group)
        names = [name for i in group for name in batch[i][0].names[batch[i][1]:batch[i][2]]]
        top_k = max(batch[i][0].top_k for i in group)
        results = classifier.predict(names, top_k=top_k, min_confidence=min_confidence)
        start = 0
        for i in group:
            job, lo, hi = batch[i]
            out[i] = _truncate(results[start:start + hi - lo], job.top_k, top_k)
            start += hi - lo
    return out


def _fail(jobs: list[_Job], err: BaseException) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(err)


def _truncate(predictions: "list[Prediction]", top_k: int, computed: int) -> "list[Prediction]":
    if top_k == computed:
        return predictions
    return [replace(p, predictions=p.predictions[:top_k]) for p in predictions]
