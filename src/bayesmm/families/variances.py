"""The variance functions of exponential families, with their unit deviances.

A family names one (``Family(glm_variance=...)``) for the maximum-likelihood GLM that
``automatic_priors="mle"`` fits (:mod:`bayesmm.scaling.glm`); quasi-likelihoods share the
variance of their family with an estimated dispersion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["GLMVariance", "GLM_VARIANCES"]


def _xlogy_ratio(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``y * log(y / mu)``, zero where ``y`` is zero."""
    return special.xlogy(y, y) - special.xlogy(y, mu)


@dataclass(frozen=True)
class GLMVariance:
    """An exponential family's variance function, unit deviance, valid means, and whether
    its dispersion is known (binomial, poisson) or estimated."""

    variance: Callable[[np.ndarray], np.ndarray]
    unit_deviance: Callable[[np.ndarray, np.ndarray], np.ndarray]
    valid_mu: Callable[[np.ndarray], np.ndarray]
    known_dispersion: bool


GLM_VARIANCES: dict[str, GLMVariance] = {
    "gaussian": GLMVariance(
        lambda mu: np.ones_like(mu),
        lambda y, mu: (y - mu) ** 2,
        lambda mu: np.isfinite(mu),
        known_dispersion=False,
    ),
    "binomial": GLMVariance(
        lambda mu: mu * (1 - mu),
        lambda y, mu: 2 * (_xlogy_ratio(y, mu) + _xlogy_ratio(1 - y, 1 - mu)),
        lambda mu: (mu > 0) & (mu < 1),
        known_dispersion=True,
    ),
    "quasibinomial": GLMVariance(
        lambda mu: mu * (1 - mu),
        lambda y, mu: 2 * (_xlogy_ratio(y, mu) + _xlogy_ratio(1 - y, 1 - mu)),
        lambda mu: (mu > 0) & (mu < 1),
        known_dispersion=False,
    ),
    "poisson": GLMVariance(
        lambda mu: mu,
        lambda y, mu: 2 * (_xlogy_ratio(y, mu) - (y - mu)),
        lambda mu: mu > 0,
        known_dispersion=True,
    ),
    "quasipoisson": GLMVariance(
        lambda mu: mu,
        lambda y, mu: 2 * (_xlogy_ratio(y, mu) - (y - mu)),
        lambda mu: mu > 0,
        known_dispersion=False,
    ),
    "gamma": GLMVariance(
        lambda mu: mu**2,
        lambda y, mu: 2 * (-np.log(y / mu) + (y - mu) / mu),
        lambda mu: mu > 0,
        known_dispersion=False,
    ),
    "inverse_gaussian": GLMVariance(
        lambda mu: mu**3,
        lambda y, mu: (y - mu) ** 2 / (mu**2 * y),
        lambda mu: mu > 0,
        known_dispersion=False,
    ),
}
