"""The linear predictor of a formula in PyMC: common slopes, the intercept, offsets and
group-specific effects, independent (centred or not) or correlated within a block."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .._errors import PriorError
from .._names import monotonic_dim, monotonic_name, mu_name, sigma_name
from ..design import CommonTerm, Design, GroupBlock, GroupTerm
from ..design.gps import spectral_density
from ..priors import Prior, PriorSet
from .shrinkage import shrunk_slopes
from .variables import (
    Containers,
    as_prior,
    common_dim,
    distribution,
    hyper_dims,
    random_variable,
    term_dims,
)

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


def zero_mean_population(prior: Any) -> bool:
    """Whether ``prior`` is ``Normal(0, sigma)`` with a prior on ``sigma`` that makes one
    number, and no custom ``dist``: the population that :mod:`collapsed` integrates out and
    that :func:`intercept_carrier` centres on the intercept."""
    if not isinstance(prior, Prior) or not prior.is_normal_with_hyperprior:
        return False
    mu = prior.params.get("mu", 0.0)
    if prior.dist is not None or isinstance(mu, Prior) or np.any(np.asarray(mu) != 0):
        return False
    return _scalar(prior.params["sigma"])


def _scalar(prior: Prior) -> bool:
    """Whether ``prior`` makes one number: no vector parameter at any depth."""
    return all(
        _scalar(value) if isinstance(value, Prior) else np.ndim(value) == 0
        for value in prior.params.values()
    )


def intercept_carrier(design: Design, priors: PriorSet, noncentered: bool | str) -> str | None:
    """The group intercept that carries the model's intercept (hierarchical centring,
    Gelfand, Sahu and Carlin 1995), or ``None``.

    Each level's total ``a_l = b0 + u_l`` is sampled, ``a_l ~ Normal(b0, sigma)``, in place
    of ``u_l ~ Normal(0, sigma)``: the same posterior (a shift, of unit Jacobian), and
    ``u_l = a_l - b0`` is reported under the term's name. With many rows per level the data
    pin each ``b0 + u_l`` down but not ``b0`` and the ``u_l`` apart, a ridge along which
    stochastic gradients crawl; the totals and ``b0`` are nearly independent. Used by ADVI
    (``fit(inference_method="vi")``).

    Eligible: an independent ``(1|factor)`` term, centred (:func:`use_noncentered`), with a
    :func:`zero_mean_population` prior, in a model with an intercept; of several, the one
    with the fewest levels (the most rows per level)."""
    if not design.has_intercept:
        return None
    blocked = {name for block in design.blocks for name in block.terms}
    eligible = [
        term
        for term in design.group_terms
        if term.values is None
        and term.name not in blocked
        and not use_noncentered(term, design.n_obs, noncentered)
        and zero_mean_population(priors[term.name])
    ]
    return min(eligible, key=lambda t: len(t.levels)).name if eligible else None


@dataclass(frozen=True)
class Part:
    """One coefficient tensor of a linear predictor and the data it multiplies.

    ``coef`` is a scalar (an intercept: a column of ones), a vector of common slopes (times
    the dense ``columns``), or a group term's effects, shape ``(levels,)`` or ``(levels, k)``
    (row ``i`` takes level ``index[i]``, times ``columns[i]``; ``None``: ones).
    """

    coef: Any
    columns: np.ndarray | None = None
    index: np.ndarray | None = None
    factor: str | None = None
    levels: int = 0


@dataclass(frozen=True)
class LinearParts:
    """A linear predictor as parts: ``eta = common parts + offset + group parts``."""

    common: tuple[Part, ...]
    offset: np.ndarray | None
    groups: tuple[Part, ...]
    #: ``mi()`` terms: their coefficient and their values on every row (a tensor: the
    #: observed values with the imputed ones, see ``imputation``).
    imputed: tuple[tuple[Any, Any], ...] = ()

    def take(self, rows: np.ndarray) -> LinearParts:
        """The same coefficients on some of the rows."""

        def one(part: Part) -> Part:
            columns = None if part.columns is None else part.columns[rows]
            return replace(
                part, columns=columns, index=None if part.index is None else part.index[rows]
            )

        offset = None if self.offset is None else self.offset[rows]
        imputed = tuple((coef, values[rows]) for coef, values in self.imputed)
        return LinearParts(
            tuple(map(one, self.common)), offset, tuple(map(one, self.groups)), imputed
        )


def linear_parts(
    design: Design,
    priors: PriorSet,
    center: bool,
    noncentered: bool | str,
    internal: list[str],
    data: Containers,
    sigma: Callable[[], Any] = lambda: 1.0,
    imputed: Mapping[str, Any] | None = None,
    without: str | None = None,
    carrier: str | None = None,
) -> LinearParts:
    """The random variables of one formula's linear predictor, as :class:`Part` objects;
    no per-row value enters the graph here (see :func:`linear_predictor`). ``sigma()`` is
    the residual sd a shrinkage prior of the slopes scales with (see ``shrinkage``);
    ``imputed`` holds the values of the ``mi()`` terms (see ``imputation``).
    ``without`` names a factor whose group terms are left out (see ``collapsed``); ``carrier``
    names the group term whose levels carry the intercept (see :func:`intercept_carrier`)."""
    common = _common_parts(design, priors, center, internal, data, sigma)
    intercept = None
    if carrier is not None:
        intercept = next(p.coef for p in common if p.columns is None)
        common = [p for p in common if p.columns is not None]
    with_missing = tuple(
        (random_variable(t.name, as_prior(priors, t.name), None, data), (imputed or {})[t.name])
        for t in design.common_terms
        if t.imputed is not None
    )
    monotonic = [
        _monotonic_part(design, term, as_prior(priors, term.name), data)
        for term in design.common_terms
        if term.steps is not None
    ]
    correlated: dict[str, Any] = {}
    group_terms = [t for t in design.group_terms if t.factor != without]
    for block in (b for b in design.blocks if b.factor != without):
        first = next(t for t in design.group_terms if t.name == block.terms[0])
        centring = use_noncentered(first, design.n_obs, noncentered)
        correlated.update(block_effects(design, block, priors, centring, internal, data))
    groups = []
    for group in group_terms:
        if group.name in correlated:
            effect = correlated[group.name]
        elif group.name == carrier:
            prior = as_prior(priors, group.name)
            effect = _carried_intercept(group, prior, intercept, internal, data)
        else:
            prior = as_prior(priors, group.name)
            centring = use_noncentered(group, design.n_obs, noncentered)
            effect = _group_effect(group, prior, centring, internal, data)
        groups.append(Part(effect, group.values, group.index, group.factor, len(group.levels)))
    offset = None if design.offset is None else design.offset.values
    return LinearParts(tuple(common), offset, (*monotonic, *groups), with_missing)


def linear_predictor(
    design: Design,
    priors: PriorSet,
    center: bool,
    noncentered: bool | str,
    internal: list[str],
    data: Containers,
    indexes: dict[str, Any],
    sigma: Callable[[], Any] = lambda: 1.0,
    imputed: Mapping[str, Any] | None = None,
    carrier: str | None = None,
) -> Any:
    """The linear predictor of one formula, one value per row.

    ``indexes`` holds each grouping factor's level index, shared by every term (and every
    formula) of that factor; ``sigma``, ``carrier`` as for :func:`linear_parts`.
    """
    parts = linear_parts(
        design, priors, center, noncentered, internal, data, sigma, imputed, carrier=carrier
    )
    return on_rows(parts, data, indexes)


def on_rows(parts: LinearParts, data: Containers, indexes: dict[str, Any]) -> Any:
    """``parts`` evaluated on their rows (``data``'s), one value per row."""
    eta: Any = 0.0
    for part in parts.common:
        if part.columns is None:  # the intercept
            eta = eta + part.coef
        else:  # the slopes, first
            eta = pt.dot(data.rows(part.columns), part.coef)
    for coef, values in parts.imputed:
        eta = eta + coef * values
    if parts.offset is not None:
        # Coefficient 1: the offset is data, with no prior and no posterior variable.
        eta = eta + data.rows(parts.offset)[:, 0]
    for part in parts.groups:
        assert part.factor is not None and part.index is not None
        if part.factor not in indexes:
            indexes[part.factor] = data.row_ints(part.index)
        index = indexes[part.factor]
        if part.columns is None:
            eta = eta + part.coef[index]
            continue
        values = data.rows(part.columns)
        if part.columns.shape[1] == 1:
            eta = eta + part.coef[index] * values[:, 0]
        else:
            eta = eta + (part.coef[index] * values).sum(axis=1)
    # The row count from the model's dimension, not a constant: see Containers.
    if np.ndim(eta) == 0:
        eta = eta + pt.zeros(data.row_count())
    return eta


def _common_parts(
    design: Design,
    priors: PriorSet,
    center: bool,
    internal: list[str],
    data: Containers,
    sigma: Callable[[], Any],
) -> list[Part]:
    """The common slopes and the intercept; registers ``Intercept`` on the user's scale.
    Monotonic effects are parts of their own (:func:`_monotonic_part`)."""
    slopes = [
        t
        for t in design.common_terms
        if not t.is_intercept and t.steps is None and t.imputed is None
    ]
    parts = []
    coefficients = []
    shrunk = [t for t in slopes if t.gp is None and as_prior(priors, t.name).is_shrinkage]
    joint = (
        shrunk_slopes(as_prior(priors, shrunk[0].name), shrunk, design.n_obs, sigma, internal)
        if shrunk
        else {}
    )
    for term in slopes:
        dims = (common_dim(term.name),) if term.levels is not None else None
        if term.penalised is not None:
            beta = smooth_coefficients(term, priors, data, internal)
        elif term.gp is not None:
            beta = gp_coefficients(term, priors, data, internal)
        elif term.name in joint:
            beta = joint[term.name]
        else:
            beta = random_variable(term.name, as_prior(priors, term.name), dims, data)
        coefficients.append(pt.atleast_1d(beta))
    columns = [j for t in slopes for j in range(t.start, t.stop)]
    X = design.common[:, columns] if slopes else None
    centred = center and design.has_intercept and X is not None
    if X is not None:
        beta_all = pt.concatenate(coefficients) if len(coefficients) > 1 else coefficients[0]
        means = X.mean(axis=0)
        parts.append(Part(beta_all, X - means if centred else X))
    if design.has_intercept:
        name = next(t.name for t in design.common_terms if t.is_intercept)
        intercept_prior = as_prior(priors, name)
        if centred:
            # Sample the intercept of the centred predictors (less correlated with the slopes),
            # and report it on the user's scale: b0 = b0_c - mean(x) . beta.
            inner = random_variable(f"{name}_centered", intercept_prior, None, data)
            internal.append(f"{name}_centered")
            pm.Deterministic(name, inner - pt.dot(data.param(means), beta_all))
            parts.append(Part(inner))
        else:
            parts.append(Part(random_variable(name, intercept_prior, None, data)))
    return parts


def smooth_coefficients(
    term: CommonTerm, priors: PriorSet, data: Containers, internal: list[str]
) -> Any:
    """A smooth's coefficients, ``s(x)`` over its columns: its linear trends with the term's
    prior, and its penalised columns ``s(x)_sigma * z``, ``z ~ Normal(0, 1)`` (non-centred),
    one sd per block (per ``by`` level). See :mod:`bayesmm.design.smooths`."""
    assert term.penalised is not None
    fixed, blocks = term.fixed_columns, term.penalised
    model = pm.modelcontext(None)
    sd_dims = None
    labels = term.levels or ()
    if len(blocks) > 1:  # one per level of by: "a:trend", "a:1", ... give "a"
        sd_dims = (f"{sigma_name(term.name)}_dim",)
        model.add_coord(sd_dims[0], [labels[start].rsplit(":", 1)[0] for start, _ in blocks])
    sd_prior = as_prior(priors, sigma_name(term.name))
    sd = random_variable(sigma_name(term.name), sd_prior, sd_dims, data)
    trend_dims = None
    if len(fixed) > 1:
        trend_dims = (f"{term.name}_trend_dim",)
        model.add_coord(trend_dims[0], [labels[j] for j in fixed])
    trend = random_variable(f"{term.name}_trend", as_prior(priors, term.name), trend_dims, data)
    internal.append(f"{term.name}_trend")
    n_wiggly = sum(stop - start for start, stop in blocks)
    z_dim = f"{term.name}_z_dim"
    model.add_coord(z_dim, [str(j) for j in range(n_wiggly)])
    z = pm.Normal(f"{term.name}_z", mu=0.0, sigma=1.0, dims=z_dim)
    internal.append(f"{term.name}_z")
    sds, trends = pt.atleast_1d(sd), pt.atleast_1d(trend)
    pieces, at = [], 0
    for b, (start, stop) in enumerate(blocks):  # each level: its trend, then its wiggles
        pieces += [trends[b : b + 1], z[at : at + stop - start] * sds[b]]
        at += stop - start
    coefficients = pt.concatenate(pieces)
    return pm.Deterministic(term.name, coefficients, dims=(common_dim(term.name),))


def gp_coefficients(
    term: CommonTerm, priors: PriorSet, data: Containers, internal: list[str]
) -> Any:
    """An ``hsgp()`` term's coefficients: ``sqrt(spd(omega)) * z``, ``z ~ Normal(0, 1)``,
    with the kernel's spectral density at the basis's frequencies given the term's
    lengthscale and amplitude (one of each per ``by`` level). See
    :mod:`bayesmm.design.gps`."""
    gp = term.gp
    assert gp is not None
    blocks = max(len(gp.levels), 1)
    model = pm.modelcontext(None)
    dims = None
    if gp.levels:
        dims = (f"{term.name}_by_dim",)
        model.add_coord(dims[0], list(gp.levels))
    amplitude = random_variable(
        sigma_name(term.name), as_prior(priors, sigma_name(term.name)), dims, data
    )
    scale_name = f"{term.name}_lengthscale"
    lengthscale = random_variable(scale_name, as_prior(priors, scale_name), dims, data)
    width = len(gp.omega2)
    z_dim = f"{term.name}_z_dim"
    model.add_coord(z_dim, [str(j) for j in range(width * blocks)])
    z = pm.Normal(f"{term.name}_z", mu=0.0, sigma=1.0, dims=z_dim)
    internal.append(f"{term.name}_z")
    omega2 = np.asarray(gp.omega2)
    amplitudes, lengthscales = pt.atleast_1d(amplitude), pt.atleast_1d(lengthscale)
    pieces = [
        z[b * width : (b + 1) * width]
        * pt.sqrt(spectral_density(omega2, lengthscales[b], amplitudes[b], gp.kernel, gp.dims, pt))
        for b in range(blocks)
    ]
    coefficients = pt.concatenate(pieces) if blocks > 1 else pieces[0]
    return pm.Deterministic(term.name, coefficients, dims=(common_dim(term.name),))


def _monotonic_part(design: Design, term: CommonTerm, prior: Prior, data: Containers) -> Part:
    """``mo(x)``: ``b * D * cumsum(zeta)`` at each row's code, with ``b ~ prior`` (the
    average change per step) and the simplex ``zeta ~ Dirichlet(1)`` (``mo(x)_simplex``,
    one share of the total change per step). Indexed by the codes, as a group term is."""
    assert term.steps is not None
    steps = len(term.steps)
    b = random_variable(term.name, prior, None, data)
    if steps == 1:
        cumulative: Any = pt.as_tensor(np.array([0.0, 1.0]))
    else:
        dim = monotonic_dim(term.name)
        pm.modelcontext(None).add_coord(dim, list(term.steps))
        zeta = pm.Dirichlet(monotonic_name(term.name), a=np.ones(steps), dims=dim)
        cumulative = pt.concatenate([pt.zeros(1), pt.cumsum(zeta)]) * steps
    codes = design.common[:, term.start].astype(np.int64)
    return Part(b * cumulative, None, codes, f"@{term.name}", steps + 1)


def _group_effect(
    term: GroupTerm, prior: Prior, noncentered: bool, internal: list[str], data: Containers
) -> Any:
    dims = term_dims(term)
    if not (noncentered and prior.is_normal_with_hyperprior):
        return random_variable(term.name, prior, dims, data)
    # Non-centred: b = mu + sigma * z with z ~ Normal(0, 1) (Papaspiliopoulos et al. 2007).
    sigma_prior = prior.params["sigma"]
    sigma = random_variable(sigma_name(term.name), sigma_prior, hyper_dims(sigma_prior, dims), data)
    mu = prior.params.get("mu", 0.0)
    if isinstance(mu, Prior):
        mu = random_variable(mu_name(term.name), mu, hyper_dims(mu, dims), data)
    offset = pm.Normal(f"{term.name}_offset", mu=0.0, sigma=1.0, dims=dims)
    internal.append(f"{term.name}_offset")
    return pm.Deterministic(term.name, mu + offset * sigma, dims=dims)


def _carried_intercept(
    term: GroupTerm, prior: Prior, intercept: Any, internal: list[str], data: Containers
) -> Any:
    """Each level's total ``b0 + u_l ~ Normal(b0, sigma)``, the coefficient the rows read;
    registers ``u_l`` under the term's name (see :func:`intercept_carrier`)."""
    dims = term_dims(term)
    sigma_prior = prior.params["sigma"]
    sigma = random_variable(sigma_name(term.name), sigma_prior, None, data)
    totals = pm.Normal(f"{term.name}_with_intercept", mu=intercept, sigma=sigma, dims=dims)
    internal.append(f"{term.name}_with_intercept")
    pm.Deterministic(term.name, totals - intercept, dims=dims)
    return totals


def block_effects(
    design: Design,
    block: GroupBlock,
    priors: PriorSet,
    noncentered: bool,
    internal: list[str],
    data: Containers,
) -> dict[str, Any]:
    """The effects of a block of correlated terms, by term name.

    Each level's effects are multivariate normal, ``b = mu + L z`` with ``L`` the Cholesky
    factor of their covariance, ``diag(sd) @ chol(corr)``; ``corr`` has an LKJ prior
    (Lewandowski, Kurowicka and Joe 2009). Non-centred, ``z`` is sampled; centred, ``b``.
    Reported: each term's effects and sds under the names of independent terms, and each
    correlation as ``"<column>:<column>_corr"``.
    """
    terms, chol, corr, sds = block_covariance(design, block, priors, internal, data)
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
    else:
        effects = pm.MvNormal(
            f"{block.prior_name}_effects", mu=mean, chol=chol, shape=(n_levels, width)
        )
        internal.append(f"{block.prior_name}_effects")
    out = {}
    start = 0
    for term in terms:
        stop = start + len(term.columns)
        dims = term_dims(term)
        column = effects[:, start] if len(term.columns) == 1 else effects[:, start:stop]
        out[term.name] = pm.Deterministic(term.name, column, dims=dims)
        start = stop
    block_summaries(design, block, terms, corr, sds)
    return out


def block_covariance(
    design: Design, block: GroupBlock, priors: PriorSet, internal: list[str], data: Containers
) -> tuple[list[GroupTerm], Any, Any, Any]:
    """A block's terms and the Cholesky factor, correlations and sds of its effects'
    covariance (see :func:`block_effects`)."""
    terms = [next(t for t in design.group_terms if t.name == name) for name in block.terms]
    width = sum(len(t.columns) for t in terms)
    sd_dist = _block_sd_dist(block, terms, priors, data)
    eta = as_prior(priors, block.prior_name).params["eta"]
    name = f"{block.prior_name}_chol"
    chol, corr, sds = pm.LKJCholeskyCov(
        name, n=width, eta=float(eta), sd_dist=sd_dist, compute_corr=True, store_in_trace=False
    )
    internal.append(name)
    return terms, chol, corr, sds


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
