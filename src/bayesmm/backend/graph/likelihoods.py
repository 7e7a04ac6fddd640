"""The observed response in PyMC, where it is more than one PyMC distribution: the
categories of an ordinal, categorical or multinomial family, and a censored, truncated or
weighted response (one ``pm.CustomDist`` per row); and the auxiliary parameters' variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..._errors import FamilyError, PriorError
from ...design import Design
from ...families import Family
from ...families.categories import threshold_labels
from ...links import Link
from ...priors import Prior, PriorSet, TermPrior
from .cdfs import log_cdf, log_interval, log_sf
from .context import GraphContext
from .terms.residuals import series_response
from .variables import (
    CATEGORY_DIM,
    OBS_DIM,
    PYTENSOR_OPS,
    Containers,
    distribution,
    hyper_dims,
    random_variable,
)

#: The dimension of the thresholds of an ordinal family, labelled "1|2", "2|3", ...
THRESHOLD_DIM = "threshold__dim"


def category_response(
    design: Design,
    family: Family,
    link: Link,
    priors: PriorSet,
    etas: list[Any],
    data: Containers,
) -> None:
    """The response of a family of categories: PyMC's Categorical, with the probability of
    each category (``family.category_probabilities``) from the thresholds and the linear
    predictor, or, for the multinomial logit, from the linear predictors of all categories
    but the first.

    The thresholds of a cumulative model are ordered (see :func:`ordered_variable`).
    """
    levels = design.response.levels
    assert family.is_categorical() and levels is not None
    if not family.is_ordinal():
        p = family.category_probabilities(pt.stack(etas, axis=1), lambda x: x, pt)
        if family.counts_each_category():  # a count of each category, its sum the trials
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
    name = family.threshold_param()
    assert name is not None  # an ordinal family's
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
    if family.ordered_thresholds():
        thresholds = ordered_variable(name, prior, dims, data, start)
    else:
        thresholds = random_variable(name, prior, dims, data)
    z = thresholds[None, :] - eta[:, None]
    p = family.category_probabilities(z, lambda x: link.backend_inverse(x, PYTENSOR_OPS), pt)
    pm.Categorical(design.response.name, p=p, observed=observed, dims=OBS_DIM)


def ordered_variable(
    name: str, prior: Prior, dims: tuple[str, ...], data: Containers, start: np.ndarray
) -> Any:
    """``name ~ prior`` for each element, constrained to increase (PyMC's ordered transform).

    Its density is the prior's on the increasing vectors; prior draws are sorted draws of
    the prior, which is that distribution. ``start``, increasing, is the initial point, which
    an ordered vector needs (the prior's own, all equal, is outside the constraint); it is
    the support point of the distribution rather than an ``initval``, which PyMC's model
    transformations (log-likelihood, frozen data) do not accept.
    """
    dist = distribution(prior, name)
    keys, params = [], []
    for key, value in prior.params.items():
        if isinstance(value, str):
            raise PriorError(
                f"The prior of {name!r} has the text parameter {key}={value!r}; an ordered "
                "vector takes numbers or Priors as parameters."
            )
        sub = hyper_dims(value, dims) if isinstance(value, Prior) else None
        keys.append(key)
        params.append(
            random_variable(f"{name}_{key}", value, sub, data)
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


def _require_cdf(
    design: Design, family: Family, dist: Any, kwargs: dict[str, Any], what: str
) -> bool:
    """Whether the family's distribution is discrete; a FamilyError if PyMC has no CDF of it,
    which a ``what`` (censored or truncated) response needs."""
    try:
        discrete = "int" in str(dist.dist(**kwargs).dtype)
        pm.logcdf(dist.dist(**kwargs), np.zeros(design.n_obs))
    except (NotImplementedError, ValueError, TypeError):  # PyMC's ways to say it has none
        raise FamilyError(
            f"The response {design.response.name!r} is {what}, which needs the CDF of "
            f"family {family.name!r} (PyMC's {dist.__name__}), and PyMC has none. Families "
            "with one include gaussian, lognormal, weibull, exponential and gamma."
        ) from None
    return discrete


def _bound(bound: float | str | None, values: np.ndarray, data: Containers) -> Any:
    """A truncation bound for the graph: none, a number, or one per row (a column)."""
    if bound is None or isinstance(bound, float):
        return bound
    return data.rows(values)[:, 0]


def _censored(
    dist: Any,
    params: dict[str, Any],
    value: Any,
    status: Any,
    upper: Any,
    observed: Any,
    discrete: bool,
) -> Any:
    """Each row's log-likelihood by its censoring status: its log density (``observed``,
    status 0), log CDF (left, -1), log survival (right, 1) or log probability of its interval
    (2). A count's lower bound is included: right-censored is ``P(Y >= y)``, as PyMC's own
    censoring of discrete variables. Every row computes every term; a row's terms that it
    does not take get a safe upper bound (``y + 1``), so their gradients stay finite."""
    left, right, interval = pt.eq(status, -1), pt.eq(status, 1), pt.eq(status, 2)
    high = pt.switch(interval, upper, value + 1.0)
    at_least = log_sf(dist, params, value - 1.0 if discrete else value)
    between = log_interval(dist, params, value, high, discrete)
    return pt.switch(
        left,
        log_cdf(dist, params, value),
        pt.switch(right, at_least, pt.switch(interval, between, observed)),
    )


def known_spread(design: Design, values: dict[str, Any], ctx: GraphContext) -> dict[str, Any]:
    """The spread of an ``se(y, sei)`` response: each row's known standard error, or with
    ``sigma=True`` ``sqrt(sigma^2 + sei^2)`` (see :mod:`bayesmm.design.known_sd`)."""
    known = design.response.known_sd
    assert known is not None
    se = ctx.data.rows(known.values)[:, 0]
    spread = pt.sqrt(values["sigma"] ** 2 + se**2) if known.sigma else se
    return {**values, "sigma": spread}


#: The graph's table of response kinds (:data:`bayesmm.design.kinds.TERM_KINDS`): each one's
#: change to the arguments of the family's distribution, ``piece(design, kwargs, ctx) ->
#: kwargs``, in the order the table lists them.
RESPONSE_PIECES: dict[str, Callable[[Design, dict[str, Any], GraphContext], dict[str, Any]]] = {
    "se": known_spread,
}
#: The graph's table of response kinds whose observed response is not the family's
#: distribution row by row: ``piece(design, kwargs, observed, ctx)`` makes it.
OBSERVED_PIECES: dict[str, Callable[[Design, dict[str, Any], Any, GraphContext], None]] = {
    "ar": series_response,
    "cosy": series_response,
}


def row_likelihood(
    design: Design,
    family: Family,
    dist: Any,
    kwargs: dict[str, Any],
    observed: Any,
    data: Containers,
) -> None:
    """The observed response with censoring or truncation, and/or weights, as one
    ``pm.CustomDist``.

    Each row's log-likelihood is its log density (observed), log CDF (left censored), log
    survival function (right censored) or log probability of its interval, times its weight.
    For discrete families the lower bound is included: a right-censored row is
    ``P(Y >= y)`` and an interval row ``P(y <= Y <= y_upper)`` (see ``design.censoring``).
    A truncated response's density is the family's over its probability between the bounds
    (both included), from :mod:`~bayesmm.backend.cdfs`, whose gradients stay finite at
    one-sided and far bounds; draws from it (prior predictive) are PyMC's ``Truncated``.
    Censored terms are computed on every row and picked per row; the branches a row does not
    take get safe inputs, so that their gradients cannot turn the sum into NaN.
    """
    censoring = design.response.censoring
    truncation = design.response.truncation
    names = list(kwargs)
    extra: list[Any] = []
    discrete = False
    if censoring is not None:
        discrete = _require_cdf(design, family, dist, kwargs, "censored")
        extra += [data.row_ints(censoring.status), data.rows(censoring.upper)[:, 0]]
    bounds: list[Any] = [None, None]
    if truncation is not None:
        discrete = _require_cdf(design, family, dist, kwargs, "truncated")
        bounds = [
            _bound(truncation.lower, truncation.low, data),
            _bound(truncation.upper, truncation.high, data),
        ]
    if design.weights is not None:
        extra.append(data.rows(design.weights)[:, 0])
    k = len(names)
    # Bounds held per row are parameters of the distribution, after the family's own.
    per_row = [i for i, b in enumerate(bounds) if b is not None and not isinstance(b, float)]
    extra = [bounds[i] for i in per_row] + extra
    n_bounds = len(per_row)

    def limits(params: tuple[Any, ...]) -> list[Any]:
        """The bounds: the numbers, and the per-row ones from the parameters."""
        out = list(bounds)
        for i, value in zip(per_row, params[k : k + n_bounds], strict=True):
            out[i] = value
        return out

    def base(params: tuple[Any, ...], size: Any = None) -> Any:
        family_dist = dist.dist(**dict(zip(names, params[:k], strict=True)), size=size)
        if truncation is None:
            return family_dist
        lower, upper = limits(params)
        return pm.Truncated.dist(family_dist, lower=lower, upper=upper, size=size)

    def random(*params: Any) -> Any:
        *values, size = params
        return base(tuple(values), size)

    def logp(value: Any, *params: Any) -> Any:
        family_params = dict(zip(names, params[:k], strict=True))
        out = pm.logp(dist.dist(**family_params), value)
        rest = list(params[k + n_bounds :])
        if truncation is not None:
            # The family's density over its probability between the bounds, computed for the
            # bounds that exist only (backend.cdfs: finite gradients at one-sided and far
            # bounds, which PyMC's Truncated lacks).
            lower, upper = limits(params)
            out = out - log_interval(dist, family_params, lower, upper, discrete)
        if censoring is not None:
            status, upper = rest[0], rest[1]
            rest = rest[2:]
            out = _censored(dist, family_params, value, status, upper, out, discrete)
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


class Auxiliary:
    """The auxiliary parameters' variables, made when first asked for: after the linear
    predictor as a rule, before it when a shrinkage prior of the slopes scales with
    ``sigma`` (which keeps every other model's variables in their usual order)."""

    def __init__(self, terms: list[TermPrior], data: Containers) -> None:
        self._terms, self._data = terms, data
        self._values: dict[str, Any] | None = None

    def values(self) -> dict[str, Any]:
        if self._values is None:
            self._values = auxiliary(self._terms, self._data)
        return self._values

    def sigma(self) -> Any:
        """The residual sd, if the family has one that no formula models; else 1."""
        if not any(term.name == "sigma" for term in self._terms):
            return 1.0
        return self.values()["sigma"]


def auxiliary(terms: list[TermPrior], data: Containers) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for term in terms:
        if isinstance(term.prior, Prior):
            values[term.name] = random_variable(term.name, term.prior, None, data)
        else:
            values[term.name] = float(term.prior)
    return values
