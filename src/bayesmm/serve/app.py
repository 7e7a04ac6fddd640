"""The HTTP app: point, interval and density predictions from a fitted model.

``create_app`` loads the model once and builds request schemas from its inputs
(:mod:`~bayesmm.serve.schemas`); the endpoints are in :mod:`~bayesmm.serve.routes`, the
error answers in :mod:`~bayesmm.serve.errors`, the body limit in
:mod:`~bayesmm.serve.middleware`. Predictions are the ``FittedModel`` summaries (numpy on
the posterior draws); the model is only read after start-up, so concurrent requests are safe.
A multivariate model (``MvFittedModel``) is served by :mod:`~bayesmm.serve.mv_routes`, with
one object per response in each row's result.
"""

import importlib
import os
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from .._validation import check_count
from ..fitted import FittedModel
from ..io import load
from ..persist.importpath import check_trust
from ..persist.netcdf import versions as library_versions
from ..predict import POLICIES
from ..predict.multiresponse import MvFittedModel
from .compute import ComputePool
from .errors import add_error_handlers
from .middleware import Limits
from .mv_routes import mv_serving
from .routes import Served, Serving, add_routes, answerer
from .schemas import ColumnInfo, GroupInfo, InputColumn, ModelInfo, describe_inputs, request_models

__all__ = ["create_app"]


def create_app(
    model: FittedModel | MvFittedModel | str | os.PathLike[str],
    *,
    max_batch: int = 1000,
    max_body_bytes: int = 1_000_000,
    title: str | None = None,
    trusted: bool = False,
    allow_modules: Sequence[str] = (),
    compute_processes: int = 1,
    max_queue: int = 8,
) -> FastAPI:
    """A FastAPI app serving predictions of ``model``.

    Parameters
    ----------
    model : FittedModel, MvFittedModel or path
        A fitted model, or the path of a file written by ``Model.save`` (loaded now, once);
        a multivariate model's answers hold one object per response (``docs/serving.md``).
    max_batch : int, default 1000
        Most rows in one request.
    max_body_bytes : int, default 1,000,000
        Largest request body; larger ones get a 413.
    title : str, optional
        The title of the OpenAPI docs; by default the model's formula.
    trusted, allow_modules
        As for :func:`bayesmm.load`: whether the file may name any function, or functions
        of these modules of yours besides the vetted ones.
    compute_processes : int, default 1
        Processes that compute requests of more than 32 rows, at a lower CPU priority, so
        they do not slow down small requests (see :mod:`bayesmm.serve.compute`); started
        with the app's lifespan, which ``/readyz`` waits for. 0 computes them in the thread
        pool.
    max_queue : int, default 8
        Large requests that may wait for a compute process; the next one gets a 503 with
        ``Retry-After``.

    Raises
    ------
    bayesmm.ModelFileError
        If the model file cannot be loaded.
    bayesmm.FamilyError
        For a multivariate model with a response of categories (not served yet).
    TypeError
        If ``trusted`` is not a bool, or ``allow_modules`` not a list or tuple of str.
    """
    check_count("compute_processes", compute_processes, minimum=0)
    check_count("max_queue", max_queue, minimum=0)
    trusted, allow_modules = check_trust(trusted, allow_modules)
    fitted = (
        model
        if isinstance(model, FittedModel | MvFittedModel)
        else load(model, trusted=trusted, allow_modules=allow_modules)
    )
    if isinstance(fitted, MvFittedModel):
        serving = mv_serving(fitted, max_batch)
    else:
        serving = _serving(fitted, max_batch)
    pool = ComputePool(serving.make_answer, compute_processes, max_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ready = False
        await pool.start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            pool.stop()

    app = FastAPI(
        lifespan=lifespan,
        title=title or serving.title,
        version="1",
        description=serving.description,
    )
    add_routes(app, serving, pool)
    add_error_handlers(app)

    # ArviZ (for HDIs) takes about a second to import: load it now, off the main thread, so
    # the first interval request does not wait for it and the app answers meanwhile.
    threading.Thread(target=importlib.import_module, args=("arviz",), daemon=True).start()
    app.add_middleware(Limits, max_body_bytes=max_body_bytes)
    app.state.fitted = fitted
    app.state.pool = pool
    # Ready as built (heavy requests in the thread pool) until a lifespan starts the
    # compute processes; not ready while they start, nor once shutdown begins.
    app.state.ready = True
    return app


def _serving(fitted: FittedModel, max_batch: int) -> Serving:
    """How a univariate model is served: its inputs, request models and answers."""
    spec = fitted.spec
    if spec is None:
        raise ValueError("The model has no spec; serve a FittedModel from Model.fitted or load.")
    n_draws = fitted.posterior_draws.n_samples  # stacked once, before any request
    inputs = describe_inputs(fitted)
    return Serving(
        served=Served.of(fitted, [column.name for column in inputs]),
        models=request_models(inputs, n_draws, max_batch),
        info=_model_info(fitted, inputs),
        example_row={column.name: column.example for column in inputs},
        make_answer=partial(answerer, fitted, max_batch),
        title=f"bayesmm: {spec.formula}",
        description=(
            f"Predictions with uncertainty from a Bayesian {spec.family} model, "
            f"`{spec.formula}`, over {n_draws} posterior draws."
        ),
    )


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
