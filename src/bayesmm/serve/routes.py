"""The prediction endpoints: what each computes from a request, and their registration.

:class:`Served` holds the loaded model and answers each kind of request with the
``FittedModel`` summaries (numpy on the posterior draws); :func:`add_routes` registers the
endpoints, whose request bodies are the schemas generated from the model's inputs.
"""

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Body, FastAPI
from starlette.concurrency import run_in_threadpool

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
from .errors import Refused, finite
from .schemas import (
    CategoryIntervalResponse,
    CategoryPointResponse,
    DensityResponse,
    IntervalResponse,
    ModelInfo,
    PointResponse,
)

__all__ = ["INLINE_ROWS", "Served", "add_routes"]

#: Requests of at most this many rows are computed on the event loop.
INLINE_ROWS = 32


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
        levels = fitted.design.response.levels if family.has_categories else None
        labels = tuple(str(level) for level in levels) if levels is not None else None
        return cls(fitted, tuple(names), labels, family.counts_categories)

    def frame(self, request: Any) -> pd.DataFrame:
        records = [row.model_dump(by_alias=True) for row in request.rows]
        return pd.DataFrame.from_records(records, columns=list(self.names))

    def compute_draws(self, request: Any) -> np.ndarray:
        options = PredictOptions(
            include_group_specific=request.include_group_specific,
            sample_new_groups=request.sample_new_groups,
            random_seed=request.random_seed,
            n_samples=request.n_samples,
        )
        with np.errstate(all="ignore"):
            return self.fitted.draws(self.frame(request), request.kind, options=options)

    async def draws(self, request: Any) -> np.ndarray:
        """The (draws, rows) predictions; overflow on extreme inputs becomes a 422, not noise.

        Small batches are computed on the event loop (about a millisecond, less than a hop to
        a worker thread); larger ones in the thread pool, so they do not hold up the others.
        """
        if len(request.rows) <= INLINE_ROWS:
            values = self.compute_draws(request)
        else:
            values = await run_in_threadpool(self.compute_draws, request)
        return finite(values, "prediction")

    async def point(self, request: Any) -> PointResponse | CategoryPointResponse:
        values = await self.draws(request)
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

    async def interval(self, request: Any) -> IntervalResponse | CategoryIntervalResponse:
        # The predictive draws of one category per row are category codes.
        if self.labels is not None and request.kind == "response" and not self.counts:
            raise Refused(
                f"kind='response' has no interval for family {self.fitted.family.name!r}: its "
                "predictive draws are categories, not numbers. Use kind='response_params' for "
                "an interval of each category's probability, or /v1/predict/point with "
                "kind='response' for each category's share of the predictive draws.",
                ["body", "kind"],
            )
        values = await self.draws(request)
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

    async def density(self, request: Any) -> DensityResponse:
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
        values = await self.draws(request)
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


def add_routes(
    app: FastAPI,
    served: Served,
    info: ModelInfo,
    models: dict[str, Any],
    example_row: dict[str, Any],
) -> None:
    """Register ``/healthz``, ``/v1/model`` and the three prediction endpoints."""
    labels = served.labels
    point_response: Any = PointResponse if labels is None else CategoryPointResponse
    interval_response: Any = IntervalResponse if labels is None else CategoryIntervalResponse
    # The predictive draws of categories have no interval: the example asks for one of the
    # probabilities.
    interval_kind = {} if labels is None or served.counts else {"kind": "response_params"}
    errors: dict[int | str, dict[str, Any]] = {
        400: {"description": "The request body could not be read (e.g. not UTF-8)."},
        413: {"description": "The request body is too large."},
    }

    def examples(**extra: Any) -> dict[str, Any]:
        return {"one row": {"summary": "One input row", "value": {"rows": [example_row], **extra}}}

    # Generated from the model at run time: mypy sees them as Any.
    point_model: Any = models["point"]
    interval_model: Any = models["interval"]
    density_model: Any = models["density"]

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """Liveness: the model is loaded and the app answers."""
        return {"status": "ok"}

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"])
    def model_info() -> ModelInfo:
        """The served model: formula, family, inputs with their types and levels, draws."""
        return info

    @app.post(
        "/v1/predict/point", response_model=point_response, responses=errors, tags=["predict"]
    )
    async def predict_point(
        request: Annotated[point_model, Body(openapi_examples=examples(stat="mean"))],
    ) -> PointResponse | CategoryPointResponse:
        """The posterior mean or median of each row (of each category's probability, for a
        family of categories)."""
        return await served.point(request)

    @app.post(
        "/v1/predict/interval", response_model=interval_response, responses=errors, tags=["predict"]
    )
    async def predict_interval(
        request: Annotated[
            interval_model, Body(openapi_examples=examples(prob=0.9, **interval_kind))
        ],
    ) -> IntervalResponse | CategoryIntervalResponse:
        """A ``prob`` interval of each row: highest-density (``hdi``) or equal-tailed (of each
        category's probability, for a family of categories)."""
        return await served.interval(request)

    @app.post(
        "/v1/predict/density", response_model=DensityResponse, responses=errors, tags=["predict"]
    )
    async def predict_density(
        request: Annotated[density_model, Body(openapi_examples=examples(bins=20))],
    ) -> DensityResponse:
        """A histogram density of each row's predictive draws, or its quantiles."""
        return await served.density(request)
