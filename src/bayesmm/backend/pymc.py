"""The PyMC backend: the only module that imports pymc and pytensor.

It turns a :class:`~bayesmm.design.Design`, a family, a link and a
:class:`~bayesmm.priors.PriorSet` into a ``pm.Model``, and runs a NUTS sampler on it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc.exceptions import TruncationError
from pytensor.compile.sharedvalue import SharedVariable

from .._errors import BackendError, FamilyError, PriorError
from .._validation import choice_message, did_you_mean
from ..design import Design, GroupBlock, GroupTerm, threshold_labels
from ..families import Family
from ..links import Link, get_link
from ..priors import Prior, PriorSet, TermPrior
from .compiled import CompiledCache

__all__ = ["BuiltModel", "build_model", "sample", "prior_predictive", "SAMPLERS", "OBS_DIM"]

OBS_DIM = "__obs__"

#: The dimension of a multinomial response's categories (as prediction's, see ``fitted``).
CATEGORY_DIM = "__category__"

#: The prefix of the names of the model's data containers.
DATA_PREFIX = "@"

#: Largest log-likelihood stored by default: 25 million float64 values, 200 MB.
LOG_LIKELIHOOD_MAX_VALUES = 25_000_000

_log = logging.getLogger("bayesmm")

#: pytensor versions of the operations that inverse links use.
PYTENSOR_OPS = SimpleNamespace(
    exp=pt.exp,
    log=pt.log,
    sqrt=pt.sqrt,
    expit=pt.sigmoid,
    normal_cdf=lambda x: 0.5 * (1 + pt.erf(x / np.sqrt(2.0))),
    arctan=pt.arctan,
)


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


class _Containers:
    """The data of a model, packed into two named containers.

    The data, and every number scaled from them (prior parameters, column means), enter the
    graph through containers rather than as constants, so that a compiled sampler can be
    reused on other data of the same structure (see :mod:`bayesmm.backend.compiled`). There
    are two, because nutpie's compile time grows by most of a second with each container:

    - ``@params``: every number of the priors, and the column means, as one vector;
    - ``@rows``: every per-row value, one column each: common predictors, group-term values,
      group-level indexes, binomial trials and the response (whole numbers are exact in
      float64 up to 2**53, and are cast back in the graph).

    Both are made, empty, at their first use and filled by :meth:`fill` once the whole graph
    is built. Their names start with :data:`DATA_PREFIX`, which keeps them apart from the
    terms, whose names come from column names.
    """

    def __init__(self, n_obs: int) -> None:
        self.n_obs = n_obs
        self._parts: dict[str, list[np.ndarray]] = {}
        self._sizes: dict[str, int] = {}
        self._containers: dict[str, Any] = {}

    def _add(self, name: str, part: np.ndarray, width: int) -> tuple[Any, int]:
        if name not in self._containers:
            empty, dims = np.zeros(0), None
            if name == "rows":
                empty, dims = np.zeros((self.n_obs, 0)), (OBS_DIM, f"{DATA_PREFIX}rows_column")
            self._containers[name] = pm.Data(f"{DATA_PREFIX}{name}", empty, dims=dims)
            self._parts[name], self._sizes[name] = [], 0
        start = self._sizes[name]
        self._parts[name].append(part)
        self._sizes[name] += width
        return self._containers[name], start

    def param(self, value: Any) -> Any:
        """A prior parameter (or any number or array not per row)."""
        value = np.asarray(value, dtype=float)
        vector, start = self._add("params", value.ravel(), value.size)
        if value.ndim == 0:
            return vector[start]
        return vector[start : start + value.size].reshape(value.shape)

    def rows(self, values: np.ndarray) -> Any:
        """Per-row floats, shape ``(n_obs, k)``."""
        values = np.asarray(values, dtype=float).reshape(self.n_obs, -1)
        matrix, start = self._add("rows", values, values.shape[1])
        return matrix[:, start : start + values.shape[1]]

    def row_ints(self, values: np.ndarray) -> Any:
        """A per-row column of whole numbers, shape ``(n_obs,)``, as int32."""
        return pt.cast(self.rows(values)[:, 0], "int32")

    def fill(self) -> None:
        """Give each container its values, now that the graph is built."""
        for name, container in self._containers.items():
            container.set_value(
                np.concatenate(self._parts[name], axis=0 if name == "params" else 1)
            )


def _common_dim(name: str) -> str:
    return f"{name}_dim"


def factor_dim(factor: str) -> str:
    """The dimension name of a grouping factor's levels."""
    return f"{factor}__factor_dim"


def expr_dim(expr: str) -> str:
    """The dimension name of the columns of a group term's expression."""
    return f"{expr}__expr_dim"


def _distribution(prior: Prior, where: str) -> Any:
    dist = getattr(pm, prior.name, None)
    if not (isinstance(dist, type) and issubclass(dist, pm.Distribution)):
        names = [
            n
            for n in dir(pm)
            if isinstance(getattr(pm, n), type) and issubclass(getattr(pm, n), pm.Distribution)
        ]
        raise PriorError(
            f"The prior of {where!r} names the distribution {prior.name!r}, which PyMC does not "
            "have." + did_you_mean(prior.name, names)
        )
    return dist


def _random_variable(
    name: str, prior: Prior, dims: tuple[str, ...] | None, data: _Containers
) -> Any:
    """Create ``name ~ prior``; parameters that are Priors become ``name_param`` variables.

    Hyperparameters of a vector-valued term get the term's last dimension when their own
    default values are vectors, and are scalars otherwise.
    """
    dist = prior.dist if prior.dist is not None else _distribution(prior, name)
    kwargs = {}
    for param, value in prior.params.items():
        if isinstance(value, Prior):
            sub_dims = _hyper_dims(value, dims)
            kwargs[param] = _random_variable(f"{name}_{param}", value, sub_dims, data)
        elif isinstance(value, str):
            kwargs[param] = value
        elif prior.dist is not None:
            # A user's own distribution function gets plain numbers, as documented.
            kwargs[param] = np.asarray(value, dtype=float)
        else:
            kwargs[param] = data.param(value)
    try:
        return dist(name, dims=dims, **kwargs)
    except (TypeError, ValueError) as err:
        raise PriorError(f"The prior {prior!r} of {name!r} is invalid: {err}") from None


def _hyper_dims(prior: Prior, dims: tuple[str, ...] | None) -> tuple[str, ...] | None:
    vector = any(np.ndim(v) > 0 for v in prior.params.values() if not isinstance(v, Prior))
    if vector and dims:
        return (dims[-1],)
    return None


#: ``noncentered="auto"`` centres a group term whose levels have at least this many rows on
#: average (see :func:`use_noncentered`).
CENTRED_MIN_ROWS_PER_LEVEL = 20


def use_noncentered(term: GroupTerm, n_obs: int, noncentered: bool | str) -> bool:
    """Whether ``term`` gets the non-centred parameterisation.

    ``"auto"``: non-centred unless its levels have :data:`CENTRED_MIN_ROWS_PER_LEVEL` rows or
    more on average. With few rows per level the data say little about each effect, and the
    non-centred form avoids the funnel between the effects and their sd; with many, the
    likelihood pins each effect down and the centred form mixes better (Papaspiliopoulos,
    Roberts and Skold 2007). On InstEval (25 to 5,000 rows per level) centring every term
    raises the smallest ESS; see ``benchmarks/README.md``.
    """
    if isinstance(noncentered, bool):
        return noncentered
    return n_obs / max(len(term.levels), 1) < CENTRED_MIN_ROWS_PER_LEVEL


def _group_effect(
    term: GroupTerm, prior: Prior, noncentered: bool, internal: list[str], data: _Containers
) -> Any:
    dims = _term_dims(term)
    is_normal = prior.name == "Normal" and isinstance(prior.params.get("sigma"), Prior)
    if not (noncentered and is_normal):
        return _random_variable(term.name, prior, dims, data)
    # Non-centred: b = mu + sigma * z with z ~ Normal(0, 1) (Papaspiliopoulos et al. 2007).
    sigma_prior = prior.params["sigma"]
    sigma = _random_variable(
        f"{term.name}_sigma", sigma_prior, _hyper_dims(sigma_prior, dims), data
    )
    mu = prior.params.get("mu", 0.0)
    if isinstance(mu, Prior):
        mu = _random_variable(f"{term.name}_mu", mu, _hyper_dims(mu, dims), data)
    offset = pm.Normal(f"{term.name}_offset", mu=0.0, sigma=1.0, dims=dims)
    internal.append(f"{term.name}_offset")
    return pm.Deterministic(term.name, mu + offset * sigma, dims=dims)


def _block_sd_dist(
    block: GroupBlock, terms: list[GroupTerm], priors: PriorSet, data: _Containers
) -> Any:
    """One distribution of the block's sds, from each term's prior on its sigma.

    PyMC's LKJ Cholesky covariance takes the sds' prior as one vector-valued distribution, so
    the terms' sigma priors must be one distribution, with numbers for parameters.
    """
    sigma_priors = []
    for term in terms:
        prior = _as_prior(priors, term.name)
        sigma = prior.params.get("sigma")
        if prior.name != "Normal" or not isinstance(sigma, Prior):
            others = [t for t in block.terms if t != term.name]
            raise PriorError(
                f"priors[{term.name!r}] = {prior!r}, but the effects of {term.name!r} are "
                f"correlated with those of {others}, which needs a Normal prior with a "
                "hyperprior on sigma, e.g. Prior('Normal', mu=0, sigma=Prior('HalfNormal', "
                f"sigma=1)). Write '||' instead of '|' in the formula for independent effects."
            )
        sigma_priors.append(sigma)
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
    dist = _distribution(first, f"{block.factor} sds")
    kwargs = {key: data.param(value) for key, value in params.items()}
    return dist.dist(**kwargs, shape=sum(len(t.columns) for t in terms))


def _block_effects(
    design: Design,
    block: GroupBlock,
    priors: PriorSet,
    noncentered: bool,
    internal: list[str],
    data: _Containers,
) -> dict[str, Any]:
    """The effects of a block of correlated terms, by term name.

    Each level's effects are multivariate normal, ``b = mu + L z`` with ``L`` the Cholesky
    factor of their covariance, ``diag(sd) @ chol(corr)``; ``corr`` has an LKJ prior
    (Lewandowski, Kurowicka and Joe 2009). Non-centred, ``z`` is sampled; centred, ``b``.
    Reported: each term's effects and sds under the names of independent terms, and each
    correlation as ``"<column>:<column>_corr"``.
    """
    terms = [next(t for t in design.group_terms if t.name == name) for name in block.terms]
    n_levels, width = len(terms[0].levels), sum(len(t.columns) for t in terms)
    sd_dist = _block_sd_dist(block, terms, priors, data)
    eta = _as_prior(priors, block.prior_name).params["eta"]
    name = f"{block.prior_name}_chol"
    chol, corr, sds = pm.LKJCholeskyCov(
        name, n=width, eta=float(eta), sd_dist=sd_dist, compute_corr=True, store_in_trace=False
    )
    internal.append(name)
    means = []
    for term in terms:
        mu = _as_prior(priors, term.name).params.get("mu", 0.0)
        if isinstance(mu, Prior):
            mu = _random_variable(f"{term.name}_mu", mu, _hyper_dims(mu, _term_dims(term)), data)
        means.append(pt.broadcast_to(pt.as_tensor(mu, dtype="float64"), (len(term.columns),)))
    mean = pt.concatenate(means)
    if noncentered:
        offset = pm.Normal(f"{block.prior_name}_offset", 0.0, 1.0, shape=(n_levels, width))
        internal.append(f"{block.prior_name}_offset")
        effects = mean + pt.dot(offset, chol.T)
    else:
        effects = pm.MvNormal(
            f"{block.prior_name}_effects", mu=mean, chol=chol, shape=(n_levels, width)
        )
        internal.append(f"{block.prior_name}_effects")
    out = {}
    start = 0
    for term in terms:
        stop = start + len(term.columns)
        dims = _term_dims(term)
        if len(term.columns) == 1:
            out[term.name] = pm.Deterministic(term.name, effects[:, start], dims=dims)
            pm.Deterministic(f"{term.name}_sigma", sds[start])
        else:
            out[term.name] = pm.Deterministic(term.name, effects[:, start:stop], dims=dims)
            pm.Deterministic(f"{term.name}_sigma", sds[start:stop], dims=dims[1:])
        start = stop
    for i, j, label in design.correlation_names(block):
        pm.Deterministic(label, corr[i, j])
    return out


def _term_dims(term: GroupTerm) -> tuple[str, ...]:
    dims: tuple[str, ...] = (factor_dim(term.factor),)
    if len(term.columns) > 1:
        dims = (*dims, expr_dim(term.expr))
    return dims


def _coords(design: Design) -> dict[str, Any]:
    coords: dict[str, Any] = {OBS_DIM: np.arange(design.n_obs)}
    for part in design.distributional:  # the same rows; factors share their levels
        coords.update(_coords(part.design))
    for term in design.common_terms:
        if term.levels is not None:
            coords[_common_dim(term.name)] = list(term.levels)
    for group in design.group_terms:
        coords[factor_dim(group.factor)] = list(group.levels)
        if group.expr_levels is not None:
            coords[expr_dim(group.expr)] = list(group.expr_levels)
    return coords


def _common_predictor(
    design: Design, priors: PriorSet, center: bool, internal: list[str], data: _Containers
) -> Any:
    """The common part of the linear predictor; registers ``Intercept`` on the user's scale."""
    slopes = [t for t in design.common_terms if not t.is_intercept]
    eta: Any = 0.0
    coefficients = []
    for term in slopes:
        dims = (_common_dim(term.name),) if term.levels is not None else None
        beta = _random_variable(term.name, _as_prior(priors, term.name), dims, data)
        coefficients.append(pt.atleast_1d(beta))
    columns = [j for t in slopes for j in range(t.start, t.stop)]
    X = design.common[:, columns] if slopes else None
    centred = center and design.has_intercept and X is not None
    if X is not None:
        beta_all = pt.concatenate(coefficients) if len(coefficients) > 1 else coefficients[0]
        means = X.mean(axis=0)
        eta = pt.dot(data.rows(X - means if centred else X), beta_all)
    if design.has_intercept:
        name = next(t.name for t in design.common_terms if t.is_intercept)
        intercept_prior = _as_prior(priors, name)
        if centred:
            # Sample the intercept of the centred predictors (less correlated with the slopes),
            # and report it on the user's scale: b0 = b0_c - mean(x) . beta.
            inner = _random_variable(f"{name}_centered", intercept_prior, None, data)
            internal.append(f"{name}_centered")
            pm.Deterministic(name, inner - pt.dot(data.param(means), beta_all))
            eta = eta + inner
        else:
            eta = eta + _random_variable(name, intercept_prior, None, data)
    if design.offset is not None:
        # Coefficient 1: the offset is data, with no prior and no posterior variable.
        eta = eta + data.rows(design.offset.values)[:, 0]
    return eta


def _as_prior(priors: PriorSet, name: str) -> Prior:
    prior = priors[name]
    if not isinstance(prior, Prior):
        raise PriorError(f"The prior of {name!r} must be a Prior; got {prior!r}.")
    return prior


def build_model(
    design: Design,
    family: Family,
    link: Link,
    priors: PriorSet,
    *,
    noncentered: bool | str = "auto",
    center_predictors: bool = True,
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

    Returns
    -------
    BuiltModel
    """
    internal: list[str] = []
    with pm.Model(coords=_coords(design)) as model:
        data = _Containers(design.n_obs)
        indexes: dict[str, Any] = {}
        eta = _linear_predictor(
            design, priors, center_predictors, noncentered, internal, data, indexes
        )
        if family.categories is not None:
            # A multinomial logit has one linear predictor per category but the reference.
            etas = [eta] + [
                _linear_predictor(
                    part.design, priors, center_predictors, noncentered, internal, data, indexes
                )
                for part in design.distributional
            ]
            _category_response(design, family, link, priors, etas, internal, data)
            data.fill()
            return BuiltModel(
                model,
                design.response.name,
                design.response.values,
                tuple(internal),
                _display_order(design, priors),
            )
        values = _auxiliary(priors.of_kind("auxiliary"), data)
        for part in design.distributional:
            # Each modelled auxiliary parameter through its own link (docs/formulas.md).
            part_eta = _linear_predictor(
                part.design, priors, center_predictors, noncentered, internal, data, indexes
            )
            values[part.param] = get_link(part.link).backend_inverse(part_eta, PYTENSOR_OPS)
        likelihood = family.likelihood
        if link.name == "logit" and link.is_registered and likelihood.logit_kwarg is not None:
            kwargs = likelihood.dist_kwargs(values)
            kwargs[likelihood.logit_kwarg] = eta
        else:
            values[likelihood.parent] = link.backend_inverse(eta, PYTENSOR_OPS)
            kwargs = likelihood.dist_kwargs(values)
        if likelihood.trials_kwarg is not None:
            trials = design.response.trials
            # Whole numbers (checked by the family), perhaps stored as floats.
            kwargs[likelihood.trials_kwarg] = data.row_ints(np.asarray(trials))
        # A slice of the data (PyMC casts it to the response's type).
        observed = data.rows(design.response.values)[:, 0]
        dist = getattr(pm, likelihood.name)
        if design.response.censoring is not None or design.weights is not None:
            _row_likelihood(design, family, dist, kwargs, observed, data)
        else:
            dist(design.response.name, observed=observed, dims=OBS_DIM, **kwargs)
        data.fill()
    return BuiltModel(
        model=model,
        response=design.response.name,
        observed=design.response.values,
        internal=tuple(internal),
        order=_display_order(design, priors),
    )


def _linear_predictor(
    design: Design,
    priors: PriorSet,
    center: bool,
    noncentered: bool | str,
    internal: list[str],
    data: _Containers,
    indexes: dict[str, Any],
) -> Any:
    """The linear predictor of one formula, one value per row.

    ``indexes`` holds each grouping factor's level index, shared by every term (and every
    formula) of that factor.
    """
    eta = _common_predictor(design, priors, center, internal, data)
    correlated: dict[str, Any] = {}
    for block in design.blocks:
        first = next(t for t in design.group_terms if t.name == block.terms[0])
        centring = use_noncentered(first, design.n_obs, noncentered)
        correlated.update(_block_effects(design, block, priors, centring, internal, data))
    for group in design.group_terms:
        if group.name in correlated:
            effect = correlated[group.name]
        else:
            prior = _as_prior(priors, group.name)
            centring = use_noncentered(group, design.n_obs, noncentered)
            effect = _group_effect(group, prior, centring, internal, data)
        if group.factor not in indexes:
            indexes[group.factor] = data.row_ints(group.index)
        index = indexes[group.factor]
        if group.values is None:
            eta = eta + effect[index]
            continue
        values = data.rows(group.values)
        if group.values.shape[1] == 1:
            eta = eta + effect[index] * values[:, 0]
        else:
            eta = eta + (effect[index] * values).sum(axis=1)
    # The row count from the model's dimension, not a constant: see _Containers.
    if np.ndim(eta) == 0:
        eta = eta + pt.zeros(pm.modelcontext(None).dim_lengths[OBS_DIM])
    return eta


#: The dimension of the thresholds of an ordinal family, labelled "1|2", "2|3", ...
THRESHOLD_DIM = "threshold__dim"


def _ordered_variable(
    name: str, prior: Prior, dims: tuple[str, ...], data: _Containers, start: np.ndarray
) -> Any:
    """``name ~ prior`` for each element, constrained to increase (PyMC's ordered transform).

    Its density is the prior's on the increasing vectors; prior draws are sorted draws of
    the prior, which is that distribution. ``start``, increasing, is the initial point, which
    an ordered vector needs (the prior's own, all equal, is outside the constraint); it is
    the support point of the distribution rather than an ``initval``, which PyMC's model
    transformations (log-likelihood, frozen data) do not accept.
    """
    dist = _distribution(prior, name)
    keys, params = [], []
    for key, value in prior.params.items():
        if isinstance(value, str):
            raise PriorError(
                f"The prior of {name!r} has the text parameter {key}={value!r}; an ordered "
                "vector takes numbers or Priors as parameters."
            )
        sub = _hyper_dims(value, dims) if isinstance(value, Prior) else None
        keys.append(key)
        params.append(
            _random_variable(f"{name}_{key}", value, sub, data)
            if isinstance(value, Prior)
            else data.param(value)
        )

    def element(values: Any, size: Any = None) -> Any:
        return dist.dist(**dict(zip(keys, values, strict=True)), size=size)

    def sorted_draws(*args: Any) -> Any:  # the parameters, then the size
        return pt.sort(element(args[:-1], args[-1]))

    return pm.CustomDist(
        name,
        *params,
        logp=lambda value, *values: pm.logp(element(values), value),
        dist=sorted_draws,
        support_point=lambda rv, size, *values: pt.as_tensor(start),
        transform=pm.distributions.transforms.ordered,
        dims=dims,
    )


def _category_response(
    design: Design,
    family: Family,
    link: Link,
    priors: PriorSet,
    etas: list[Any],
    internal: list[str],
    data: _Containers,
) -> None:
    """The response of a family of categories: PyMC's Categorical, with the probability of
    each category from the thresholds and the linear predictor (``family.categories``), or,
    for the multinomial logit, from the linear predictors of all categories but the first.

    The thresholds of a cumulative model are ordered (see :func:`_ordered_variable`).
    """
    categories = family.categories
    levels = design.response.levels
    assert categories is not None and levels is not None
    if not categories.ordinal:
        p = categories.probabilities(pt.stack(etas, axis=1), lambda x: x, pt)
        if categories.counts:  # multinomial: a count of each category, its sum the trials
            pm.modelcontext(None).add_coord(CATEGORY_DIM, [str(v) for v in levels])
            trials = data.row_ints(np.asarray(design.response.trials))
            counts = data.rows(design.response.values)
            pm.Multinomial(
                design.response.name, n=trials, p=p, observed=counts, dims=(OBS_DIM, CATEGORY_DIM)
            )
            return
        observed = data.rows(design.response.values)[:, 0]
        pm.Categorical(design.response.name, p=p, observed=observed, dims=OBS_DIM)
        return
    observed = data.rows(design.response.values)[:, 0]
    eta = etas[0]
    name = categories.threshold
    prior = priors[name]
    if not isinstance(prior, Prior):
        raise PriorError(
            f"priors[{name!r}] must be a Prior for each of the {len(levels) - 1} thresholds of "
            f"family {family.name!r}, e.g. Prior('Normal', mu=0, sigma=2.5); got the number "
            f"{prior!r}. Thresholds are estimated, not fixed."
        )
    model = pm.modelcontext(None)
    model.add_coord(THRESHOLD_DIM, list(threshold_labels(levels)))
    dims = (THRESHOLD_DIM,)
    # Evenly spaced on the link scale, increasing as the ordered transform needs.
    start = np.linspace(-1.0, 1.0, len(levels) - 1) * (len(levels) - 2) / 2
    if categories.ordered:
        thresholds = _ordered_variable(name, prior, dims, data, start)
    else:
        thresholds = _random_variable(name, prior, dims, data)
    z = thresholds[None, :] - eta[:, None]
    p = categories.probabilities(z, lambda x: link.backend_inverse(x, PYTENSOR_OPS), pt)
    pm.Categorical(design.response.name, p=p, observed=observed, dims=OBS_DIM)


def _display_order(design: Design, priors: PriorSet) -> tuple[str, ...]:
    """Posterior variables in reading order: intercept, slopes, group terms, auxiliaries."""
    names = []
    for part in (design, *(d.design for d in design.distributional)):
        names += [t.name for t in part.common_terms]
        for group in part.group_terms:
            names += [group.name, f"{group.name}_mu", f"{group.name}_sigma"]
        for block in part.blocks:
            names += [label for _, _, label in part.correlation_names(block)]
    return tuple(names + [t.name for t in priors.of_kind("auxiliary")])


def _row_likelihood(
    design: Design,
    family: Family,
    dist: Any,
    kwargs: dict[str, Any],
    observed: Any,
    data: _Containers,
) -> None:
    """The observed response with censoring and/or weights, as one ``pm.CustomDist``.

    Each row's log-likelihood is its log density (observed), log CDF (left censored), log
    survival function (right censored) or log probability of its interval, times its weight.
    For discrete families the lower bound is included: a right-censored row is
    ``P(Y >= y)`` and an interval row ``P(y <= Y <= y_upper)`` (see ``_censoring``).
    Draws from it (prior predictive) are the uncensored responses. Censored terms are
    computed on every row and picked per row; the branches a row does not take get safe
    inputs, so that their gradients cannot turn the sum into NaN.
    """
    censoring = design.response.censoring
    names = list(kwargs)
    extra: list[Any] = []
    discrete = False
    if censoring is not None:
        try:
            discrete = "int" in str(dist.dist(**kwargs).dtype)
            pm.logcdf(dist.dist(**kwargs), observed)
        except (NotImplementedError, ValueError, TypeError):  # PyMC's ways to say it has none
            raise FamilyError(
                f"The response {design.response.name!r} is censored, which needs the CDF of "
                f"family {family.name!r} (PyMC's {dist.__name__}), and PyMC has none. Families "
                "with one include gaussian, lognormal, weibull, exponential and gamma."
            ) from None
        extra += [data.row_ints(censoring.status), data.rows(censoring.upper)[:, 0]]
    if design.weights is not None:
        extra.append(data.rows(design.weights)[:, 0])
    k = len(names)

    def base(params: tuple[Any, ...], size: Any = None) -> Any:
        return dist.dist(**dict(zip(names, params[:k], strict=True)), size=size)

    def random(*params: Any) -> Any:
        *values, size = params
        return base(tuple(values), size)

    def logp(value: Any, *params: Any) -> Any:
        distribution = base(params)
        out = pm.logp(distribution, value)
        rest = list(params[k:])
        if censoring is not None:
            status, upper = rest[0], rest[1]
            rest = rest[2:]
            left, right, interval = pt.eq(status, -1), pt.eq(status, 1), pt.eq(status, 2)
            low = pm.logcdf(distribution, value)
            high = pm.logcdf(distribution, pt.switch(interval, upper, value))
            # A count's lower bound is included ("at least y"): P(Y >= y) = 1 - CDF(y - 1),
            # as PyMC's own censoring of discrete variables; CDF(-1) = 0 gives log1mexp(-inf).
            below = pm.logcdf(distribution, value - 1) if discrete else low
            survival = pt.log1mexp(pt.switch(right, below, -1.0))
            between = pm.math.logdiffexp(
                pt.switch(interval, high, 0.0), pt.switch(interval, below, -1.0)
            )
            out = pt.switch(
                left, low, pt.switch(right, survival, pt.switch(interval, between, out))
            )
        if rest:
            weights = rest[0]
            # A zero weight drops the row, even where its log density is -inf.
            out = pt.switch(pt.gt(weights, 0), weights * out, 0.0)
        return out

    pm.CustomDist(
        design.response.name,
        *[kwargs[name] for name in names],
        *extra,
        dist=random,
        logp=logp,
        observed=observed,
        dims=OBS_DIM,
    )


def _auxiliary(terms: list[TermPrior], data: _Containers) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for term in terms:
        if isinstance(term.prior, Prior):
            values[term.name] = _random_variable(term.name, term.prior, None, data)
        else:
            values[term.name] = float(term.prior)
    return values


# --- sampling --------------------------------------------------------------------------------

#: Each sampler and the packages it needs.
#: The pip requirement that brings each sampler's packages.
_INSTALL = {"nutpie": "nutpie", "numpyro": '"bayesmm[jax]"', "blackjax": '"bayesmm[jax]"'}

#: The ``inference_method`` that picks a sampler from the model and what is installed.
AUTO = "auto"

#: ``"auto"`` uses NumPyro for models of at most this many rows, nutpie above (see
#: :func:`choose_sampler`).
AUTO_JAX_MAX_ROWS = 5_000

SAMPLERS: dict[str, tuple[str, ...]] = {
    "pymc": (),
    "nutpie": ("nutpie",),
    "numpyro": ("jax", "numpyro"),
    "blackjax": ("jax", "blackjax"),
}


def _installed(method: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in SAMPLERS[method])


def _require(method: str) -> None:
    if method == AUTO:
        return
    if method not in SAMPLERS:
        raise BackendError(choice_message("inference_method", method, (AUTO, *SAMPLERS)))
    missing = [p for p in SAMPLERS[method] if importlib.util.find_spec(p) is None]
    if missing:
        raise BackendError(
            f"inference_method={method!r} needs the package(s) {missing}, which are not "
            f"installed. Install them with: pip install {_INSTALL[method]}"
        )


def choose_sampler(n_obs: int, cache: CompiledCache | None = None) -> str:
    """The sampler ``inference_method="auto"`` picks, for a model of ``n_obs`` rows.

    - NumPyro (JAX), when installed, for up to :data:`AUTO_JAX_MAX_ROWS` rows: its compiled
      sampler is kept on disk, so a later process that fits a model of the same structure
      starts sampling almost at once, and a refit in the same process compiles nothing.
    - nutpie otherwise, and always with a ``cache`` (which holds nutpie samplers): its
      compile (about 5 seconds in every process) matters little once sampling dominates.
      Above :data:`AUTO_JAX_MAX_ROWS` rows :func:`sample` turns on its low-rank mass matrix
      adaptation.
    - PyMC's own sampler when neither is installed.

    ``benchmarks/suite.py`` measures the choice (``docs/performance.md``).
    """
    if cache is None and n_obs <= AUTO_JAX_MAX_ROWS and _installed("numpyro"):
        return "numpyro"
    if _installed("nutpie"):
        return "nutpie"
    return "pymc"


def _jax_cannot_translate(err: Exception) -> bool:
    """Whether ``err`` says JAX lacks an operation or a gradient of the model's graph."""
    text = str(err).lower()
    return isinstance(err, NotImplementedError) or "gradient" in text or "jax" in text


def default_chains() -> int:
    """As PyMC: one chain per core, at least 2 and at most 4."""
    return max(2, min(4, os.cpu_count() or 1))


def run_sampler(
    model: pm.Model,
    inference_method: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    cache: CompiledCache | None = None,
    log_likelihood: bool = False,
    **kwargs: Any,
) -> az.InferenceData:
    """Run one NUTS implementation on ``model``; the raw InferenceData it returns.

    With a ``cache``, nutpie reuses the compiled sampler of an earlier model of the same
    structure; the other samplers compile as usual. NumPyro computes the log-likelihood too
    when asked (with the sampler's compiled functions); for the others :func:`sample` does.
    """
    if inference_method == "numpyro":
        from .jax import sample_numpyro

        return sample_numpyro(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            log_likelihood=log_likelihood,
            **kwargs,
        )
    if inference_method == "nutpie":
        import nutpie

        seed = None if random_seed is None else int(random_seed)
        with ExitStack() as stack:
            if cache is not None:
                compiled = stack.enter_context(cache.use(model))
            else:
                # Data and dimensions as constants: the fastest compile, for a single use.
                compiled = nutpie.compile_pymc_model(model, freeze_model=True)
            return nutpie.sample(
                compiled,
                draws=draws,
                tune=tune,
                chains=chains,
                seed=seed,
                progress_bar=progressbar,
                **{"save_warmup": False, **kwargs},
            )
    options: dict[str, Any] = {"cores": min(chains, os.cpu_count() or 1), **kwargs}
    if inference_method == "pymc" and options["cores"] > 1 and "jax" in sys.modules:
        # JAX runs threads of its own: forking this process after it started can deadlock.
        options.setdefault("mp_ctx", "forkserver")
    # The log-likelihood is computed afterwards, by `sample`, for every sampler alike.
    options["idata_kwargs"] = {**kwargs.get("idata_kwargs", {}), "log_likelihood": False}
    if inference_method != "pymc":
        options["nuts_sampler"] = inference_method
    return pm.sample(
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=progressbar,
        model=model,
        **options,
    )


def sample(
    built: BuiltModel,
    *,
    draws: int,
    tune: int,
    chains: int | None,
    inference_method: str,
    random_seed: int | None,
    progressbar: bool,
    log_likelihood: bool | None,
    cache: CompiledCache | None = None,
    **kwargs: Any,
) -> az.InferenceData:
    """Run NUTS and return the tidied InferenceData.

    ``log_likelihood=None`` stores the pointwise log-likelihood when it is cheap: at most
    :data:`LOG_LIKELIHOOD_MAX_VALUES` numbers (observations x draws x chains).

    The posterior keeps the user-facing variables; the internal ones of
    :attr:`BuiltModel.internal` are dropped after the log-likelihood is computed.
    """
    _require(inference_method)
    automatic = inference_method == AUTO
    if automatic:
        inference_method = choose_sampler(len(built.observed), cache)
        if inference_method == "nutpie" and len(built.observed) > AUTO_JAX_MAX_ROWS:
            # Large data: the intercept and the effects of a grouping factor with few levels
            # are strongly correlated a posteriori; nutpie's low-rank mass matrix follows
            # that and roughly triples the smallest ESS on InstEval (benchmarks/README.md).
            kwargs.setdefault("low_rank_modified_mass_matrix", True)
    if cache is not None and inference_method != "nutpie":
        raise BackendError(
            "cache= holds compiled nutpie samplers: use it with inference_method='nutpie' or "
            f"'auto'; got {inference_method!r} (NumPyro reuses its compiled sampler by itself)."
        )
    chains = chains or default_chains()
    model = built.model
    size = len(built.observed) * draws * chains
    if log_likelihood is None:
        log_likelihood = size <= LOG_LIKELIHOOD_MAX_VALUES
        if not log_likelihood:
            _log.info(
                "Not storing the log-likelihood (%d values, %.1f GB); pass log_likelihood=True "
                "to store it anyway.",
                size,
                size * 8 / 1e9,
            )
    options = {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "random_seed": random_seed,
        "progressbar": progressbar,
        "log_likelihood": log_likelihood,
        **({"cache": cache} if cache is not None else {}),
        **kwargs,
    }
    try:
        idata = run_sampler(model, inference_method, **options)
    except (ValueError, NotImplementedError) as err:
        if inference_method != "numpyro" or not _jax_cannot_translate(err):
            raise
        if not automatic:
            raise BackendError(
                f"NumPyro cannot sample this model: JAX cannot compute its log density or "
                f"gradient ({type(err).__name__}: {err}). Use inference_method='nutpie' or "
                "'pymc'."
            ) from None
        # e.g. the gradient of the incomplete beta function in its shape parameters, which
        # the truncated negative binomial of hurdle_negativebinomial needs.
        inference_method = "nutpie" if _installed("nutpie") else "pymc"
        _log.info(
            "JAX cannot differentiate this model (%s); sampling with %s.", err, inference_method
        )
        idata = run_sampler(model, inference_method, **options)
    if log_likelihood and "log_likelihood" not in idata.groups():
        pm.compute_log_likelihood(idata, model=model, progressbar=False)
    idata.attrs["inference_method"] = inference_method
    _set_constant_data(idata, model)
    if "observed_data" not in idata.groups():
        dims = (OBS_DIM, CATEGORY_DIM)[: np.ndim(built.observed)]  # a multinomial's counts
        coords = {d: list(model.coords[d]) for d in dims[1:]}
        observed = xr.Dataset(
            {built.response: (dims, built.observed)},
            coords={OBS_DIM: np.arange(len(built.observed)), **coords},
        )
        idata.add_groups(observed_data=observed)
    idata.posterior = _user_facing(built, idata["posterior"])  # type: ignore[attr-defined]
    return idata


def _set_constant_data(idata: az.InferenceData, model: pm.Model) -> None:
    """Store the model's data containers as ``constant_data``, as ``pm.sample`` does.

    Every sampler gets the same group, with this model's values (a reused compiled sampler
    would otherwise report its first model's). ``pm.sample_posterior_predictive`` compares it
    with the model's data to tell which variables it must not take from the trace.
    """
    from pymc.backends.arviz import find_constants

    dims = model.named_vars_to_dims
    variables = {}
    for name, value in find_constants(model).items():
        value = np.asarray(value)
        names = dims.get(name) or tuple(f"{name}_dim_{i}" for i in range(value.ndim))
        variables[name] = (tuple(names), value)
    length = model.dim_lengths[OBS_DIM]
    # The length is a shared value: read it, as compiling a function to evaluate it costs
    # more than the rest of this step.
    n_obs = int(length.get_value() if isinstance(length, SharedVariable) else length.eval())
    group = xr.Dataset(variables, coords={OBS_DIM: np.arange(n_obs)})
    if "constant_data" in idata.groups():
        del idata["constant_data"]
    idata.add_groups(constant_data=group)


def _relabel(posterior: xr.Dataset, model: pm.Model) -> xr.Dataset:
    """Level names from ``model``: a reused compiled sampler labels them as its first model."""
    labels = {d: list(model.coords[d]) for d in posterior.dims if model.coords.get(d) is not None}
    return posterior.assign_coords(labels)


def _user_facing(built: BuiltModel, draws: xr.Dataset) -> xr.Dataset:
    """The user-facing variables in reading order: no internal ones, no ``*_log__`` values."""
    model = built.model
    keep = {v.name for v in (*model.free_RVs, *model.deterministics)} - set(built.internal)
    ordered = [v for v in built.order if v in keep and v in draws]
    rest = [v for v in draws.data_vars if v in keep and v not in ordered]
    return _relabel(draws[ordered + rest], model)


# --- prior draws -------------------------------------------------------------------------------


def prior_predictive(
    built: BuiltModel,
    *,
    draws: int,
    random_seed: int | None,
    var_names: list[str] | None = None,
) -> az.InferenceData:
    """Draws from the prior (and, without ``var_names``, the prior predictive).

    The ``prior`` group keeps the user-facing variables, as the posterior of :func:`sample`
    does. With ``var_names``, only those variables (and what they depend on) are drawn, and
    the response is not.
    """
    model = built.model
    try:
        idata = pm.sample_prior_predictive(
            draws=draws, model=model, random_seed=random_seed, var_names=var_names
        )
    except TruncationError as err:
        # The hurdle count families draw positive counts by rejection; a prior that puts the
        # mean near 0 makes positive draws too rare for it.
        raise BackendError(
            f"PyMC could not draw the response from the prior ({str(err).splitlines()[0]}). "
            "The prior puts the "
            "mean of the counts so close to 0 that positive counts are too rare to draw; give "
            "the intercept a narrower prior, or pass var_names= to draw the parameters only."
        ) from None
    idata.prior = _user_facing(built, idata["prior"])
    return idata
