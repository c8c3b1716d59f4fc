"""Running the server: options, the listening socket, uvicorn's start-up and its shutdown.

The server binds its own socket before uvicorn starts (a taken port is a one-line error), runs
the guarded protocol of `protocol`, and on SIGTERM or Ctrl+C gives requests in flight at most
the grace period before it cancels them and exits.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
from typing import Any

from ..argtypes import non_negative_float, port as port_number, positive_float, positive_int, threads as thread_count
from ..errors import NameOriginError
from ..inference.classifier import load_model
from .limits import MAX_BODY_BYTES, MAX_NAME_CHARS, MAX_NAMES, MAX_REQUEST_CHARS, REQUEST_TIMEOUT_S

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
GRACE_S = 10.0
KEEP_ALIVE_S = 5.0
MAX_CONNECTIONS = 512
# One thread is the fastest on a shared CPU (docs/benchmarks.md, "Threads"); more help only on idle cores.
THREADS = 1
# A tenth of Python's default: see `serve` for why (docs/usage.md has the measurements).
SWITCH_INTERVAL_S = 0.0005


def _authority(host: str, port: int) -> str:
    """``host:port`` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here and handed to uvicorn: a taken address fails with a
    message (exit 2) rather than uvicorn's log line, and nothing can take it between a check and
    uvicorn's own bind."""
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


def _server_class(host: str) -> type:
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        """uvicorn announces the address only of sockets it binds itself. This one says where it
        listens (so --port 0 shows the real port) once it serves, when its signal handlers are in
        place: whoever waits for the line can stop the server at once."""

        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                logging.getLogger("uvicorn.error").info(
                    "Uvicorn running on http://%s (Press CTRL+C to quit)", _authority(host, sockets[0].getsockname()[1]))

    return AnnouncingServer


def serve(model_path: str | os.PathLike | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
          access_log: bool = False, backend: str = "numpy", threads: int | None = None, grace_s: float = GRACE_S,
          keep_alive_s: float = KEEP_ALIVE_S, max_connections: int = MAX_CONNECTIONS,
          timeout_s: float = REQUEST_TIMEOUT_S, **limits: Any) -> None:
    """Load the model at `model_path` (None: the bundled default) and serve it until interrupted.

    `backend` and `threads` are `inference.classifier.load_model`'s. A request
    head, and then its body, must each arrive within `timeout_s`; `limits` go to `create_app`. A
    missing or damaged checkpoint raises `NameOriginError` before anything listens, so a broken
    deployment fails at start-up rather than on the first request.

    While it serves, Python's thread switch interval is `SWITCH_INTERVAL_S`. The model thread lets
    go of the GIL in every numpy operation, a few hundred per batch, and takes it back only when the
    thread holding it yields; an event loop kept busy (requests refused with a 413 as fast as
    clients send them) yields only every switch interval, 5 ms by default, so each batch took
    seconds and every GET waited for it.
    """
    try:
        import uvicorn

        from .app import create_app
        from .protocol import guarded_protocol
    except ImportError:
        raise NameOriginError("`nameorigin serve` needs FastAPI and uvicorn: pip install 'nameorigin[serve]'") from None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address as written in a URL
    classifier = load_model(model_path, backend, threads=threads)
    app = create_app(classifier, **{"body_timeout_s": timeout_s, **limits})
    config = uvicorn.Config(app, host=host, port=port, access_log=access_log, log_level="info", lifespan="on",
                            http=guarded_protocol(max_connections=max_connections, head_timeout_s=timeout_s),
                            timeout_keep_alive=keep_alive_s, timeout_graceful_shutdown=grace_s)
    switch_interval = sys.getswitchinterval()
    with _listen(host, port) as sock:
        server = _server_class(host)(config)
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        try:
            server.run(sockets=[sock])
        except SystemExit:  # uvicorn's own exit when the app's start-up fails
            pass
        finally:
            sys.setswitchinterval(switch_interval)
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
                        help="longest name in characters, as sent and once transliterated (default: %(default)s)")
    parser.add_argument("--max-request-chars", type=positive_int, default=MAX_REQUEST_CHARS,
                        help="most transliterated characters in one request's names (default: %(default)s)")
    parser.add_argument("--max-connections", type=positive_int, default=MAX_CONNECTIONS, metavar="N",
                        help="open connections; at the cap the longest idle is closed (default: %(default)s)")
    parser.add_argument("--timeout", type=positive_float, default=REQUEST_TIMEOUT_S, metavar="SECONDS",
                        help="time a request head, and then its body, may take to arrive (default: %(default)s)")
    parser.add_argument("--keep-alive", type=positive_float, default=KEEP_ALIVE_S, metavar="SECONDS",
                        help="how long an idle connection is kept open between requests (default: %(default)s)")
    parser.add_argument("--grace", type=non_negative_float, default=GRACE_S, metavar="SECONDS",
                        help="on SIGTERM or Ctrl+C, how long requests in flight may finish (default: %(default)s)")
    parser.add_argument("--threads", type=thread_count, default=THREADS, metavar="N",
                        help="threads the model runs on (default: %(default)s, the fastest on a shared CPU)")
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    parser.add_argument("--backend", choices=("numpy", "torch", "onnx"), default="numpy",
                        help="run the network on numpy, PyTorch (a GPU) or onnxruntime (default: %(default)s)")


def command(args: argparse.Namespace) -> None:
    """Run the server from parsed `add_arguments` options."""
    serve(args.model, args.host, args.port, access_log=args.access_log, backend=args.backend, threads=args.threads,
          grace_s=args.grace, keep_alive_s=args.keep_alive, max_connections=args.max_connections,
          timeout_s=args.timeout, max_names=args.max_names, max_body_bytes=args.max_body_bytes,
          max_name_chars=args.max_name_chars, max_request_chars=args.max_request_chars)


def main(argv: list[str] | None = None) -> int:
    """``python -m nameorigin.serve``: the ``serve`` subcommand alone."""
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
