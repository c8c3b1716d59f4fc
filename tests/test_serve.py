"""The HTTP service's contract: predictions over GET and POST, and a JSON 4xx for every bad request.

The end-to-end tests talk HTTP to a real uvicorn server in a subprocess on 127.0.0.1; a few checks of
the parts behind it (limits, the micro-batcher, the request guard) run in-process. Abuse is tested
too: heavy names, idle and dripping connections, clients that leave, SIGTERM with work in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from nameorigin.inference.records import Prediction, Ranked  # noqa: E402
from nameorigin.serve import create_app  # noqa: E402
from nameorigin.serve.batcher import MicroBatcher  # noqa: E402
from nameorigin.serve.limits import RequestGuard  # noqa: E402

LABELS = ["Chinese", "Greek", "Japanese", "Russian"]
START_TIMEOUT_S = 60


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMEORIGIN_")}
    env["TQDM_DISABLE"] = "1"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_dir(small_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serve") / "gru"
    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "train", "--arch", "gru", "--epochs", "1",
                           "--hidden-size", "16", "--num-layers", "1", "--data", str(small_corpus),
                           "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr
    return out


@contextlib.contextmanager
def running_server(model: Path, log: Path, *args: str, command: list[str] | None = None):
    """(process, base URL) of a real server on the port the OS gave it (--port 0, read from the
    address the server announces), once it answers /healthz; killed on leaving, whatever happens.
    `args` are more options; `command` replaces ``python -m nameorigin.serve --model MODEL``."""
    command = command or [sys.executable, "-m", "nameorigin.serve", "--model", str(model)]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*command, "--port", "0", *args], stdout=out, stderr=subprocess.STDOUT, env=_env())
    url = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()}")
            announced = re.search(r"running on (http://127\.0\.0\.1:\d+)", log.read_text())
            url = announced and announced.group(1)
            try:
                if url and httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server was not ready within {START_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(0.1)
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """Base URL of a real server shared by the module's tests."""
    with running_server(model_dir, tmp_path_factory.mktemp("serve-log") / "server.log") as (_, url):
        yield url


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=10) as c:
        yield c


def assert_json_error(response, status: int | None = None) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


def check_prediction(p: dict, name: str, k: int) -> None:
    assert p["name"] == name and not p["abstained"] and p["reason"] is None
    probs = [q["probability"] for q in p["predictions"]]
    assert len(probs) == k and probs == sorted(probs, reverse=True)
    assert {q["label"] for q in p["predictions"]} <= set(LABELS)
    assert p["label"] == p["predictions"][0]["label"] and p["probability"] == probs[0]


# --- predictions ------------------------------------------------------------------------------


def test_get_predicts_one_name(client):
    r = client.get("/v1/predict", params={"name": "Qin", "top_k": 3})
    assert r.status_code == 200
    p = r.json()
    check_prediction(p, "Qin", 3)
    assert p["model_revision"] == client.get("/v1/model").json()["revision"]


def test_get_defaults_to_top_3_and_all_labels_sum_to_one(client):
    assert len(client.get("/v1/predict", params={"name": "Ivanov"}).json()["predictions"]) == 3
    p = client.get("/v1/predict", params={"name": "Ivanov", "top_k": len(LABELS)}).json()
    check_prediction(p, "Ivanov", len(LABELS))
    assert math.isclose(sum(q["probability"] for q in p["predictions"]), 1.0, abs_tol=1e-5)


def test_post_predicts_many_names_in_order(client):
    names = ["Qin", "Nakamura", "Papadopoulos", "Ivanov", "🙂", "", "Zhang"]
    r = client.post("/v1/predict", json={"names": names, "top_k": 4})
    assert r.status_code == 200
    body = r.json()
    assert [p["name"] for p in body["predictions"]] == names
    for p in body["predictions"]:
        assert p["model_revision"] == body["model_revision"]
        if p["name"] in ("🙂", ""):
            assert p["abstained"] and p["label"] is None and p["predictions"] == [] and p["reason"]
        else:
            check_prediction(p, p["name"], 4)
            assert math.isclose(sum(q["probability"] for q in p["predictions"]), 1.0, abs_tol=1e-5)


def test_an_emoji_or_empty_name_is_an_abstention_not_an_error(client):
    for name in ("🙂", ""):
        r = client.get("/v1/predict", params={"name": name})
        assert r.status_code == 200
        assert r.json()["abstained"] is True and r.json()["reason"]


def test_limits_are_inclusive(client):
    r = client.get("/v1/predict", params={"name": "a" * 100, "top_k": 1})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 1
    r = client.post("/v1/predict", json={"names": ["Qin"] * 1000})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 1000


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


# --- metadata ---------------------------------------------------------------------------------


def test_model_info(client, model_dir):
    info = client.get("/v1/model").json()
    meta = json.loads((model_dir / "model.json").read_text())
    assert info["labels"] == LABELS
    assert len(info["revision"]) == 64
    assert info["metrics"] == meta["metrics"] and info["config"] == meta["config"]
    assert info["limits"] == {"max_names": 1000, "max_body_bytes": 65536, "max_name_chars": 100,
                              "max_request_chars": 20000}
    assert info["explain"] is True


def test_healthz_openapi_and_docs(client):
    assert client.get("/healthz").json()["status"] == "ok"
    schema = client.get("/openapi.json").json()
    assert {"get", "post"} <= set(schema["paths"]["/v1/predict"])
    assert {"/v1/model", "/healthz"} <= set(schema["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


# --- bad requests -----------------------------------------------------------------------------

BAD_GETS = {
    "missing name": {},
    "name over 100 characters": {"name": "a" * 101},
    "huge name": {"name": "a" * 20_000},
    "top_k 0": {"name": "Qin", "top_k": 0},
    "top_k over the labels": {"name": "Qin", "top_k": 5},
    "top_k negative": {"name": "Qin", "top_k": -1},
    "top_k not a number": {"name": "Qin", "top_k": "three"},
    "top_k huge": {"name": "Qin", "top_k": "9" * 40},
}


@pytest.mark.parametrize("params", BAD_GETS.values(), ids=BAD_GETS.keys())
def test_bad_get_is_a_json_422(client, params):
    assert_json_error(client.get("/v1/predict", params=params), 422)


BAD_POSTS = {
    "not an object": [["Qin"]],
    "missing names": {"top_k": 3},
    "names not a list": {"names": "Qin"},
    "names of numbers": {"names": [1, 2]},
    "a null name": {"names": ["Qin", None]},
    "empty names list": {"names": []},
    "1,001 names": {"names": ["Qin"] * 1001},
    "name over 100 characters": {"names": ["Qin", "a" * 101]},
    "huge name": {"names": ["a" * 60_000]},
    "top_k 0": {"names": ["Qin"], "top_k": 0},
    "top_k over the labels": {"names": ["Qin"], "top_k": 5},
    "top_k a string": {"names": ["Qin"], "top_k": "3"},
    "top_k a float": {"names": ["Qin"], "top_k": 1.5},
    "top_k a bool": {"names": ["Qin"], "top_k": True},
    "unknown field": {"names": ["Qin"], "topk": 3},
}


@pytest.mark.parametrize("body", BAD_POSTS.values(), ids=BAD_POSTS.keys())
def test_bad_post_is_a_json_422(client, body):
    assert_json_error(client.post("/v1/predict", json=body), 422)


@pytest.mark.parametrize("content", [b'{"names": ["Qin",', b"", b"\xff\xfe", b'{"names": ["\\ud800"]}', b"null"])
def test_malformed_or_invalid_json_is_a_json_4xx(client, content):
    assert_json_error(client.post("/v1/predict", content=content, headers={"content-type": "application/json"}))


def test_a_body_that_is_not_json_is_a_json_422(client):
    r = client.post("/v1/predict", content=b'{"names": ["Qin"]}', headers={"content-type": "text/plain"})
    assert_json_error(r, 422)


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


def test_huge_url_is_a_json_400(server):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(b"GET /v1/predict?name=" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        except ConnectionError:
            pass  # the server answers and closes before reading it all
        data = b""
        while b"}" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head.lower()
    assert json.loads(body)["detail"]


def test_unknown_path_and_method_are_json_errors(client):
    assert_json_error(client.get("/v1/nope"), 404)
    r = client.put("/v1/predict", json={"names": ["Qin"]})
    assert_json_error(r, 405)
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}


def test_the_server_is_still_healthy_after_the_bad_requests(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/predict", params={"name": "Qin"}).status_code == 200


def test_a_missing_model_fails_at_startup_with_a_message(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nameorigin.serve", "--model", str(tmp_path / "none"),
                           "--port", str(_free_port())], capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 2
    assert proc.stderr.startswith("nameorigin: error:") and "Traceback" not in proc.stderr


def test_a_port_in_use_fails_at_startup_with_a_message(tiny_model):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "nameorigin.serve", "--model", str(tiny_model),
                               "--port", str(port)], capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 2
    assert proc.stderr == f"nameorigin: error: cannot listen on 127.0.0.1:{port} (Address already in use); " \
                          "is another server using it? choose another --port\n"


@pytest.mark.parametrize("args, message", [
    (["--host", "no-such-host.invalid", "--port", "0"],
     "nameorigin: error: cannot listen on no-such-host.invalid:0: unknown host"),
    (["--port", "70000"], "argument --port: must be a TCP port, 0 to 65535"),
    # 192.0.2.1 is reserved for documentation, so no machine running the tests has it
    (["--host", "192.0.2.1", "--port", "0"],
     "nameorigin: error: cannot listen on 192.0.2.1:0 (Cannot assign requested address); 192.0.2.1 is not an "
     "address of this machine"),
])
def test_a_bad_address_fails_at_startup_with_one_line(tiny_model, args, message):
    proc = subprocess.run([sys.executable, "-m", "nameorigin.serve", "--model", str(tiny_model), *args],
                          capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_stops_the_server_cleanly(tiny_model, tmp_path):
    import signal

    log = tmp_path / "server.log"
    with running_server(tiny_model, log) as (proc, _):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
    text = log.read_text()
    assert text.rstrip().endswith("nameorigin: interrupted") and "Traceback" not in text


def test_a_server_whose_startup_fails_is_an_error_not_exit_0(monkeypatch):
    import nameorigin.inference.classifier
    import nameorigin.serve.app
    from nameorigin.errors import NameOriginError

    async def broken_app(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "broken on purpose"})

    monkeypatch.setattr(nameorigin.inference.classifier, "load_model", lambda *a, **k: FakeClassifier())
    monkeypatch.setattr(nameorigin.serve.app, "create_app", lambda *a, **k: broken_app)
    with pytest.raises(NameOriginError, match="did not start"):
        nameorigin.serve.serve(None, "127.0.0.1", 0)


# --- in-process: limits, batching, the body-limit middleware ----------------------------------


class FakeClassifier:
    """Uniform probabilities over four labels (an abstention above min_confidence 0.25); records
    every predict call."""

    labels = LABELS
    revision = "f" * 64
    metadata = {"labels": LABELS, "metrics": {}, "config": {}}

    def __init__(self):
        self.calls: list[list[str]] = []

    def predict(self, names, top_k=3, min_confidence=0.0):
        self.calls.append(list(names))
        top = [Ranked(label, 0.25) for label in LABELS[:top_k]]
        low = 0.25 < min_confidence
        return [Prediction(n, n, None if low else "Chinese", 0.25, top, low, "below min_confidence" if low else None,
                           self.revision) for n in names]


def asgi_requests(app, *requests: tuple[str, str, dict]) -> list:
    """Send `requests` (method, path, httpx keyword arguments) to `app` in-process."""

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return [await c.request(method, path, **kwargs) for method, path, kwargs in requests]

    return asyncio.run(main())


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


def test_sigterm_right_after_the_announcement_shuts_down_gracefully(tiny_model):
    import signal

    code = ("import sys\nsys.argv = ['nameorigin', 'serve', '--model', sys.argv[1], '--port', '0']\n"
            "from nameorigin.cli import run\nrun()")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tiny_model)], stderr=subprocess.PIPE, text=True,
                            env=_env())
    seen = []
    for line in proc.stderr:  # the announcement means the server is up and can be stopped at once
        seen.append(line)
        if "running on http://" in line:
            break
    proc.send_signal(signal.SIGTERM)
    text = "".join(seen) + proc.stderr.read()
    assert proc.wait(30) == 143, text
    assert "Application shutdown complete" in text and text.rstrip().endswith("nameorigin: terminated")
    assert "Traceback" not in text and "Warning" not in text


# --- the schema, over GET and POST alike ------------------------------------------------------


def test_top_k_is_a_whole_number_over_get_and_post(client):
    """JSON Schema's "integer" counts 6.0 as one: both forms are accepted, and mean the same."""
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["PredictRequest"]["properties"]["top_k"]["type"] == "integer"
    get = client.get("/v1/predict", params={"name": "Qin", "top_k": "2.0"})
    post = client.post("/v1/predict", json={"names": ["Qin"], "top_k": 2.0})
    assert get.status_code == post.status_code == 200, (get.text, post.text)
    assert len(get.json()["predictions"]) == len(post.json()["predictions"][0]["predictions"]) == 2
    assert_json_error(client.get("/v1/predict", params={"name": "Qin", "top_k": "2.5"}), 422)


def test_min_confidence_over_get_and_post(client):
    for r in (client.get("/v1/predict", params={"name": "Qin", "min_confidence": 1}),
              client.post("/v1/predict", json={"names": ["Qin"], "min_confidence": 1})):
        assert r.status_code == 200, r.text
        p = r.json() if "name" in r.json() else r.json()["predictions"][0]
        assert p["abstained"] and p["label"] is None and "confidence" in p["reason"] and p["predictions"]
    p = client.get("/v1/predict", params={"name": "Qin", "min_confidence": 0}).json()
    assert not p["abstained"] and p["label"]
    for bad in ("1.5", "-0.1", "nan", "high"):
        assert_json_error(client.get("/v1/predict", params={"name": "Qin", "min_confidence": bad}), 422)
    for bad in (1.5, "0.5", True, None):
        assert_json_error(client.post("/v1/predict", json={"names": ["Qin"], "min_confidence": bad}), 422)


def test_groups_sets_and_priors_over_get_and_post(tiny_model):
    from nameorigin.inference.classifier import load_model

    one, many, plain, greek = asgi_requests(
        create_app(load_model(tiny_model), batching=False),
        ("GET", "/v1/predict", {"params": {"name": "Qin", "level": "group", "coverage": 0.9}}),
        ("POST", "/v1/predict", {"json": {"names": ["Qin", "Ivanov"], "coverage": 0.95, "prior": "auto"}}),
        ("GET", "/v1/predict", {"params": {"name": "Qin", "top_k": 4}}),
        ("GET", "/v1/predict", {"params": {"name": "Qin", "top_k": 4, "prior": json.dumps({"Greek": 0.99})}}))
    p = one.json()
    assert p["label"] in {"East Asian", "Greek", "East Slavic"} and p["prediction_set"][0] == p["label"]
    assert many.status_code == 200, many.text
    assert all(set(p["prediction_set"]) <= set(LABELS) for p in many.json()["predictions"])
    assert "prediction_set" not in plain.json()
    share = {q["label"]: q["probability"] for q in greek.json()["predictions"]}
    assert share["Greek"] > {q["label"]: q["probability"] for q in plain.json()["predictions"]}["Greek"]


def test_coverage_from_a_model_without_a_validation_part_is_a_422_saying_why(client):
    detail = assert_json_error(client.get("/v1/predict", params={"name": "Qin", "coverage": 0.9}), 422)
    assert "calibrate-sets" in detail
    assert client.get("/v1/predict", params={"name": "Qin", "level": "group"}).json()["label"]


def test_bad_answer_options_are_a_one_line_422(client):
    for params in ({"coverage": 1}, {"coverage": "x"}, {"level": "country"}, {"prior": "/etc/passwd"},
                   {"prior": '{"Klingon": 1}'}, {"prior": '{"Greek": -1}'}, {"prior": "{"}):
        detail = assert_json_error(client.get("/v1/predict", params={"name": "Qin", **params}), 422)
        assert "\n" not in detail
    for body in ({"coverage": 0}, {"level": 1}, {"prior": {"Greek": "0.5"}}, {"prior": {"Klingon": 1}},
                 {"prior": "sometimes"}):
        assert_json_error(client.post("/v1/predict", json={"names": ["Qin"], **body}), 422)


def test_unknown_or_repeated_query_parameters_are_named_in_a_422(client):
    detail = assert_json_error(client.get("/v1/predict", params={"name": "Qin", "topk": 2}), 422)
    assert "topk" in detail
    assert "top_k" in assert_json_error(client.post("/v1/predict?top_k=2", json={"names": ["Qin"]}), 422)
    assert "name" in assert_json_error(client.get("/v1/predict?name=Qin&name=Li"), 422)


@pytest.mark.parametrize("query", [b"name=%FF", b"name=Q%C3", b"name=%ED%A0%80", b"name=Qin&x%FF=1"])
def test_a_query_string_that_is_not_utf8_is_a_400(server, query):
    r = raw_request(server, b"GET /v1/predict?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 400") and b"UTF-8" in r


def test_head_healthz_is_200_without_a_body(server):
    r = raw_request(server, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and body == b""


def test_docs_load_nothing_from_elsewhere(client):
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_explain_over_http(client):
    e = client.get("/v1/explain", params={"name": "Nakamura", "top_k": 2}).json()
    assert e["name"] == "Nakamura" and [s["prefix"] for s in e["steps"]][-1] == e["normalized"]
    assert all(len(s["predictions"]) <= 2 for s in e["steps"])
    assert_json_error(client.get("/v1/explain", params={"name": "Qin", "top_k": 2, "k": 1}), 422)


def test_explain_is_a_404_for_a_model_without_it():
    (r,) = asgi_requests(create_app(FakeClassifier()), ("GET", "/v1/explain", {"params": {"name": "Qin"}}))
    assert_json_error(r, 404)


# --- bounded work: names as the model reads them ------------------------------------------------

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


# --- bounded connections --------------------------------------------------------------------


def raw_request(url: str, data: bytes, timeout: float = 10) -> bytes:
    """What the server answers to `data`, read until it closes the connection or sends a whole answer."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            length = re.search(rb"content-length: (\d+)", head, re.I)
            if sep and (b"HEAD /" in data[:5] or (length and len(body) >= int(length.group(1)))):
                return out


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1024) == b"" or True  # an answer (a 408 or 503) comes with the close
    except socket.timeout:
        return False
    except ConnectionError:
        return True


@pytest.fixture(scope="module")
def strict_server(model_dir, tmp_path_factory):
    """A server with a low connection cap and a short timeout, for the tests that abuse them."""
    log = tmp_path_factory.mktemp("strict-log") / "server.log"
    with running_server(model_dir, log, "--max-connections", "8", "--timeout", "1") as (_, url):
        yield url


def test_idle_sockets_past_the_cap_are_let_go_and_a_real_request_is_answered(strict_server):
    port = int(strict_server.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
    try:
        time.sleep(0.2)
        r = httpx.get(f"{strict_server}/v1/predict", params={"name": "Qin"}, timeout=5)
        assert r.status_code == 200, r.text
        closed = sum(closed_by_server(s, 0.3) for s in idle)
        assert closed >= 20 - 8 + 1, closed  # the cap holds, the newest idle ones may stay
    finally:
        for s in idle:
            s.close()


def test_a_request_head_dripped_byte_by_byte_is_cut_off(strict_server):
    port = int(strict_server.rsplit(":", 1)[1])
    head = b"GET /v1/predict?name=Qin HTTP/1.1\r\nHost: x\r\n\r\n"
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for byte in head:
            try:
                s.sendall(bytes([byte]))
            except ConnectionError:
                break
            s.settimeout(0.5)
            try:
                answer = s.recv(4096)
                break
            except socket.timeout:
                continue
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < 4


def test_a_connection_that_sends_nothing_is_closed(strict_server):
    port = int(strict_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        assert closed_by_server(s, 4)


HELD_SERVER = """
import sys, time
from pathlib import Path
import nameorigin.inference.classifier as predict

real = predict.load_model
marker = Path(sys.argv[2])

def held_model(*args, **kwargs):
    clf = real(*args, **kwargs)
    fast = clf.predict

    def predict_or_hold(names, *a, **k):
        if "Held" in names:
            marker.touch()
            time.sleep(120)
        return fast(names, *a, **k)

    clf.predict = predict_or_hold
    return clf

predict.load_model = held_model
sys.argv = ["nameorigin", "serve", "--model", sys.argv[1], *sys.argv[3:]]
from nameorigin.cli import run
run()
"""


@contextlib.contextmanager
def held_server(model: Path, tmp_path: Path, *args: str):
    """(URL, port, marker) of a server whose model holds a name "Held" for two minutes, touching
    `marker` when it starts to; stopped with a 1 s grace period."""
    marker = tmp_path / "held"
    command = [sys.executable, "-c", HELD_SERVER, str(model), str(marker)]
    with running_server(model, tmp_path / "server.log", "--grace", "1", *args, command=command) as (_, url):
        yield url, int(url.rsplit(":", 1)[1]), marker


def answer_after_sending(port: int, request: bytes, pause: float = 0.3) -> bytes | str:
    """What a client that sends `request` at once and reads a little later gets: the answer, or the
    error (a reset) that replaced it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        time.sleep(pause)  # the request has arrived before the client reads
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionError as err:
            return type(err).__name__
        return out


def test_a_newcomer_over_the_cap_reads_a_503_not_a_reset(tiny_model, tmp_path):
    with held_server(tiny_model, tmp_path, "--max-connections", "3") as (url, port, marker):
        busy = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        try:
            for s in busy:  # three requests in progress: one in the model, two waiting for it
                s.sendall(b"GET /v1/predict?name=Held HTTP/1.1\r\nHost: x\r\n\r\n")
            while not marker.exists():
                time.sleep(0.05)
            time.sleep(0.3)  # the other two, sent with it, are read by now: nothing is idle
            for _ in range(3):
                answer = answer_after_sending(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert isinstance(answer, bytes) and answer.startswith(b"HTTP/1.1 503"), answer
                assert "too many open connections" in json.loads(answer.partition(b"\r\n\r\n")[2])["detail"]
        finally:
            for s in busy:
                s.close()


def test_at_the_cap_the_slowest_body_is_shed_to_let_a_newcomer_in(tiny_model, tmp_path):
    with held_server(tiny_model, tmp_path, "--max-connections", "3", "--timeout", "60") as (url, port, _):
        drippers = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        try:
            for s in drippers:  # a body of 1,000 bytes, one sent, the rest never
                s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 1000\r\n\r\n{")
            for _ in range(20):  # until the bodies have been arriving for a second (BODY_GRACE_S), at 1 byte in all
                time.sleep(0.5)
                r = httpx.get(f"{url}/v1/predict", params={"name": "Qin"}, timeout=10)
                if r.status_code != 503:
                    break
            assert r.status_code == 200, r.text
            shed = []
            for s in drippers:
                s.settimeout(2)
                try:
                    shed.append(s.recv(4096))
                except (socket.timeout, ConnectionError):
                    pass
            assert any(a.startswith(b"HTTP/1.1 408") and b"too slowly" in a for a in shed), shed
        finally:
            for s in drippers:
                s.close()


# --- start-up options and shutdown -------------------------------------------------------------


def test_threads_option_reaches_the_model_only_when_asked(monkeypatch):
    import nameorigin.inference.classifier
    from nameorigin.errors import NameOriginError
    from nameorigin.serve import serve

    asked = []

    def stop(*args, **kwargs):
        asked.append(kwargs.get("threads"))
        raise NameOriginError("stop before listening")

    monkeypatch.setattr(nameorigin.inference.classifier, "load_model", stop)
    for threads in (2, None):  # None: the library's default
        with pytest.raises(NameOriginError):
            serve(None, threads=threads)
    assert asked == [2, None]


def test_serve_options_reach_the_server(monkeypatch):
    import argparse

    import nameorigin.serve.server as server

    seen = {}
    monkeypatch.setattr(server, "serve", lambda *args, **kwargs: seen.update(kwargs))
    parser = argparse.ArgumentParser()
    server.add_arguments(parser)
    server.command(parser.parse_args([]))
    assert seen["threads"] == 1 and seen["grace_s"] == 10 and seen["max_request_chars"] == 20000
    server.command(parser.parse_args(["--threads", "2", "--grace", "3", "--max-connections", "9"]))
    assert seen["threads"] == 2 and seen["grace_s"] == 3 and seen["max_connections"] == 9


def test_the_model_thread_gets_the_gil_back_quickly_while_serving(monkeypatch):
    """A busy event loop yields the GIL once per switch interval, and the model thread needs it
    back after each of a batch's PyTorch calls: the server shortens the interval while it runs."""
    import nameorigin.inference.classifier
    import nameorigin.serve.server as server

    seen = []

    class Recorder:
        started = True

        def __init__(self, config):
            pass

        def run(self, sockets):
            seen.append(sys.getswitchinterval())

    monkeypatch.setattr(nameorigin.inference.classifier, "load_model", lambda *a, **k: FakeClassifier())
    monkeypatch.setattr(server, "_server_class", lambda host: Recorder)
    before = sys.getswitchinterval()
    server.serve(None, "127.0.0.1", 0)
    assert seen == [server.SWITCH_INTERVAL_S] and server.SWITCH_INTERVAL_S < before
    assert sys.getswitchinterval() == before


SLOW_SERVER = """
import sys, time
import nameorigin.inference.classifier as predict

real = predict.load_model

def slow_model(*args, **kwargs):
    clf = real(*args, **kwargs)
    fast = clf.predict

    def predict_slowly(names, *a, **k):
        if "Slow" in names:
            time.sleep(120)
        return fast(names, *a, **k)

    clf.predict = predict_slowly
    return clf

predict.load_model = slow_model
sys.argv = ["nameorigin", "serve", "--model", sys.argv[1], *sys.argv[2:]]
from nameorigin.cli import run
run()
"""


def test_sigterm_ends_the_server_within_the_grace_period_despite_a_slow_request(tiny_model, tmp_path):
    import signal
    import threading

    command = [sys.executable, "-c", SLOW_SERVER, str(tiny_model)]
    with running_server(tiny_model, tmp_path / "server.log", "--grace", "1", command=command) as (proc, url):
        outcome = []
        slow = threading.Thread(target=lambda: outcome.append(_try_get(f"{url}/v1/predict?name=Slow")))
        slow.start()
        time.sleep(1.0)  # the request is in the model now
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        elapsed = time.monotonic() - started
        slow.join(10)
    assert code == 143 and elapsed < 6, (code, elapsed, (tmp_path / "server.log").read_text())
    assert outcome and outcome[0] != 200


def _try_get(url: str) -> int | str:
    try:
        return httpx.get(url, timeout=60).status_code
    except httpx.TransportError as err:
        return type(err).__name__


def test_sigterm_while_a_body_drips_in_ends_cleanly_with_no_traceback(tiny_model, tmp_path):
    import signal
    import socket
    from urllib.parse import urlsplit

    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "nameorigin.cli", "serve", "--model", str(tiny_model)]
    with running_server(tiny_model, log, "--grace", "1", command=command) as (proc, url):
        address = urlsplit(url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
            conn.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"names\": [")
            time.sleep(0.5)  # the body is being read now
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
    text = log.read_text()
    assert code == 143, text
    assert "Traceback" not in text and "Exception in ASGI" not in text and "without starting response" not in text, text
