"""The built-in families that may be truncated, as scipy distributions in each family's own
parameters: the probability of the bounds and draws between them.

``tests/test_design_truncation.py`` checks each distribution's log density against the family's
own (``Likelihood.logpdf``), so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .densities import Values, scipy_nbinom, scipy_stats, weibull_scale

__all__ = ["TRUNCATABLE", "frozen", "is_discrete", "log_mass", "truncated_draws"]


def _beta(v: Values) -> Any:
    return scipy_stats().beta(v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"])


_FROZEN: dict[str, Callable[[Values], Any]] = {
    "gaussian": lambda v: scipy_stats().norm(v["mu"], v["sigma"]),
    "t": lambda v: scipy_stats().t(v["nu"], v["mu"], v["sigma"]),
    "laplace": lambda v: scipy_stats().laplace(v["mu"], v["b"]),
    "lognormal": lambda v: scipy_stats().lognorm(v["sigma"], scale=np.exp(v["mu"])),
    "gamma": lambda v: scipy_stats().gamma(v["alpha"], scale=v["mu"] / v["alpha"]),
    "exponential": lambda v: scipy_stats().expon(scale=v["mu"]),
    "weibull": lambda v: scipy_stats().weibull_min(v["alpha"], scale=weibull_scale(v)),
    "wald": lambda v: scipy_stats().invgauss(v["mu"] / v["lam"], scale=v["lam"]),
    "beta": _beta,
    "poisson": lambda v: scipy_stats().poisson(v["mu"]),
    "negativebinomial": scipy_nbinom,
}

_DISCRETE = frozenset({"poisson", "negativebinomial"})

#: The families a response may be truncated in (``trunc(y, lb=..., ub=...)``).
TRUNCATABLE = frozenset(_FROZEN)


#: Candidate counts searched beyond the lower bound where scipy cannot invert a count's
#: survival function (far in its upper tail, below about 1e-16).
_TAIL_STEPS = 512


def is_discrete(family: str) -> bool:
    """Whether the family's responses are counts (whose bounds must be whole numbers)."""
    return family in _DISCRETE


def frozen(family: str, values: Values) -> Any:
    """The scipy distribution of ``family`` with parameters ``values`` (arrays that
    broadcast together)."""
    return _FROZEN[family](values)


def _below(family: str, low: np.ndarray) -> np.ndarray:
    """Where the CDF is taken for a lower bound: a count's bound is included, so just below
    it (``low - 1``)."""
    return low - 1 if family in _DISCRETE else low


def _edges(family: str, dist: Any, low: np.ndarray, high: np.ndarray) -> tuple[Any, ...]:
    """``(CDF below low, CDF at high, survival above low, survival above high)``."""
    below = _below(family, low)
    return dist.cdf(below), dist.cdf(high), dist.sf(below), dist.sf(high)


def log_mass(family: str, values: Values, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``log P(low <= Y <= high)`` of each draw and row, in log space throughout: a bound far
    in a tail keeps its precision (the difference of the survival functions in the upper
    tail, of the CDFs elsewhere)."""
    dist = frozen(family, values)
    below = _below(family, low)
    upper_tail = dist.cdf(below) > 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(upper_tail, dist.logsf(below), dist.logcdf(high))
        second = np.where(upper_tail, dist.logsf(high), dist.logcdf(below))
        return first + np.log1p(-np.exp(second - first))


def truncated_draws(
    family: str, values: Values, low: np.ndarray, high: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draws of ``family`` between ``low`` and ``high`` (both included), by inverting the
    CDF at a uniform draw between theirs (the survival function in the upper tail).

    Where that inversion fails, far in a tail (scipy's count inverses below about 1e-16, a
    continuous one whose tail probability underflows), counts are drawn from their
    probabilities over the next :data:`_TAIL_STEPS` values in log space, and a continuous
    draw is the bound nearest the bulk: with the mass that far out, the truncated
    distribution sits within rounding of that bound.
    """
    dist = frozen(family, values)
    cdf_low, cdf_high, sf_low, sf_high = _edges(family, dist, low, high)
    shape = np.broadcast_shapes(np.shape(cdf_low), np.shape(cdf_high))
    u = rng.uniform(size=shape)
    upper_tail = cdf_low > 0.5
    with np.errstate(invalid="ignore", over="ignore"):
        by_cdf = dist.ppf(cdf_low + u * (cdf_high - cdf_low))
        by_sf = dist.isf(sf_low - u * (sf_low - sf_high))
    draws = np.where(upper_tail, by_sf, by_cdf).astype(float)
    lows, highs = np.broadcast_to(low, shape), np.broadcast_to(high, shape)
    failed = ~np.isfinite(draws)
    if failed.any():
        if family in _DISCRETE:
            sub = {k: np.broadcast_to(v, shape)[failed] for k, v in values.items()}
            draws[failed] = _tail_counts(family, sub, lows[failed], highs[failed], u[failed])
        else:
            draws[failed] = np.where(upper_tail, lows, highs)[failed]
    # Rounding at the very edges of the interval must not step outside it.
    return np.clip(draws, lows, highs)


def _tail_counts(
    family: str, values: Values, low: np.ndarray, high: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Counts from ``low`` on, drawn from their probabilities normalised in log space."""
    from scipy.special import logsumexp

    candidates = low[:, None] + np.arange(_TAIL_STEPS)[None, :]
    dist = frozen(family, {k: v[:, None] for k, v in values.items()})
    logp = np.where(candidates <= high[:, None], dist.logpmf(candidates), -np.inf)
    cumulative = np.cumsum(np.exp(logp - logsumexp(logp, axis=1, keepdims=True)), axis=1)
    index = np.minimum((cumulative < u[:, None]).sum(axis=1), _TAIL_STEPS - 1)
    return candidates[np.arange(len(low)), index]
