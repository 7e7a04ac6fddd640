"""What the responses of a multivariate model share, with numpy: their names (a response's
variables read under univariate names), the residual correlation's Cholesky factor of each
draw, standardised residuals drawn jointly, and the log density of each row's responses
taken jointly: a multivariate normal
(or t) whose covariance is ``diag(s) R diag(s)``, ``s`` the row's sds and ``R`` the draw's
residual correlation matrix, as the graph of a model with correlated residuals writes it
(``backend.graph.assemble``: the Cholesky factor ``diag(s) L``, ``L`` that of ``R``).

With standardised residuals ``e = (y - mu) / s`` and ``z = L^{-1} e``, the normal's log
density is ``-K/2 log(2 pi) - sum(log s) - sum(log diag L) - |z|^2 / 2``; the t's (``nu``
degrees of freedom) is ``lgamma((nu + K)/2) - lgamma(nu/2) - K/2 log(nu pi) - sum(log s) -
sum(log diag L) - (nu + K)/2 log(1 + |z|^2 / nu)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy.special import gammaln

from .._names import rescor_name, response_name

__all__ = [
    "SHARED_PARAMETERS",
    "joint_log_density",
    "response_of",
    "joint_residuals",
    "rescor_cholesky",
    "univariate_name",
    "univariate_posterior",
]

#: Parameters that correlated responses share, named without a response.
SHARED_PARAMETERS = ("nu",)


def univariate_name(name: str, response: str) -> str:
    """``name`` of a response's variable without the response's prefix, in each part of a
    correlation's name too: ``"y1_1|g:y1_x|g_corr"`` is ``"1|g:x|g_corr"``."""
    prefix = response_name(response, "")
    return ":".join(p[len(prefix) :] if p.startswith(prefix) else p for p in name.split(":"))


def response_of(name: str, responses: Sequence[str]) -> str | None:
    """The response a variable or dimension is of: the longest whose prefix it has."""
    found = [r for r in responses if name.startswith(response_name(r, ""))]
    return max(found, key=len) if found else None


def univariate_posterior(
    posterior: xr.Dataset, response: str, responses: Sequence[str]
) -> xr.Dataset:
    """The posterior of ``response``'s variables (and the shared ``nu``) under a univariate
    model's names, its dimensions renamed alike."""
    names = {
        str(name): univariate_name(str(name), response)
        for name in posterior.data_vars
        if response_of(str(name), responses) == response
    }
    names.update({s: s for s in SHARED_PARAMETERS if s in posterior.data_vars})
    part = posterior[list(names)].rename_vars(names)
    dims = {
        str(d): univariate_name(str(d), response)
        for d in part.dims
        if response_of(str(d), responses) == response
    }
    return part.rename(dims) if dims else part


def rescor_cholesky(posterior: xr.Dataset, responses: Sequence[str]) -> np.ndarray:
    """The Cholesky factor of each posterior draw's residual correlation matrix, stacked over
    chains as :class:`~bayesmm.predict.draws.PosteriorDraws` are: shape ``(S, K, K)``."""
    k = len(responses)
    first = posterior[rescor_name(responses[0], responses[1])]
    n = first.sizes["chain"] * first.sizes["draw"]
    corr = np.broadcast_to(np.eye(k), (n, k, k)).copy()
    for i in range(k):
        for j in range(i + 1, k):
            var = posterior[rescor_name(responses[i], responses[j])]
            values = var.transpose("chain", "draw").to_numpy().reshape(n)
            corr[:, i, j] = corr[:, j, i] = values
    return np.linalg.cholesky(corr)


def joint_residuals(
    chol: np.ndarray, n_rows: int, rng: np.random.Generator, nu: np.ndarray | None = None
) -> np.ndarray:
    """Standardised residuals of each draw and row, correlated across responses by ``chol``
    ``(S, K, K)``: shape ``(S, rows, K)``; multivariate t with ``nu`` ``(S, 1)`` when given."""
    z = rng.standard_normal((chol.shape[0], n_rows, chol.shape[1]))
    e = np.einsum("skl,snl->snk", chol, z)
    if nu is not None:
        w = rng.gamma(nu / 2.0, 2.0 / nu, size=(chol.shape[0], n_rows)) / 1.0
        e = e / np.sqrt(w)[:, :, None]
    return e


def _mahalanobis(e: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """``|L^{-1} e|^2`` of each draw and row: ``e`` ``(S, rows, K)``, ``chol`` ``(S, K, K)``
    lower triangular; forward substitution over the K responses (a handful)."""
    k = chol.shape[1]
    z = np.empty_like(e)
    for i in range(k):
        known = np.einsum("sj,snj->sn", chol[:, i, :i], z[:, :, :i]) if i else 0.0
        z[:, :, i] = (e[:, :, i] - known) / chol[:, i, i][:, None]
    return np.sum(z**2, axis=2)


def joint_log_density(
    y: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    chol: np.ndarray,
    nu: np.ndarray | None = None,
) -> np.ndarray:
    """The log density of each draw and row's responses taken together, ``(S, rows)``.

    Parameters
    ----------
    y : numpy.ndarray
        The observed responses, ``(rows, K)``.
    mu, sigma : numpy.ndarray
        Each draw's means and sds of each row and response, ``(S, rows, K)`` (or
        broadcasting to it).
    chol : numpy.ndarray
        The Cholesky factor of each draw's residual correlation matrix, ``(S, K, K)``.
    nu : numpy.ndarray, optional
        The t's degrees of freedom of each draw, ``(S, 1)``; a normal without it.
    """
    k = chol.shape[1]
    sigma = np.broadcast_to(sigma, np.broadcast_shapes(np.shape(mu), np.shape(sigma)))
    e = (y[None, :, :] - mu) / sigma
    maha = _mahalanobis(e, chol)
    log_det = (
        np.sum(np.log(sigma), axis=2)
        + np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)[:, None]
    )
    if nu is None:
        return -0.5 * k * np.log(2 * np.pi) - log_det - 0.5 * maha
    nu = np.asarray(nu, dtype=float).reshape(-1, 1)
    const = gammaln((nu + k) / 2) - gammaln(nu / 2) - 0.5 * k * np.log(nu * np.pi)
    return const - log_det - 0.5 * (nu + k) * np.log1p(maha / nu)
