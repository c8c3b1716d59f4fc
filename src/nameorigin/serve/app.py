"""The HTTP API and web page for one loaded model: routes, error handling, and the page's files.

Every answer is JSON, errors included (``{"detail": "<message>"}``, never a 500 for a client's
mistake); limits are checked before the model is asked (see `limits`), and a request whose
client has gone is dropped from the model's queue.
"""

import asyncio
import gc
from contextlib import asynccontextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from starlette.routing import Match

from .. import __version__
from . import schemas
from .batcher import MicroBatcher
from .limits import REQUEST_TIMEOUT_S, LimitExceeded, Limits, RequestGuard
from .service import Service

if TYPE_CHECKING:
    from ..inference.classifier import Classifier, Prediction

STATIC = Path(__file__).with_name("static")
PREDICT_PARAMS = ("name", "top_k", "min_confidence", "level", "coverage", "randomized", "prior")
# The page loads nothing from elsewhere; saying so to the browser makes it hold to that.
PAGE_HEADERS = {"content-security-policy": "default-src 'self'; img-src 'self' data:"}


def _as_dict(prediction: "Prediction") -> dict:
    """`Prediction.to_dict` without its recursive deep copy, a measurable share of a request's CPU."""
    out = {f.name: getattr(prediction, f.name) for f in fields(prediction)}
    out["predictions"] = [{"label": q.label, "probability": q.probability} for q in prediction.predictions]
    if out["prediction_set"] is None:
        del out["prediction_set"]
    return out


async def _until_disconnected(receive: Any) -> None:
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    except Exception:  # a server that cannot tell: then the client never counts as gone
        await asyncio.Event().wait()


async def unless_gone(request: Request, work: asyncio.Future) -> Any:
    """`work`'s result, or None once the client has disconnected: `work` is then cancelled, which
    takes its names out of the model's queue if they have not been run yet."""
    gone = asyncio.ensure_future(_until_disconnected(request.receive))
    gone.add_done_callback(lambda _: work.cancel())
    try:
        return await work
    except asyncio.CancelledError:
        if work.cancelled() and gone.done() and not gone.cancelled():
            return None
        raise
    finally:
        gone.cancel()


def only_params(*allowed: str) -> Any:
    """A dependency refusing query parameters the route does not take, or takes once and got twice:
    a misspelt ``topk=5`` would otherwise be ignored without a word."""

    async def check(request: Request) -> None:  # async: FastAPI runs a plain def on a thread
        keys = [key for key, _ in request.query_params.multi_items()]
        unknown = sorted(set(keys) - set(allowed))
        if unknown:
            takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none (options go in the JSON body)"
            raise HTTPException(422, f"unknown query parameter {', '.join(unknown)}; {takes}")
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise HTTPException(422, f"query parameter {', '.join(repeated)} given more than once")

    return Depends(check)


def create_app(classifier: "Classifier", *, max_names: int = Limits.max_names,
               max_body_bytes: int = Limits.max_body_bytes, max_name_chars: int = Limits.max_name_chars,
               max_request_chars: int = Limits.max_request_chars, batching: bool = True,
               batch_wait_s: float = 0.002, max_batch_names: int = 1024, max_batch_chars: int = 2048,
               max_turn_chars: int = 512, body_timeout_s: float = REQUEST_TIMEOUT_S) -> FastAPI:
    """The HTTP API for one loaded model; limits are fixed here so the schema can document them.

    `batching=False` answers each request with its own model call (kept to measure what
    micro-batching is worth); `max_batch_*` and `max_turn_chars` size the batches and each
    request's turns in them (`batcher.MicroBatcher`). ``/v1/explain`` is served when the
    classifier has `explain`.
    """
    limits = Limits(max_names, max_body_bytes, max_name_chars, max_request_chars)
    for key, value in (("max_batch_names", max_batch_names), ("max_batch_chars", max_batch_chars),
                       ("max_turn_chars", max_turn_chars)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    batcher = (MicroBatcher(classifier, max_wait_s=batch_wait_s, max_names=max_batch_names,
                            max_chars=max_batch_chars, max_turn_chars=max_turn_chars) if batching else None)
    service = Service(classifier, limits, batcher)
    app = FastAPIOffline(title="nameorigin", version=_version(), lifespan=_lifespan(service),
                         description="Which language does a name come from? Character-level RNN predictions from "
                                     "the model this server was started with: `world` (the default: full names or "
                                     "parts of them, in any script; 18 languages or Other), `tutorial` (the PyTorch "
                                     "tutorial's surname model; 18 languages) or a checkpoint folder. "
                                     "`GET /v1/model` gives its labels and revision.")
    _add_error_handlers(app)
    _add_predict_routes(app, service)
    _add_info_routes(app, service)
    if hasattr(classifier, "explain"):
        _add_explain_route(app, service)
    _add_page(app)
    app.add_middleware(RequestGuard, max_bytes=max_body_bytes, timeout_s=body_timeout_s)
    return app


def _lifespan(service: Service) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        # What is loaded now lives as long as the server: keep the garbage collector from walking
        # it again and again, a stall in every full collection.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await service.stop()

    return lifespan


def _allowed_methods(app: FastAPI, scope: dict) -> str:
    """Every method some route serves at this path, for a 405's Allow header: the router itself
    names only those of the first route that matched the path."""
    methods: set[str] = set()
    for route in app.router.routes:
        if getattr(route, "methods", None) and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = list(exc.errors())
        status = 400 if any(e.get("type") == "json_invalid" for e in errs) else 422
        return JSONResponse({"detail": schemas.describe(errs)}, status_code=status)

    @app.exception_handler(LimitExceeded)
    async def too_much(request: Request, exc: LimitExceeded) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(app, request.scope)
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)


ERRORS = {status: {"model": schemas.ErrorOut} for status in (400, 408, 413, 422)}


def _add_predict_routes(app: FastAPI, service: Service) -> None:
    n_labels = len(service.classifier.labels)
    request_model = schemas.predict_request(service.limits, n_labels)
    top_k_query = Query(ge=1, le=n_labels, description=f"how many labels to return (1 to {n_labels})")
    confidence_query = Query(ge=0, le=1, allow_inf_nan=False,
                             description="abstain when the top probability is below this (0 to 1)")

    @app.get("/v1/predict", response_model=schemas.PredictionOut, responses=ERRORS, summary="Predict one name",
             dependencies=[only_params(*PREDICT_PARAMS)])
    async def predict_one(name: Annotated[str, Query(max_length=service.limits.max_name_chars)],
                          top_k: Annotated[int, top_k_query] = service.default_k,
                          min_confidence: Annotated[float, confidence_query] = 0.0,
                          level: Annotated[schemas.Level, Query(description=schemas.LEVEL_HELP)] = "label",
                          coverage: Annotated[float | None, Query(gt=0, lt=1, allow_inf_nan=False,
                                                                  description=schemas.COVERAGE_HELP)] = None,
                          randomized: Annotated[bool, Query(description=schemas.RANDOMIZED_HELP)] = False,
                          prior: Annotated[str | None, Query(max_length=schemas.MAX_PRIOR_CHARS,
                                                             description=schemas.PRIOR_HELP)] = None) -> Response:
        """The top-k origins of one name, or an abstention with its reason."""
        answers = {"level": level, "coverage": coverage, "randomized": randomized, "prior": prior}
        # One name is a sliver of a batch: watching for its client to leave would cost more.
        (result,) = await service.predict([name], top_k, min_confidence, "name", answers)
        # Already the documented shape: a JSONResponse skips FastAPI's second validation of it.
        return JSONResponse(_as_dict(result))

    @app.post("/v1/predict", response_model=schemas.PredictResponse, responses=ERRORS,
              summary="Predict many names", dependencies=[only_params()])
    async def predict_many(request: Request, body: request_model) -> Response:  # type: ignore[valid-type]
        """The top-k origins of each name, in the order given."""
        answers = {"level": body.level, "coverage": body.coverage, "randomized": body.randomized,
                   "prior": body.prior}
        results = await unless_gone(request, service.predict(body.names, body.top_k, body.min_confidence, "names",
                                                             answers))
        if results is None:
            return Response(status_code=499)
        return JSONResponse({"predictions": [_as_dict(r) for r in results],
                             "model_revision": service.classifier.revision})


def _add_explain_route(app: FastAPI, service: Service) -> None:
    n_labels = len(service.classifier.labels)

    @app.get("/v1/explain", response_model=schemas.ExplainOut, responses=ERRORS,
             summary="How the prediction forms, prefix by prefix", dependencies=[only_params("name", "top_k")])
    async def explain(request: Request, name: Annotated[str, Query(max_length=service.limits.max_name_chars)],
                      top_k: Annotated[int, Query(ge=1, le=n_labels)] = service.default_k) -> Response:
        """The top-k labels after each prefix of the name as the model reads it (Q, Qi, Qin)."""
        result = await unless_gone(request, service.explain(name, top_k))
        return JSONResponse(result.to_dict()) if result is not None else Response(status_code=499)


def _add_info_routes(app: FastAPI, service: Service) -> None:
    clf = service.classifier

    @app.get("/v1/model", response_model=schemas.ModelInfo, summary="The loaded model")
    async def model_info() -> dict:
        """What is being served: labels, revision, test metrics, training config and limits."""
        meta = clf.metadata
        return {"labels": clf.labels, "revision": clf.revision, "metrics": meta.metrics or {},
                "config": meta.to_dict()["config"], "limits": service.limits.public(),
                "explain": hasattr(clf, "explain")}

    @app.get("/healthz", response_model=schemas.Health, summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok", "model_revision": clf.revision}

    for path, endpoint in (("/v1/model", model_info), ("/healthz", healthz)):
        app.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)


def _add_page(app: FastAPI) -> None:
    """The web page at ``/``: plain HTML, CSS and a little JavaScript over the API, from the package."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _version() -> str:
    return __version__
