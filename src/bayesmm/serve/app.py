"""The HTTP app: point, interval and density predictions from a fitted model.

``create_app`` loads the model once and builds request schemas from its inputs
(:mod:`~bayesmm.serve.schemas`); the endpoints are in :mod:`~bayesmm.serve.routes`, the
error answers in :mod:`~bayesmm.serve.errors`, the body limit in
:mod:`~bayesmm.serve.middleware`. Predictions are the ``FittedModel`` summaries (numpy on
the posterior draws); the model is only read after start-up, so concurrent requests are safe.
"""

import importlib
import os
import threading
from collections.abc import Sequence

from fastapi import FastAPI

from ..fitted import FittedModel
from ..io import load
from ..persist.netcdf import versions as library_versions
from ..predict import POLICIES
from .errors import add_error_handlers
from .middleware import Limits
from .routes import Served, add_routes
from .schemas import ColumnInfo, GroupInfo, InputColumn, ModelInfo, describe_inputs, request_models

__all__ = ["create_app"]


def create_app(
    model: FittedModel | str | os.PathLike[str],
    *,
    max_batch: int = 1000,
    max_body_bytes: int = 1_000_000,
    title: str | None = None,
    trusted: bool = False,
    allow_modules: Sequence[str] = (),
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
    trusted, allow_modules
        As for :func:`bayesmm.load`: whether the file may name functions of any module, or
        of these modules besides the safe ones.

    Raises
    ------
    bayesmm.ModelFileError
        If the model file cannot be loaded.
    """
    fitted = (
        model
        if isinstance(model, FittedModel)
        else load(model, trusted=trusted, allow_modules=allow_modules)
    )
    spec = fitted.spec
    if spec is None:
        raise ValueError("The model has no spec; serve a FittedModel from Model.fitted or load.")
    draws = fitted.posterior_draws  # stacked once, before any request
    n_draws = draws.n_samples
    inputs = describe_inputs(fitted)
    models = request_models(inputs, n_draws, max_batch)
    names = [column.name for column in inputs]
    example_row = {column.name: column.example for column in inputs}
    info = _model_info(fitted, inputs)
    app = FastAPI(
        title=title or f"bayesmm: {spec.formula}",
        version="1",
        description=(
            f"Predictions with uncertainty from a Bayesian {spec.family} model, "
            f"`{spec.formula}`, over {n_draws} posterior draws."
        ),
    )
    add_routes(app, Served.of(fitted, names), info, models, example_row)
    add_error_handlers(app)

    # ArviZ (for HDIs) takes about a second to import: load it now, off the main thread, so
    # the first interval request does not wait for it and the app answers meanwhile.
    threading.Thread(target=importlib.import_module, args=("arviz",), daemon=True).start()
    app.add_middleware(Limits, max_body_bytes=max_body_bytes)
    app.state.fitted = fitted
    return app


def _model_info(fitted: FittedModel, inputs: list[InputColumn]) -> ModelInfo:
    """What ``/v1/model`` answers: the model, its inputs and groups, and who wrote it."""
    spec = fitted.spec
    assert spec is not None  # create_app checked
    draws = fitted.posterior_draws
    n_draws = draws.n_samples
    versions = (fitted.source or {}).get("versions") or library_versions()
    return ModelInfo(
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
