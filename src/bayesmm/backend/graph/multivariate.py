"""The PyMC model of a multivariate model: each response's linear predictors, as a univariate
model's with its terms named by the response, and either each response's own likelihood or,
with residual correlations (``rescor``), one multivariate normal (or t) of the responses of
each row, whose correlation matrix has an LKJ prior.

The correlation is reported as one scalar per pair of responses, ``y1:y2_rescor``; the
responses' sds are their own ``y1_sigma``, which may vary by row (a ``sigma ~ x`` formula):
row ``i``'s covariance is ``diag(s_i) R diag(s_i)``, its Cholesky factor ``diag(s_i) L``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..._names import (
    RESCOR_PRIOR,
    RESPONSE_DIM,
    joint_response_name,
    rescor_name,
    response_name,
)
from ...design.multivariate import MvDesign
from ...families import Family
from ...links import Link, get_link
from ...priors import PriorSet, TermPrior
from .assemble import distribution_arguments, observe
from .built import BuiltModel, display_order, model_coords
from .context import Added, GraphContext, internal_of
from .likelihoods import auxiliary
from .predictors import linear_predictor
from .variables import OBS_DIM, PYTENSOR_OPS, Containers, as_prior

__all__ = ["build_mv_model", "RESCOR_INTERNAL", "NO_SUMMARY"]

#: The LKJ variable of the residual correlations (packed, as PyMC samples it); internal.
RESCOR_INTERNAL = "rescor_lkj"
#: Why a multivariate model samples its rows (``sufficient_statistics``).
NO_SUMMARY = "the model has several responses, whose exact summaries bayesmm does not compute yet"


def build_mv_model(
    design: MvDesign,
    families: Mapping[str, Family],
    links: Mapping[str, Link],
    priors: PriorSet,
    *,
    noncentered: bool | str = "auto",
    center_predictors: bool = True,
) -> BuiltModel:
    """Build the PyMC model of a multivariate design.

    Parameters
    ----------
    design : MvDesign
        Each response's design, and whether their residuals are correlated.
    families, links : mapping
        Each response's family, and the link of its parent parameter.
    priors : PriorSet
        Every prior, named by response (``y1_x``), and ``rescor`` with correlated residuals.
    noncentered, center_predictors
        As for :func:`~bayesmm.backend.graph.build_model`.

    Returns
    -------
    BuiltModel
        Its ``observations`` are the observed variables: one per response, or the joint one
        (``y1:y2``, over rows and ``__response__``) with ``rescor``.
    """
    coords: dict[str, Any] = {}
    for response in design.responses:
        coords.update(model_coords(design.prefixed(response)))
    coords[RESPONSE_DIM] = list(design.responses)
    added: list[Added] = []
    order: list[str] = []
    with pm.Model(coords=coords) as model:
        data = Containers(design.n_obs)
        plain = GraphContext(priors, data, center_predictors, noncentered)
        shared = _shared_auxiliary(priors, data)
        arguments = {}
        for response in design.responses:
            kwargs, parts = _response_arguments(
                design.prefixed(response), families[response], links[response], plain, shared
            )
            arguments[response] = kwargs
            added += parts
            order += display_order(design.prefixed(response), _aux_of(priors, response))
        if design.rescor:
            observations = _joint(design, families, arguments, priors, data)
            order += [name for name, _, _ in _rescor_pairs(design.responses)]
        else:
            for response in design.responses:
                part = design.prefixed(response)
                observe(part, families[response], arguments[response], data, None)
            observations = tuple(
                (r, (OBS_DIM,), d.response.values)
                for r, d in zip(design.responses, design.designs, strict=True)
            )
        data.fill()
    internal = internal_of(added) + ((RESCOR_INTERNAL,) if design.rescor else ())
    return BuiltModel(
        model=model,
        response=observations[0][0],
        observed=design.designs[0].response.values,
        internal=internal,
        order=(*order, *shared),
        summarised=functools.partial(_no_summary),
        observations=observations,
    )


def _no_summary(insist: bool) -> str:
    return NO_SUMMARY


def _aux_of(priors: PriorSet, response: str) -> PriorSet:
    """The auxiliary priors of ``response``, named by it (for the reading order)."""
    prefix = response_name(response, "")
    return PriorSet(tuple(t for t in priors.of_kind("auxiliary") if t.name.startswith(prefix)))


def _shared_auxiliary(priors: PriorSet, data: Containers) -> dict[str, Any]:
    """The auxiliary parameters the responses share (correlated t responses' ``nu``)."""
    terms = [t for t in priors.of_kind("auxiliary") if t.name == "nu"]
    return auxiliary(terms, data)


def _response_arguments(
    design: Any, family: Family, link: Link, plain: GraphContext, shared: dict[str, Any]
) -> tuple[dict[str, Any], list[Added]]:
    """One response's linear predictors and the arguments of its family's distribution."""
    prefix = response_name(design.response.name, "")
    own: list[TermPrior] = [
        replace(t, name=t.name[len(prefix) :])
        for t in plain.priors.of_kind("auxiliary")
        if t.name.startswith(prefix) and t.name[len(prefix) :] in family.aux_params
    ]
    made = auxiliary([replace(t, name=prefix + t.name) for t in own], plain.data)
    values = {t.name: made[prefix + t.name] for t in own}
    values.update({k: v for k, v in shared.items() if k in family.aux_params})
    ctx = replace(plain, sigma=lambda: values.get("sigma", 1.0))
    main = linear_predictor(design, ctx)
    others = [linear_predictor(part.design, plain) for part in design.distributional]
    for part, other in zip(design.distributional, others, strict=True):
        values[part.param] = get_link(part.link).backend_inverse(other.value, PYTENSOR_OPS)
    kwargs = distribution_arguments(design, family, link, values, main.value, plain.data)
    return kwargs, [main, *others]


def _rescor_pairs(responses: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """Each pair's correlation name and its place in the matrix, in PyMC's packed order
    (the upper triangle by rows)."""
    rows, cols = np.triu_indices(len(responses), 1)
    return [
        (rescor_name(responses[i], responses[j]), int(i), int(j))
        for i, j in zip(rows, cols, strict=True)
    ]


def _joint(
    design: MvDesign,
    families: Mapping[str, Family],
    arguments: Mapping[str, dict[str, Any]],
    priors: PriorSet,
    data: Containers,
) -> tuple[tuple[str, tuple[str, ...], np.ndarray], ...]:
    """The responses of each row as one multivariate normal (or t) with correlated
    residuals; returns the observed variable."""
    responses = design.responses
    k = len(responses)
    eta = float(as_prior(priors, RESCOR_PRIOR).params["eta"])
    packed = pm.LKJCorr(RESCOR_INTERNAL, n=k, eta=eta)
    rows, cols = np.triu_indices(k, 1)
    corr = pt.eye(k)
    corr = pt.set_subtensor(corr[rows, cols], packed)
    corr = pt.set_subtensor(corr[cols, rows], packed)
    for name, i, j in _rescor_pairs(responses):
        pm.Deterministic(name, corr[i, j])
    chol = pt.linalg.cholesky(corr)
    n = data.row_count()
    mu = pt.stack([pt.broadcast_to(arguments[r]["mu"], (n,)) for r in responses], axis=1)
    sds = [arguments[r]["sigma"] for r in responses]
    if all(np.ndim(s) == 0 or getattr(s, "ndim", 0) == 0 for s in sds):
        scale = pt.stack([pt.as_tensor(s) for s in sds])[:, None] * chol
    else:  # a sigma formula: each row's own Cholesky factor
        sd = pt.stack([pt.broadcast_to(s, (n,)) for s in sds], axis=1)
        scale = sd[:, :, None] * chol[None, :, :]
    values = np.column_stack([d.response.values for d in design.designs])
    observed = data.rows(values)
    name = joint_response_name(responses)
    dims = (OBS_DIM, RESPONSE_DIM)
    if families[responses[0]].name == "t":
        nu = arguments[responses[0]]["nu"]
        pm.MvStudentT(name, nu=nu, mu=mu, chol=scale, observed=observed, dims=dims)
    else:
        pm.MvNormal(name, mu=mu, chol=scale, observed=observed, dims=dims)
    return ((name, dims, values),)
