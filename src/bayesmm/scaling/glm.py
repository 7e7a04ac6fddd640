"""Maximum-likelihood GLMs by iteratively reweighted least squares, with numpy only.

Used by ``automatic_priors="mle"`` to put priors on the partial-correlation scale. The
variance functions and their unit deviances are the families'
(:mod:`bayesmm.families.variances`). ``"binomial"`` and ``"poisson"`` have a known
dispersion; for the others the dispersion is profiled out (see :func:`lr_statistic`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import PriorError
from ..families.variances import GLM_VARIANCES
from ..links import Link

__all__ = ["GLMFit", "fit_glm", "lr_statistic"]


@dataclass(frozen=True)
class GLMFit:
    """A fitted GLM: coefficients, deviance, fitted means and iterations used."""

    coef: np.ndarray
    deviance: float
    mu: np.ndarray
    iterations: int


def _start(y: np.ndarray, weights: np.ndarray, variance: str) -> np.ndarray:
    if variance in ("binomial", "quasibinomial"):
        return (weights * y + 0.5) / (weights + 1)
    if variance in ("poisson", "quasipoisson"):
        return y + 0.1
    return np.where(y > 0, y, np.mean(y)) if variance != "gaussian" else y.astype(float)


def fit_glm(
    X: np.ndarray,
    y: np.ndarray,
    link: Link,
    variance: str,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> GLMFit:
    """Fit a GLM by IRLS (McCullagh & Nelder 1989, section 2.5).

    ``y`` are proportions and ``weights`` the numbers of trials for binomial variances.
    Steps are halved when the deviance rises or the means leave the family's domain.

    Raises
    ------
    PriorError
        If the fit does not converge in ``max_iter`` iterations, the design is rank-deficient,
        or a binomial response is separated (fitted probabilities of 0 or 1).
    """
    spec = GLM_VARIANCES[variance]
    n = y.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    if X.shape[1] == 0:
        mu = link.linkinv(off)
        return GLMFit(np.zeros(0), float(np.sum(w * spec.unit_deviance(y, mu))), mu, 0)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise PriorError(
            "automatic_priors='mle' cannot fit the maximum-likelihood GLM: the common "
            "predictors are collinear (the design matrix is rank-deficient)."
        )
    mu = _start(y, w, variance)
    eta = link.link(mu)
    if offset is not None:  # start from the offset alone when it is a valid mean
        start = link.linkinv(off)
        if np.all(spec.valid_mu(start)):
            mu, eta = start, off.copy()
    deviance = np.inf
    coef = np.zeros(X.shape[1])
    for iteration in range(1, max_iter + 1):
        d_eta = 1.0 / link.derivative(mu)  # d mu / d eta
        z = eta - off + (y - mu) / d_eta
        irls_w = w * d_eta**2 / spec.variance(mu)
        sqrt_w = np.sqrt(irls_w)
        new_coef = np.linalg.lstsq(X * sqrt_w[:, None], z * sqrt_w, rcond=None)[0]
        step = new_coef - coef
        for _ in range(30):  # step halving
            candidate = coef + step
            new_eta = X @ candidate + off
            new_mu = link.linkinv(new_eta)
            if np.all(spec.valid_mu(new_mu)):
                new_deviance = float(np.sum(w * spec.unit_deviance(y, new_mu)))
                if np.isfinite(new_deviance) and new_deviance <= deviance * (1 + 1e-12) + 1e-12:
                    break
            step = step / 2
        else:
            break
        coef, eta, mu = candidate, new_eta, new_mu
        converged = abs(new_deviance - deviance) / (abs(new_deviance) + 0.1) < tol
        deviance = new_deviance
        if converged:
            _check_separation(mu, variance)
            return GLMFit(coef, deviance, mu, iteration)
    _check_separation(mu, variance)
    raise PriorError(
        f"automatic_priors='mle' could not fit the maximum-likelihood GLM: IRLS did not "
        f"converge in {max_iter} iterations. Set the priors by hand, or use the default "
        "automatic priors."
    )


def _check_separation(mu: np.ndarray, variance: str) -> None:
    if variance not in ("binomial", "quasibinomial"):
        return
    edge = (mu < 1e-8) | (mu > 1 - 1e-8)
    if edge.any():
        raise PriorError(
            "automatic_priors='mle' could not fit the maximum-likelihood GLM: the response is "
            f"separated (fitted probabilities of 0 or 1 for {int(edge.sum())} rows), so some "
            "coefficients have no finite estimate. Set the priors by hand, or use the default "
            "automatic priors, which stay proper under separation."
        )


def lr_statistic(full: GLMFit, reduced: GLMFit, n: int, variance: str) -> float:
    """The likelihood-ratio statistic of ``reduced`` against ``full``.

    Known dispersion: the difference in deviance. Estimated dispersion: the dispersion is
    profiled out as in the Gaussian case, ``n * log(D_reduced / D_full)``, which is exact for
    the Gaussian family.
    """
    if GLM_VARIANCES[variance].known_dispersion:
        return max(reduced.deviance - full.deviance, 0.0)
    if full.deviance <= 0:
        return np.inf
    return max(n * np.log(reduced.deviance / full.deviance), 0.0)
