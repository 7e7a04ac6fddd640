"""Correlated group terms: the effects of a block of terms of one factor, multivariate
normal with an LKJ prior on their correlations, and the sds and correlations reported."""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..._errors import PriorError
from ..._names import mu_name, sigma_name
from ...design import Design, GroupBlock, GroupTerm
from ...priors import Prior, PriorSet
from .context import Added, GraphContext
from .variables import Containers, as_prior, distribution, hyper_dims, random_variable, term_dims


def block_effects(
    design: Design, block: GroupBlock, ctx: GraphContext, noncentered: bool, carried: Any = None
) -> Added:
    """The effects of a block of correlated terms, by term name.

    Each level's effects are multivariate normal, ``b = mu + L z`` with ``L`` the Cholesky
    factor of their covariance, ``diag(sd) @ chol(corr)``; ``corr`` has an LKJ prior
    (Lewandowski, Kurowicka and Joe 2009). Non-centred, ``z`` is sampled; centred, ``b``.
    Reported: each term's effects and sds under the names of independent terms, and each
    correlation as ``"<column>:<column>_corr"``.

    ``carried`` (centred only; see :func:`intercept_carrier`): a vector of the common
    coefficients the block's columns carry (zero where a column carries none). Each level's
    totals ``b + carried ~ MvNormal(mu + carried, L L')`` are sampled in place of ``b``, a
    shift of unit Jacobian, and the effects are the totals less ``carried``.
    """
    priors, data = ctx.priors, ctx.data
    covariance = block_covariance(design, block, priors, data)
    terms, chol, corr, sds = covariance.value
    internal = [*covariance.internal]
    n_levels, width = len(terms[0].levels), sum(len(t.columns) for t in terms)
    means = []
    for term in terms:
        mu = as_prior(priors, term.name).params.get("mu", 0.0)
        if isinstance(mu, Prior):
            mu = random_variable(mu_name(term.name), mu, hyper_dims(mu, term_dims(term)), data)
        means.append(pt.broadcast_to(pt.as_tensor(mu, dtype="float64"), (len(term.columns),)))
    mean = pt.concatenate(means)
    if noncentered:
        offset = pm.Normal(f"{block.prior_name}_offset", 0.0, 1.0, shape=(n_levels, width))
        internal.append(f"{block.prior_name}_offset")
        # b[l, i] = sum_j L[i, j] z[l, j], written elementwise: the blocks are small, and
        # a dot with a transposed factor is a non-contiguous product that nutpie's numba
        # backend warns about.
        effects = mean + (offset[:, None, :] * chol[None, :, :]).sum(axis=-1)
    elif carried is not None:
        name = f"{block.prior_name}_totals"
        totals = pm.MvNormal(name, mu=mean + carried, chol=chol, shape=(n_levels, width))
        internal.append(name)
        effects = totals - carried
    else:
        effects = pm.MvNormal(
            f"{block.prior_name}_effects", mu=mean, chol=chol, shape=(n_levels, width)
        )
        internal.append(f"{block.prior_name}_effects")
    out: dict[str, Any] = {}
    start = 0
    for term in terms:
        stop = start + len(term.columns)
        dims = term_dims(term)
        column = effects[:, start] if len(term.columns) == 1 else effects[:, start:stop]
        out[term.name] = pm.Deterministic(term.name, column, dims=dims)
        start = stop
    block_summaries(design, block, terms, corr, sds)
    return Added(out, tuple(internal))


def block_covariance(
    design: Design, block: GroupBlock, priors: PriorSet, data: Containers
) -> Added:
    """A block's terms and the Cholesky factor, correlations and sds of its effects'
    covariance (see :func:`block_effects`), as a tuple; its internal variable the factor."""
    terms = [next(t for t in design.group_terms if t.name == name) for name in block.terms]
    width = sum(len(t.columns) for t in terms)
    sd_dist = _block_sd_dist(block, terms, priors, data)
    eta = as_prior(priors, block.prior_name).params["eta"]
    name = f"{block.prior_name}_chol"
    chol, corr, sds = pm.LKJCholeskyCov(
        name, n=width, eta=float(eta), sd_dist=sd_dist, compute_corr=True, store_in_trace=False
    )
    return Added((terms, chol, corr, sds), (name,))


def block_summaries(
    design: Design, block: GroupBlock, terms: list[GroupTerm], corr: Any, sds: Any
) -> None:
    """Report a block's sds under each term's ``_sigma`` name, and its correlations."""
    start = 0
    for term in terms:
        stop = start + len(term.columns)
        if len(term.columns) == 1:
            pm.Deterministic(sigma_name(term.name), sds[start])
        else:
            pm.Deterministic(sigma_name(term.name), sds[start:stop], dims=term_dims(term)[1:])
        start = stop
    for i, j, label in design.correlation_names(block):
        pm.Deterministic(label, corr[i, j])


def _block_sd_dist(
    block: GroupBlock, terms: list[GroupTerm], priors: PriorSet, data: Containers
) -> Any:
    """One distribution of the block's sds, from each term's prior on its sigma.

    PyMC's LKJ Cholesky covariance takes the sds' prior as one vector-valued distribution, so
    the terms' sigma priors must be one distribution, with numbers for parameters.
    """
    sigma_priors = []
    for term in terms:
        prior = as_prior(priors, term.name)
        if not prior.is_normal_with_hyperprior:
            others = [t for t in block.terms if t != term.name]
            raise PriorError(
                f"priors[{term.name!r}] = {prior!r}, but the effects of {term.name!r} are "
                f"correlated with those of {others}, which needs a Normal prior with a "
                "hyperprior on sigma, e.g. Prior('Normal', mu=0, sigma=Prior('HalfNormal', "
                f"sigma=1)). Write '||' instead of '|' in the formula for independent effects."
            )
        sigma_priors.append(prior.params["sigma"])
    first = sigma_priors[0]
    for term, sigma in zip(terms, sigma_priors, strict=True):
        if (
            sigma.name != first.name
            or set(sigma.params) != set(first.params)
            or sigma.has_hyperprior
            or sigma.dist is not None
        ):
            raise PriorError(
                f"The sigma priors of the correlated terms {list(block.terms)} must be one "
                f"distribution with numbers for parameters; priors[{term.name!r}] has sigma "
                f"{sigma!r} and priors[{terms[0].name!r}] has {first!r}."
            )
    params = {
        key: np.concatenate(
            [
                np.broadcast_to(np.asarray(sigma.params[key], dtype=float), (len(term.columns),))
                for term, sigma in zip(terms, sigma_priors, strict=True)
            ]
        )
        for key in first.params
    }
    dist = distribution(first, f"{block.factor} sds")
    kwargs = {key: data.param(value) for key, value in params.items()}
    return dist.dist(**kwargs, shape=sum(len(t.columns) for t in terms))
