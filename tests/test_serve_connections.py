"""The HTTP service's connections, start-up and shutdown: the connection cap (idle sockets let
go, a 503 for a newcomer, the slowest body shed), idle and dripped connections cut off; start-up
options and failures (a missing model, a port in use, a bad address); Ctrl+C and SIGTERM, also
with work in flight.

The tests run real servers in subprocesses on 127.0.0.1, on the shared `tiny_model`, some with a
model patched to hold a name; the start-up options are checked in-process.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from serving import FakeClassifier, _env, running_server  # noqa: E402


# --- bounded connections ----------------------------------------------------------------------


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    sock.settimeout(wait)
    try:
        return sock.recv(1024) == b"" or True  # an answer (a 408 or 503) comes with the close
    except socket.timeout:
        return False
    except ConnectionError:
        return True


@pytest.fixture(scope="module")
def strict_server(tiny_model, tmp_path_factory):
    """A server with a low connection cap and a short timeout, for the tests that abuse them."""
    log = tmp_path_factory.mktemp("strict-log") / "server.log"
    with running_server(tiny_model, log, "--max-connections", "8", "--timeout", "1") as (_, url):
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
import nameorigin.serve.server as predict  # the loader `serve` calls

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


# --- start-up: options and failures -----------------------------------------------------------


def test_threads_option_reaches_the_model_only_when_asked(monkeypatch):
    import nameorigin.serve.server
    from nameorigin.errors import NameOriginError
    from nameorigin.serve import serve

    asked = []

    def stop(*args, **kwargs):
        asked.append(kwargs.get("threads"))
        raise NameOriginError("stop before listening")

    monkeypatch.setattr(nameorigin.serve.server, "load_model", stop)
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
    back after each of a batch's numpy operations: the server shortens the interval while it runs."""
    import nameorigin.serve.server as server

    seen = []

    class Recorder:
        started = True

        def __init__(self, config):
            pass

        def run(self, sockets):
            seen.append(sys.getswitchinterval())

    monkeypatch.setattr(server, "load_model", lambda *a, **k: FakeClassifier())
    monkeypatch.setattr(server, "_server_class", lambda host: Recorder)
    before = sys.getswitchinterval()
    server.serve(None, "127.0.0.1", 0)
    assert seen == [server.SWITCH_INTERVAL_S] and server.SWITCH_INTERVAL_S < before
    assert sys.getswitchinterval() == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_a_server_whose_startup_fails_is_an_error_not_exit_0(monkeypatch):
    import nameorigin.serve.server
    import nameorigin.serve.app
    from nameorigin.errors import NameOriginError

    async def broken_app(scope, receive, send):
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "broken on purpose"})

    monkeypatch.setattr(nameorigin.serve.server, "load_model", lambda *a, **k: FakeClassifier())
    monkeypatch.setattr(nameorigin.serve.app, "create_app", lambda *a, **k: broken_app)
    with pytest.raises(NameOriginError, match="did not start"):
        nameorigin.serve.serve(None, "127.0.0.1", 0)


# --- signals and shutdown ---------------------------------------------------------------------


def test_ctrl_c_stops_the_server_cleanly(tiny_model, tmp_path):
    import signal

    log = tmp_path / "server.log"
    with running_server(tiny_model, log) as (proc, _):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
    text = log.read_text()
    assert text.rstrip().endswith("nameorigin: interrupted") and "Traceback" not in text


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


def test_sigterm_ends_the_server_within_the_grace_period_despite_a_slow_request(tiny_model, tmp_path):
    import signal
    import threading

    command = [sys.executable, "-c", HELD_SERVER, str(tiny_model), str(tmp_path / "held")]
    with running_server(tiny_model, tmp_path / "server.log", "--grace", "1", command=command) as (proc, url):
        outcome = []
        slow = threading.Thread(target=lambda: outcome.append(_try_get(f"{url}/v1/predict?name=Held")))
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
