"""The linear predictor of a formula in PyMC: common slopes, the intercept, offsets and
group-specific effects, independent (centred or not) or correlated within a block."""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..._names import mu_name, sigma_name
from ...design import Design, GroupBlock, GroupTerm
from ...priors import Prior, PriorSet
from .blocks import block_effects
from .context import Added, GraphContext, LinearParts, Part, internal_of
from .terms import ROLES, graph_piece, role_of, term_piece
from .terms.shrinkage import shrunk_slopes
from .variables import (
    Containers,
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
        if not term.is_intercept and role_of(term) == "slopes"
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


def linear_parts(design: Design, ctx: GraphContext, without: str | None = None) -> LinearParts:
    """The random variables of one formula's linear predictor, as :class:`Part` objects;
    no per-row value enters the graph here (see :func:`linear_predictor`). ``without``
    names a factor whose group terms are left out (see ``collapsed``); the context's
    ``carrier`` names the group term, or block, whose levels carry common coefficients (see
    :func:`intercept_carrier`)."""
    common, internal = _common_parts(design, ctx)
    intercept = None
    carrying = next((b for b in design.blocks if b.prior_name == ctx.carrier), None)
    if ctx.carrier is not None and carrying is None:  # an independent group intercept
        intercept = next(p.coef for p in common if p.columns is None)
        common = [p for p in common if p.columns is not None]
    kinds = [
        term_piece(design, term, ctx)
        for role in ROLES[1:]  # "values", then "part"
        for term in design.common_terms
        if role_of(term) == role
    ]
    parts = [piece.value for piece in kinds if isinstance(piece.value, Part)]
    with_missing = tuple(piece.value for piece in kinds if not isinstance(piece.value, Part))
    correlated: dict[str, Any] = dict(ctx.linked)
    pieces = [*kinds]
    own = (b for b in design.blocks if b.factor != without and b.terms[0] not in ctx.linked)
    for block in own:
        first = next(t for t in design.group_terms if t.name == block.terms[0])
        centring = use_noncentered(first, ctx.n_obs(design), ctx.noncentered)
        carried = _carried(design, block, common, ctx.data) if block is carrying else None
        piece = block_effects(design, block, ctx, centring, carried)
        correlated.update(piece.value)
        pieces.append(piece)
    for group in (t for t in design.group_terms if t.factor != without):
        if group.name in correlated:
            effect = correlated[group.name]
        else:
            if group.name == ctx.carrier:
                piece = _carried_intercept(group, ctx, intercept)
            else:
                centring = use_noncentered(group, ctx.n_obs(design), ctx.noncentered)
                piece = _group_effect(group, ctx, centring)
            effect = piece.value
            pieces.append(piece)
        levels = len(group.levels)
        parts.append(
            Part(effect, group.values, group.index, group.factor, levels, terms=(group.name,))
        )
    offset = None if design.offset is None else design.offset.values
    internal += internal_of(pieces)
    return LinearParts(tuple(common), offset, tuple(parts), with_missing, tuple(internal))


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


def linear_predictor(design: Design, ctx: GraphContext) -> Added:
    """The linear predictor of one formula, one value per row, and its internal variables."""
    parts = linear_parts(design, ctx)
    return Added(on_rows(parts, ctx.data), parts.internal)


def on_rows(parts: LinearParts, data: Containers) -> Any:
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
        index = data.factor_index(part.factor, part.index)
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


def _common_parts(design: Design, ctx: GraphContext) -> tuple[list[Part], list[str]]:
    """The common slopes and the intercept, and their internal variables; registers
    ``Intercept`` on the user's scale. A kind of term whose piece has a role other than
    ``"slopes"`` is a part of its own (:mod:`~bayesmm.backend.graph.terms`)."""
    slopes = [t for t in design.common_terms if not t.is_intercept and role_of(t) == "slopes"]
    parts, internal = [], []
    coefficients = []
    shrunk = [t for t in slopes if t.gp is None and ctx.prior(t.name).is_shrinkage]
    joint: dict[str, Any] = {}
    if shrunk:
        first = ctx.prior(shrunk[0].name)
        shrinkage = shrunk_slopes(first, shrunk, ctx.n_obs(design), ctx.sigma)
        joint, internal = shrinkage.value, [*shrinkage.internal]
    for term in slopes:
        dims = (common_dim(term.name),) if term.levels is not None else None
        if graph_piece(term) is not None:
            piece = term_piece(design, term, ctx)
            beta, internal = piece.value, [*internal, *piece.internal]
        elif term.name in joint:
            beta = joint[term.name]
        else:
            beta = ctx.variable(term.name, dims)
        coefficients.append(pt.atleast_1d(beta))
    columns = [j for t in slopes for j in range(t.start, t.stop)]
    X = design.common[:, columns] if slopes else None
    centred = ctx.center and design.has_intercept and X is not None
    if X is not None:
        beta_all = pt.concatenate(coefficients) if len(coefficients) > 1 else coefficients[0]
        means = X.mean(axis=0) if ctx.means is None else ctx.means[columns]
        shift = means if centred else None
        parts.append(
            Part(beta_all, X - means if centred else X, positions=tuple(columns), means=shift)
        )
    if design.has_intercept:
        name = next(t.name for t in design.common_terms if t.is_intercept)
        intercept_prior = ctx.prior(name)
        if centred:
            # Sample the intercept of the centred predictors (less correlated with the slopes),
            # and report it on the user's scale: b0 = b0_c - mean(x) . beta.
            inner = random_variable(f"{name}_centered", intercept_prior, None, ctx.data)
            internal.append(f"{name}_centered")
            pm.Deterministic(name, inner - pt.dot(ctx.data.param(means), beta_all))
            parts.append(Part(inner))
        else:
            parts.append(Part(random_variable(name, intercept_prior, None, ctx.data)))
    return parts, internal


def _group_effect(term: GroupTerm, ctx: GraphContext, noncentered: bool) -> Added:
    dims = term_dims(term)
    prior = ctx.prior(term.name)
    if not (noncentered and prior.is_normal_with_hyperprior):
        return Added(random_variable(term.name, prior, dims, ctx.data))
    # Non-centred: b = mu + sigma * z with z ~ Normal(0, 1) (Papaspiliopoulos et al. 2007).
    sigma_prior = prior.params["sigma"]
    sigma = random_variable(
        sigma_name(term.name), sigma_prior, hyper_dims(sigma_prior, dims), ctx.data
    )
    mu = prior.params.get("mu", 0.0)
    if isinstance(mu, Prior):
        mu = random_variable(mu_name(term.name), mu, hyper_dims(mu, dims), ctx.data)
    offset = pm.Normal(f"{term.name}_offset", mu=0.0, sigma=1.0, dims=dims)
    effects = pm.Deterministic(term.name, mu + offset * sigma, dims=dims)
    return Added(effects, (f"{term.name}_offset",))


def _carried_intercept(term: GroupTerm, ctx: GraphContext, intercept: Any) -> Added:
    """Each level's total ``b0 + u_l ~ Normal(b0, sigma)``, the coefficient the rows read;
    registers ``u_l`` under the term's name (see :func:`intercept_carrier`)."""
    dims = term_dims(term)
    sigma_prior = ctx.prior(term.name).params["sigma"]
    sigma = random_variable(sigma_name(term.name), sigma_prior, None, ctx.data)
    totals = pm.Normal(f"{term.name}_with_intercept", mu=intercept, sigma=sigma, dims=dims)
    pm.Deterministic(term.name, totals - intercept, dims=dims)
    return Added(totals, (f"{term.name}_with_intercept",))
