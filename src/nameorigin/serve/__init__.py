"""``nameorigin serve``: a trained model behind a small JSON API and a web page, over HTTP.

Other programs (a web form, a data pipeline in another language) should be able to ask for a name's
origin without loading a model and a checkpoint themselves. This package puts one `Classifier`
behind FastAPI on uvicorn, with the guarantees a shared service needs:

* bounded work per request: a body, a names list and each name have size limits, and names are
  measured as the model reads them, after transliteration (`limits`);
* bounded connections: a request head and body must arrive in time, idle connections are closed,
  and their number is capped without locking real requests out (`protocol`);
* every bad request gets a JSON 4xx ``{"detail": "<message>"}``, never a 500 or a hang (`app`);
* the event loop never runs the model: one model thread does, fed by a micro-batcher that serves
  concurrent requests together and lets them take turns, each costed by what the model reads
  (an explanation by its prefixes) (`batcher`, `service`);
* SIGTERM ends the server within a grace period, whatever is in flight (`server`).

FastAPI and uvicorn are imported only when a server is built, so the rest of nameorigin works
without them.
"""

from __future__ import annotations

from typing import Any

from .server import add_arguments, command, main, serve

__all__ = ["add_arguments", "command", "create_app", "main", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":  # imports FastAPI
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
