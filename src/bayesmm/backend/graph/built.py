"""What a built PyMC model carries: the model, its response, its internal variables and the
reading order of its posterior; and the coordinates of a design."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from ..._names import mu_name, sigma_name
from ...design import Design
from ...priors import PriorSet
from .variables import OBS_DIM, common_dim, expr_dim, factor_dim

__all__ = ["BuiltModel", "model_coords", "display_order"]


@dataclass(frozen=True)
class BuiltModel:
    """A compiled PyMC model and what is needed to tidy its samples.

    Attributes
    ----------
    model : pymc.Model
        The model.
    response : str
        The name of the observed variable.
    observed : numpy.ndarray
        The observed response.
    internal : tuple of str
        Variables sampled for the sampler's sake (non-centred offsets, the intercept of the
        centred predictors), dropped from the returned posterior.
    """

    model: pm.Model
    response: str
    observed: np.ndarray
    internal: tuple[str, ...]
    order: tuple[str, ...] = ()
    #: What the likelihood reads: ``"rows"``, or the exact summaries of
    #: :mod:`bayesmm.backend.sufficient`.
    likelihood: str = "rows"
    #: ``batched(batch_size=...)`` builds the minibatch model of these rows (for minibatch
    #: ADVI); ``None`` where there is none.
    batched: Callable[..., BuiltModel] | None = None
    #: ``complete(posterior, random_seed, log_likelihood)`` adds the variables a model
    #: integrated out, drawn from their conditional posterior (``backend.collapsed``).
    complete: Callable[[xr.Dataset, Any, bool], xr.Dataset] | None = None
    #: ``recentred()`` builds the same model with its intercept (and a block's shared
    #: slopes) carried by a group term's or block's levels (``predictors.intercept_carrier``),
    #: for ADVI and Pathfinder; ``None`` where none can, or this model is already built so.
    recentred: Callable[[], BuiltModel] | None = None
    #: ``summarised(insist)``: the model of the same rows summed, or the reason there is none
    #: (:func:`backend.graph.sufficient.summary_model`
    #: with this model's arguments); ``None`` where this model is itself a summary.
    summarised: Callable[[bool], BuiltModel | str] | None = None
    #: The observed variables, ``(name, dims, values)`` each, where there are several or one
    #: of another shape than ``observed`` (a multivariate model's); empty otherwise.
    observations: tuple[tuple[str, tuple[str, ...], np.ndarray], ...] = ()


def model_coords(design: Design) -> dict[str, Any]:
    """The coordinates of a design's model: rows, categorical slopes' levels, factors."""
    coords: dict[str, Any] = {OBS_DIM: np.arange(design.n_obs)}
    for part in design.distributional:  # the same rows; factors share their levels
        coords.update(model_coords(part.design))
    for imputed in design.imputed:  # the models of mi() columns: the same rows too
        coords.update(model_coords(imputed.design))
    for term in design.common_terms:
        if term.levels is not None:
            coords[common_dim(term.name)] = list(term.levels)
    for group in design.group_terms:
        coords[factor_dim(group.factor)] = list(group.levels)
        if group.expr_levels is not None:
            coords[expr_dim(group.expr)] = list(group.expr_levels)
    return coords


def display_order(design: Design, priors: PriorSet) -> tuple[str, ...]:
    """Posterior variables in reading order: intercept, slopes, group terms, auxiliaries."""
    names = []
    for part in (design, *(d.design for d in design.distributional)):
        names += [t.name for t in part.common_terms]
        for group in part.group_terms:
            names += [group.name, mu_name(group.name), sigma_name(group.name)]
        for block in part.blocks:
            names += [label for _, _, label in part.correlation_names(block)]
    names += [t.name for t in priors.of_kind("auxiliary")]
    for imputed in design.imputed:  # the models of mi() columns, and their imputed values
        names += [t.name for t in imputed.design.common_terms]
        for group in imputed.design.group_terms:
            names += [group.name, mu_name(group.name), sigma_name(group.name)]
        names += [sigma_name(imputed.column), f"{imputed.column}_missing"]
    return tuple(names)


def _relabel(posterior: xr.Dataset, model: pm.Model) -> xr.Dataset:
    """Level names from ``model``: a reused compiled sampler labels them as its first model."""
    labels = {d: list(model.coords[d]) for d in posterior.dims if model.coords.get(d) is not None}
    return posterior.assign_coords(labels)


def user_facing(built: BuiltModel, draws: xr.Dataset) -> xr.Dataset:
    """The user-facing variables in reading order: no internal ones, no ``*_log__`` values;
    those a summed model's ``complete`` drew are named in its reading order."""
    model = built.model
    named = {v.name for v in (*model.free_RVs, *model.deterministics)} | set(built.order)
    keep = named - set(built.internal)
    ordered = [v for v in built.order if v in keep and v in draws]
    rest = [v for v in draws.data_vars if v in keep and v not in ordered]
    return _relabel(draws[ordered + rest], model)
