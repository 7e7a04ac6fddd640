"""Serving a multivariate model: the same endpoints, one object per response in each result.

:class:`MvServed` answers ``/v1/predict/point``, ``/interval`` and ``/density`` (with its
``quantiles``) from ``MvFittedModel.draws``, each response's draws summarised as a
univariate model's are, so the numbers are ``MvFittedModel.point``'s, ``interval``'s,
``quantiles``' and ``density``'s. A row's result is ``{"responses": {"y1": {...}, "y2":
{...}}}``, in the responses' order. A request row holds the columns of every response's
formulas (each once) and never the responses: ``kind="response"`` draws them, jointly
through the residual correlation when the model has one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .._errors import FamilyError
from .._names import response_name
from ..persist.netcdf import versions as library_versions
from ..predict import POLICIES, density, interval, point_estimate, quantiles
from ..predict.multiresponse import MvFittedModel
from .errors import finite
from .routes import Serving, request_options
from .schemas import (
    ColumnInfo,
    GroupInfo,
    InputColumn,
    MvDensityResponse,
    MvIntervalResponse,
    MvModelInfo,
    MvPointResponse,
    ResponseInfo,
    describe_state,
    request_models,
)

__all__ = ["MvServed", "mv_inputs", "mv_answerer", "mv_model_info", "mv_serving"]


@dataclass(frozen=True)
class MvServed:
    """A loaded multivariate model and the input columns of its requests."""

    fitted: MvFittedModel
    names: tuple[str, ...]

    @classmethod
    def of(cls, fitted: MvFittedModel, names: list[str]) -> MvServed:
        """Raises a ``FamilyError`` for a response of categories (not served yet)."""
        for response in fitted.responses:
            family = fitted.families[response]
            levels = fitted.design.design_of(response).response.levels
            if family.category_labels(levels) is not None:
                raise FamilyError(
                    f"The response {response!r} has family {family.name!r}, which predicts a "
                    "probability for each category; the server does not serve a multivariate "
                    "model with such a response yet. Predict it with the MvFittedModel."
                )
        return cls(fitted, tuple(names))

    def response_models(self) -> dict[str, Any]:
        """The answers' models of the point, interval and density endpoints."""
        return {
            "point": MvPointResponse,
            "interval": MvIntervalResponse,
            "density": MvDensityResponse,
        }

    def interval_example(self) -> dict[str, Any]:
        """What the interval endpoint's example asks beyond its rows: nothing."""
        return {}

    def answer(self, endpoint: str, request: Any) -> bytes:
        """The JSON of the answer to a validated request of ``endpoint`` ("point",
        "interval" or "density")."""
        compute = {"point": self.point, "interval": self.interval, "density": self.density}
        return compute[endpoint](request).model_dump_json().encode()

    def frame(self, request: Any) -> pd.DataFrame:
        records = [row.model_dump(by_alias=True) for row in request.rows]
        return pd.DataFrame.from_records(records, columns=list(self.names))

    def draws(self, request: Any) -> dict[str, np.ndarray]:
        """Each response's (draws, rows) predictions; overflow on extreme inputs becomes a
        422 naming the response, not noise."""
        options = request_options(request)
        with np.errstate(all="ignore"):
            found = self.fitted.draws(self.frame(request), request.kind, options=options)
        return {r: finite(values, f"prediction of {r!r}") for r, values in found.items()}

    def _results(
        self, found: dict[str, np.ndarray], summary: Callable[[np.ndarray], list[Any]]
    ) -> list[dict[str, Any]]:
        """One result per row: ``{"responses": {response: its summary of the row}}``."""
        by_response = {r: summary(values) for r, values in found.items()}
        n_rows = next(iter(found.values())).shape[1]
        return [{"responses": {r: by_response[r][i] for r in found}} for i in range(n_rows)]

    def point(self, request: Any) -> MvPointResponse:
        found = self.draws(request)

        def summary(values: np.ndarray) -> list[Any]:
            with np.errstate(all="ignore"):
                estimates = finite(point_estimate(values, request.stat), "estimate", 0)
            return [{"value": float(v)} for v in estimates]

        return MvPointResponse(
            kind=request.kind,
            n_draws=_n_draws(found),
            stat=request.stat,
            results=self._results(found, summary),
        )

    def interval(self, request: Any) -> MvIntervalResponse:
        found = self.draws(request)

        def summary(values: np.ndarray) -> list[Any]:
            with np.errstate(all="ignore"):
                bounds = finite(interval(values, request.prob, request.method), "interval", 0)
            return [{"lower": float(lo), "upper": float(hi)} for lo, hi in bounds]

        return MvIntervalResponse(
            kind=request.kind,
            n_draws=_n_draws(found),
            prob=request.prob,
            method=request.method,
            results=self._results(found, summary),
        )

    def density(self, request: Any) -> MvDensityResponse:
        found = self.draws(request)
        return MvDensityResponse(
            kind=request.kind,
            n_draws=_n_draws(found),
            results=self._results(found, partial(_density_results, request)),
        )


def _n_draws(found: dict[str, np.ndarray]) -> int:
    return int(next(iter(found.values())).shape[0])


def _density_results(request: Any, values: np.ndarray) -> list[dict[str, Any]]:
    """Each row's quantiles (when the request asks for them) or histogram density."""
    if request.quantiles is not None:
        with np.errstate(all="ignore"):
            table = finite(quantiles(values, request.quantiles), "quantile", 0)
        return [{"probs": list(request.quantiles), "quantiles": row.tolist()} for row in table]
    with np.errstate(all="ignore"):
        all_edges, all_heights = density(values, request.bins)
    finite(all_edges, "histogram", 0)
    finite(all_heights, "density", 0)
    return [
        {"x": ((edges[:-1] + edges[1:]) / 2).tolist(), "density": heights.tolist()}
        for edges, heights in zip(all_edges, all_heights, strict=True)
    ]


def mv_inputs(fitted: MvFittedModel) -> list[InputColumn]:
    """The columns a request row needs: every response's inputs, each column once (required
    when any response requires it)."""
    merged: dict[str, InputColumn] = {}
    for response in fitted.responses:
        state = fitted.design.design_of(response).state
        if state is None:
            raise ValueError(f"The response {response!r} has no design state to describe.")
        for column in describe_state(state):
            known = merged.setdefault(column.name, column)
            if known.optional and not column.optional:
                merged[column.name] = replace(known, optional=False)
    return list(merged.values())


def mv_answerer(fitted: MvFittedModel, max_batch: int) -> Callable[[str, str], bytes]:
    """``answer(endpoint, body)``: the JSON answer to a request's JSON body, validated as the
    app validates it. What a compute process builds once, from the model it is given."""
    inputs = mv_inputs(fitted)
    n_draws = fitted.posterior_draws(fitted.responses[0]).n_samples
    models = request_models(inputs, n_draws, max_batch)
    served = MvServed.of(fitted, [column.name for column in inputs])

    def answer(endpoint: str, body: str) -> bytes:
        return served.answer(endpoint, models[endpoint].model_validate_json(body))

    return answer


def mv_model_info(fitted: MvFittedModel, inputs: list[InputColumn]) -> MvModelInfo:
    """What ``/v1/model`` answers for a multivariate model: its formulas, each response's
    family and link, its inputs and groups (terms named by response), and who wrote it."""
    spec = fitted.spec
    draws = fitted.posterior_draws(fitted.responses[0])
    versions = (fitted.source or {}).get("versions") or library_versions()
    groups: dict[str, GroupInfo] = {}
    for response in fitted.responses:
        for term in fitted.design.design_of(response).group_terms:
            info = groups.setdefault(
                term.factor, GroupInfo(factor=term.factor, terms=[], n_levels=len(term.levels))
            )
            info.terms.append(response_name(response, term.name))
    return MvModelInfo(
        formula=spec.formula,
        responses=[
            ResponseInfo(
                name=response,
                formula=part.formula,
                family=part.family,
                link=part.link,
            )
            for response, part in zip(fitted.responses, spec.by_response, strict=True)
        ],
        rescor=fitted.design.rescor,
        inputs=[
            ColumnInfo(
                name=c.name,
                role=c.role,
                type=c.type,
                levels=list(c.levels) if c.levels is not None else None,
            )
            for c in inputs
        ],
        groups=list(groups.values()),
        chains=draws.chains,
        draws=draws.n_samples,
        sample_new_groups=fitted.sample_new_groups,
        policies=[*POLICIES],
        versions={str(k): str(v) for k, v in versions.items()},
        data_sha256=fitted.data_sha256,
    )


def mv_serving(fitted: MvFittedModel, max_batch: int) -> Serving:
    """How a multivariate model is served: its inputs, request models and answers.

    Raises
    ------
    ValueError
        If the model has no spec (it was not made by ``MvModel.fitted`` or ``bmm.load``).
    FamilyError
        For a response of categories.
    """
    spec = fitted.spec
    if spec is None:
        raise ValueError(
            "The model has no spec; serve an MvFittedModel from MvModel.fitted or load."
        )
    # Each response's posterior stacked once, before any request.
    stacked = [fitted.posterior_draws(r) for r in fitted.responses]
    n_draws = stacked[0].n_samples
    inputs = mv_inputs(fitted)
    families = ", ".join(f"{r}: {f.name}" for r, f in fitted.families.items())
    return Serving(
        served=MvServed.of(fitted, [column.name for column in inputs]),
        models=request_models(inputs, n_draws, max_batch),
        info=mv_model_info(fitted, inputs),
        example_row={column.name: column.example for column in inputs},
        make_answer=partial(mv_answerer, fitted, max_batch),
        title=f"bayesmm: {spec.formula}",
        description=(
            f"Predictions with uncertainty from a Bayesian multivariate model of "
            f"{list(fitted.responses)} ({families}), `{spec.formula}`, over {n_draws} "
            "posterior draws; each result holds one object per response."
        ),
    )
