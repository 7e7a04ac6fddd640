"""Prediction for a response with correlated residuals within series, ``ar()`` and ``cosy()``
(:mod:`bayesmm.design.autocorrelation`), from the posterior draws alone.

- The training rows: each row given the rows before it in its series (the conditional mean
  and sd of the likelihood).
- New rows of a series the model has seen, after its last training time: forecasts. Each
  series continues from its residuals at the end of training (``series_residuals`` in the
  posterior), ``h`` steps ahead, so an AR(1) forecast's mean is ``mu + ar^h e_T``.
- New rows of a series the model has not seen, or rows without the term's columns: the
  stationary (marginal) distribution.

:func:`series_params` gives each row's mean and sd, given the training rows; its draws
(:func:`series_response_draws`) are joint over a series' new rows, so a path keeps its
autocorrelation. :func:`series_loo_density` is each training row's density given all the
other rows of its series (non-factorised leave-one-out, Bürkner, Gabry and Vehtari 2021).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from .._errors import DataError
from .._names import SDERR, SERIES_DISTANCE, SERIES_LATENT, SERIES_RESIDUALS
from ..design.autocorrelation import NewSeries, SeriesRows, SeriesState, durbin_levinson

__all__ = [
    "SeriesDraws",
    "series_draws",
    "series_params",
    "series_response_draws",
    "series_loo_density",
    "latent_shift",
]


@dataclass(frozen=True)
class SeriesDraws:
    """Posterior draws of a residual structure: ``partial`` ``(S, p)``, an ``ar(p)``'s
    partial autocorrelations or ``cosy``'s correlation ``(S, 1)``; ``residuals`` ``(S,
    series, lags)``, what each series' forecasts start from."""

    kind: str
    partial: np.ndarray
    residuals: np.ndarray
    #: A t response's degrees of freedom ``(S, 1)`` and each series' sum of squared
    #: standardised innovations over its training rows ``(S, series)``; ``None`` otherwise.
    nu: np.ndarray | None = None
    distance: np.ndarray | None = None
    #: A latent ``ar()``'s innovation sd ``(S, 1)`` and each training row's residual ``(S,
    #: rows)``; ``None`` otherwise.
    sderr: np.ndarray | None = None
    latent: np.ndarray | None = None

    def thinned(self, keep: np.ndarray) -> SeriesDraws:
        names = ("nu", "distance", "sderr", "latent")
        present = {n: getattr(self, n)[keep] for n in names if getattr(self, n) is not None}
        return replace(self, partial=self.partial[keep], residuals=self.residuals[keep], **present)

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """``ar``: each order's coefficients ``(S, p + 1, p)`` and variance factors ``(S, p +
        1)`` (:func:`~bayesmm.design.autocorrelation.durbin_levinson`)."""
        return durbin_levinson(list(self.partial.T))


def series_draws(posterior: xr.Dataset, state: SeriesState | None, n: int) -> SeriesDraws | None:
    """The draws of a design's residual structure; ``None`` without one."""
    if state is None:
        return None
    term = state.term
    name = term.kind if term.kind == "cosy" or term.p == 1 else "ar_partial"
    partial = posterior[name].transpose("chain", "draw", ...).to_numpy().reshape(n, -1)
    residuals = posterior[SERIES_RESIDUALS].transpose("chain", "draw", ...).to_numpy()
    residuals = residuals.reshape(n, *residuals.shape[2:])
    if SERIES_LATENT in posterior:
        latent = posterior[SERIES_LATENT].transpose("chain", "draw", ...).to_numpy()
        sderr = posterior[SDERR].transpose("chain", "draw").to_numpy().reshape(n, 1)
        return replace(
            SeriesDraws(term.kind, partial, residuals),
            sderr=sderr,
            latent=latent.reshape(n, -1),
        )
    if SERIES_DISTANCE not in posterior:
        return SeriesDraws(term.kind, partial, residuals)
    distance = posterior[SERIES_DISTANCE].transpose("chain", "draw", ...).to_numpy()
    nu = posterior["nu"].transpose("chain", "draw").to_numpy().reshape(n, 1)
    return SeriesDraws(term.kind, partial, residuals, nu, distance.reshape(n, -1))


def _step(
    draws: SeriesDraws, sigma: np.ndarray, count: np.ndarray, history: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One step of each series: the weights of its history and the innovation sd ``(S,
    G)``, for series with ``count`` values before (``history``: ``(S, G, lags)``, newest
    first, or a ``cosy``'s running sum ``(S, G, 1)``)."""
    if draws.kind == "cosy":
        rho = draws.partial  # (S, 1)
        k = count[None, :]
        weight = rho / (1 + (k - 1) * rho)
        sd = sigma * np.sqrt((1 - rho) * (1 + k * rho) / (1 + (k - 1) * rho))
        return weight[..., None] * np.ones_like(history), sd
    table, scales = draws.table()
    p = table.shape[-1]
    m = np.minimum(count, p)
    return table[:, m, :], sigma * np.sqrt(scales[:, m])


def _forecast(
    draws: SeriesDraws,
    sigma: np.ndarray,
    start: np.ndarray,
    count: np.ndarray,
    horizon: int,
    rng: np.random.Generator | None = None,
    observed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The residuals of ``G`` series ``horizon`` steps on: their means and sds ``(S, G, H)``
    given the starting ``history`` (``start``, ``(S, G, lags)``); with ``rng``, one path per
    draw instead (and zero sds); with ``observed`` residuals ``(S, G, H)`` (NaN where a step
    has none), each step's mean and sd given the observed steps before it.

    The mean and covariance of the window of the last values (a ``cosy``'s running sum) go
    forward linearly: the new value is the weights times the window plus an innovation. An
    observed value conditions the window on it (a Kalman filter's update).
    """
    S, G, L = start.shape
    mean, cov = start.copy(), np.zeros((S, G, L, L))
    means, sds = np.zeros((S, G, horizon)), np.zeros((S, G, horizon))
    for t in range(horizon):
        weights, sd = _step(draws, sigma, count + t, mean)
        value = np.einsum("sgl,sgl->sg", weights, mean)
        if rng is not None:
            value = value + sd * rng.standard_normal((S, G))
        across = np.einsum("sgl,sglk->sgk", weights, cov)
        var = np.einsum("sgk,sgk->sg", across, weights) + (sd**2 if rng is None else 0)
        means[..., t], sds[..., t] = value, np.sqrt(np.maximum(var, 0))
        seen = None if observed is None else observed[..., t]
        gain = 0.0 if seen is None else np.where(np.isnan(seen), 0.0, 1.0)
        surprise = 0.0 if seen is None else np.nan_to_num(seen - value) * gain
        if draws.kind == "cosy":  # the running sum grows by the new value
            before, to_sum = cov[..., 0, 0], across[..., 0]
            grown = before + 2 * to_sum + var
            given = before - to_sum**2 / np.where(var > 0, var, 1)
            mean = mean + (value + surprise * (1 + to_sum / np.where(var > 0, var, 1)))[..., None]
            cov = ((1 - gain) * grown + gain * given)[..., None, None]
            continue
        mean = np.concatenate([value[..., None], mean[..., :-1]], axis=-1)  # the window moves
        new = np.zeros_like(cov)
        new[..., 0, 0] = var
        new[..., 0, 1:] = across[..., :-1]
        new[..., 1:, 0] = across[..., :-1]
        new[..., 1:, 1:] = cov[..., :-1, :-1]
        cov = new
        if seen is not None:  # the window given the observed value
            k = new[..., :, 0] / var[..., None] * np.asarray(gain)[..., None]
            mean = mean + k * np.asarray(surprise)[..., None]
            cov = new - k[..., :, None] * new[..., None, 0, :]
    return means, sds


def _new_steps(state: SeriesState, series: NewSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The new rows' series among those of the request (``(rows,)`` codes into its list),
    their steps (``1..H``), and each series of the request's training code (``-1``: new).

    Raises
    ------
    DataError
        For a row of a seen series at or before its last training time, or a time twice in
        a series.
    """
    term = state.term
    labels = series.labels.astype(str)
    names, which = np.unique(labels, return_inverse=True)
    codes = np.full(len(names), -1, dtype=np.int64)
    codes[which] = series.code
    steps = np.zeros(len(labels), dtype=np.int64)
    for g, name in enumerate(names.tolist()):
        rows = np.flatnonzero(which == g)
        times = series.time[rows]
        if len(np.unique(times)) < len(times):
            raise DataError(
                f"{term.call}: series {name!r} has a time twice among the rows to predict "
                f"({sorted(times.tolist())[:10]})."
            )
        if codes[g] >= 0:
            last = int(state.last[codes[g]])
            if times.min() <= last:
                raise DataError(
                    f"{term.call}: series {name!r} was observed until time {last}; new rows "
                    f"of it are forecasts, after that time, but got time {int(times.min())}. "
                    "Predict the training rows with data=None."
                )
            start = last
        else:
            start = int(times.min()) - 1
        if term.kind == "cosy":  # one step per new row, in time order
            steps[rows[np.argsort(times)]] = np.arange(1, len(rows) + 1)
        else:
            steps[rows] = times - start
    return which, steps, codes


def _start(
    draws: SeriesDraws, state: SeriesState, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each series' residuals at the end of training (zeros for a new one) and its count."""
    known = codes >= 0
    start = np.zeros((draws.residuals.shape[0], len(codes), draws.residuals.shape[2]))
    start[:, known] = draws.residuals[:, codes[known]]
    count = np.where(known, state.length[np.maximum(codes, 0)], 0)
    return start, count


def _stationary_sd(draws: SeriesDraws, sigma: np.ndarray) -> np.ndarray:
    if draws.kind == "cosy":
        return sigma
    return sigma * np.sqrt(draws.table()[1][:, :1])


def _earlier(x: np.ndarray, rows: SeriesRows) -> np.ndarray:
    """Each row's sum of ``x`` ``(S, rows)`` over the rows before it in its series."""
    ordered = x[:, rows.order]
    before = np.cumsum(ordered, axis=1) - ordered
    starts = np.arange(len(rows.order)) - rows.position[rows.order]
    earlier = np.empty_like(x)
    earlier[:, rows.order] = before - before[:, starts]
    return earlier


def _student(
    nu: np.ndarray, sd: np.ndarray, before: np.ndarray, distance: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A t series' row given ``before`` rows whose standardised innovations' squares sum to
    ``distance``: its sd (the normal conditional ``sd`` scaled by ``sqrt((nu + d) / (nu +
    k))``) and its degrees of freedom ``nu + k``, the conditionals of the multivariate t."""
    dof = nu + before
    return sd * np.sqrt((nu + distance) / dof), dof


def _training(
    draws: SeriesDraws, rows: SeriesRows, e: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each training row's conditional mean shift and sd given the rows before it."""
    position = rows.position
    if draws.kind == "cosy":
        rho = draws.partial
        k = position[None, :]
        shift = rho / (1 + (k - 1) * rho) * _earlier(e, rows)
        return shift, sigma * np.sqrt((1 - rho) * (1 + k * rho) / (1 + (k - 1) * rho))
    table, scales = draws.table()
    m = np.minimum(position, table.shape[-1])
    shift = np.einsum("snp,snp->sn", table[:, m, :], e[:, rows.lags])
    return shift, sigma * np.sqrt(scales[:, m])


def series_params(
    draws: SeriesDraws,
    state: SeriesState,
    series: NewSeries | None,
    mu: np.ndarray,
    sigma: np.ndarray,
    y: np.ndarray | None = None,
    observed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Each row's mean and sd ``(S, rows)``, given the training rows, from the mean ``mu``
    and innovation sd ``sigma`` of the family (``y``: the training response, for the
    training rows), and a t response's degrees of freedom (``None`` for a normal one). With
    the new rows' ``observed`` responses, each new row is also given the rows before it in
    its series, so that a series' log densities sum to its joint one.

    Raises
    ------
    DataError
        As :func:`_new_steps`.
    """
    nu = draws.nu
    if series is None:  # the rows lack the term's columns: the stationary distribution
        sd = np.broadcast_to(_stationary_sd(draws, sigma), mu.shape).copy()
        return mu, sd, None if nu is None else np.broadcast_to(nu, mu.shape).copy()
    if series.fitted is not None:
        assert y is not None
        e = y[None, :] - mu
        shift, sd = _training(draws, series.fitted, e, sigma)
        sd = np.broadcast_to(sd, mu.shape).copy()
        if nu is None:
            return mu + shift, sd, None
        distance = _earlier(((e - shift) / sd) ** 2, series.fitted)
        return mu + shift, *_student(nu, sd, series.fitted.position[None, :], distance)
    which, steps, codes = _new_steps(state, series)
    start, count = _start(draws, state, codes)
    horizon = int(steps.max())
    residuals = None
    if observed is not None:
        residuals = np.full((mu.shape[0], len(codes), horizon), np.nan)
        residuals[:, which, steps - 1] = np.asarray(observed, dtype=float)[None, :] - mu
    means, sds = _forecast(draws, sigma, start, count, horizon, observed=residuals)
    mean, sd = mu + means[:, which, steps - 1], sds[:, which, steps - 1]
    if nu is None:
        return mean, sd, None
    before, distance = _seen(draws, codes, count, means, sds, residuals)
    return mean, *_student(nu, sd, before[:, which, steps - 1], distance[:, which, steps - 1])


def _seen(
    draws: SeriesDraws,
    codes: np.ndarray,
    count: np.ndarray,
    means: np.ndarray,
    sds: np.ndarray,
    residuals: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """For a t response, the rows each step of each series is given ``(S, G, H)``: their
    count and their standardised innovations' sum of squares, the training rows' and
    the observed new steps' before it."""
    assert draws.distance is not None
    known = codes >= 0
    distance = np.zeros((means.shape[0], len(codes)))
    distance[:, known] = draws.distance[:, codes[known]]
    before = np.broadcast_to(count[None, :, None], means.shape).astype(float)
    total = np.broadcast_to(distance[:, :, None], means.shape).copy()
    if residuals is not None:
        seen = ~np.isnan(residuals)
        z2 = np.where(seen, ((np.nan_to_num(residuals) - means) / sds) ** 2, 0.0)
        total = total + np.cumsum(z2, axis=-1) - z2
        before = before + np.cumsum(seen, axis=-1) - seen
    return before, total


def series_response_draws(
    draws: SeriesDraws,
    state: SeriesState,
    series: NewSeries | None,
    mean: np.ndarray,
    sigma: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One response per draw and row of new rows, joint over each series: a path of each
    series from its training residuals, ``(S, rows)``. ``mean`` is :func:`series_params`'s,
    ``sigma`` the innovation sd ``(S, 1)``."""
    assert series is not None and series.fitted is None
    which, steps, codes = _new_steps(state, series)
    start, count = _start(draws, state, codes)
    paths, _ = _forecast(draws, sigma, start, count, int(steps.max()), rng)
    expected, _ = _forecast(draws, sigma, start, count, int(steps.max()))
    deviation = paths - expected
    if draws.nu is not None:  # a multivariate t path: a normal one over sqrt(w) per series
        before, distance = _seen(draws, codes, count, expected, expected, None)
        shape = (draws.nu + before[..., 0]) / 2
        w = rng.gamma(shape, 2.0 / (draws.nu + distance[..., 0]))
        deviation = deviation / np.sqrt(w)[..., None]
    return mean + deviation[:, which, steps - 1]


def series_loo_density(
    draws: SeriesDraws, rows: SeriesRows, e: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """Each training row's log density given every other row of its series, ``(S, rows)``,
    from the residuals ``e`` ``(S, rows)`` of all the rows of the series it covers.

    With the series' precision matrix ``Q``, row ``i`` given the others is normal with mean
    ``y_i - (Q e)_i / Q_ii`` and variance ``1 / Q_ii``. ``Q = L' D^-1 L`` from the
    prediction-error decomposition (``L e`` the innovations, ``D`` their variances), so
    ``Q e`` and the diagonal need each row and the ``p`` rows after it, no matrix.
    """
    shift, sd = _training(draws, rows, e, sigma)
    var = np.broadcast_to(sd**2, e.shape)
    if draws.kind == "cosy":
        rho = draws.partial
        sums = np.zeros((e.shape[0], len(rows.state.labels)))
        np.add.at(sums.T, rows.series, e.T)
        length = np.bincount(rows.series, minlength=sums.shape[1])[rows.series]
        share = rho / (1 + (length[None, :] - 1) * rho)
        scale = sigma**2 * (1 - rho)
        qe = (e - share * sums[:, rows.series]) / scale
        qii = (1 - share) / scale
    else:
        table, _ = draws.table()
        m = np.minimum(rows.position, table.shape[-1])
        weights = table[:, m, :]  # (S, n, p): row i's weight on its lag k
        w = (e - shift) / var
        qe, qii = w.copy(), 1 / var
        for k, lead in enumerate(rows.leads.T):
            has = lead >= 0
            c = weights[:, lead[has], k]
            qe[:, has] -= c * w[:, lead[has]]
            qii[:, has] += c**2 / var[:, lead[has]]
    if draws.nu is None:
        return -0.5 * np.log(2 * np.pi) + 0.5 * np.log(qii) - 0.5 * qe**2 / qii
    # A t series: the rest of the series is n - 1 rows whose quadratic form is the whole
    # series' e'Qe less row i's share, (Qe)_i^2 / Q_ii.
    totals = np.zeros((e.shape[0], len(rows.state.labels)))
    np.add.at(totals.T, rows.series, (((e - shift) ** 2) / var).T)
    others = totals[:, rows.series] - qe**2 / qii
    length = np.bincount(rows.series, minlength=totals.shape[1])[rows.series]
    sd, dof = _student(draws.nu, 1 / np.sqrt(qii), length[None, :] - 1.0, others)
    from scipy import stats  # on first use: scipy.stats is slow to import

    return stats.t.logpdf(qe / qii, dof, scale=sd)


def latent_shift(
    draws: SeriesDraws,
    state: SeriesState,
    series: NewSeries | None,
    shape: tuple[int, int],
    rng: np.random.Generator,
) -> np.ndarray:
    """A latent ``ar()``'s residual on the linear predictor of each row, ``shape`` ``(S,
    rows)``: a training time's fitted residual; for later rows of a seen series, one path
    per draw from its last residuals (joint over the series' new rows); for a new series,
    a path from the stationary distribution; for rows without the term's columns,
    independent stationary draws."""
    assert draws.sderr is not None and draws.latent is not None
    if series is None:
        return rng.standard_normal(shape) * _stationary_sd(draws, draws.sderr)
    offset = np.concatenate([[0], np.cumsum(state.length)[:-1]])
    if series.fitted is not None:
        fitted = series.fitted
        return draws.latent[:, offset[fitted.series] + fitted.position]
    code, time = series.code, np.asarray(series.time, dtype=np.int64)
    safe = np.maximum(code, 0)
    seen = (code >= 0) & (time >= state.first[safe]) & (time <= state.last[safe])
    out = np.empty(shape)
    out[:, seen] = draws.latent[:, offset[safe[seen]] + time[seen] - state.first[safe[seen]]]
    later = ~seen
    if later.any():
        ahead = NewSeries(code[later], series.labels[later], time[later])
        which, steps, codes = _new_steps(state, ahead)
        start, count = _start(draws, state, codes)
        paths, _ = _forecast(draws, draws.sderr, start, count, int(steps.max()), rng)
        out[:, later] = paths[:, which, steps - 1]
    return out
