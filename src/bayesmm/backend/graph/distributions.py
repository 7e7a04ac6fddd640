"""Response distributions that PyMC does not have, written as ``pm.CustomDist`` and looked
up by the name a family's likelihood gives, as PyMC's own are (:func:`likelihood_distribution`).

``ZeroOneInflatedBeta`` (family ``zoib``, brms's ``zero_one_inflated_beta``): with
probability ``zoi`` the response is 0 or 1 (1 with probability ``coi``), else a beta of
alpha and beta. Its log density is written so that no branch a row does not take can put NaN
in the gradient (the beta's density is evaluated at 0.5 in the rows that are 0 or 1); its
draws are a graph of PyMC's own distributions, so prior predictive draws need no numpy code.
"""

from __future__ import annotations

from typing import Any

import pymc as pm
import pytensor.tensor as pt

__all__ = ["ZeroOneInflatedBeta", "likelihood_distribution"]


def _zoib_logp(value: Any, alpha: Any, beta: Any, zoi: Any, coi: Any) -> Any:
    zero, one = pt.eq(value, 0), pt.eq(value, 1)
    inside = pt.switch(zero | one, 0.5, value)
    continuous = pt.log1p(-zoi) + pm.logp(pm.Beta.dist(alpha, beta), inside)
    return pt.switch(
        zero, pt.log(zoi) + pt.log1p(-coi), pt.switch(one, pt.log(zoi) + pt.log(coi), continuous)
    )


def _zoib_draws(alpha: Any, beta: Any, zoi: Any, coi: Any, size: Any) -> Any:
    inflated = pm.Bernoulli.dist(zoi, size=size)
    ones = pm.Bernoulli.dist(coi, size=size)
    return pt.switch(inflated, pt.cast(ones, "float64"), pm.Beta.dist(alpha, beta, size=size))


class ZeroOneInflatedBeta:
    """A PyMC-style distribution: ``ZeroOneInflatedBeta(name, alpha=, beta=, zoi=, coi=,
    observed=, dims=)`` and ``ZeroOneInflatedBeta.dist(...)``."""

    __name__ = "ZeroOneInflatedBeta"
    _PARAMS = ("alpha", "beta", "zoi", "coi")

    def __new__(cls, name: str, *, observed: Any = None, dims: Any = None, **kwargs: Any) -> Any:
        params = [kwargs.pop(p) for p in cls._PARAMS]
        return pm.CustomDist(
            name,
            *params,
            logp=_zoib_logp,
            dist=_zoib_draws,
            observed=observed,
            dims=dims,
            **kwargs,
        )

    @classmethod
    def dist(cls, size: Any = None, **kwargs: Any) -> Any:
        params = [kwargs.pop(p) for p in cls._PARAMS]
        return pm.CustomDist.dist(*params, logp=_zoib_logp, dist=_zoib_draws, size=size, **kwargs)


_OURS: dict[str, Any] = {"ZeroOneInflatedBeta": ZeroOneInflatedBeta}


def likelihood_distribution(name: str) -> Any:
    """The distribution a likelihood names: one of bayesmm's, else PyMC's of that name."""
    return _OURS[name] if name in _OURS else getattr(pm, name)
