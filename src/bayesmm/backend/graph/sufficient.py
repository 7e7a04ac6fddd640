"""Exact sufficient statistics of a gaussian model with the identity link.

The linear predictor is ``eta = W theta`` (plus an offset): ``theta`` stacks the common
slopes, the intercept and every group term's effects, and ``W`` is the sparse matrix of
their columns (a row has one non-zero per common column and per group-term column). The
log-likelihood of all rows, each with weight ``w_i``,

    -sum(w) log(sigma) - sum(w) log(2 pi) / 2 - sum(w_i (y_i - eta_i)^2) / (2 sigma^2),

depends on the data only through ``sum(w)``, ``s = sum(w r^2)``, ``c = W' diag(w) r`` and
``G = W' diag(w) W`` (``r = y - offset``), since ``sum(w (r - W theta)^2) = s - 2 theta' c +
theta' G theta``. ``G`` is sparse too: each grouping factor adds a block per level, and its
products with the common columns and with the other factors' levels that share rows. So a
gradient costs the number of non-zeros of ``G``, not the number of rows: for ``y ~ x +
(1|g)`` with 1,000,000 rows and 10,000 groups, about 40,000 products instead of 3,000,000.

Nothing is approximated. To keep ``s - 2 theta' c + theta' G theta`` accurate when the
response is far from zero (``s`` is then much larger than the sum of squared residuals),
the statistics are taken around a reference ``theta0`` (the weighted mean of ``r`` as the
intercept), with ``theta - theta0`` in place of ``theta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ...design import Design
from ...design.moments import Moments, shortcut_blocker
from ...families import Family
from ...links import Link
from ...priors import PriorSet
from .built import BuiltModel, display_order, model_coords
from .collapsed import COLLAPSED, EffectDraws, collapsible, integrate_out, population
from .context import GraphContext, LinearParts
from .likelihoods import Auxiliary
from .predictors import linear_parts, on_rows, use_noncentered
from .variables import OBS_DIM, PYTENSOR_OPS, Containers

__all__ = [
    "SHORTCUT_MIN_ROWS",
    "shortcut_blocker",
    "Statistics",
    "statistics",
    "worth_it",
    "summed_model",
    "summary_model",
    "stored_statistics",
    "stored_model",
    "NOT_WORTH_IT",
    "counted_model",
    "identical_rows",
]

#: What ``idata.attrs["likelihood"]`` says of each shortcut.
GAUSSIAN = "sufficient statistics (exact)"
BINOMIAL = "binomial counts of identical rows (exact)"

#: ``fit()`` uses the statistics by itself from this many rows on, when they are at most a
#: quarter the size of the rows (see :func:`worth_it`).
SHORTCUT_MIN_ROWS = 10_000


@dataclass(frozen=True)
class _Side:
    """One part of ``theta`` as a table of coefficients, ``levels`` rows by ``values``'
    columns: a common part is one level (``index`` all zero), a group term one per level."""

    index: np.ndarray
    values: np.ndarray
    levels: int
    factor: str


@dataclass(frozen=True)
class Block:
    """``sum_cells U_a[ia]' M U_b[ib]``: the products of sides ``a`` and ``b`` over the rows,
    summed in cells; ``ia``/``ib`` is ``None`` where a side's rows are the cells themselves
    (or it has one level, broadcast)."""

    a: int
    b: int
    products: np.ndarray  # (cells, columns of a, columns of b)
    ia: np.ndarray | None
    ib: np.ndarray | None


@dataclass(frozen=True)
class Statistics:
    """The data of a gaussian model, summed: see the module's documentation."""

    blocks: tuple[Block, ...]  # G, by pairs of sides a <= b
    cross: tuple[np.ndarray, ...]  # c, by side: (levels, columns)
    squares: float  # s = sum(w r^2), r the response less the offset and the reference
    weight: float  # sum(w)
    reference: float  # the intercept of theta0 (0 without an intercept)

    @property
    def size(self) -> int:
        """How many numbers a gradient reads."""
        return sum(b.products.size for b in self.blocks) + sum(c.size for c in self.cross)


def _sides(parts: LinearParts, n: int) -> list[_Side]:
    """The sides of ``theta``, in its order."""
    sides = []
    zeros = np.zeros(n, dtype=np.int64)
    for part in parts.common:
        columns = np.ones((n, 1)) if part.columns is None else part.columns
        sides.append(_Side(zeros, np.asarray(columns, dtype=float).reshape(n, -1), 1, ""))
    for part in parts.groups:
        assert part.index is not None and part.factor is not None
        values = np.ones((n, 1)) if part.columns is None else part.columns
        index = part.index.astype(np.int64)
        sides.append(
            _Side(index, np.asarray(values, dtype=float).reshape(n, -1), part.levels, part.factor)
        )
    return sides


def _sums(cells: np.ndarray, n_cells: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``out[c, s, t] = sum over the rows in cell c of left[:, s] * right[:, t]``."""
    out = np.empty((n_cells, left.shape[1], right.shape[1]))
    for s in range(left.shape[1]):
        for t in range(right.shape[1]):
            out[:, s, t] = np.bincount(cells, weights=left[:, s] * right[:, t], minlength=n_cells)
    return out


def _block(a: int, b: int, sa: _Side, sb: _Side, weights: np.ndarray) -> Block:
    weighted = sa.values * weights[:, None]
    if sa.factor == sb.factor or sa.levels == 1 or sb.levels == 1:
        # The cells are the levels of the side with more of them: no gathering.
        index, n_cells = (sa.index, sa.levels) if sa.levels >= sb.levels else (sb.index, sb.levels)
        return Block(a, b, _sums(index, n_cells, weighted, sb.values), None, None)
    codes = sa.index * sb.levels + sb.index
    unique, cells = np.unique(codes, return_inverse=True)
    products = _sums(cells.ravel(), len(unique), weighted, sb.values)
    return Block(a, b, products, unique // sb.levels, unique % sb.levels)


def statistics(design: Design, parts: LinearParts) -> Statistics:
    """Sum the rows of ``design`` into the statistics of its gaussian likelihood."""
    n = design.n_obs
    target = np.asarray(design.response.values, dtype=float).reshape(n)
    if parts.offset is not None:
        target = target - np.asarray(parts.offset, dtype=float).reshape(n)
    weights = np.ones(n) if design.weights is None else np.asarray(design.weights, dtype=float)
    reference = 0.0
    if any(p.columns is None for p in parts.common):
        reference = float(np.average(target, weights=weights))
    residual = target - reference
    sides = _sides(parts, n)
    blocks = tuple(
        _block(a, b, sides[a], sides[b], weights)
        for a in range(len(sides))
        for b in range(a, len(sides))
    )
    ones = np.ones((n, 1))
    weighted = (weights * residual)[:, None]
    cross = tuple(
        _sums(side.index, side.levels, side.values * weighted, ones)[:, :, 0] for side in sides
    )
    return Statistics(
        blocks=blocks,
        cross=cross,
        squares=float(np.sum(weights * residual**2)),
        weight=float(weights.sum()),
        reference=reference,
    )


def _common_maps(
    parts: LinearParts, moments: Moments
) -> tuple[list[np.ndarray], np.ndarray, float]:
    """Each common part's columns and the residual ``r`` (less the reference) as linear maps
    of the moments' common side ``(1, columns, y, offset) - anchor``, and the reference."""
    width, y = len(moments.anchor), moments.response_column
    first = moments.blocks[(0, 0)].products[0, 0] / moments.weight  # weighted means less anchor
    maps = []
    for part in parts.common:
        if part.columns is None:  # the intercept: the ones
            maps.append(np.eye(1, width))
            continue
        positions = np.asarray(part.positions, dtype=np.int64)
        means = np.zeros(len(positions)) if part.means is None else np.asarray(part.means)
        rows = np.zeros((len(positions), width))
        rows[np.arange(len(positions)), 1 + positions] = 1.0
        rows[:, 0] = moments.anchor[1 + positions] - means  # x - m = (x - anchor) + anchor - m
        maps.append(rows)
    residual = np.zeros(width)
    residual[y], residual[0] = 1.0, moments.anchor[y]
    target = first[y] + moments.anchor[y]
    if moments.offset:
        residual[y + 1], residual[0] = -1.0, residual[0] - moments.anchor[y + 1]
        target -= first[y + 1] + moments.anchor[y + 1]
    reference = float(target) if any(p.columns is None for p in parts.common) else 0.0
    residual[0] -= reference
    return maps, residual, reference


@dataclass(frozen=True)
class _StoredSide:
    """A side of ``theta`` in the moments: a common part's linear map, or a group part's
    moment sides, its levels and each moment level's position among them."""

    map: np.ndarray | None
    sides: tuple[int, ...] = ()
    levels: int = 1
    positions: np.ndarray | None = None


def _stored_sides(moments: Moments, design: Design, parts: LinearParts) -> list[_StoredSide]:
    maps = _common_maps(parts, moments)[0]
    out = [_StoredSide(m) for m in maps]
    names = [g.name for g in moments.groups]
    for part in parts.groups:
        factor = str(part.factor)
        levels = next(t.levels for t in design.group_terms if t.factor == factor)
        position = {level: i for i, level in enumerate(levels)}
        missing = [v for v in moments.levels[factor] if v not in position]
        if missing or any(name not in names for name in part.terms):
            raise ValueError(f"the statistics have levels or terms the design lacks: {missing}")
        found = np.array([position[v] for v in moments.levels[factor]], dtype=np.int64)
        sides = tuple(1 + names.index(name) for name in part.terms)
        out.append(_StoredSide(None, sides, part.levels, found))
    return out


def _widths(moments: Moments, sides: tuple[int, ...]) -> list[int]:
    return [moments.groups[side - 1].width for side in sides]


def _stored_block(moments: Moments, a: int, b: int, sa: _StoredSide, sb: _StoredSide) -> Block:
    """Block ``(a, b)`` of the statistics, from the moments (``sa`` before ``sb``)."""
    common = moments.blocks[(0, 0)].products[0]
    if sa.map is not None and sb.map is not None:
        return Block(a, b, (sa.map @ common @ sb.map.T)[None], None, None)
    assert sb.positions is not None
    wide_b, start_b = _widths(moments, sb.sides), np.cumsum([0, *_widths(moments, sb.sides)])
    if sa.map is not None:  # a common part and a group part: one cell per level of b
        products = np.zeros((sb.levels, len(sa.map), sum(wide_b)))
        for k, side in enumerate(sb.sides):
            block = moments.block(0, side)
            mapped = np.einsum("ak,ckt->cat", sa.map, block.products)
            products[sb.positions[block.right], :, start_b[k] : start_b[k + 1]] += mapped
        return Block(a, b, products, None, None)
    assert sa.positions is not None
    wide_a, start_a = _widths(moments, sa.sides), np.cumsum([0, *_widths(moments, sa.sides)])
    pairs = [
        (i, k, moments.block(ta, tb))
        for i, ta in enumerate(sa.sides)
        for k, tb in enumerate(sb.sides)
    ]
    if moments.factor(sa.sides[0]) == moments.factor(sb.sides[0]):  # one cell per level
        products = np.zeros((sa.levels, sum(wide_a), sum(wide_b)))
        for i, k, block in pairs:
            cells = sa.positions[block.left]
            products[cells, start_a[i] : start_a[i + 1], start_b[k] : start_b[k + 1]] += (
                block.products
            )
        return Block(a, b, products, None, None)
    keys = [sa.positions[block.left] * sb.levels + sb.positions[block.right] for *_, block in pairs]
    cells = np.unique(np.concatenate(keys))
    products = np.zeros((len(cells), sum(wide_a), sum(wide_b)))
    for (i, k, block), key in zip(pairs, keys, strict=True):
        at = np.searchsorted(cells, key)
        products[at, start_a[i] : start_a[i + 1], start_b[k] : start_b[k + 1]] += block.products
    return Block(a, b, products, cells // sb.levels, cells % sb.levels)


def stored_statistics(moments: Moments, design: Design, parts: LinearParts) -> Statistics:
    """The statistics of :func:`statistics` for ``parts``, from rows summed before into
    ``moments`` (:class:`~bayesmm.design.moments.Moments`) rather than from ``design``'s
    rows: the common columns centred on ``parts``' means, the response taken around its
    weighted mean, the levels in ``design``'s order (which must hold the moments' levels).

    Raises
    ------
    ValueError
        If the moments have a level or a group term that ``design`` lacks.
    """
    sides = _stored_sides(moments, design, parts)
    residual, reference = _common_maps(parts, moments)[1:]
    common = moments.blocks[(0, 0)].products[0]
    blocks = tuple(
        _stored_block(moments, a, b, sides[a], sides[b])
        for a in range(len(sides))
        for b in range(a, len(sides))
    )
    cross = []
    for side in sides:
        if side.map is not None:
            cross.append((side.map @ common @ residual)[None])
            continue
        assert side.positions is not None
        widths = _widths(moments, side.sides)
        start = np.cumsum([0, *widths])
        values = np.zeros((side.levels, sum(widths)))
        for k, term in enumerate(side.sides):
            block = moments.block(0, term)
            product = np.einsum("k,ckt->ct", residual, block.products)
            values[side.positions[block.right], start[k] : start[k + 1]] += product
        cross.append(values)
    return Statistics(
        blocks=blocks,
        cross=tuple(cross),
        squares=float(residual @ common @ residual),
        weight=moments.weight,
        reference=reference,
    )


def worth_it(stats: Statistics, n_obs: int, collapsed: bool = False) -> bool:
    """Whether the statistics are small enough, next to the rows, to be worth using: a
    quarter of the rows, or as many as the rows when a factor's effects are integrated out
    (NUTS then samples far fewer numbers, and takes fewer steps: about half as many on
    ``benchmarks/large_crossed.py``'s gaussian model at 100,000 rows)."""
    return n_obs >= SHORTCUT_MIN_ROWS and stats.size * (1 if collapsed else 4) <= n_obs


def _table(part: Any, levels: int) -> Any:
    """A part's coefficients as ``(levels, columns)``."""
    return pt.reshape(part.coef, (levels, -1))


def _common_quadratic(
    parts: LinearParts, stats: Statistics, data: Containers, sides: int | None = None
) -> tuple[Any, list[Any]]:
    """``sum(w (r - W theta)^2)`` over the first ``sides`` sides of ``theta`` (all by
    default; the others at zero), and the coefficient table of each side, the intercept
    less the reference."""
    common = [
        _table(p, 1) - data.param(stats.reference) if p.columns is None else _table(p, 1)
        for p in parts.common
    ]
    sides = len(common) + len(parts.groups) if sides is None else sides
    tables = common + [_table(p, p.levels) for p in parts.groups[: sides - len(common)]]
    quadratic: Any = 0.0
    for block in stats.blocks:
        if block.b >= sides:
            continue
        left = tables[block.a] if block.ia is None else tables[block.a][data.param_ints(block.ia)]
        right = tables[block.b] if block.ib is None else tables[block.b][data.param_ints(block.ib)]
        products = data.param(block.products)
        term = pt.sum(left[:, :, None] * products * right[:, None, :])
        quadratic = quadratic + (term if block.a == block.b else 2 * term)
    pairs = zip(tables[:sides], stats.cross[:sides], strict=True)
    linear = sum(pt.sum(t * data.param(c)) for t, c in pairs)
    return data.param(stats.squares) - 2 * linear + quadratic, tables[:sides]


def _log_density(squares: Any, stats: Statistics, sigma: Any, data: Containers) -> Any:
    """The gaussian log-likelihood of the summed rows, given their summed squared residuals."""
    weight = data.param(stats.weight)
    return (
        -weight * pt.log(sigma)
        - 0.5 * weight * math.log(2 * math.pi)
        - pt.maximum(squares, 0.0) / (2 * sigma**2)
    )


def summed_model(
    design: Design,
    priors: PriorSet,
    noncentered: bool | str,
    center: bool,
    required: bool = False,
    collapse: bool = False,
    stored: Moments | None = None,
) -> BuiltModel | None:
    """The model of ``build_model`` with the rows summed: the same variables, under the same
    names, and no per-row data (so no observed variable: the log-likelihood of each row
    comes from the model of the rows). ``None`` when the statistics would not be much
    smaller than the rows (see :func:`worth_it`), unless ``required``.

    With ``collapse``, a model whose group terms are on one factor, with one or two columns,
    has its effects integrated out instead (:mod:`bayesmm.backend.collapsed`): they are
    missing from its posterior until :attr:`BuiltModel.complete` draws them.

    With ``stored``, the rows are those summed into these moments, not ``design``'s
    (:func:`stored_model`).
    """
    spec = collapsible(design, priors) if collapse else None
    factor = None if spec is None else spec.terms[0].factor
    coords = {k: v for k, v in model_coords(design).items() if k != OBS_DIM}
    complete = None
    n_obs = design.n_obs if stored is None else stored.rows
    means = None if stored is None else stored.common_means()
    with pm.Model(coords=coords) as model:
        data = Containers(design.n_obs)
        aux = Auxiliary(priors.of_kind("auxiliary"), data)
        ctx = GraphContext(priors, data, center, noncentered, aux.sigma, rows=n_obs, means=means)
        parts = linear_parts(design, ctx, without=factor)
        internal = parts.internal
        if spec is not None:
            effects = population(spec, design, priors, data)
            chol, internal = effects.value, (*internal, *effects.internal)
            groups = (*parts.groups, spec.part(design.n_obs))
            parts = LinearParts(parts.common, parts.offset, groups)
        stats = (
            statistics(design, parts)
            if stored is None
            else stored_statistics(stored, design, parts)
        )
        # Integrated out, the effects leave NUTS a few numbers, and with one factor a step
        # reads a few numbers per level, never more than the rows: worth it at any size.
        # With other factors it reads their products with this one's levels too.
        alone = spec is not None and len(parts.groups) == 1
        if not (alone or required or worth_it(stats, n_obs, spec is not None)):
            return None
        sides = None if spec is None else len(parts.common) + len(parts.groups) - 1
        squares, tables = _common_quadratic(parts, stats, data, sides)
        sigma = aux.values()["sigma"]
        log_density = _log_density(squares, stats, sigma, data)
        if spec is not None:
            integrated, mean, cov_chol = integrate_out(stats, tables, data, sigma, chol)
            log_density = log_density + integrated
            noncentred = use_noncentered(spec.terms[0], n_obs, noncentered)
            complete = EffectDraws(model, spec, mean, cov_chol, chol, noncentred)
        pm.Potential(f"{design.response.name}_summed", log_density)
        data.fill()
    order = display_order(design, priors)
    return BuiltModel(
        model=model,
        response=design.response.name,
        observed=design.response.values,
        internal=internal,
        order=order,
        likelihood=GAUSSIAN if spec is None else COLLAPSED,
        complete=complete,
    )


def stored_model(
    design: Design,
    priors: PriorSet,
    moments: Moments,
    *,
    noncentered: bool | str = "auto",
    center: bool = True,
) -> BuiltModel:
    """The summed model of rows summed before, into ``moments``, with ``priors``: an update
    from stored statistics (``bayesmm.workflow.update``). ``design`` gives the model's
    structure and levels (which must hold the moments' levels); its rows are not read. A
    factor's effects are integrated out where they can be, as in :func:`summary_model`, and
    the model has the variables, names and compiled structure of a fit of all the rows; it
    has no rows to observe (``observed`` is empty).
    """
    built = summed_model(design, priors, noncentered, center, True, True, stored=moments)
    assert built is not None  # required
    return replace(built, observed=np.zeros(0))


def summary_model(
    design: Design,
    family: Family,
    link: Link,
    priors: PriorSet,
    insist: bool,
    *,
    noncentered: bool | str = "auto",
    center: bool = True,
) -> BuiltModel | str:
    """The model of ``build_model(design, family, link, priors, ...)``'s rows summed where that
    is exact: the statistics of a gaussian identity-link model (with one factor integrated
    out where it can be), or the counts of a bernoulli model's identical rows. Otherwise the
    reason there is none, as text: what blocks it, or that the summary would not be much
    smaller than the rows (:func:`worth_it`; with ``insist``, it is built anyway).

    Which model a fit samples is the samplers' choice (``backend.samplers.choice``).
    """
    blocker = shortcut_blocker(design, family, link)
    if blocker is not None:
        return blocker
    settings = (design, priors, noncentered, center, insist)
    if family.likelihood.name == "Normal":
        summed = summed_model(*settings, collapse=True)
    else:
        summed = counted_model(*settings, link=link)
    if summed is None:
        return NOT_WORTH_IT
    return summed


#: :func:`summary_model`'s reason when a summary would not pay.
NOT_WORTH_IT = "its summary would not be much smaller than its rows"


def identical_rows(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)``: the first row of each set of rows with the same predictors,
    group levels and offset, and the set of each row."""
    n = design.n_obs
    keys = [np.asarray(design.common, dtype=float).reshape(n, -1)]
    for term in design.group_terms:
        keys.append(term.index.reshape(n, 1).astype(float))
        if term.values is not None:
            keys.append(np.asarray(term.values, dtype=float).reshape(n, -1))
    if design.offset is not None:
        keys.append(np.asarray(design.offset.values, dtype=float).reshape(n, -1))
    _, first, inverse = np.unique(np.hstack(keys), axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


def counted_model(
    design: Design,
    priors: PriorSet,
    noncentered: bool | str,
    center: bool,
    required: bool = False,
    link: Link | None = None,
) -> BuiltModel | None:
    """A bernoulli model with its identical rows counted: one binomial row per set of rows
    with the same predictors and levels, ``successes`` of ``trials``. The same variables and
    the same posterior (the log-likelihoods differ by a constant, the log binomial
    coefficients); ``None`` unless the sets are at most a quarter as many as the rows."""
    first, inverse = identical_rows(design)
    if not (required or (design.n_obs >= SHORTCUT_MIN_ROWS and len(first) * 4 <= design.n_obs)):
        return None
    trials = np.bincount(inverse, minlength=len(first)).astype(float)
    successes = np.bincount(inverse, weights=design.response.values, minlength=len(first))
    coords = {**model_coords(design), OBS_DIM: np.arange(len(first))}
    with pm.Model(coords=coords) as model:
        data = Containers(len(first))
        parts = linear_parts(design, GraphContext(priors, data, center, noncentered))
        eta = on_rows(parts.take(first), data)
        if link is None or (link.name == "logit" and link.is_registered):
            kwargs = {"logit_p": eta}
        else:
            kwargs = {"p": link.backend_inverse(eta, PYTENSOR_OPS)}
        pm.Binomial(
            f"{design.response.name}_counts",
            n=data.row_ints(trials),
            observed=data.rows(successes)[:, 0],
            dims=OBS_DIM,
            **kwargs,
        )
        data.fill()
    order = display_order(design, priors)
    return BuiltModel(
        model, design.response.name, design.response.values, parts.internal, order, BINOMIAL
    )
