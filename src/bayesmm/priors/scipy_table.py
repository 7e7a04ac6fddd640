"""Priors as scipy distributions: densities and draws of the ``Prior`` records without PyMC.

:data:`SCIPY_PRIORS` maps a PyMC distribution's name to a function of its parameters giving
the frozen ``scipy.stats`` distribution with the same density (``tests/test_priors_scipy.py``
checks each against PyMC's log density). Prediction, interpretation and files never import
PyMC, so what needs a prior's density there (the Savage–Dickey evidence ratio of
``interpret.hypothesis``) reads it here. ``scipy.stats`` is imported on first use.

Improper priors (``Flat``, ``HalfFlat``), custom ``dist`` functions and shrinkage priors
have no entry: :func:`scipy_prior` gives ``None`` for them, and so does a prior whose
parameters are themselves priors (a hierarchical one; :func:`prior_draws` draws those).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .prior import Prior

__all__ = ["SCIPY_PRIORS", "scipy_prior", "prior_draws"]


def _half_t(nu: float, sigma: float) -> Any:
    from scipy import stats

    class _HalfT(stats.rv_continuous):  # |T| of a Student-t with nu and sigma
        def _pdf(self, x: Any) -> Any:
            return 2 * stats.t.pdf(x, nu)

        def _rvs(self, size: Any = None, random_state: Any = None) -> Any:
            return np.abs(stats.t.rvs(nu, size=size, random_state=random_state))

    return _HalfT(a=0.0, name="halft")(scale=sigma)


def _stats() -> Any:
    from scipy import stats

    return stats


#: PyMC's distribution names and the scipy distribution of the same density, from the
#: prior's parameters (PyMC's parameter names and defaults).
SCIPY_PRIORS: Mapping[str, Callable[..., Any]] = {
    "Normal": lambda mu=0.0, sigma=1.0: _stats().norm(loc=mu, scale=sigma),
    "HalfNormal": lambda sigma=1.0: _stats().halfnorm(scale=sigma),
    "StudentT": lambda nu, mu=0.0, sigma=1.0: _stats().t(df=nu, loc=mu, scale=sigma),
    "HalfStudentT": lambda nu=1.0, sigma=1.0: _half_t(nu, sigma),
    "Cauchy": lambda alpha=0.0, beta=1.0: _stats().cauchy(loc=alpha, scale=beta),
    "HalfCauchy": lambda beta=1.0: _stats().halfcauchy(scale=beta),
    "Exponential": lambda lam=1.0: _stats().expon(scale=1 / lam),
    "Gamma": lambda alpha, beta: _stats().gamma(a=alpha, scale=1 / beta),
    "InverseGamma": lambda alpha, beta: _stats().invgamma(a=alpha, scale=beta),
    "LogNormal": lambda mu=0.0, sigma=1.0: _stats().lognorm(s=sigma, scale=np.exp(mu)),
    "Uniform": lambda lower=0.0, upper=1.0: _stats().uniform(loc=lower, scale=upper - lower),
    "Beta": lambda alpha, beta: _stats().beta(a=alpha, b=beta),
    "Laplace": lambda mu=0.0, b=1.0: _stats().laplace(loc=mu, scale=b),
    "Logistic": lambda mu=0.0, s=1.0: _stats().logistic(loc=mu, scale=s),
    "Weibull": lambda alpha, beta: _stats().weibull_min(c=alpha, scale=beta),
}


def scipy_prior(prior: Any) -> Any:
    """The frozen scipy distribution of ``prior``, or ``None`` where there is none: a number
    (a fixed parameter), an improper, custom, shrinkage or hierarchical prior, a distribution
    the table lacks, or vector parameters."""
    if not isinstance(prior, Prior) or prior.dist is not None or prior.name not in SCIPY_PRIORS:
        return None
    params = prior.params
    if any(isinstance(v, Prior | str) or np.ndim(v) > 0 for v in params.values()):
        return None
    return SCIPY_PRIORS[prior.name](**{k: float(v) for k, v in params.items()})


def prior_draws(prior: Any, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """``n`` draws of a scalar ``prior``, its parameters that are priors drawn first (a group
    effect's ``Normal(0, HalfNormal(s))``: one sd per draw); ``None`` where
    :func:`scipy_prior` has no distribution for it or its parameters."""
    if not isinstance(prior, Prior) or prior.dist is not None or prior.name not in SCIPY_PRIORS:
        return None
    values: dict[str, Any] = {}
    for key, value in prior.params.items():
        if isinstance(value, Prior):
            drawn = prior_draws(value, n, rng)
            if drawn is None:
                return None
            values[key] = drawn
        elif isinstance(value, str) or np.ndim(value) > 0:
            return None
        else:
            values[key] = float(value)
    seed = int(rng.integers(2**32))
    return np.asarray(SCIPY_PRIORS[prior.name](**values).rvs(size=n, random_state=seed), float)
