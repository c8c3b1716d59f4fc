"""``nameorigin serve``: a trained model behind a small JSON API over HTTP.

Other programs (a web form, a data pipeline in another language) should be able to ask for a name's
origin without loading PyTorch and a checkpoint themselves. This module puts one `Classifier`
behind FastAPI on uvicorn, with the guarantees a shared service needs:

* bounded work per request: a request body, a names list and each name have size limits, checked
  before the model sees anything (the body limit also holds for chunked bodies without a
  Content-Length), and a client that stops sending its body mid-way is timed out;
* every bad request gets a JSON 4xx ``{"detail": "<message>"}``, never a 500 or a hang;
* the event loop never runs the model: predictions run on one worker thread, and requests that
  arrive while it is busy are answered together in one batch (see `MicroBatcher`).

FastAPI and uvicorn are imported only when a server is built, so the rest of nameorigin works
without them.
"""

import argparse
import asyncio
import errno
import gc
import json
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from .argtypes import port as port_number, positive_int
from .errors import NameOriginError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .predict import Classifier, Prediction

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_NAMES = 1000
MAX_BODY_BYTES = 64 * 1024
MAX_NAME_CHARS = 100
BODY_TIMEOUT_S = 10.0
MAX_ERRORS_SHOWN = 5


@dataclass
class _Job:
    names: list[str]
    top_k: int
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """Answers concurrent requests with one `Classifier.predict` call per batch, off the event loop.

    A network call per name is dominated by fixed costs (Python dispatch, one small matrix product
    per character), so 32 clients asking one name each are served much faster as one call with 32
    names. One worker task takes the first waiting request, gathers whatever else arrives within
    `max_wait_s` (up to `max_names` names), runs the model on a dedicated thread, and hands every
    request its own slice. Under load the queue fills while the model runs, so batches form without
    waiting; at low load a request waits at most `max_wait_s`.
    """

    def __init__(self, classifier: "Classifier", *, max_wait_s: float = 0.002, max_names: int = 1024):
        self.classifier = classifier
        self.max_wait_s = max_wait_s
        self.max_names = max_names
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="nameorigin-model")
        self._task = asyncio.create_task(self._run(), name="nameorigin-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._queue is not None and not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(RuntimeError("the server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def predict(self, names: list[str], top_k: int) -> "list[Prediction]":
        """The predictions for `names`, computed together with whatever else is waiting."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not awaited")
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(names, top_k, future))
        return await future

    async def _collect(self) -> list[_Job]:
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        size = len(batch[0].names)
        deadline = loop.time() + self.max_wait_s
        while size < self.max_names:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
            batch.append(job)
            size += len(job.names)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [job for job in await self._collect() if not job.future.done()]
            if not batch:
                continue
            names = [name for job in batch for name in job.names]
            top_k = max(job.top_k for job in batch)
            try:
                results = await loop.run_in_executor(self._executor, _predict, self.classifier, names, top_k)
            except asyncio.CancelledError:
                _fail(batch, RuntimeError("the server is shutting down"))
                raise
            except Exception as err:  # a bug in the model code: fail these requests, keep serving
                _fail(batch, err)
                continue
            start = 0
            for job in batch:
                part = results[start:start + len(job.names)]
                start += len(job.names)
                if not job.future.done():
                    job.future.set_result(_truncate(part, job.top_k, top_k))


def _fail(batch: list[_Job], err: BaseException) -> None:
    for job in batch:
        if not job.future.done():
            job.future.set_exception(err)


def _predict(classifier: "Classifier", names: list[str], top_k: int) -> "list[Prediction]":
    return classifier.predict(names, top_k=top_k)


def _as_dict(prediction: "Prediction") -> dict:
    """`Prediction.to_dict` without its recursive deep copy, a measurable share of a request's CPU."""
    return {f.name: getattr(prediction, f.name) for f in fields(prediction)}


def _truncate(predictions: "list[Prediction]", top_k: int, computed: int) -> "list[Prediction]":
    if top_k == computed:
        return predictions
    return [replace(p, predictions=p.predictions[:top_k]) for p in predictions]


class _BodyLimit:
    """ASGI middleware: reads the whole request body up front, refusing it once it passes the limit.

    A Content-Length over the limit is refused before reading; a chunked body is counted while it
    arrives, so neither can make the server buffer more than `max_bytes`. A client that stalls
    mid-body gets a 408 after `timeout_s` instead of holding a connection open forever.
    """

    def __init__(self, app: Any, max_bytes: int, timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = (413, f"request body is larger than the limit of {self.max_bytes} bytes")
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body (a GET): nothing to bound
            return
        if length is not None:
            if not length.isdigit():
                await _send_error(send, 400, "invalid Content-Length header")
                return
            if int(length) > self.max_bytes:
                await _send_error(send, *too_large)
                await self._drain(receive)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except asyncio.TimeoutError:
                await _send_error(send, 408, f"the request body did not arrive within {self.timeout_s:g} s")
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, *too_large)
                await self._drain(receive)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

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


async def _send_error(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _describe(errors: list[dict]) -> str:
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


def create_app(classifier: "Classifier", *, max_names: int = MAX_NAMES, max_body_bytes: int = MAX_BODY_BYTES,
               max_name_chars: int = MAX_NAME_CHARS, batching: bool = True, batch_wait_s: float = 0.002,
               max_batch_names: int = 1024, body_timeout_s: float = BODY_TIMEOUT_S) -> "FastAPI":
    """The HTTP API for one loaded model; limits are fixed here so the schema can document them.

    `batching=False` answers each request with its own model call on a thread pool (kept to measure
    what micro-batching is worth).
    """
    from typing import Annotated

    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, StrictInt
    from starlette.concurrency import run_in_threadpool

    for key, value in (("max_names", max_names), ("max_body_bytes", max_body_bytes),
                       ("max_name_chars", max_name_chars), ("max_batch_names", max_batch_names)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    n_labels = len(classifier.labels)
    default_k = min(3, n_labels)
    batcher = MicroBatcher(classifier, max_wait_s=batch_wait_s, max_names=max_batch_names) if batching else None

    Name = Annotated[str, Field(max_length=max_name_chars)]
    TopK = Annotated[StrictInt, Field(ge=1, le=n_labels, description=f"how many labels to return (1 to {n_labels})")]

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        names: list[Name] = Field(min_length=1, max_length=max_names,
                                  description=f"1 to {max_names} names, each at most {max_name_chars} characters")
        top_k: TopK = default_k

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
        reason: str | None = Field(description="why the name was not scored, when abstained")
        model_revision: str

    class PredictResponse(BaseModel):
        predictions: list[PredictionOut]
        model_revision: str

    class ModelInfo(BaseModel):
        labels: list[str]
        revision: str
        metrics: dict[str, Any]
        config: dict[str, Any]
        limits: dict[str, int]

    class Health(BaseModel):
        status: str
        model_revision: str

    class ErrorOut(BaseModel):
        detail: str

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if batcher is not None:
            await batcher.start()
        # What is loaded now lives as long as the server: keep the garbage collector from walking
        # it again and again (full collections over it showed up as 100 ms stalls in p99 latency).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if batcher is not None:
                await batcher.stop()

    async def run_model(names: list[str], top_k: int) -> "list[Prediction]":
        if batcher is not None:
            return await batcher.predict(names, top_k)
        return await run_in_threadpool(_predict, classifier, names, top_k)

    errors = {400: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}}
    app = FastAPI(title="nameorigin", version=_version(), lifespan=lifespan,
                  description="Which language does a surname come from? Character-level RNN predictions.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = list(exc.errors())
        status = 400 if any(e.get("type") == "json_invalid" for e in errs) else 422
        return JSONResponse({"detail": _describe(errs)}, status_code=status)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)

    @app.get("/v1/predict", response_model=PredictionOut, responses=errors, summary="Predict one name")
    async def predict_one(name: Annotated[str, Query(max_length=max_name_chars)],
                          top_k: Annotated[int, Query(ge=1, le=n_labels)] = default_k) -> JSONResponse:
        """The top-k origins of one name, or an abstention with its reason."""
        (result,) = await run_model([name], top_k)
        # Already the documented shape: a JSONResponse skips FastAPI's second validation of it.
        return JSONResponse(_as_dict(result))

    @app.post("/v1/predict", response_model=PredictResponse, responses=errors, summary="Predict many names")
    async def predict_many(body: PredictRequest) -> JSONResponse:
        """The top-k origins of each name, in the order given."""
        results = await run_model(body.names, body.top_k)
        return JSONResponse({"predictions": [_as_dict(r) for r in results], "model_revision": classifier.revision})

    @app.get("/v1/model", response_model=ModelInfo, summary="The loaded model")
    async def model_info() -> dict:
        """What is being served: labels, revision, test metrics and training config."""
        meta = classifier.metadata
        return {"labels": classifier.labels, "revision": classifier.revision,
                "metrics": meta.get("metrics") or {}, "config": meta.get("config") or {},
                "limits": {"max_names": max_names, "max_body_bytes": max_body_bytes,
                           "max_name_chars": max_name_chars}}

    @app.get("/healthz", response_model=Health, summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok", "model_revision": classifier.revision}

    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes, timeout_s=body_timeout_s)
    return app


def _version() -> str:
    from . import __version__

    return __version__


MAX_HEAD_BYTES = 64 * 1024


def _json_protocol() -> type:
    """uvicorn's httptools protocol (the fast C parser), with two changes: its own 400 (a request
    line or headers it cannot parse) is JSON like every other error, and a request line or header
    block over `MAX_HEAD_BYTES` is such a 400 instead of being buffered without bound."""
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class JSONErrorHttpToolsProtocol(HttpToolsProtocol):
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.head_bytes = 0

        def _count(self, size: int) -> None:
            self.head_bytes += size
            if self.head_bytes > MAX_HEAD_BYTES:
                raise httptools.HttpParserError("request head too large")

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value))
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            body = json.dumps({"detail": "malformed HTTP request, or its URL or headers are too large"}).encode()
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                                 b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
                                 + body)
            self.transport.close()

    return JSONErrorHttpToolsProtocol


def _authority(host: str, port: int) -> str:
    """``host:port`` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listen(host: str, port: int):
    """The listening socket, bound here and handed to uvicorn: a taken address fails with a
    message (exit 2) rather than uvicorn's log line, and nothing can take it between a check and
    uvicorn's own bind."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = _authority(host, port)
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as err:
        # create_server re-raises a failed name lookup as an OSError with a negative errno
        if isinstance(err, socket.gaierror) or (err.errno or 0) < 0:
            reason = str(err.strerror or err).split(" (while attempting")[0]
            raise NameOriginError(f"cannot listen on {address}: unknown host ({reason}); give an IP "
                                  "address or a name this machine resolves") from None
        reason = os.strerror(err.errno) if err.errno else str(err)
        if err.errno == errno.EADDRNOTAVAIL:
            raise NameOriginError(f"cannot listen on {address} ({reason}); {host} is not an address of this "
                                  "machine: give one of its own, 127.0.0.1, or 0.0.0.0 for all") from None
        raise NameOriginError(f"cannot listen on {address} ({reason}); "
                              "is another server using it? choose another --port") from None


def serve(model_path: str | os.PathLike | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
          access_log: bool = False, backend: str = "torch", **limits: Any) -> None:
    """Load the model at `model_path` (None: the bundled default) and serve it until interrupted.
    `backend` is "torch" or "onnx" (onnxruntime; see `predict.load_model`).

    `limits` go to `create_app`; `access_log` logs every request to stderr. A missing or damaged checkpoint raises `NameOriginError` before
    anything listens, so a broken deployment fails at start-up rather than on the first request.
    """
    try:
        import uvicorn
    except ImportError:
        raise NameOriginError("`nameorigin serve` needs FastAPI and uvicorn: pip install 'nameorigin[serve]'") from None
    from .predict import load_model

    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address as written in a URL
    classifier = load_model(model_path, backend)
    app = create_app(classifier, **limits)
    config = uvicorn.Config(app, host=host, port=port, http=_json_protocol(), access_log=access_log,
                            log_level="info", lifespan="on")

    class AnnouncingServer(uvicorn.Server):
        """uvicorn announces the address only of sockets it binds itself. This one says where it
        listens (so --port 0 shows the real port) once it serves, when its signal handlers are in
        place: whoever waits for the line can stop the server at once."""

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                logging.getLogger("uvicorn.error").info(
                    "Uvicorn running on http://%s (Press CTRL+C to quit)", _authority(host, sockets[0].getsockname()[1]))

    with _listen(host, port) as sock:
        server = AnnouncingServer(config)
        try:
            server.run(sockets=[sock])
        except SystemExit:  # uvicorn's own exit when the app's start-up fails
            pass
    if not server.started:
        raise NameOriginError("the server did not start; its log above says why")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` subcommand's options, kept here so the CLI and `python -m` agree."""
    parser.add_argument("--model", metavar="DIR", help="checkpoint folder (default: the bundled model)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                        help="port to listen on; 0 takes a free one (default: %(default)s)")
    parser.add_argument("--max-names", type=positive_int, default=MAX_NAMES,
                        help="most names in one request (default: %(default)s)")
    parser.add_argument("--max-body-bytes", type=positive_int, default=MAX_BODY_BYTES,
                        help="largest request body in bytes (default: %(default)s)")
    parser.add_argument("--max-name-chars", type=positive_int, default=MAX_NAME_CHARS,
                        help="longest name in characters (default: %(default)s)")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                        help="run the network with PyTorch or onnxruntime (default: %(default)s)")


def command(args: argparse.Namespace) -> None:
    """Run the server from parsed `add_arguments` options."""
    serve(args.model, args.host, args.port, access_log=args.access_log, backend=args.backend,
          max_names=args.max_names, max_body_bytes=args.max_body_bytes, max_name_chars=args.max_name_chars)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nameorigin.serve", description="Serve a model over HTTP.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        command(args)
    except NameOriginError as err:
        print(f"nameorigin: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nameorigin: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
