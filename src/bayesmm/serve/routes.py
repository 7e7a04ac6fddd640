"""The prediction endpoints: what each computes from a request, and their registration.

:class:`Served` holds the loaded model and answers each kind of request with the
``FittedModel`` summaries (numpy on the posterior draws), as the response's JSON bytes;
:func:`add_routes` registers the endpoints, whose request bodies are the schemas generated
from the model's inputs, and hands each request to the :class:`~.compute.ComputePool`
(light ones on the event loop, heavy ones in the compute processes).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Protocol

import numpy as np
import pandas as pd
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from .._errors import DataError
from ..fitted import FittedModel
from ..predict import (
    PredictOptions,
    density,
    interval,
    per_category,
    point_estimate,
    quantiles,
)
from .compute import INLINE_ROWS, ComputePool
from .errors import Refused, finite
from .schemas import (
    CategoryIntervalResponse,
    CategoryPointResponse,
    DensityResponse,
    IntervalResponse,
    PointResponse,
    describe_inputs,
    request_models,
)

__all__ = ["Answers", "Serving", "Served", "add_routes", "answerer", "request_options"]


class Answers(Protocol):
    """What the endpoints ask of a served model (:class:`Served`, or a multivariate model's
    ``mv_routes.MvServed``)."""

    def answer(self, endpoint: str, request: Any) -> bytes: ...

    def response_models(self) -> dict[str, Any]: ...

    def interval_example(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Serving:
    """What ``create_app`` serves a model with: its answers, the request models of its
    endpoints, what ``/v1/model`` says, an example row, what a compute process builds
    (``make_answer``, which must pickle) and the OpenAPI title and description."""

    served: Answers
    models: dict[str, Any]
    info: BaseModel
    example_row: dict[str, Any]
    make_answer: Callable[[], Callable[[str, str], bytes]]
    title: str
    description: str


def request_options(request: Any) -> PredictOptions:
    """The prediction options of a validated request."""
    return PredictOptions(
        include_group_specific=request.include_group_specific,
        sample_new_groups=request.sample_new_groups,
        random_seed=request.random_seed,
        n_samples=request.n_samples,
    )


@dataclass(frozen=True)
class Served:
    """A loaded model and what its endpoints need: the input columns, and for a family of
    categories the labels of the categories (its summaries are keyed by them)."""

    fitted: FittedModel
    names: tuple[str, ...]
    labels: tuple[str, ...] | None
    counts: bool

    @classmethod
    def of(cls, fitted: FittedModel, names: list[str]) -> "Served":
        family = fitted.family
        labels = family.category_labels(fitted.design.response.levels)
        return cls(fitted, tuple(names), labels, family.counts_each_category())

    def answer(self, endpoint: str, request: Any) -> bytes:
        """The JSON of the answer to a validated request of ``endpoint`` ("point",
        "interval" or "density")."""
        compute = {"point": self.point, "interval": self.interval, "density": self.density}
        return compute[endpoint](request).model_dump_json().encode()

    def frame(self, request: Any) -> pd.DataFrame:
        records = [row.model_dump(by_alias=True) for row in request.rows]
        return pd.DataFrame.from_records(records, columns=list(self.names))

    def response_models(self) -> dict[str, Any]:
        """The answers' models of the point, interval and density endpoints."""
        labels = self.labels is not None
        return {
            "point": CategoryPointResponse if labels else PointResponse,
            "interval": CategoryIntervalResponse if labels else IntervalResponse,
            "density": DensityResponse,
        }

    def interval_example(self) -> dict[str, Any]:
        """What the interval endpoint's example asks beyond its rows: the predictive draws of
        categories have no interval, so it asks for one of their probabilities."""
        return {} if self.labels is None or self.counts else {"kind": "response_params"}

    def draws(self, request: Any) -> np.ndarray:
        """The (draws, rows) predictions; overflow on extreme inputs becomes a 422, not noise."""
        options = request_options(request)
        with np.errstate(all="ignore"):
            values = self.fitted.draws(self.frame(request), request.kind, options=options)
        return finite(values, "prediction")

    def point(self, request: Any) -> PointResponse | CategoryPointResponse:
        values = self.draws(request)
        if self.labels is None:
            with np.errstate(all="ignore"):
                estimates = finite(point_estimate(values, request.stat), "estimate", 0)
            return PointResponse(
                kind=request.kind,
                n_draws=values.shape[0],
                stat=request.stat,
                results=[{"value": float(v)} for v in estimates],
            )
        family, levels = self.fitted.family, self.fitted.design.response.levels
        try:
            values = family.point_draws(values, levels, request.kind, request.stat)
        except DataError as err:
            raise Refused(str(err), ["body", "stat"]) from None
        with np.errstate(all="ignore"):
            table = per_category(values, lambda v: point_estimate(v, request.stat)[:, None])
        finite(table, "estimate", 0)
        return CategoryPointResponse(
            kind=request.kind,
            n_draws=values.shape[0],
            stat=request.stat,
            results=[
                {"categories": dict(zip(self.labels, row.tolist(), strict=True))} for row in table
            ],
        )

    def interval(self, request: Any) -> IntervalResponse | CategoryIntervalResponse:
        # The predictive draws of one category per row are category codes.
        if self.labels is not None and request.kind == "response" and not self.counts:
            raise Refused(
                f"kind='response' has no interval for family {self.fitted.family.name!r}: its "
                "predictive draws are categories, not numbers. Use kind='response_params' for "
                "an interval of each category's probability, or /v1/predict/point with "
                "kind='response' for each category's share of the predictive draws.",
                ["body", "kind"],
            )
        values = self.draws(request)
        if self.labels is None:
            with np.errstate(all="ignore"):
                bounds = finite(interval(values, request.prob, request.method), "interval", 0)
            return IntervalResponse(
                kind=request.kind,
                n_draws=values.shape[0],
                prob=request.prob,
                method=request.method,
                results=[{"lower": float(lo), "upper": float(hi)} for lo, hi in bounds],
            )
        with np.errstate(all="ignore"):
            table = per_category(values, lambda v: interval(v, request.prob, request.method))
        finite(table, "interval", 0)
        results = [
            {
                "categories": {
                    label: {"lower": lower, "upper": upper}
                    for label, (lower, upper) in zip(
                        self.labels, row.reshape(-1, 2).tolist(), strict=True
                    )
                }
            }
            for row in table
        ]
        return CategoryIntervalResponse(
            kind=request.kind,
            n_draws=values.shape[0],
            prob=request.prob,
            method=request.method,
            results=results,
        )

    def density(self, request: Any) -> DensityResponse:
        if self.labels is not None:
            raise Refused(
                "/v1/predict/density gives a histogram or quantiles of one number per row; "
                f"family {self.fitted.family.name!r} predicts a probability for each category. "
                "Use /v1/predict/point for each category's probability "
                "(kind='response_params') or its share of the predictive draws "
                "(kind='response'), and /v1/predict/interval with kind='response_params' for "
                "intervals of the probabilities.",
                ["body"],
            )
        values = self.draws(request)
        results: list[dict[str, Any]] = []
        if request.quantiles is not None:
            with np.errstate(all="ignore"):
                table = finite(quantiles(values, request.quantiles), "quantile", 0)
            for row in table:
                results.append({"probs": list(request.quantiles), "quantiles": row.tolist()})
        else:
            with np.errstate(all="ignore"):
                all_edges, all_heights = density(values, request.bins)
            finite(all_edges, "histogram", 0)
            finite(all_heights, "density", 0)
            for edges, heights in zip(all_edges, all_heights, strict=True):
                middle = (edges[:-1] + edges[1:]) / 2
                results.append({"x": middle.tolist(), "density": heights.tolist()})
        return DensityResponse(kind=request.kind, n_draws=values.shape[0], results=results)


def answerer(fitted: FittedModel, max_batch: int) -> Callable[[str, str], bytes]:
    """``answer(endpoint, body)``: the JSON answer to a request's JSON body, validated as the
    app validates it. What a compute process builds once, from the model it is given."""
    inputs = describe_inputs(fitted)
    models = request_models(inputs, fitted.posterior_draws.n_samples, max_batch)
    served = Served.of(fitted, [column.name for column in inputs])

    def answer(endpoint: str, body: str) -> bytes:
        return served.answer(endpoint, models[endpoint].model_validate_json(body))

    return answer


def _add_service_routes(app: FastAPI, info: BaseModel) -> None:
    """Register the routes that answer without computing: ``/healthz``, ``/readyz`` and
    ``/v1/model``."""

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (the model was loaded before the app was built)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"], responses={503: {"description": "Not ready yet."}})
    def readyz(http: Request) -> JSONResponse:
        """Readiness: the model is loaded and the compute processes have it, so a prediction
        is answered now; a 503 while they start and once shutdown has begun."""
        if getattr(http.app.state, "ready", False):
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting or stopping"}, status_code=503)

    @app.get("/v1/model", response_model=type(info), tags=["model"])
    def model_info() -> Any:
        """The served model: formula, family, inputs with their types and levels, draws."""
        return info


def add_routes(app: FastAPI, serving: Serving, pool: ComputePool) -> None:
    """Register ``/healthz``, ``/readyz``, ``/v1/model`` and the three prediction endpoints."""
    served, models, example_row = serving.served, serving.models, serving.example_row
    answers = served.response_models()
    point_response: Any = answers["point"]
    interval_response: Any = answers["interval"]
    density_response: Any = answers["density"]
    interval_kind = served.interval_example()
    errors: dict[int | str, dict[str, Any]] = {
        400: {"description": "The request body could not be read (e.g. not UTF-8)."},
        413: {"description": "The request body is too large."},
        503: {
            "description": "Too many large requests are being computed or queued; retry after "
            "the seconds in the Retry-After header."
        },
    }

    def examples(**extra: Any) -> dict[str, Any]:
        return {"one row": {"summary": "One input row", "value": {"rows": [example_row], **extra}}}

    # Generated from the model at run time: mypy sees them as Any.
    point_model: Any = models["point"]
    interval_model: Any = models["interval"]
    density_model: Any = models["density"]

    async def respond(endpoint: str, request: Any) -> Response:
        if len(request.rows) <= INLINE_ROWS:
            content = served.answer(endpoint, request)
        else:
            body = request.model_dump_json(by_alias=True)
            content = await pool.heavy(endpoint, body, partial(served.answer, endpoint, request))
        return Response(content, media_type="application/json")

    _add_service_routes(app, serving.info)

    @app.post(
        "/v1/predict/point", response_model=point_response, responses=errors, tags=["predict"]
    )
    async def predict_point(
        request: Annotated[point_model, Body(openapi_examples=examples(stat="mean"))],
    ) -> Response:
        """The posterior mean or median of each row (of each category's probability, for a
        family of categories)."""
        return await respond("point", request)

    @app.post(
        "/v1/predict/interval", response_model=interval_response, responses=errors, tags=["predict"]
    )
    async def predict_interval(
        request: Annotated[
            interval_model, Body(openapi_examples=examples(prob=0.9, **interval_kind))
        ],
    ) -> Response:
        """A ``prob`` interval of each row: highest-density (``hdi``) or equal-tailed (of each
        category's probability, for a family of categories)."""
        return await respond("interval", request)

    @app.post(
        "/v1/predict/density", response_model=density_response, responses=errors, tags=["predict"]
    )
    async def predict_density(
        request: Annotated[density_model, Body(openapi_examples=examples(bins=20))],
    ) -> Response:
        """A histogram density of each row's predictive draws, or its quantiles."""
        return await respond("density", request)
