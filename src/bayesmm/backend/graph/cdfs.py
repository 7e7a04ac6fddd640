"""Log CDFs, log survival functions and log interval probabilities whose gradients stay
finite at one-sided, far and extreme bounds, for truncated and censored responses.

PyMC's ``Truncated`` computes both bounds' log CDFs, an absent one at infinity, and picks
with a switch; the normal's log CDF at infinity is ``inf - inf`` in the branch not taken,
and a switch does not stop a NaN gradient. So ``trunc(y, lb=0)`` of a gaussian had a NaN
gradient everywhere, and NUTS never moved. Here:

- an absent bound is never computed: ``log P(Y >= lb)`` alone for ``lb`` only;
- each branch of a piecewise formula gets a safe input where it is not taken (the
  "safe where": the value is picked by the switch, the other branch's input is moved to a
  point where it and its gradient are finite);
- an interval's probability is a difference of CDFs below the median and of survival
  functions above it, so that neither side cancels to zero far in a tail;
- a bound outside a positive family's support (``lb=0`` of a lognormal) is no bound there.

Each function takes the PyMC distribution's name and keyword arguments (what the family's
likelihood gives), so the same graph runs on the PyTensor and JAX routes.
``tests/test_backend_cdfs.py`` checks values against scipy and gradients against finite
differences, on both routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

__all__ = ["STABLE", "log_cdf", "log_sf", "log_interval"]

_SQRT2 = float(np.sqrt(2.0))
_LOG_HALF = float(np.log(0.5))

Params = dict[str, Any]


def log_ndtr(z: Any) -> Any:
    """``log Phi(z)``: through ``erfcx`` below -1, where ``Phi`` underflows, and ``log1p``
    above, where it rounds to 1."""
    low = pt.lt(z, -1.0)
    z_low = pt.switch(low, z, -1.0)
    z_high = pt.switch(low, 0.0, z)
    tail = pt.log(pt.erfcx(-z_low / _SQRT2) / 2.0) - z_low * z_low / 2.0
    body = pt.log1p(-pt.erfc(z_high / _SQRT2) / 2.0)
    return pt.switch(low, tail, body)


def _positive(x: Any, inside: Callable[[Any], Any], at_zero: float) -> Any:
    """``inside(x)`` for ``x > 0``, else ``at_zero`` (the value at the support's edge); the
    formula sees 1 where it is not used."""
    positive = pt.gt(x, 0.0)
    return pt.switch(positive, inside(pt.switch(positive, x, 1.0)), at_zero)


def _normal(p: Params, x: Any, upper: bool) -> Any:
    z = (x - p["mu"]) / p["sigma"]
    return log_ndtr(-z if upper else z)


def _lognormal(p: Params, x: Any, upper: bool) -> Any:
    return _positive(
        x,
        lambda v: log_ndtr((-1.0 if upper else 1.0) * (pt.log(v) - p["mu"]) / p["sigma"]),
        0.0 if upper else -np.inf,
    )


def _laplace(p: Params, x: Any, upper: bool) -> Any:
    z = (x - p["mu"]) / p["b"]
    z = -z if upper else z
    below = pt.lt(z, 0.0)
    return pt.switch(
        below,
        _LOG_HALF + pt.switch(below, z, 0.0),
        pt.log1p(-0.5 * pt.exp(-pt.switch(below, 0.0, z))),
    )


def _weibull_like(shape: Any, scale: Any, x: Any, upper: bool) -> Any:
    def inside(v: Any) -> Any:
        power = (v / scale) ** shape
        return -power if upper else pt.log1mexp(-power)

    return _positive(x, inside, 0.0 if upper else -np.inf)


def _weibull(p: Params, x: Any, upper: bool) -> Any:
    return _weibull_like(p["alpha"], p["beta"], x, upper)


def _exponential(p: Params, x: Any, upper: bool) -> Any:
    scale = p["scale"] if "scale" in p else 1.0 / p["lam"]
    return _weibull_like(1.0, scale, x, upper)


def _gamma(p: Params, x: Any, upper: bool) -> Any:
    incomplete = pt.gammaincc if upper else pt.gammainc
    return _positive(
        x, lambda v: pt.log(incomplete(p["alpha"], p["beta"] * v)), 0.0 if upper else -np.inf
    )


def _wald(p: Params, x: Any, upper: bool) -> Any:
    mu, lam = p["mu"], p["lam"]

    def inside(v: Any) -> Any:
        root = pt.sqrt(lam / v)
        first = root * (v / mu - 1.0)
        # Phi(-root (x/mu + 1)) exp(2 lam / mu), in logs: the factor can overflow alone.
        second = 2.0 * lam / mu + log_ndtr(-root * (v / mu + 1.0))
        if upper:
            return pm.math.logdiffexp(log_ndtr(-first), second)
        return pt.logaddexp(log_ndtr(first), second)

    return _positive(x, inside, 0.0 if upper else -np.inf)


def _beta(p: Params, x: Any, upper: bool) -> Any:
    a, b = (p["beta"], p["alpha"]) if upper else (p["alpha"], p["beta"])
    inside = pt.and_(pt.gt(x, 0.0), pt.lt(x, 1.0))
    v = pt.switch(inside, 1.0 - x if upper else x, 0.5)
    outside = pt.switch(pt.le(x, 0.0), 0.0 if upper else -np.inf, -np.inf if upper else 0.0)
    return pt.switch(inside, pt.log(pt.betainc(a, b, v)), outside)


def _student(p: Params, x: Any, upper: bool) -> Any:
    # The t is symmetric about mu: P(Y > x) = P(Y <= 2 mu - x).
    at = 2.0 * p["mu"] - x if upper else x
    return pm.logcdf(pm.StudentT.dist(nu=p["nu"], mu=p["mu"], sigma=p["sigma"]), at)


def _poisson(p: Params, k: Any, upper: bool) -> Any:
    # P(Y <= k) = Q(k + 1, mu) and P(Y > k) = P(k + 1, mu), regularised incomplete gammas.
    incomplete = pt.gammainc if upper else pt.gammaincc
    counted = pt.ge(k, 0.0)
    shape = pt.switch(counted, k + 1.0, 1.0)
    return pt.switch(counted, pt.log(incomplete(shape, p["mu"])), 0.0 if upper else -np.inf)


def _negativebinomial(p: Params, k: Any, upper: bool) -> Any:
    # With n = alpha and q = alpha / (alpha + mu): P(Y <= k) = I_q(n, k + 1), and
    # P(Y > k) = I_{1-q}(k + 1, n).
    n = p["alpha"]
    q = n / (n + p["mu"])
    counted = pt.ge(k, 0.0)
    shape = pt.switch(counted, k + 1.0, 1.0)
    value = pt.betainc(shape, n, 1.0 - q) if upper else pt.betainc(n, shape, q)
    return pt.switch(counted, pt.log(value), 0.0 if upper else -np.inf)


#: The stable forms, by the PyMC distribution's name: ``f(params, x, upper)`` is
#: ``log P(Y > x)`` when ``upper``, else ``log P(Y <= x)``.
STABLE: dict[str, Callable[[Params, Any, bool], Any]] = {
    "Normal": _normal,
    "LogNormal": _lognormal,
    "Laplace": _laplace,
    "Weibull": _weibull,
    "Exponential": _exponential,
    "Gamma": _gamma,
    "Wald": _wald,
    "Beta": _beta,
    "StudentT": _student,
    "Poisson": _poisson,
    "NegativeBinomial": _negativebinomial,
}


def _fallback(dist: Any, params: Params, x: Any, upper: bool) -> Any:
    """PyMC's own log CDF, for a distribution without a stable form here."""
    logcdf = pm.logcdf(dist.dist(**params), x)
    return pt.log1mexp(pt.minimum(logcdf, -1e-300)) if upper else logcdf


def log_cdf(dist: Any, params: Params, x: Any) -> Any:
    """``log P(Y <= x)`` of PyMC distribution ``dist`` with keyword arguments ``params``."""
    stable = STABLE.get(dist.__name__)
    return stable(params, x, False) if stable else _fallback(dist, params, x, False)


def log_sf(dist: Any, params: Params, x: Any) -> Any:
    """``log P(Y > x)`` of PyMC distribution ``dist`` with keyword arguments ``params``."""
    stable = STABLE.get(dist.__name__)
    return stable(params, x, True) if stable else _fallback(dist, params, x, True)


def log_interval(
    dist: Any, params: Params, lower: Any | None, upper: Any | None, discrete: bool
) -> Any:
    """``log P(lower <= Y <= upper)``; ``None`` for an absent bound.

    For counts the lower bound is included (``P(Y >= lower) = P(Y > lower - 1)``); for a
    continuous ``Y`` it makes no difference. Both bounds: CDFs are subtracted where the
    lower bound is below the median, survival functions where it is above (each difference
    is of two numbers that do not both round to 1).
    """
    below = None if lower is None else (lower - 1.0 if discrete else lower)
    if below is None and upper is None:
        return pt.as_tensor(0.0)
    if upper is None:
        return log_sf(dist, params, below)
    if below is None:
        return log_cdf(dist, params, upper)
    cdf_low, cdf_high = log_cdf(dist, params, below), log_cdf(dist, params, upper)
    lower_half = pt.lt(cdf_low, _LOG_HALF)
    # Where the survival functions are not used, the upper one is taken at the lower bound:
    # far above it, it could underflow to log(0), whose gradient the switch cannot stop.
    sf_low = log_sf(dist, params, below)
    sf_high = log_sf(dist, params, pt.switch(lower_half, below, upper))
    # The branch not taken gets -1 inside log1mexp, where it and its gradient are finite.
    by_cdf = cdf_high + pt.log1mexp(pt.switch(lower_half, cdf_low - cdf_high, -1.0))
    by_sf = sf_low + pt.log1mexp(pt.switch(lower_half, -1.0, sf_high - sf_low))
    return pt.switch(lower_half, by_cdf, by_sf)
