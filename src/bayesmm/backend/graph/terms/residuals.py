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

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt

from ...._names import (
    LAG_DIM,
    OBS_DIM,
    SDERR,
    SERIES_DIM,
    SERIES_DISTANCE,
    SERIES_LATENT,
    SERIES_RESIDUALS,
    SERIES_ROW_DIM,
)
from ....design import Design
from ....design.autocorrelation import SeriesRows, durbin_levinson
from ..context import Added, GraphContext
from ..variables import random_variable

__all__ = ["series_response", "latent_series", "PARTIAL"]

#: The partial autocorrelations an ``ar(p)`` with ``p > 1`` samples (its prior is ``ar``'s).
PARTIAL = "ar_partial"
_LOG_2PI = float(np.log(2 * np.pi))


def _ar_parameters(rows: SeriesRows, ctx: GraphContext) -> list[Any]:
    """``ar``'s partial autocorrelations, one scalar per lag (and ``ar`` itself for p > 1)."""
    p = rows.state.term.p
    if p == 1:
        return [ctx.variable("ar")]
    values = random_variable(PARTIAL, ctx.prior("ar"), (LAG_DIM,), ctx.data)
    partial = [values[k] for k in range(p)]
    table, _ = durbin_levinson(partial, lambda xs, axis: pt.stack(xs, axis=axis))
    pm.Deterministic("ar", table[p], dims=(LAG_DIM,))
    return partial


def _ar_columns(rows: SeriesRows, ctx: GraphContext) -> list[Any]:
    """The data ``ar(p)``'s density reads, one column per row each: the row ``k`` steps back
    (``k = 1..p``), then a mark of the rows of each order ``m < p``."""
    data, p = ctx.data, rows.state.term.p
    lags = [pt.cast(data.rows(rows.lags[:, k]), "int64")[:, 0] for k in range(p)]
    return lags + [data.rows((rows.position == m).astype(float))[:, 0] for m in range(p)]


def _ar_innovations(p: int) -> Callable[..., Any]:
    """Each row's innovation given the ``p`` before it in its series, and its variance:
    ``e_t - sum_k phi(m)_k e_{t-k}``, with variance ``sigma^2 c_m`` at order ``m =
    min(position, p)``. The rows of each order ``m < p`` are marked by a column of the data,
    so the coefficients and variances are elementwise sums, not gathers from a table (whose
    gradient would be a scatter of every row)."""

    def innovations(value: Any, mu: Any, sigma: Any, *args: Any) -> tuple[Any, Any]:
        lags, marks, partial = args[:p], args[p : 2 * p], args[2 * p :]
        table, scales = durbin_levinson(list(partial), lambda xs, axis: pt.stack(xs, axis=axis))
        e = value - mu
        shift, factor = 0.0, 1.0
        for k in range(p):  # rows of order p take the AR coefficients; earlier ones their own
            coef = table[p, k] + sum(marks[m] * (table[m, k] - table[p, k]) for m in range(p))
            shift = shift + coef * e[lags[k]]
        for m in range(p):
            factor = factor + marks[m] * (scales[m] - 1)
        return e - shift, sigma**2 * factor

    return innovations


def _cosy_columns(rows: SeriesRows, ctx: GraphContext) -> list[Any]:
    """The data ``cosy``'s density reads, one column per row each: the rows sorted by series
    and time, the way back, each sorted row's series start, and each row's position."""
    data, n = ctx.data, len(rows.order)
    inverse = np.empty_like(rows.order)
    inverse[rows.order] = np.arange(n)
    starts = np.arange(n) - rows.position[rows.order]
    ints = [pt.cast(data.rows(v), "int64")[:, 0] for v in (rows.order, inverse, starts)]
    return [*ints, data.rows(rows.position)[:, 0]]


def _cosy_innovations(value: Any, mu: Any, sigma: Any, *args: Any) -> tuple[Any, Any]:
    """Each row's innovation given the ``k`` rows before it in its series, whose residuals
    sum to ``S`` (a cumulative sum over the rows sorted by series and time), and its
    variance."""
    order, unsort, starts, k, rho = args
    e = value - mu
    u = e - rho / (1 + (k - 1) * rho) * _earlier_sum(e, order, unsort, starts)
    return u, sigma**2 * (1 - rho) * (1 + k * rho) / (1 + (k - 1) * rho)


def _earlier_sum(x: Any, order: Any, unsort: Any, starts: Any) -> Any:
    """Each row's sum of ``x`` over the rows before it in its series."""
    ordered = x[order]
    before = pt.cumsum(ordered) - ordered
    return (before - before[starts])[unsort]


def _normal_logp(u: Any, var: Any) -> Any:
    return -0.5 * _LOG_2PI - 0.5 * pt.log(var) - 0.5 * u**2 / var


def _student_logp(u: Any, var: Any, nu: Any, sorted_rows: list[Any]) -> Any:
    """A multivariate t series' rows, each given the rows before it: with ``k`` rows before
    whose standardised innovations' squares sum to ``d``, the row is t with ``nu + k``
    degrees of freedom and scale ``sqrt(var (nu + d) / (nu + k))`` (the conditionals of
    the multivariate t; Kotz and Nadarajah 2004)."""
    order, unsort, starts, k = sorted_rows
    d = _earlier_sum(u**2 / var, order, unsort, starts)
    dof = nu + k
    scale2 = var * (nu + d) / dof
    return (
        pt.gammaln((dof + 1) / 2)
        - pt.gammaln(dof / 2)
        - 0.5 * pt.log(dof * np.pi * scale2)
        - (dof + 1) / 2 * pt.log1p(u**2 / (dof * scale2))
    )


def _logp(innovations: Callable[..., Any], n_columns: int, student: bool) -> Callable[..., Any]:
    """Each row's log density given the rows before it in its series, normal or t, from
    the structure's ``innovations`` (its arguments: the value, ``mu``, ``sigma``, its
    ``n_columns`` columns and its parameters; a t's ``nu`` and the sorted rows after
    ``sigma``)."""

    def logp(value: Any, mu: Any, sigma: Any, *args: Any) -> Any:
        if not student:
            return _normal_logp(*innovations(value, mu, sigma, *args))
        nu, sorted_rows, rest = args[0], list(args[1:5]), args[5:]
        u, var = innovations(value, mu, sigma, *rest)
        return _student_logp(u, var, nu, sorted_rows)

    return logp


def _forecast_state(rows: SeriesRows, e: Any, ctx: GraphContext) -> Any:
    """What a forecast of each series starts from: an ``ar(p)``'s last ``p`` residuals
    (newest first), a ``cosy``'s sum of residuals; ``(series, lags)``."""
    data = ctx.data
    if rows.state.term.kind == "cosy":
        codes = data.param_ints(rows.series)
        return pt.inc_subtensor(pt.zeros(len(rows.state.labels))[codes], e)[:, None]
    tails = data.param_ints(np.maximum(rows.tails, 0))
    return e[tails] * data.param((rows.tails >= 0).astype(float))


def series_response(
    design: Design, kwargs: dict[str, Any], observed: Any, ctx: GraphContext
) -> None:
    """The observed response with correlated residuals within series, each row's density
    given the rows before it in its series (their product is each series' joint density);
    and each series' residuals a forecast starts from, ``series_residuals``.

    Prior predictive draws of the response (the stub of tests, ``sample_prior_predictive``)
    are each row's stationary distribution, one row at a time.
    """
    rows = design.series
    assert rows is not None
    model = pm.modelcontext(None)
    model.add_coord(SERIES_DIM, list(rows.state.labels))
    model.add_coord(LAG_DIM, [str(k) for k in range(1, max(rows.state.term.lags, 1) + 1)])
    mu, sigma = kwargs["mu"], kwargs["sigma"]
    ar = rows.state.term.kind == "ar"
    student = "nu" in kwargs
    # The data are parameters of the distribution, not names it closes over, so that a
    # copy of the model (a sampler's, with frozen data) reads its own.
    if ar:
        p = rows.state.term.p
        columns, params = _ar_columns(rows, ctx), _ar_parameters(rows, ctx)
        innovations = _ar_innovations(p)
    else:
        columns, params, innovations = (
            _cosy_columns(rows, ctx),
            [ctx.variable("cosy")],
            _cosy_innovations,
        )
    extra = [kwargs["nu"], *_cosy_columns(rows, ctx)] if student else []
    state = _forecast_state(rows, observed - mu, ctx)
    pm.Deterministic(SERIES_RESIDUALS, state, dims=(SERIES_DIM, LAG_DIM))
    if student:  # what a t forecast's scale grows with: each series' standardised sum
        u, var = innovations(observed, mu, sigma, *columns, *params)
        codes = ctx.data.param_ints(rows.series)
        total = pt.inc_subtensor(pt.zeros(len(rows.state.labels))[codes], u**2 / var)
        pm.Deterministic(SERIES_DISTANCE, total, dims=(SERIES_DIM,))

    def draw(mu: Any, sigma: Any, *args: Any) -> Any:  # the parameters, then the size
        stack = lambda xs, axis: pt.stack(xs, axis=axis)  # noqa: E731
        partial = list(args[len(extra) + len(columns) : -1])
        scale = durbin_levinson(partial, stack)[1][0] if ar else 1.0
        if student:
            return pm.StudentT.dist(nu=args[0], mu=mu, sigma=sigma * pt.sqrt(scale), size=args[-1])
        return pm.Normal.dist(mu, sigma * pt.sqrt(scale), size=args[-1])

    pm.CustomDist(
        design.response.name,
        mu,
        sigma,
        *extra,
        *columns,
        *params,
        logp=_logp(innovations, len(columns), student),
        dist=draw,
        observed=observed,
        dims=OBS_DIM,
    )


#: The standard normals a latent ``ar()``'s residuals are made from (non-centred); internal.
LATENT_NORMALS = "series_latent_z"


def latent_series(design: Design, ctx: GraphContext) -> Added:
    """A latent autocorrelated residual of each row on the linear predictor, for an ``ar(p)``
    of a family without a residual sd (brms's latent residuals): each series a stationary
    AR(p) with innovation sd ``sderr``, non-centred.

    Standard normals ``z`` (one per row) become the residuals a step at a time over the
    series' positions, all series at once: ``e_t = sum_k phi(m)_k e_{t-k} + sderr
    sqrt(c_m) z_t`` at order ``m = min(t, p)`` (the Durbin-Levinson coefficients and
    variance factors), so the first row is stationary. Reported: each row's residual
    (``series_latent``) and each series' last ``p`` (``series_residuals``), which
    forecasts continue.
    """
    rows = design.series
    assert rows is not None
    model = pm.modelcontext(None)
    model.add_coord(SERIES_DIM, list(rows.state.labels))
    p = rows.state.term.p
    model.add_coord(LAG_DIM, [str(k) for k in range(1, p + 1)])
    partial = _ar_parameters(rows, ctx)
    sderr = ctx.variable(SDERR)
    z = pm.Normal(LATENT_NORMALS, 0.0, 1.0, dims=OBS_DIM)
    table, scales = durbin_levinson(partial, lambda xs, axis: pt.stack(xs, axis=axis))
    n_series, length = len(rows.state.labels), int(rows.position.max()) + 1
    series = ctx.data.param_ints(rows.series)
    position = ctx.data.param_ints(rows.position)
    # The normals on a (position, series) grid; padding where a series is shorter.
    grid = pt.zeros((length, n_series))[position, series].set(z)
    steps = np.minimum(np.arange(length), p)
    coefficients, sds = table[steps], sderr * pt.sqrt(scales[steps])

    def step(normals: Any, coefficient: Any, sd: Any, window: Any) -> Any:
        value = (window * coefficient[None, :]).sum(axis=1) + sd * normals
        return pt.concatenate([value[:, None], window[:, :-1]], axis=1)

    windows, _ = pytensor.scan(
        step,
        sequences=[grid, coefficients, sds],
        outputs_info=[pt.zeros((n_series, p))],
        strict=True,
    )
    e = windows[position, series, 0]
    # Reported in series order (by series, then time), so that prediction finds a training
    # time's residual from the series' first time alone (the stored state).
    model.add_coord(SERIES_ROW_DIM, np.arange(len(rows.order)))
    pm.Deterministic(SERIES_LATENT, e[ctx.data.param_ints(rows.order)], dims=SERIES_ROW_DIM)
    state = _forecast_state(rows, e, ctx)
    pm.Deterministic(SERIES_RESIDUALS, state, dims=(SERIES_DIM, LAG_DIM))
    return Added(e, (LATENT_NORMALS,))
