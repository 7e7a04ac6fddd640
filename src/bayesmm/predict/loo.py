"""PSIS-LOO (Vehtari, Gelman and Gabry 2017) a chunk of rows at a time, for fits whose
pointwise log-likelihood was not stored (by default above 25 million values).

Each row's leave-one-out density needs only that row's log-likelihood over the draws, so
the rows are taken ``chunk_rows`` at a time: the memory is ``draws x chunk_rows`` numbers,
whatever the number of rows. The arithmetic is ArviZ's ``az.loo`` (its Pareto smoothing,
``psislw``, with the same relative efficiency), and so is the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from .._errors import DataError
from .._validation import check_count
from ..design import Design
from ..design.autocorrelation import SeriesTerm, series_rows
from ..design.state import training_frame
from ..families import Family
from ..links import Link
from .draws import PosteriorDraws
from .series import series_loo_density

if TYPE_CHECKING:
    import arviz as az

__all__ = [
    "chunked_loo",
    "training_loo",
    "series_loo",
    "relative_efficiency",
    "loo_r2",
    "BOOTSTRAP_DRAWS",
]


def relative_efficiency(posterior: xr.Dataset) -> float:
    """``az.loo``'s relative efficiency: the mean ESS of the posterior over its draws."""
    n_chains, n_draws = posterior.sizes["chain"], posterior.sizes["draw"]
    if n_chains == 1:
        return 1.0
    import arviz as az  # on first use: arviz takes longer to import than bayesmm

    ess = az.ess(posterior, method="mean")
    values = np.hstack([ess[v].values.ravel() for v in ess.data_vars])
    return float(values.mean() / (n_chains * n_draws))


def chunked_loo(
    pointwise: Callable[[slice], np.ndarray],
    n_rows: int,
    reff: float,
    chunk_rows: int = 20_000,
    order: np.ndarray | None = None,
) -> az.ELPDData:
    """PSIS-LOO from ``pointwise(rows)``, the ``(draws, rows)`` log-likelihood of a slice of
    rows, as ``az.loo(..., pointwise=True)`` gives it; ``order``: the slices are of the rows
    in this order, and the result's rows in theirs."""
    import arviz as az  # on first use: arviz takes longer to import than bayesmm

    check_count("chunk_rows", chunk_rows, minimum=1)
    loo_i, lppd_i, pareto_k = [], [], []
    n_samples = 1
    for start in range(0, n_rows, chunk_rows):
        chunk = np.asarray(pointwise(slice(start, min(start + chunk_rows, n_rows))), dtype=float)
        n_samples = chunk.shape[0]
        by_row = chunk.T  # (rows, draws), as psislw wants
        log_weights, k = az.psislw(-by_row.copy(), reff)
        loo_i.append(logsumexp(log_weights + by_row, axis=1))
        lppd_i.append(logsumexp(by_row, axis=1) - np.log(n_samples))
        pareto_k.append(np.atleast_1d(np.asarray(k, dtype=float)))
    loo, shape = np.concatenate(loo_i), np.concatenate(pareto_k)
    if order is not None:
        loo[order], shape[order] = loo.copy(), shape.copy()
    elpd = float(loo.sum())
    good_k = min(1 - 1 / np.log10(n_samples), 0.7)
    return az.ELPDData(
        data=[
            elpd,
            float((n_rows * np.var(loo)) ** 0.5),
            float(np.concatenate(lppd_i).sum() - elpd),
            n_samples,
            n_rows,
            bool(np.any(shape > good_k)),
            xr.DataArray(loo, dims="row", name="loo_i"),
            xr.DataArray(shape, dims="row", name="pareto_k"),
            "log",
            good_k,
        ],
        index=[
            "elpd_loo",
            "se",
            "p_loo",
            "n_samples",
            "n_data_points",
            "warning",
            "loo_i",
            "pareto_k",
            "scale",
            "good_k",
        ],
    )


def training_loo(
    design: Design,
    family: Family,
    link: Link,
    draws: PosteriorDraws,
    reff: float,
    chunk_rows: int,
    log_likelihood: Callable[[pd.DataFrame, np.ndarray], np.ndarray],
    linear: Callable[[pd.DataFrame], dict[str, np.ndarray]],
) -> az.ELPDData:
    """PSIS-LOO of a fit's training rows, ``chunk_rows`` at a time, from the pointwise
    ``log_likelihood(rows, y)`` of some rows, or, for rows of a series (``ar()``, ``cosy()``),
    from the linear predictors ``linear(rows)`` (:func:`series_loo`). Rows of a latent
    ``ar()`` are independent given their fitted residuals, and scored each on its own."""
    if family.is_categorical() or design.imputed:  # codes; imputed values
        raise DataError("loo() of this model: use az.loo(idata, var_name=...) on a stored fit.")
    rows, y = training_frame(design), np.asarray(design.response.values)
    latent = design.series is not None and design.series.state.term.latent
    if design.series is not None and not latent:  # each row given the rest of its series
        mean = lambda f: link.linkinv(linear(f)[family.parent])  # noqa: E731
        term = design.series.state.term
        return series_loo(rows, y, draws, term, mean, reff, chunk_rows)
    pointwise = lambda s: log_likelihood(rows.iloc[s], y[s])  # noqa: E731
    return chunked_loo(pointwise, len(rows), reff, chunk_rows)


def series_loo(
    rows: pd.DataFrame,
    y: np.ndarray,
    draws: PosteriorDraws,
    term: SeriesTerm,
    mean: Callable[[pd.DataFrame], np.ndarray],
    reff: float,
    chunk_rows: int = 20_000,
) -> az.ELPDData:
    """PSIS-LOO of the training ``rows`` of a response with correlated residuals within
    series (``ar()``, ``cosy()``), each row scored given every other row of its series
    (:func:`~bayesmm.predict.series.series_loo_density`), whole series at a time. ``mean(rows)``
    is the family's mean of some rows ``(draws, rows)``."""
    series = draws.series
    assert series is not None
    layout = series_rows(term, rows)[1]
    sigma = draws.aux["sigma"]

    def pointwise(chunk: slice) -> np.ndarray:
        wanted = layout.order[chunk]
        covered = np.flatnonzero(np.isin(layout.series, layout.series[wanted]))
        part = rows.iloc[covered]
        e = y[covered][None, :] - mean(part)
        density = series_loo_density(series, series_rows(term, part)[1], e, sigma)
        return density[:, np.searchsorted(covered, wanted)]

    return chunked_loo(pointwise, len(rows), reff, chunk_rows, layout.order)


#: Bayesian-bootstrap draws of the LOO-adjusted R² (its posterior-like spread).
BOOTSTRAP_DRAWS = 4000


def loo_r2(
    y: np.ndarray, mu: np.ndarray, log_lik: np.ndarray, reff: float, seed: int = 0
) -> dict[str, float]:
    """The LOO-adjusted R² (brms's ``loo_R2``): ``1 - var(y - ŷ_loo) / var(y)``, with each
    row's leave-one-out mean ``ŷ_loo`` the PSIS-weighted mean of its ``mu`` draws
    (``mu`` and ``log_lik`` are ``(draws, rows)``); its mean and sd over
    :data:`BOOTSTRAP_DRAWS` Bayesian-bootstrap weightings of the rows (Dirichlet(1))."""
    import arviz as az  # on first use: arviz takes longer to import than bayesmm

    log_weights, _ = az.psislw(-log_lik.T.copy(), reff)  # (rows, draws), normalised
    predicted = np.sum(np.exp(log_weights) * mu.T, axis=1)
    error = y - predicted
    weights = np.random.default_rng(seed).dirichlet(np.ones(len(y)), size=BOOTSTRAP_DRAWS)

    def variance(x: np.ndarray) -> np.ndarray:
        mean = weights @ x
        return weights @ x**2 - mean**2

    r2 = 1 - variance(error) / variance(y)
    return {"r2": float(r2.mean()), "r2_std": float(r2.std())}
