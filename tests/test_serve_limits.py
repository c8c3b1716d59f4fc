"""The HTTP service's bounded work: the limits on a request (names, body size, characters as the
model reads them, after transliteration) and their 413s and 422s; the micro-batcher, which merges
waiting requests and serves large ones in turns; and the work nobody waits for: clients that have
gone, bodies that stall or drip in (408).

The limits are tested over HTTP against a real server in a subprocess; the batcher and the
request guard run in-process, with fake models that record, hold or step through their calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

httpx = pytest.importorskip("httpx")

from serving import FakeClassifier, asgi_requests, assert_json_error, check_prediction  # noqa: E402
from serving import client, server  # noqa: E402, F401 (fixtures, used by name)

from nameorigin.serve import create_app  # noqa: E402
from nameorigin.serve.batcher import MicroBatcher  # noqa: E402
from nameorigin.serve.limits import RequestGuard  # noqa: E402


# --- the limits of a request ------------------------------------------------------------------


def test_limits_are_inclusive(client):
    r = client.get("/v1/predict", params={"name": "a" * 100, "top_k": 1})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 1
    r = client.post("/v1/predict", json={"names": ["Qin"] * 1000})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 1000


def test_limits_are_configurable():
    app = create_app(FakeClassifier(), max_names=2, max_body_bytes=100, max_name_chars=5, batching=False)
    ok, *bad = asgi_requests(
        app,
        ("POST", "/v1/predict", {"json": {"names": ["Qin", "Li"]}}),
        ("POST", "/v1/predict", {"json": {"names": ["Qin", "Li", "Wu"]}}),
        ("POST", "/v1/predict", {"json": {"names": ["Qinnnn"]}}),
        ("GET", "/v1/predict", {"params": {"name": "Qinnnn"}}),
        ("POST", "/v1/predict", {"json": {"names": ["Qin"], "pad": "x" * 100}}),
    )
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 2
    assert [assert_json_error(r) and r.status_code for r in bad] == [422, 422, 422, 413]
    with pytest.raises(ValueError):
        create_app(FakeClassifier(), max_names=0)


def test_body_over_64_kb_is_refused_by_its_content_length(client):
    body = json.dumps({"names": ["Qin"] * 14_000}).encode()
    assert len(body) > 65536
    assert "65536" in assert_json_error(client.post("/v1/predict", content=body,
                                                    headers={"content-type": "application/json"}), 413)


def test_chunked_body_over_64_kb_is_refused_while_reading(client):
    def chunks():
        yield b'{"names": ['
        for _ in range(200):
            yield b'"Qin",' * 100
        yield b'"Qin"]}'

    r = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert "transfer-encoding" in r.request.headers and "content-length" not in r.request.headers
    assert_json_error(r, 413)


def test_chunked_body_under_the_limit_is_served(client):
    def chunks():
        yield b'{"names": ["Qin", '
        yield b'"Ivanov"], "top_k": 2}'

    r = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and [p["name"] for p in r.json()["predictions"]] == ["Qin", "Ivanov"]


# --- bounded work: names as the model reads them ----------------------------------------------

HEAVY = "\u722b"  # transliterated to "Tsumekanmuri ": 13 characters for one


def test_the_name_limit_holds_after_transliteration(client):
    assert client.get("/v1/predict", params={"name": HEAVY * 7}).status_code == 200  # 91 characters
    for r in (client.get("/v1/predict", params={"name": HEAVY * 8}),
              client.post("/v1/predict", json={"names": ["Qin", HEAVY * 8]})):
        detail = assert_json_error(r, 422)
        assert "transliterated" in detail and "100" in detail


def test_a_64_kb_request_of_heavy_names_is_a_413(client):
    """Under the body limit and the name limit, but 13 times what it looks in model work."""
    body = json.dumps({"names": [HEAVY * 7] * 1000}).encode()
    body = body[:-1] + b" " * (65_000 - len(body)) + b"}"  # JSON whitespace up to just under the limit
    assert len(body) == 65_000
    r = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert "20000" in assert_json_error(r, 413)
    assert client.post("/v1/predict", json={"names": [HEAVY * 7] * 200}).status_code == 200  # 18,200


def test_model_chars_counts_transliterated_characters():
    from nameorigin.serve.limits import LimitExceeded, Limits, model_chars

    limits = Limits(max_name_chars=20, max_request_chars=30)
    assert model_chars(["Qin", "Müller", HEAVY], limits) == [3, 6, 12]
    with pytest.raises(LimitExceeded) as err:
        model_chars(["Qin", HEAVY * 2], limits)
    assert err.value.status == 422 and "names[1]" in err.value.detail
    with pytest.raises(LimitExceeded) as err:
        model_chars([HEAVY] * 3, limits)
    assert err.value.status == 413


# --- batching: merged requests, pieces and turns ----------------------------------------------


def test_concurrent_requests_each_get_their_own_answer(server):
    """Requests batched together must still be answered with their own name and their own top_k."""
    names = [f"Name{chr(97 + i % 26)}{i}" for i in range(64)]

    def ask(i: int) -> tuple[int, dict]:
        if i % 2:
            return i, c.get("/v1/predict", params={"name": names[i], "top_k": 1 + i % 4}).json()
        return i, c.post("/v1/predict", json={"names": [names[i], "🙂"], "top_k": 1 + i % 4}).json()

    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    with httpx.Client(base_url=server, timeout=30, limits=limits) as c, ThreadPoolExecutor(32) as pool:
        for i, body in pool.map(ask, range(len(names))):
            p = body if i % 2 else body["predictions"][0]
            check_prediction(p, names[i], 1 + i % 4)
            if not i % 2:
                assert body["predictions"][1]["abstained"]


def test_micro_batcher_merges_waiting_requests_and_splits_the_answers():
    clf = FakeClassifier()

    async def main():
        batcher = MicroBatcher(clf, max_wait_s=0.05)
        await batcher.start()
        try:
            jobs = [batcher.predict([f"n{i}", f"m{i}"], top_k=1 + i % 4) for i in range(10)]
            return await asyncio.gather(*jobs)
        finally:
            await batcher.stop()

    results = asyncio.run(main())
    assert len(clf.calls) == 1 and len(clf.calls[0]) == 20
    for i, preds in enumerate(results):
        assert [p.name for p in preds] == [f"n{i}", f"m{i}"]
        assert all(len(p.predictions) == 1 + i % 4 for p in preds)


def test_each_request_gets_its_own_min_confidence_in_a_shared_batch():
    clf = FakeClassifier()

    async def main():
        batcher = MicroBatcher(clf, max_wait_s=0.05)
        await batcher.start()
        try:
            return await asyncio.gather(batcher.predict(["A"], 2, 0.0), batcher.predict(["B"], 3, 0.5))
        finally:
            await batcher.stop()

    low, high = asyncio.run(main())
    assert not low[0].abstained and len(low[0].predictions) == 2
    assert high[0].abstained and len(high[0].predictions) == 3


class GatedClassifier(FakeClassifier):
    """A FakeClassifier whose calls wait for `gate`, so a test can hold the model busy."""

    def __init__(self):
        super().__init__()
        import threading

        self.gate = threading.Event()
        self.started = threading.Event()

    async def entered(self):
        while not self.started.is_set():
            await asyncio.sleep(0.005)

    def predict(self, names, top_k=3, min_confidence=0.0):
        self.started.set()
        self.gate.wait(10)
        return super().predict(names, top_k, min_confidence)


class SteppedClassifier(FakeClassifier):
    """A FakeClassifier whose calls each wait to be let through (`release`), so a test decides
    what is queued while which call runs; it can explain, as `Classifier` does."""

    def __init__(self):
        super().__init__()
        import threading

        self.steps = threading.Semaphore(0)

    async def running(self, n: int) -> None:
        """Until the `n`th call has begun."""
        while len(self.calls) < n:
            await asyncio.sleep(0.005)

    def release(self, n: int = 1000) -> None:
        for _ in range(n):
            self.steps.release()

    def predict(self, names, top_k=3, min_confidence=0.0):
        result = super().predict(names, top_k, min_confidence)  # records the call
        self.steps.acquire(timeout=10)
        return result

    def explain(self, name, top_k=3):
        from nameorigin.inference.explain import explain

        return explain(self, name, top_k)


def test_a_large_request_is_served_in_pieces_taking_turns_with_a_small_one():
    clf = GatedClassifier()

    async def main():
        batcher = MicroBatcher(clf, max_wait_s=0.0, max_chars=10)
        await batcher.start()
        try:
            big = asyncio.ensure_future(batcher.predict([f"B{i}" for i in range(40)], top_k=2))
            await clf.entered()  # the first piece of the big request is running
            small = asyncio.ensure_future(batcher.predict(["Small"], top_k=1))
            await asyncio.sleep(0.05)
            clf.gate.set()
            return await big, await small
        finally:
            await batcher.stop()

    big, small = asyncio.run(main())
    assert [p.name for p in big] == [f"B{i}" for i in range(40)] and all(len(p.predictions) == 2 for p in big)
    assert [p.name for p in small] == ["Small"] and len(small[0].predictions) == 1
    assert len(clf.calls) >= 10 and all(sum(map(len, c)) <= 10 or len(c) == 1 for c in clf.calls)
    served = next(i for i, call in enumerate(clf.calls) if "Small" in call)
    assert served <= 3 < len(clf.calls) - 1, clf.calls


def test_a_small_request_waits_for_a_turn_of_each_large_one_not_a_piece():
    clf = SteppedClassifier()
    big = [[f"{c}{i}" for i in range(40)] for c in "ABC"]

    async def main():
        batcher = MicroBatcher(clf, max_wait_s=0.0, max_chars=16, max_turn_chars=4)
        await batcher.start()
        try:
            jobs = [batcher.submit(names, 1) for names in big]
            await clf.running(1)  # a batch of turns from the three is running
            small = batcher.submit(["S"], 1)
            clf.release()
            return await asyncio.gather(*jobs), await small
        finally:
            await batcher.stop()

    answers, small = asyncio.run(main())
    assert [[p.name for p in a] for a in answers] == big and [p.name for p in small] == ["S"]
    assert all(len(call) == 1 or sum(map(len, call)) <= 16 for call in clf.calls), clf.calls
    assert "S" in clf.calls[1], clf.calls[:3]  # in the next batch, not behind a batch-sized piece of each
    assert {name[0] for name in clf.calls[0]} == set("ABC")  # each had a turn in the first batch


def test_a_repeated_name_is_run_and_costed_once():
    clf = FakeClassifier()
    app = create_app(clf, max_batch_chars=10, max_turn_chars=5)

    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.post("/v1/predict", json={"names": ["Qin", "Li", "Qin"] * 300})

    r = asyncio.run(main())
    assert [p["name"] for p in r.json()["predictions"]] == ["Qin", "Li", "Qin"] * 300
    assert sorted(name for call in clf.calls for name in call) == ["Li", "Qin"]


def test_an_explanation_is_costed_by_its_prefixes_and_takes_turns():
    from nameorigin.inference.explain import explain
    from nameorigin.serve.limits import Limits
    from nameorigin.serve.service import Service

    clf = SteppedClassifier()
    name = "Abcdefghijklmnopqrstuvwxyzabcdefghijklmn"  # 40 letters: 40 prefixes, 820 characters

    async def main():
        service = Service(clf, Limits(), MicroBatcher(clf, max_wait_s=0.0, max_chars=100, max_turn_chars=50))
        await service.start()
        try:
            explained = service.explain(name, 2)
            await clf.running(1)  # the whole name
            clf.release(1)
            await clf.running(2)  # the first turn of its prefixes
            small = service.predict(["Small"], 1, 0.0, "names")
            clf.release()
            return await explained, await small
        finally:
            await service.stop()

    explained, small = asyncio.run(main())
    assert small[0].name == "Small" and "Small" in clf.calls[2], clf.calls[:4]
    prefixes = [n for call in clf.calls[1:] for n in call if n != "Small"]
    assert prefixes == [name[:end] for end in range(1, 41)]
    assert all(sum(map(len, call)) <= 100 for call in clf.calls[1:]), clf.calls
    clf.release()
    assert explained == explain(clf, name, 2)


# --- work nobody waits for: gone clients, stalled and dripped bodies --------------------------


def test_work_of_a_client_that_has_gone_is_dropped_from_the_queue():
    clf = GatedClassifier()
    app = create_app(clf, batch_wait_s=0.0)
    sent: list[dict] = []

    body = json.dumps({"names": ["Gone", "Away"]}).encode()

    async def leave():  # the request, then at once the client's disconnect
        if not sent:
            sent.append({})
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                first = asyncio.ensure_future(c.get("/v1/predict", params={"name": "First"}))
                await clf.entered()  # the model is busy with the first request
                headers = [(b"host", b"test"), (b"content-type", b"application/json"),
                           (b"content-length", str(len(body)).encode())]
                scope = {"type": "http", "method": "POST", "path": "/v1/predict", "raw_path": b"/v1/predict",
                         "query_string": b"", "headers": headers, "http_version": "1.1", "scheme": "http",
                         "server": ("test", 80), "client": ("c", 1), "root_path": "", "asgi": {"version": "3.0"}}
                await asyncio.wait_for(app(scope, leave, send), 5)
                clf.gate.set()
                return await first

    assert asyncio.run(main()).status_code == 200
    assert clf.calls == [["First"]]


def test_a_stalled_body_times_out_with_408():
    sent: list[dict] = []

    async def never(*args):
        raise AssertionError("the app must not be called")

    async def stalled_receive():
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"content-length", b"10")]}
    asyncio.run(RequestGuard(never, max_bytes=100, timeout_s=0.05)(scope, stalled_receive, send))
    assert sent[0]["status"] == 408 and json.loads(sent[1]["body"])["detail"]


def test_a_body_dripped_slowly_times_out_as_a_whole():
    sent: list[dict] = []

    async def never(*args):
        raise AssertionError("the app must not be called")

    async def drip():
        await asyncio.sleep(0.02)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message):
        sent.append(message)

    async def main():
        scope = {"type": "http", "headers": [(b"content-length", b"1000")]}
        started = time.monotonic()
        await RequestGuard(never, max_bytes=10_000, timeout_s=0.2)(scope, drip, send)
        return time.monotonic() - started

    assert asyncio.run(main()) < 2
    assert sent[0]["status"] == 408
