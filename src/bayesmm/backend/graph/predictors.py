"""The linear predictor of a formula in PyMC: common slopes, the intercept, offsets and
group-specific effects, independent (centred or not) or correlated within a block."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..._names import monotonic_dim, monotonic_name, mu_name, sigma_name
from ...design import CommonTerm, Design, GroupBlock, GroupTerm
from ...design.gps import spectral_density
from ...priors import Prior, PriorSet
from .blocks import block_effects
from .terms.shrinkage import shrunk_slopes
from .variables import (
    Containers,
    as_prior,
    common_dim,
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


def zero_mean_population(prior: Any, scalar: bool = True) -> bool:
    """Whether ``prior`` is ``Normal(0, sigma)`` with a prior on ``sigma`` (that makes one
    number, with ``scalar``), and no custom ``dist``: the population that :mod:`collapsed`
    integrates out and that :func:`intercept_carrier` centres on common coefficients."""
    if not isinstance(prior, Prior) or not prior.is_normal_with_hyperprior:
        return False
    mu = prior.params.get("mu", 0.0)
    if prior.dist is not None or isinstance(mu, Prior) or np.any(np.asarray(mu) != 0):
        return False
    return not scalar or _scalar(prior.params["sigma"])


def _scalar(prior: Prior) -> bool:
    """Whether ``prior`` makes one number: no vector parameter at any depth."""
    return all(
        _scalar(value) if isinstance(value, Prior) else np.ndim(value) == 0
        for value in prior.params.values()
    )


def intercept_carrier(design: Design, priors: PriorSet, noncentered: bool | str) -> str | None:
    """The group term, or correlated block (by its prior's name, e.g. ``"h_corr"``), whose
    levels carry common coefficients (hierarchical centring, Gelfand, Sahu and Carlin 1995),
    or ``None``.

    Each level's total ``a_l = b0 + u_l`` is sampled, ``a_l ~ Normal(b0, sigma)``, in place
    of ``u_l ~ Normal(0, sigma)``: the same posterior (a shift, of unit Jacobian), and
    ``u_l = a_l - b0`` is reported under the term's name. With many rows per level the data
    pin each ``b0 + u_l`` down but not ``b0`` and the ``u_l`` apart, a ridge along which
    stochastic gradients crawl; the totals and ``b0`` are nearly independent. A block of
    correlated terms carries the intercept and each common slope whose column it shares
    (:func:`carried_columns`): ``(1 + x | h)`` samples ``(b0 + a_h, bx + c_h)``. Used by
    ADVI and Pathfinder.

    Eligible: an independent ``(1|factor)`` term in a model with an intercept, or a block
    with a column to carry; centred (:func:`use_noncentered`), with
    :func:`zero_mean_population` priors; of several, the one with the fewest levels (the
    most rows per level)."""
    blocked = {name for block in design.blocks for name in block.terms}
    by_name = {term.name: term for term in design.group_terms}
    eligible = [
        (len(term.levels), term.name)
        for term in design.group_terms
        if design.has_intercept
        and term.values is None
        and term.name not in blocked
        and not use_noncentered(term, design.n_obs, noncentered)
        and zero_mean_population(priors[term.name])
    ]
    for block in design.blocks:
        terms = [by_name[name] for name in block.terms]
        if (
            not use_noncentered(terms[0], design.n_obs, noncentered)
            and all(zero_mean_population(priors[term.name], scalar=False) for term in terms)
            and any(column is not None for column in carried_columns(design, block))
        ):
            eligible.append((len(terms[0].levels), block.prior_name))
    return min(eligible, key=lambda pair: pair[0])[1] if eligible else None


def carried_columns(design: Design, block: GroupBlock) -> tuple[int | None, ...]:
    """For each column of a block's terms, in order, the common coefficient it carries
    (:func:`intercept_carrier`): ``-1`` the intercept, ``j`` the slope of the common
    matrix's column ``j`` (a column of the same label and values), ``None`` none."""
    slopes = {
        label: term.start + k
        for term in design.common_terms
        if not term.is_intercept and term.steps is None and term.imputed is None
        for k, label in enumerate(term.columns)
    }
    by_name = {term.name: term for term in design.group_terms}
    carried: list[int | None] = []
    for term in (by_name[name] for name in block.terms):
        if term.values is None:
            carried.append(-1 if design.has_intercept else None)
            continue
        for k, label in enumerate(term.columns):
            j = slopes.get(label)
            same = j is not None and np.array_equal(term.values[:, k], design.common[:, j])
            carried.append(j if same else None)
    return tuple(carried)


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
    #: The common slopes' part: the column of the common matrix of each coefficient, and
    #: the column means subtracted from ``columns`` (``None``: not centred).
    positions: tuple[int, ...] = ()
    means: np.ndarray | None = None


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
    names the group term, or block, whose levels carry common coefficients (see
    :func:`intercept_carrier`)."""
    common = _common_parts(design, priors, center, internal, data, sigma)
    intercept = None
    carrying = next((b for b in design.blocks if b.prior_name == carrier), None)
    if carrier is not None and carrying is None:  # an independent group intercept
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
        carried = _carried(design, block, common, data) if block is carrying else None
        correlated.update(block_effects(design, block, priors, centring, internal, data, carried))
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


def _carried(design: Design, block: GroupBlock, common: list[Part], data: Containers) -> Any:
    """The vector of common coefficients a block's columns carry (:func:`carried_columns`).

    With centred predictors the rows read ``b0c + (x - m) bx``: the intercept slot carries
    ``b0c - m bx`` over the carried slopes, so that the rows read the block's totals alone
    (``a + c x``) and no common coefficient is left in the likelihood."""
    columns = carried_columns(design, block)
    slopes = next((p for p in common if p.positions), Part(None))
    index = {j: slopes.positions.index(j) for j in columns if j is not None and j >= 0}
    values: list[Any] = []
    for j in columns:
        if j is None:
            values.append(pt.as_tensor(0.0, dtype="float64"))
        elif j == -1:
            intercept = next(p.coef for p in common if p.columns is None)
            if index and slopes.means is not None:
                k = list(index.values())
                intercept = intercept - pt.dot(data.param(slopes.means[k]), slopes.coef[k])
            values.append(intercept)
        else:
            values.append(slopes.coef[index[j]])
    return pt.stack(values)


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
        shift = means if centred else None
        parts.append(
            Part(beta_all, X - means if centred else X, positions=tuple(columns), means=shift)
        )
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
