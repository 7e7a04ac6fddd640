"""Group effects integrated out of a summed gaussian model, then drawn back exactly.

For a gaussian model with the identity link and one group term of one column (``(1|g)``,
or a slope without its intercept), the effects ``u_l ~ Normal(0, tau)`` are normal given
everything else, so they can be integrated out of the likelihood in closed form. With the
statistics of :mod:`bayesmm.backend.sufficient` (all weighted by the rows' weights): ``g_l``
the summed squares of the term's column ``z`` in level ``l``, ``c_l`` its products with the
response less the offset and the reference, and ``G_l`` its products with the common columns,

    log p(y | beta, sigma, tau) = log p_common(y | beta, sigma)
        + sum_l [ -log(tau) - log(P_l) / 2 + b_l^2 / (2 P_l) ],
    P_l = g_l / sigma^2 + 1 / tau^2,   b_l = (c_l - G_l beta) / sigma^2

(``c_l - G_l beta`` is the product of ``z`` with the residual of the common part),

where ``log p_common`` is the summed likelihood with the effects at zero. NUTS then samples
only the common coefficients, ``sigma`` and ``tau`` (a handful of numbers, however many
levels there are), and each draw's effects are drawn afterwards from their exact
conditional posterior ``u_l ~ Normal(b_l / P_l, P_l^(-1/2))``. The pairs are draws from the
joint posterior: nothing is approximated. lme4 integrates the effects out the same way.

With 100,000 levels this turns a NUTS run over 100,004 numbers (whose sampler keeps each
draw's position and gradient as well) into one over four.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from pytensor.graph.replace import clone_replace

from .._names import sigma_name
from ..design import Design, GroupTerm
from ..priors import Prior, PriorSet
from .variables import Containers, term_dims

__all__ = ["COLLAPSED", "collapsible", "integrate_out", "EffectDraws"]

#: What ``idata.attrs["likelihood"]`` says of a collapsed fit.
COLLAPSED = "sufficient statistics, group effects integrated out (exact)"


def collapsible(design: Design, priors: PriorSet) -> GroupTerm | None:
    """The group term whose effects can be integrated out, or ``None``: the model's only
    group term, of one column, with a ``Normal(0, sigma)`` prior whose ``sigma`` has a
    prior of its own and is a single number. (The caller checks that the model is
    gaussian with the identity link and summable.)"""
    if len(design.group_terms) != 1 or design.blocks:
        return None
    term = design.group_terms[0]
    if len(term.columns) != 1:
        return None
    prior = priors[term.name]
    if not isinstance(prior, Prior) or not prior.is_normal_with_hyperprior:
        return None
    mu = prior.params.get("mu", 0.0)
    if prior.dist is not None or isinstance(mu, Prior) or np.any(np.asarray(mu) != 0):
        return None
    return term if _scalar(prior.params["sigma"]) else None


def _scalar(prior: Prior) -> bool:
    """Whether ``prior`` makes one number: no vector parameter at any depth."""
    return all(
        _scalar(value) if isinstance(value, Prior) else np.ndim(value) == 0
        for value in prior.params.values()
        if not isinstance(value, str)
    )


def integrate_out(
    stats: Any, tables: list[Any], squares: Any, data: Containers, sigma: Any, tau: Any
) -> tuple[Any, Any, Any]:
    """The log-likelihood with the effects of the last side of ``theta`` integrated out,
    and their conditional posterior mean and sd per level.

    ``tables`` are the common sides' coefficients and ``squares`` the summed squares of
    the residuals with the effects at zero (``sufficient.common_quadratic``).
    """
    side = len(tables)  # the group term's side of theta
    g = data.param(_products(stats, side, side)[:, 0, 0])
    c = data.param(stats.cross[side][:, 0])
    for a, table in enumerate(tables):
        c = c - pt.sum(data.param(_products(stats, a, side)[:, :, 0]) * table, axis=1)
    precision = g / sigma**2 + 1 / tau**2
    shift = c / sigma**2
    weight = data.param(stats.weight)
    log_density = (
        -weight * pt.log(sigma)
        - 0.5 * weight * math.log(2 * math.pi)
        - squares / (2 * sigma**2)
        + pt.sum(-pt.log(tau) - 0.5 * pt.log(precision) + 0.5 * shift**2 / precision)
    )
    return log_density, shift / precision, 1 / pt.sqrt(precision)


def _products(stats: Any, a: int, b: int) -> np.ndarray:
    return next(block.products for block in stats.blocks if (block.a, block.b) == (a, b))


class EffectDraws:
    """Draws a collapsed term's effects from their conditional posterior, for each draw of
    the other variables: a callable ``(posterior, random_seed, log_likelihood) ->
    posterior``.

    When the model of the rows is ``noncentred`` and its pointwise log-likelihood is to be
    computed (``log_likelihood``), it adds the offsets ``u / tau`` that model reads.
    """

    def __init__(
        self, model: pm.Model, term: GroupTerm, mean: Any, sd: Any, noncentred: bool
    ) -> None:
        self.term = term
        self.noncentred = noncentred
        self.dims = term_dims(term)
        self.names = [rv.name for rv in model.free_RVs]
        self._stand_ins = {rv: rv.type() for rv in model.free_RVs}
        self._outputs = clone_replace([mean, sd], replace=self._stand_ins)
        self._function: Any = None

    def __call__(self, posterior: xr.Dataset, random_seed: Any, log_likelihood: bool) -> xr.Dataset:
        if self._function is None:  # compiled at the first use
            self._function = pytensor.function(
                list(self._stand_ins.values()), self._outputs, on_unused_input="ignore"
            )
        values = [posterior[name].values for name in self.names]
        chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
        # A stream of its own, spawned from the fit's seed (the sampler used the seed itself).
        rng = np.random.default_rng(np.random.SeedSequence(random_seed).spawn(1)[0])
        effects = np.empty((chains, draws, len(self.term.levels)))
        for c in range(chains):
            for d in range(draws):
                mean, sd = self._function(*(v[c, d] for v in values))
                effects[c, d] = mean + sd * rng.standard_normal(mean.shape)
        dims = ("chain", "draw", *self.dims)
        coords = {self.dims[0]: list(self.term.levels)}
        out = posterior.assign({self.term.name: xr.DataArray(effects, dims=dims, coords=coords)})
        if self.noncentred and log_likelihood:
            tau = posterior[sigma_name(self.term.name)].values[:, :, None]
            offset = xr.DataArray(effects / tau, dims=dims, coords=coords)
            out = out.assign({f"{self.term.name}_offset": offset})
        return out
