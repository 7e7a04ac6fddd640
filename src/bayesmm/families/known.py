"""What bayesmm knows of some PyMC distributions, for likelihoods given only by name.

``Likelihood("Bernoulli", parent="p")`` takes its parameters, numpy sampler and log density
from this table, and a family built on it takes its response check. The table is written
out, so that nothing here imports PyMC (only the backend may).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .densities import (
    Values,
    bernoulli_draw,
    bernoulli_logpdf,
    binomial_draw,
    binomial_logpmf,
    laplace_draw,
    laplace_logpdf,
    lognormal_draw,
    lognormal_logpdf,
    negbinomial_draw,
    negbinomial_logpmf,
    normal_draw,
    normal_logpdf,
    poisson_draw,
    poisson_logpmf,
    scipy_stats,
    studentt_draw,
    studentt_logpdf,
    wald_draw,
    wald_logpdf,
)
from .support import BINARY, COUNTS, FINITE, POSITIVE, REAL, SUCCESSES, Support

__all__ = ["KnownLikelihood", "KNOWN_LIKELIHOODS", "default_support"]

# numpy samplers and log densities in PyMC's own parameters, where no built-in family has
# them (tests/test_families_custom.py checks each log density against PyMC's logp).


def _logistic_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.logistic(v["mu"], v["s"])


def _logistic_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().logistic.logpdf(y, v["mu"], v["s"])


def _gamma_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    # PyMC's (mu, sigma): shape mu^2 / sigma^2, scale sigma^2 / mu.
    return rng.gamma(v["mu"] ** 2 / v["sigma"] ** 2, v["sigma"] ** 2 / v["mu"])


def _gamma_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    shape, scale = v["mu"] ** 2 / v["sigma"] ** 2, v["sigma"] ** 2 / v["mu"]
    return scipy_stats().gamma.logpdf(y, shape, scale=scale)


def _exponential_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.exponential(1 / v["lam"])


def _exponential_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().expon.logpdf(y, scale=1 / v["lam"])


@dataclass(frozen=True)
class KnownLikelihood:
    """A PyMC distribution's parameters (in PyMC's order), usual parent and support."""

    params: tuple[str, ...]
    parent: str
    support: Support
    draw: Callable[[Values, np.random.Generator], np.ndarray]
    logpdf: Callable[[np.ndarray, Values], np.ndarray]
    binary: bool = False
    trials_kwarg: str | None = None


#: PyMC distributions a likelihood may name without ``params``.
KNOWN_LIKELIHOODS: dict[str, KnownLikelihood] = {
    "Normal": KnownLikelihood(("mu", "sigma"), "mu", REAL, normal_draw, normal_logpdf),
    "StudentT": KnownLikelihood(("nu", "mu", "sigma"), "mu", REAL, studentt_draw, studentt_logpdf),
    "Laplace": KnownLikelihood(("mu", "b"), "mu", REAL, laplace_draw, laplace_logpdf),
    "Logistic": KnownLikelihood(("mu", "s"), "mu", REAL, _logistic_draw, _logistic_logpdf),
    "Bernoulli": KnownLikelihood(
        ("p",),
        "p",
        BINARY,
        bernoulli_draw,
        bernoulli_logpdf,
        binary=True,
    ),
    "Binomial": KnownLikelihood(
        ("p",),
        "p",
        SUCCESSES,
        binomial_draw,
        binomial_logpmf,
        trials_kwarg="n",
    ),
    "Poisson": KnownLikelihood(("mu",), "mu", COUNTS, poisson_draw, poisson_logpmf),
    "NegativeBinomial": KnownLikelihood(
        ("mu", "alpha"), "mu", COUNTS, negbinomial_draw, negbinomial_logpmf
    ),
    "Gamma": KnownLikelihood(("mu", "sigma"), "mu", POSITIVE, _gamma_draw, _gamma_logpdf),
    "LogNormal": KnownLikelihood(("mu", "sigma"), "mu", POSITIVE, lognormal_draw, lognormal_logpdf),
    "Wald": KnownLikelihood(("mu", "lam"), "mu", POSITIVE, wald_draw, wald_logpdf),
    "Exponential": KnownLikelihood(
        ("lam",), "lam", POSITIVE, _exponential_draw, _exponential_logpdf
    ),
}


def default_support(name: str) -> Support:
    """The support of a likelihood named ``name`` that gives none: its PyMC distribution's,
    if bayesmm knows it, else any finite number."""
    known = KNOWN_LIKELIHOODS.get(name)
    return FINITE if known is None else known.support
