"""What one request may ask of the server, checked before the model sees anything.

Work per request is bounded by what the model reads, not by what the client sends: transliteration
turns one CJK character into up to 13 letters (U+722B reads ``Tsumekanmuri``), so a body of
CJK names costs many times its size in model time. A name is therefore measured after
transliteration, and a request's names together have a budget of transliterated characters.

The ASGI middleware `RequestGuard` bounds the body (size and arrival time) and refuses a query
string that is not UTF-8, whatever route it is for.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from ..text.names import normalize

MAX_NAMES = 1000
MAX_BODY_BYTES = 64 * 1024
MAX_NAME_CHARS = 100
# 1,000 names of 20 characters, as long as the corpus's longest surnames.
MAX_REQUEST_CHARS = 20_000
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Limits:
    """The per-request limits of one server; `public` is what ``/v1/model`` reports."""

    max_names: int = MAX_NAMES
    max_body_bytes: int = MAX_BODY_BYTES
    max_name_chars: int = MAX_NAME_CHARS
    max_request_chars: int = MAX_REQUEST_CHARS

    def __post_init__(self) -> None:
        for key, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")

    def public(self) -> dict[str, int]:
        return asdict(self)


class LimitExceeded(Exception):
    """A request over a limit: answered with `status` and `detail` as a JSON error."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def model_chars(names: list[str], limits: Limits, where: str = "names") -> list[int]:
    """The length of each name as transliterated for the model, checked against the limits.

    A name over `max_name_chars` is a 422 naming it by position; names whose total passes
    `max_request_chars` are a 413. Transliteration is the first step of what the model reads
    (cleaning only drops characters), so these lengths bound its work.
    """
    costs = []
    total = 0
    for i, name in enumerate(names):
        size = len(normalize(name))
        if size > limits.max_name_chars:
            label = f"{where}[{i}]" if where == "names" else where
            raise LimitExceeded(422, f"{label}: {size} characters once transliterated to Latin letters; "
                                     f"the limit is {limits.max_name_chars}")
        total += size
        if total > limits.max_request_chars:
            raise LimitExceeded(413, f"the names come to more than {limits.max_request_chars} characters once "
                                     "transliterated to Latin letters (a CJK character becomes up to 13); "
                                     "send fewer names per request")
        costs.append(size)
    return costs


def utf8_query(query_string: bytes) -> bool:
    """Whether a raw query string decodes as UTF-8 once percent-decoded: the framework would
    otherwise replace each bad byte with U+FFFD and score a name nobody sent."""
    try:
        unquote_to_bytes(query_string.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class RequestGuard:
    """ASGI middleware: refuses a query string that is not UTF-8 (400), and reads the whole
    request body up front, refusing it once it passes `max_bytes` (413).

    A Content-Length over the limit is refused before reading; a chunked body is counted while it
    arrives, so neither can make the server buffer more than `max_bytes`. The whole body must
    arrive within `timeout_s` (a 408 otherwise), so a body dripped a byte at a time cannot hold a
    connection and its buffer for ever.
    """

    def __init__(self, app: Any, max_bytes: int, timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not utf8_query(scope.get("query_string", b"")):
            await send_error(send, 400, "the query string is not valid UTF-8")
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body (a GET): nothing to bound
            return
        if length is not None and not length.isdigit():
            await send_error(send, 400, "invalid Content-Length header")
            return
        if length is not None and int(length) > self.max_bytes:
            await self._refuse(send, receive)
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.timeout_s)
        except asyncio.TimeoutError:
            await send_error(send, 408, f"the request body did not arrive within {self.timeout_s:g} s")
            return
        except asyncio.CancelledError:  # shutdown while the body drips in: an answer, not a traceback
            await send_error(send, 503, "the server is shutting down")
            return
        if body is None:
            await self._refuse(send, receive)
            return
        if body is not False:
            await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Any) -> bytes | None | bool:
        """The body; None when it passes the limit, False when the client went away."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, send: Any, receive: Any) -> None:
        await send_error(send, 413, f"request body is larger than the limit of {self.max_bytes} bytes")
        await self._drain(receive)

    async def _drain(self, receive: Any) -> None:
        """Read and drop what is left of a refused body (up to a bound), so the client gets to read
        the 413 instead of a connection reset for data the server never read."""

        async def drop() -> None:
            budget = 16 * self.max_bytes + 1024 * 1024
            while budget > 0:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
                budget -= len(message.get("body", b""))

        try:
            await asyncio.wait_for(drop(), 1.0)
        except asyncio.TimeoutError:
            pass


def _replay(body: bytes, receive: Any) -> Any:
    """An ASGI receive that gives the app the body read already, then the client's own messages
    (its disconnect, which the app listens for)."""
    replayed = False

    async def replay() -> dict:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_error(send: Any, status: int, detail: str) -> None:
    """A JSON error sent straight over ASGI, for answers given before the app is reached."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
