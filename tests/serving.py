"""What the HTTP service's tests (tests/test_serve_*.py) share: a real server in a subprocess
(`running_server`), the `server` and `client` fixtures on the one the test run shares, checks of
its answers, and a fake model for the tests that run the app in-process.

It is a plain module, imported as ``from serving import ...`` (pytest puts tests/ on sys.path);
a test module imports the fixtures it uses by name. Where the serve extra (httpx, fastapi,
uvicorn) is missing, the importing module is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from nameorigin.inference.records import Prediction, Ranked  # noqa: E402

LABELS = ["Chinese", "Greek", "Japanese", "Russian"]
START_TIMEOUT_S = 60


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAMEORIGIN_")}
    env["TQDM_DISABLE"] = "1"
    return env


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
def server(tiny_server):
    """Base URL of a real server on `tiny_model`, the one the test run shares (conftest's `tiny_server`)."""
    return tiny_server


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
