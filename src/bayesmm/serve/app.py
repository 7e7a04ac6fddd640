"""The HTTP app: point, interval and density predictions from a fitted model.

``create_app`` loads the model once and builds request schemas from its inputs. Predictions
are the ``FittedModel`` summaries (numpy on the posterior draws), run in FastAPI's thread pool;
the model is only read after start-up, so concurrent requests are safe.
"""

import importlib
import logging
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .._errors import BayesmmError, DataError
from ..fitted import FittedModel, _per_category, category_point_draws
from ..io import _versions, load
from ..predict import POLICIES, density, interval, point_estimate, quantiles
from .schemas import (
    CategoryIntervalResponse,
    CategoryPointResponse,
    ColumnInfo,
    DensityResponse,
    GroupInfo,
    IntervalResponse,
    ModelInfo,
    PointResponse,
    describe_inputs,
    request_models,
)

__all__ = ["create_app"]

_log = logging.getLogger("bayesmm.serve")

#: Requests of at most this many rows are computed on the event loop.
INLINE_ROWS = 32

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Limits:
    """ASGI middleware: a request id on every response, and a cap on the body size."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = given if given.isprintable() and given else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send_with_id, int(length))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge(received)
            return message

        try:
            await self.app(scope, counted, send_with_id)
        except _BodyTooLarge as err:
            await self._too_large(send_with_id, err.size)

    async def _too_large(self, send: Send, size: int) -> None:
        response = JSONResponse(
            {
                "detail": f"The request body must be at most {self.max_body_bytes} bytes; "
                f"got {size}."
            },
            status_code=413,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})


class _BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _unprocessable(message: str, loc: list[Any]) -> JSONResponse:
    """A 422 in FastAPI's own validation-error shape."""
    return JSONResponse(
        {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status_code=422
    )


class _NotFinite(ValueError):
    pass


class _Refused(ValueError):
    """A request this model cannot answer, whatever its rows: a 422 at ``loc``."""

    def __init__(self, message: str, loc: list[Any]) -> None:
        super().__init__(message)
        self.loc = loc


def _finite(values: np.ndarray, what: str, row_axis: int = 1) -> np.ndarray:
    """``values`` if every number is finite; a 422 naming the rows otherwise (JSON has no inf)."""
    bad = ~np.isfinite(values)
    if bad.any():
        rows = sorted({int(i) for i in np.argwhere(bad)[:, row_axis]})
        raise _NotFinite(
            f"The {what} is not a finite number for row(s) {rows[:10]}: the inputs are too "
            "far outside the training data for the model to give a prediction."
        )
    return values


def create_app(
    model: FittedModel | str | os.PathLike[str],
    *,
    max_batch: int = 1000,
    max_body_bytes: int = 1_000_000,
    title: str | None = None,
) -> FastAPI:
    """A FastAPI app serving predictions of ``model``.

    Parameters
    ----------
    model : FittedModel or path
        A fitted model, or the path of a file written by ``Model.save`` (loaded now, once).
    max_batch : int, default 1000
        Most rows in one request.
    max_body_bytes : int, default 1,000,000
        Largest request body; larger ones get a 413.
    title : str, optional
        The title of the OpenAPI docs; by default the model's formula.

    Raises
    ------
    bayesmm.ModelFileError
        If the model file cannot be loaded.
    """
    fitted = model if isinstance(model, FittedModel) else load(model)
    spec = fitted.spec
    if spec is None:
        raise ValueError("The model has no spec; serve a FittedModel from Model.fitted or load.")
    draws = fitted.posterior_draws  # stacked once, before any request
    n_draws = draws.n_samples
    inputs = describe_inputs(fitted)
    models = request_models(inputs, n_draws, max_batch)
    names = [column.name for column in inputs]
    example_row = {column.name: column.example for column in inputs}
    versions = (fitted.source or {}).get("versions") or _versions()
    family = fitted.family
    design = fitted.design
    # A family of categories predicts a probability per category: (draws, rows, K) arrays,
    # whose summaries are keyed by the categories' labels.
    levels = design.response.levels if family.categories is not None else None
    counts = bool(getattr(family.categories, "counts", False))
    labels = [str(level) for level in levels] if levels is not None else None
    point_response: Any = PointResponse if labels is None else CategoryPointResponse
    interval_response: Any = IntervalResponse if labels is None else CategoryIntervalResponse
    # Its predictive draws are categories, which have no interval: the example asks for one
    # of the probabilities.
    interval_kind = {} if labels is None or counts else {"kind": "response_params"}
    info = ModelInfo(
        formula=spec.formula,
        family=spec.family,
        link=spec.link,
        response=fitted.design.response.name,
        inputs=[
            ColumnInfo(
                name=c.name,
                role=c.role,
                type=c.type,
                levels=list(c.levels) if c.levels is not None else None,
            )
            for c in inputs
        ],
        groups=[
            GroupInfo(
                factor=factor,
                terms=[t.name for t in fitted.design.group_terms if t.factor == factor],
                n_levels=len(
                    next(t.levels for t in fitted.design.group_terms if t.factor == factor)
                ),
            )
            for factor in dict.fromkeys(t.factor for t in fitted.design.group_terms)
        ],
        chains=draws.chains,
        draws=n_draws,
        sample_new_groups=fitted.sample_new_groups,
        policies=[*POLICIES],
        versions={str(k): str(v) for k, v in versions.items()},
        data_sha256=fitted.data_sha256,
    )

    app = FastAPI(
        title=title or f"bayesmm: {spec.formula}",
        version="1",
        description=(
            f"Predictions with uncertainty from a Bayesian {spec.family} model, "
            f"`{spec.formula}`, over {n_draws} posterior draws."
        ),
    )

    def options(request: Any) -> dict[str, Any]:
        return {
            "kind": request.kind,
            "sample_new_groups": request.sample_new_groups,
            "include_group_specific": request.include_group_specific,
            "random_seed": request.random_seed,
            "n_samples": request.n_samples,
        }

    def compute_draws(request: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fitted.draws(frame(request), **options(request))

    async def predictive_draws(request: Any) -> np.ndarray:
        """The (draws, rows) predictions; overflow on extreme inputs becomes a 422, not noise.

        Small batches are computed on the event loop (about a millisecond, less than a hop to
        a worker thread); larger ones in the thread pool, so they do not hold up the others.
        """
        if len(request.rows) <= INLINE_ROWS:
            values = compute_draws(request)
        else:
            values = await run_in_threadpool(compute_draws, request)
        return _finite(values, "prediction")

    def frame(request: Any) -> pd.DataFrame:
        records = [row.model_dump(by_alias=True) for row in request.rows]
        return pd.DataFrame.from_records(records, columns=names)

    def examples(**extra: Any) -> dict[str, Any]:
        return {
            "one row": {"summary": "One input row", "value": {"rows": [example_row], **extra}},
        }

    errors: dict[int | str, dict[str, Any]] = {
        400: {"description": "The request body could not be read (e.g. not UTF-8)."},
        413: {"description": "The request body is too large."},
    }

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """Liveness: the model is loaded and the app answers."""
        return {"status": "ok"}

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"])
    def model_info() -> ModelInfo:
        """The served model: formula, family, inputs with their types and levels, draws."""
        return info

    # Generated from the model at run time: mypy sees them as Any.
    point_model: Any = models["point"]
    interval_model: Any = models["interval"]
    density_model: Any = models["density"]

    @app.post(
        "/v1/predict/point", response_model=point_response, responses=errors, tags=["predict"]
    )
    async def predict_point(
        request: Annotated[point_model, Body(openapi_examples=examples(stat="mean"))],
    ) -> PointResponse | CategoryPointResponse:
        """The posterior mean or median of each row (of each category's probability, for a
        family of categories)."""
        values = await predictive_draws(request)
        if labels is not None:
            try:
                values = category_point_draws(values, family, design, request.kind, request.stat)
            except DataError as err:
                raise _Refused(str(err), ["body", "stat"]) from None
            with np.errstate(all="ignore"):
                table, _ = _per_category(
                    values, lambda v: point_estimate(v, request.stat)[:, None], [request.stat]
                )
            _finite(table, "estimate", 0)
            return CategoryPointResponse(
                kind=request.kind,
                n_draws=values.shape[0],
                stat=request.stat,
                results=[
                    {"categories": dict(zip(labels, row.tolist(), strict=True))} for row in table
                ],
            )
        with np.errstate(all="ignore"):
            estimates = _finite(point_estimate(values, request.stat), "estimate", 0)
        return PointResponse(
            kind=request.kind,
            n_draws=values.shape[0],
            stat=request.stat,
            results=[{"value": float(v)} for v in estimates],
        )

    @app.post(
        "/v1/predict/interval",
        response_model=interval_response,
        responses=errors,
        tags=["predict"],
    )
    async def predict_interval(
        request: Annotated[
            interval_model,
            Body(openapi_examples=examples(prob=0.9, **interval_kind)),
        ],
    ) -> IntervalResponse | CategoryIntervalResponse:
        """A ``prob`` interval of each row: highest-density (``hdi``) or equal-tailed (of each
        category's probability, for a family of categories)."""
        # The predictive draws of one category per row are category codes.
        if labels is not None and request.kind == "response" and not counts:
            raise _Refused(
                f"kind='response' has no interval for family {family.name!r}: its predictive "
                "draws are categories, not numbers. Use kind='response_params' for an interval "
                "of each category's probability, or /v1/predict/point with kind='response' for "
                "each category's share of the predictive draws.",
                ["body", "kind"],
            )
        values = await predictive_draws(request)
        if labels is not None:
            with np.errstate(all="ignore"):
                table, _ = _per_category(
                    values,
                    lambda v: interval(v, request.prob, request.method),
                    ["lower", "upper"],
                )
            _finite(table, "interval", 0)
            return CategoryIntervalResponse(
                kind=request.kind,
                n_draws=values.shape[0],
                prob=request.prob,
                method=request.method,
                results=[
                    {
                        "categories": {
                            label: {"lower": lower, "upper": upper}
                            for label, (lower, upper) in zip(
                                labels, row.reshape(-1, 2).tolist(), strict=True
                            )
                        }
                    }
                    for row in table
                ],
            )
        with np.errstate(all="ignore"):
            bounds = _finite(interval(values, request.prob, request.method), "interval", 0)
        return IntervalResponse(
            kind=request.kind,
            n_draws=values.shape[0],
            prob=request.prob,
            method=request.method,
            results=[{"lower": float(lo), "upper": float(hi)} for lo, hi in bounds],
        )

    @app.post(
        "/v1/predict/density", response_model=DensityResponse, responses=errors, tags=["predict"]
    )
    async def predict_density(
        request: Annotated[density_model, Body(openapi_examples=examples(bins=20))],
    ) -> DensityResponse:
        """A histogram density of each row's predictive draws, or its quantiles."""
        if labels is not None:
            raise _Refused(
                "/v1/predict/density gives a histogram or quantiles of one number per row; "
                f"family {family.name!r} predicts a probability for each category. Use "
                "/v1/predict/point for each category's probability (kind='response_params') "
                "or its share of the predictive draws (kind='response'), and "
                "/v1/predict/interval with kind='response_params' for intervals of the "
                "probabilities.",
                ["body"],
            )
        values = await predictive_draws(request)
        results: list[dict[str, Any]] = []
        if request.quantiles is not None:
            with np.errstate(all="ignore"):
                table = _finite(quantiles(values, request.quantiles), "quantile", 0)
            for row in table:
                results.append({"probs": list(request.quantiles), "quantiles": row.tolist()})
        else:
            with np.errstate(all="ignore"):
                all_edges, all_heights = density(values, request.bins)
            _finite(all_edges, "histogram", 0)
            _finite(all_heights, "density", 0)
            for edges, heights in zip(all_edges, all_heights, strict=True):
                middle = (edges[:-1] + edges[1:]) / 2
                results.append({"x": middle.tolist(), "density": heights.tolist()})
        return DensityResponse(
            kind=request.kind,
            n_draws=values.shape[0],
            results=results,
        )

    @app.exception_handler(BayesmmError)
    async def bayesmm_error(request: Request, err: BayesmmError) -> JSONResponse:
        return _unprocessable(str(err), ["body", "rows"])

    @app.exception_handler(_NotFinite)
    async def not_finite(request: Request, err: _NotFinite) -> JSONResponse:
        return _unprocessable(str(err), ["body", "rows"])

    @app.exception_handler(_Refused)
    async def refused(request: Request, err: _Refused) -> JSONResponse:
        return _unprocessable(str(err), err.loc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in err.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def server_error(request: Request, err: Exception) -> JSONResponse:
        request_id = request.scope.get("state", {}).get("request_id", "-")
        _log.exception("request %s failed: %s %s", request_id, request.method, request.url.path)
        return JSONResponse(
            {"detail": "Internal server error.", "request_id": request_id},
            status_code=500,
            headers={"x-request-id": request_id},
        )

    # ArviZ (for HDIs) takes about a second to import: load it now, off the main thread, so
    # the first interval request does not wait for it and the app answers meanwhile.
    threading.Thread(target=importlib.import_module, args=("arviz",), daemon=True).start()
    app.add_middleware(_Limits, max_body_bytes=max_body_bytes)
    app.state.fitted = fitted
    return app
