"""A :class:`~bayesmm.design.Design`, a family, a link and a
:class:`~bayesmm.priors.PriorSet` become a ``pm.Model``: the linear predictors come from
``predictors`` (and the term kinds of ``graph.terms``), responses of several PyMC
distributions from ``likelihoods``, both built of ``variables``' pieces.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import replace
from typing import Any

import numpy as np
import pymc as pm

from ..._errors import DataError
from ...design import Design
from ...families import Family
from ...links import Link, get_link
from ...priors import PriorSet
from .built import BuiltModel, display_order, model_coords
from .context import GraphContext, internal_of
from .distributions import likelihood_distribution
from .likelihoods import (
    OBSERVED_PIECES,
    RESPONSE_PIECES,
    Auxiliary,
    category_response,
    row_likelihood,
)
from .predictors import intercept_carrier, linear_predictor
from .sufficient import summary_model
from .terms.imputation import imputed_columns
from .variables import OBS_DIM, PYTENSOR_OPS, Containers, powered_prior

__all__ = ["build_model"]


def build_model(
    design: Design,
    family: Family,
    link: Link,
    priors: PriorSet,
    *,
    noncentered: bool | str = "auto",
    center_predictors: bool = True,
    batch_size: int | None = None,
    centre_on_intercept: bool = False,
) -> BuiltModel:
    """Build the PyMC model of a design.

    Parameters
    ----------
    design : Design
        The encoded data.
    family : Family
        The response family.
    link : Link
        The link of the family's parent parameter.
    priors : PriorSet
        The priors of every term and auxiliary parameter.
    noncentered : bool or "auto", default "auto"
        Use the non-centred parameterisation of group-specific effects; ``"auto"`` decides
        per term with :func:`use_noncentered`.
    center_predictors : bool, default True
        Centre the common predictors when the model has an intercept.
    batch_size : int, optional
        Build the minibatch model of minibatch ADVI: its likelihood reads a random batch of
        this many rows at each evaluation, scaled up to all the rows.
    centre_on_intercept : bool, default False
        Let a group intercept's levels, or a correlated block's, carry the intercept and the
        slopes the block shares (hierarchical centring, see
        :func:`~bayesmm.backend.predictors.intercept_carrier`), where one can.

    Returns
    -------
    BuiltModel
        With ``summarised``, the model of the same rows summed where that is exact
        (:func:`~bayesmm.backend.graph.sufficient.summary_model`), which the samplers ask
        for when they choose to sample it.
    """
    built = _pymc_model(
        design,
        family,
        link,
        priors,
        noncentered,
        center_predictors,
        batch_size,
        centre_on_intercept,
    )
    summarised = functools.partial(
        summary_model,
        design,
        family,
        link,
        priors,
        noncentered=noncentered,
        center=center_predictors,
    )
    return dataclasses.replace(built, summarised=summarised)


def _pymc_model(
    design: Design,
    family: Family,
    link: Link,
    priors: PriorSet,
    noncentered: bool | str,
    center_predictors: bool,
    batch_size: int | None,
    centre_on_intercept: bool,
) -> BuiltModel:
    """The PyMC model of :func:`build_model`, without its summary."""
    _check_batch(design, batch_size)
    can_carry = intercept_carrier(design, priors, noncentered)
    carrier = can_carry if centre_on_intercept else None
    with pm.Model(coords=model_coords(design)) as model:
        data = Containers(design.n_obs, batch_size)
        aux = Auxiliary(priors.of_kind("auxiliary"), data)
        plain = GraphContext(priors, data, center_predictors, noncentered)
        imputed = imputed_columns(design, plain, linear_predictor)
        ctx = replace(plain, sigma=aux.sigma, imputed=imputed.value, carrier=carrier)
        main = linear_predictor(design, ctx)
        # The linear predictor of each distributional formula, in its order.
        others = [linear_predictor(part.design, plain) for part in design.distributional]
        categorical = family.is_categorical()
        if categorical:
            # A multinomial logit has one linear predictor per category but the reference.
            etas = [main.value, *(other.value for other in others)]
            category_response(design, family, link, priors, etas, data)
        else:
            values = aux.values()
            for part, other in zip(design.distributional, others, strict=True):
                # Each modelled auxiliary parameter through its own link (docs/formulas.md).
                values[part.param] = get_link(part.link).backend_inverse(other.value, PYTENSOR_OPS)
            kwargs = _distribution_arguments(design, family, link, values, main.value, data)
            kinds = design.response.kinds if design.state is None else design.state.response_kinds
            for kind in (k for k in RESPONSE_PIECES if k in kinds):  # se(): known spread
                kwargs = RESPONSE_PIECES[kind](design, kwargs, plain)
            observe = next((OBSERVED_PIECES[k] for k in kinds if k in OBSERVED_PIECES), None)
            if observe is None:
                _observe(design, family, kwargs, data, batch_size)
            else:  # ar(), cosy(): each row given the rows before it in its series
                observe(design, kwargs, data.response(design.response.values), plain)
        powered_prior(model, design, priors.power, data)  # sensitivity(refit=True)'s refits
        data.fill()
    internal = internal_of([imputed, main, *others])
    # How to build the model again: on a minibatch, or with a group term carrying the
    # intercept (neither for categorical responses).
    rebuild = functools.partial(
        build_model,
        design,
        family,
        link,
        priors,
        noncentered=noncentered,
        center_predictors=center_predictors,
    )
    recentres = can_carry is not None and not centre_on_intercept and not categorical
    return BuiltModel(
        model=model,
        response=design.response.name,
        observed=design.response.values,
        internal=internal,
        order=display_order(design, priors),
        batched=None
        if categorical
        else functools.partial(rebuild, centre_on_intercept=centre_on_intercept),
        recentred=functools.partial(rebuild, centre_on_intercept=True) if recentres else None,
    )


def _distribution_arguments(
    design: Design, family: Family, link: Link, values: dict[str, Any], eta: Any, data: Containers
) -> dict[str, Any]:
    """The keyword arguments of the family's PyMC distribution: the auxiliary ``values`` and
    the parent parameter from the linear predictor ``eta`` through the link (the logit
    itself where the distribution takes one), and the trials of a binomial-like response."""
    likelihood = family.likelihood
    if link.name == "logit" and link.is_registered and likelihood.logit_kwarg is not None:
        kwargs = likelihood.dist_kwargs(values)
        kwargs[likelihood.logit_kwarg] = eta
    else:
        values = {**values, likelihood.parent: link.backend_inverse(eta, PYTENSOR_OPS)}
        kwargs = likelihood.dist_kwargs(values)
    if likelihood.trials_kwarg is not None:
        # Whole numbers (checked by the family), perhaps stored as floats.
        kwargs[likelihood.trials_kwarg] = data.row_ints(np.asarray(design.response.trials))
    return kwargs


def _observe(
    design: Design,
    family: Family,
    kwargs: dict[str, Any],
    data: Containers,
    batch_size: int | None,
) -> None:
    """The observed response: one row likelihood where rows differ (censoring, truncation,
    weights), a minibatch scaled to all the rows, or the family's distribution."""
    # A slice of the data (PyMC casts it to the response's type).
    observed = data.response(design.response.values)
    dist = likelihood_distribution(family.likelihood.name)
    response = design.response
    if any(t is not None for t in (response.censoring, response.truncation, design.weights)):
        row_likelihood(design, family, dist, kwargs, observed, data)
    elif batch_size is not None:  # scaled from the batch to all the rows
        dist(response.name, observed=observed, total_size=design.n_obs, **kwargs)
    else:
        dist(response.name, observed=observed, dims=OBS_DIM, **kwargs)


def _check_batch(design: Design, batch_size: int | None) -> None:
    """Minibatch ADVI takes a response whose rows are alike and no imputed values."""
    if batch_size is None:
        return
    response = design.response
    if any(t is not None for t in (response.censoring, response.truncation, design.weights)):
        raise DataError(
            "batch_size (minibatch ADVI) needs a response without censoring or truncation and "
            "without weights; fit this model with inference_method='vi' on all its rows (no "
            "batch_size)."
        )
    if design.series is not None:
        raise DataError(
            "batch_size (minibatch ADVI) reads a batch of rows, and "
            f"{design.series.state.term.call} makes a series' rows depend on each other; fit "
            "this model without batch_size."
        )
    if design.imputed:
        raise DataError(
            "batch_size (minibatch ADVI) reads a batch of rows, and the imputed values of "
            "mi() belong to all of them; fit this model without batch_size."
        )
