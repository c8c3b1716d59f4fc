"""uvicorn's httptools protocol, made safe to face clients that are slow, idle or many.

uvicorn (0.54) bounds none of this itself: a connection that sends nothing, or sends a request head
a byte at a time, is kept open for ever (its keep-alive timer runs only between requests, and any
byte stops it); and its ``limit_concurrency`` counts idle connections too, so enough idle sockets
make it answer every real request with a 503. This protocol adds:

* a deadline for each request head (`head_timeout_s` from the connection's first byte, or from
  its opening), past which the client gets a JSON 408 and the connection is closed;
* a cap on open connections: at the cap, the connection that has waited longest with no request
  in progress is closed to make room; failing that, the one whose request body has been arriving
  slowest (under `MIN_BODY_RATE` bytes a second for `BODY_GRACE_S` or more) is answered 408 and
  let go, so that bodies dripped a byte at a time cost their senders the cap, not everyone else;
  only when every connection has a request in progress at a decent pace is the newcomer answered
  503;
* answers sent before closing (a 503, a 408) are readable: the connection is half-closed and what
  the client still sends is read and dropped for up to `LINGER_S`, since closing a socket with
  unread data makes the kernel reset the connection, and the client sees the reset, not the answer;
* JSON for its own errors, and a 400 for a request head over `MAX_HEAD_BYTES`.

All of it rests on uvicorn's private protocol class (its ``cycle``, ``connections`` and parser
callbacks); tests/test_serve_connections.py drives each part against the installed uvicorn over real sockets.
"""

from __future__ import annotations

import json
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
LINGER_S = 1.0
MIN_BODY_RATE = 1024
BODY_GRACE_S = 1.0


def _response(status: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


MALFORMED = _response("400 Bad Request", "malformed HTTP request, or its URL or headers are too large")
FULL = _response("503 Service Unavailable", "too many open connections, all busy; try again shortly")
SLOW_BODY = _response("408 Request Timeout", "the request body arrived too slowly while the server was full of "
                                             "connections; send it faster, or try again later")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """The protocol; `guarded_protocol` makes a subclass with the limits set."""

    max_connections = 512
    head_timeout_s = 10.0
    head_timer: Any = None
    idle_since = 0.0
    head_bytes = 0
    head_started = False
    body_since = 0.0
    body_bytes = 0
    let_go = False

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.idle_since = self.loop.time()
        self._arm()
        if self._open() > self.max_connections and not self._evict():
            self._let_go(FULL)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.let_go:  # answered and closing: read, so that the close does not reset the answer away
            return
        if not self._busy():
            if self.head_timer is None:
                self._arm()
            self.head_started = True
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self.body_since, self.body_bytes = self.loop.time(), 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        super().on_body(body)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.idle_since = self.loop.time()

    def send_400_response(self, msg: str) -> None:
        self.transport.write(MALFORMED)
        self.transport.close()

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_HEAD_BYTES:
            raise httptools.HttpParserError("request head too large")

    def _open(self) -> int:
        return sum(1 for c in self.connections if not c.transport.is_closing() and not getattr(c, "let_go", False))

    def _busy(self) -> bool:
        """Whether a request is being answered (or waits, pipelined, behind one)."""
        return (self.cycle is not None and not self.cycle.response_complete) or bool(self.pipeline)

    def _arm(self) -> None:
        self._disarm()
        self.head_started = False
        self.head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self._busy():  # a pipelined head behind a response still being sent
            self._arm()
            return
        if self.head_started:  # a client that sent nothing is not answered, only let go
            detail = f"the request head did not arrive within {self.head_timeout_s:g} s"
            self.transport.write(_response("408 Request Timeout", detail))
        self.transport.close()

    def _body_rate(self, now: float) -> float | None:
        """Bytes a second of a request body still arriving after `BODY_GRACE_S` or more, else None."""
        if self.cycle is None or self.cycle.response_complete or not self.cycle.more_body:
            return None
        elapsed = now - self.body_since
        return self.body_bytes / elapsed if elapsed >= BODY_GRACE_S else None

    def _evict(self) -> bool:
        """Make room for this connection: close the one idle the longest, else let the slowest
        sender of a body go with a 408 (see the module docstring); False if there is neither."""
        others = [c for c in self.connections if c is not self and isinstance(c, GuardedHttpToolsProtocol)
                  and not c.transport.is_closing() and not c.let_go]
        idle = [c for c in others if not c._busy()]
        if idle:
            min(idle, key=lambda c: c.idle_since).transport.close()
            return True
        now = self.loop.time()
        rates = {c: rate for c in others if (rate := c._body_rate(now)) is not None and rate < MIN_BODY_RATE}
        if not rates:
            return False
        min(rates, key=rates.__getitem__)._let_go(SLOW_BODY)
        return True

    def _let_go(self, response: bytes) -> None:
        """Send `response` and close, after at most `LINGER_S` of reading and dropping what the
        client still sends (the module docstring says why). A request in progress sees its client
        gone, so the app stops waiting for its body and sends nothing."""
        self._disarm()
        self.let_go = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def guarded_protocol(*, max_connections: int, head_timeout_s: float) -> type:
    """The protocol class to give uvicorn as ``http=``, with these limits."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,),
                {"max_connections": max_connections, "head_timeout_s": head_timeout_s})
