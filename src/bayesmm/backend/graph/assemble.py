"""A :class:`~bayesmm.design.Design`, a family, a link and a
:class:`~bayesmm.priors.PriorSet` become a ``pm.Model``: the linear predictors come from
``predictors`` (and the term kinds of ``graph.terms``), responses of several PyMC
distributions from ``likelihoods``, both built of ``variables``' pieces.

A multivariate design (:func:`build_mv_model`) has each response's linear predictors, as a
univariate model's with its terms named by the response, and either each response's own
likelihood or, with residual correlations (``rescor``), one multivariate normal (or t) of
the responses of each row, whose correlation matrix has an LKJ prior. The correlation is
reported as one scalar per pair of responses, ``y1:y2_rescor``; the responses' sds are their
own ``y1_sigma``, which may vary by row (a ``sigma ~ x`` formula): row ``i``'s covariance is
``diag(s_i) R diag(s_i)``, its Cholesky factor ``diag(s_i) L``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..._errors import DataError
from ..._names import (
    RESCOR_PRIOR,
    RESPONSE_DIM,
    joint_response_name,
    rescor_name,
    response_name,
)
from ...design import Design
from ...design.multivariate import MvDesign
from ...families import Family
from ...links import Link, get_link
from ...priors import PriorSet, TermPrior
from .blocks import block_effects
from .built import BuiltModel, display_order, model_coords
from .context import Added, GraphContext, internal_of
from .distributions import likelihood_distribution
from .likelihoods import (
    OBSERVED_PIECES,
    RESPONSE_PIECES,
    Auxiliary,
    auxiliary,
    category_response,
    row_likelihood,
)
from .predictors import intercept_carrier, linear_predictor, use_noncentered
from .sufficient import summary_model
from .terms.imputation import imputed_columns
from .terms.residuals import latent_series
from .variables import OBS_DIM, PYTENSOR_OPS, Containers, as_prior, powered_prior

__all__ = ["build_model", "build_mv_model", "RESCOR_INTERNAL", "NO_SUMMARY"]


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
        latent = design.series is not None and design.series.state.term.latent
        if latent:  # ar() of a family without a residual sd: a latent residual on eta
            residual = latent_series(design, ctx)
            main = Added(main.value + residual.value, main.internal + residual.internal)
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
            pieces = () if latent else kinds
            observe = next((OBSERVED_PIECES[k] for k in pieces if k in OBSERVED_PIECES), None)
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


#: The canonical partial correlations of the residuals, as Beta variables (``lkj_cholesky``);
#: internal.
RESCOR_INTERNAL = "rescor_cpc"
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
        linked = _linked_effects(design, plain)
        added.append(linked)
        plain = replace(plain, linked=linked.value)
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
                _observe(part, families[response], arguments[response], data, None)
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


def _linked_effects(design: MvDesign, ctx: GraphContext) -> Added:
    """The effects of the blocks linked across responses (``gr(g, id=)``), by term name:
    each one correlated block over the responses' terms, built as a block of one formula's
    terms is (:func:`~bayesmm.backend.graph.blocks.block_effects`)."""
    effects: dict[str, Any] = {}
    internal: list[str] = []
    for linked in design.linked:
        joint = design.linked_design(linked)
        centring = use_noncentered(joint.group_terms[0], design.n_obs, ctx.noncentered)
        piece = block_effects(joint, linked.block, ctx, centring)
        effects.update(piece.value)
        internal += piece.internal
    return Added(effects, tuple(internal))


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
    kwargs = _distribution_arguments(design, family, link, values, main.value, plain.data)
    return kwargs, [main, *others]


def lkj_cholesky(name: str, k: int, eta: float) -> Any:
    """The Cholesky factor of a ``k x k`` correlation matrix with an LKJ(``eta``) prior,
    built from its canonical partial correlations (a C-vine; Lewandowski, Kurowicka and Joe
    2009). The partial correlation of ``j < i`` given ``0..j-1`` is ``2 B - 1`` with ``B ~
    Beta(b_j, b_j)``, ``b_j = eta + (k - 2 - j) / 2``, each independent: then the matrix is
    LKJ. Row ``i`` of the factor is ``z_ji sqrt(prod_{m<j} (1 - z_mi^2))`` and its diagonal
    the rest of the unit length. No sds: PyMC's LKJ Cholesky covariance would add ``k``
    scales in no likelihood, whose funnel made NUTS diverge."""
    rows, cols = np.triu_indices(k, 1)
    shape = eta + (k - 2 - rows) / 2.0
    z = 2.0 * pm.Beta(name, alpha=shape, beta=shape, shape=len(rows)) - 1.0
    index = {(int(j), int(i)): n for n, (j, i) in enumerate(zip(rows, cols, strict=True))}
    one = pt.as_tensor(1.0, dtype="float64")
    zero = pt.as_tensor(0.0, dtype="float64")
    factor = []
    for i in range(k):
        remaining, row = one, []
        for j in range(i):
            value = z[index[(j, i)]] * pt.sqrt(remaining)
            remaining = remaining - value**2
            row.append(value)
        factor.append(pt.stack([*row, pt.sqrt(remaining), *([zero] * (k - i - 1))]))
    return pt.stack(factor)


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
    chol = lkj_cholesky(RESCOR_INTERNAL, k, eta)
    corr = chol @ chol.T
    for name, i, j in _rescor_pairs(responses):
        pm.Deterministic(name, corr[i, j])
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
