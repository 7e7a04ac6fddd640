"""The graph's piece of a residual structure within series, ``ar()`` and ``cosy()``
(:mod:`bayesmm.design.autocorrelation`): the exact gaussian likelihood of each series, as
each row's density given the rows before it in its series.

A series' joint normal density factors into one normal per row given the earlier rows
(the prediction-error decomposition), so the family's own distribution, given each row's
conditional mean and sd, is the exact likelihood, with no matrix per series:

- ``ar(p)``: row ``t`` at position ``m = min(t, p)`` in its series has mean ``mu_t + sum_k
  phi(m)_k e_{t-k}`` and variance ``sigma^2 * prod_{k>m} 1/(1 - r_k^2)``, where ``r`` are
  the partial autocorrelations and ``phi(m)`` the order-``m`` coefficients of the
  Durbin-Levinson recursion (at ``m = p`` the AR coefficients themselves). Sampling the
  partial autocorrelations in ``(-1, 1)`` keeps the process stationary (Barndorff-Nielsen
  and Schou 1973); for ``p = 1`` it is ``ar`` itself.
- ``cosy``: with ``k`` earlier rows whose residuals sum to ``S``, the mean is ``mu + rho S /
  (1 + (k - 1) rho)`` and the variance ``sigma^2 (1 - rho)(1 + k rho) / (1 + (k - 1) rho)``.

The rows keep their order: each row reads its earlier rows through index columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ...._names import LAG_DIM, SERIES_DIM, SERIES_RESIDUALS
from ....design import Design
from ....design.autocorrelation import SeriesRows, durbin_levinson
from ..context import GraphContext
from ..variables import random_variable

__all__ = ["series_likelihood", "PARTIAL"]

#: The partial autocorrelations an ``ar(p)`` with ``p > 1`` samples (its prior is ``ar``'s).
PARTIAL = "ar_partial"


def _ar(rows: SeriesRows, e: Any, ctx: GraphContext) -> tuple[Any, Any, Any]:
    """The conditional mean shift, sd factor and forecast state of ``ar(p)``."""
    p = rows.state.term.p
    data = ctx.data
    if p == 1:
        partial = [ctx.variable("ar")]
    else:
        values = random_variable(PARTIAL, ctx.prior("ar"), (LAG_DIM,), data)
        partial = [values[k] for k in range(p)]
    table, scales = durbin_levinson(partial, lambda xs, axis: pt.stack(xs, axis=axis))
    if p > 1:
        pm.Deterministic("ar", table[p], dims=(LAG_DIM,))
    order = pt.cast(data.rows(np.minimum(rows.position, p)), "int64")[:, 0]
    lags = pt.cast(data.rows(rows.lags), "int64")
    shift = (table[order] * e[lags]).sum(axis=1)
    tails = np.maximum(rows.tails, 0)
    state = e[data.param_ints(tails)] * data.param((rows.tails >= 0).astype(float))
    return shift, pt.sqrt(scales[order]), state


def _cosy(rows: SeriesRows, e: Any, ctx: GraphContext) -> tuple[Any, Any, Any]:
    """The conditional mean shift, sd factor and forecast state of ``cosy``."""
    rho = ctx.variable("cosy")
    data = ctx.data
    order = data.param_ints(rows.order)
    inverse = np.empty_like(rows.order)
    inverse[rows.order] = np.arange(len(rows.order))
    starts = np.arange(len(rows.order)) - rows.position[rows.order]
    sorted_e = e[order]
    before = pt.cumsum(sorted_e) - sorted_e
    earlier = (before - before[data.param_ints(starts)])[data.param_ints(inverse)]
    k = data.rows(rows.position)[:, 0]
    shift = rho / (1 + (k - 1) * rho) * earlier
    factor = pt.sqrt((1 - rho) * (1 + k * rho) / (1 + (k - 1) * rho))
    codes = data.param_ints(rows.series)
    sums = pt.inc_subtensor(pt.zeros(len(rows.state.labels))[codes], e)
    return shift, factor, sums[:, None]


def series_likelihood(design: Design, kwargs: dict[str, Any], ctx: GraphContext) -> dict[str, Any]:
    """The family's arguments ``kwargs`` (``mu``, ``sigma``) given each row's earlier rows in
    its series; and each series' residuals a forecast starts from, ``series_residuals``."""
    rows = design.series
    assert rows is not None
    model = pm.modelcontext(None)
    model.add_coord(SERIES_DIM, list(rows.state.labels))
    y = ctx.data.rows(np.asarray(design.response.values, dtype=float))[:, 0]
    e = y - kwargs["mu"]
    lags = max(rows.state.term.lags, 1)
    model.add_coord(LAG_DIM, [str(k) for k in range(1, lags + 1)])
    build = _ar if rows.state.term.kind == "ar" else _cosy
    shift, factor, state = build(rows, e, ctx)
    pm.Deterministic(SERIES_RESIDUALS, state, dims=(SERIES_DIM, LAG_DIM))
    return {**kwargs, "mu": kwargs["mu"] + shift, "sigma": kwargs["sigma"] * factor}
