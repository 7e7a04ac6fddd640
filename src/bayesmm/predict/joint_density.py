"""The log density of each row's responses taken jointly, with numpy: a multivariate normal
(or t) whose covariance is ``diag(s) R diag(s)``, ``s`` the row's sds and ``R`` the draw's
residual correlation matrix, as the graph of a model with correlated residuals writes it
(``backend.graph.assemble``: the Cholesky factor ``diag(s) L``, ``L`` that of ``R``).

With standardised residuals ``e = (y - mu) / s`` and ``z = L^{-1} e``, the normal's log
density is ``-K/2 log(2 pi) - sum(log s) - sum(log diag L) - |z|^2 / 2``; the t's (``nu``
degrees of freedom) is ``lgamma((nu + K)/2) - lgamma(nu/2) - K/2 log(nu pi) - sum(log s) -
sum(log diag L) - (nu + K)/2 log(1 + |z|^2 / nu)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["joint_log_density"]


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
