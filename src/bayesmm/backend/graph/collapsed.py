"""Group effects integrated out of a summed gaussian model, then drawn back exactly.

For a gaussian model with the identity link whose group terms are all on one factor and
have one or two columns in all (``(1|g)``; ``(x|g)``, correlated; ``(x||g)``), each level's
effects ``u_l ~ Normal(0, Sigma)`` are normal given everything else, so they can be
integrated out of the likelihood in closed form. With the statistics of
:mod:`bayesmm.backend.sufficient` (all weighted by the rows' weights): ``G_l`` the products
of the terms' columns ``z`` with each other in level ``l``, ``c_l`` their products with the
response less the offset and the reference, and ``X_l`` their products with the common
columns,

    log p(y | beta, sigma, Sigma) = log p_common(y | beta, sigma)
        + sum_l [ -log|Sigma| / 2 - log|P_l| / 2 + b_l' P_l^-1 b_l / 2 ],
    P_l = G_l / sigma^2 + Sigma^-1,   b_l = (c_l - X_l beta) / sigma^2

(``c_l - X_l beta`` is the product of ``z`` with the residual of the common part), where
``log p_common`` is the summed likelihood with the effects at zero. NUTS then samples only
the common coefficients, ``sigma`` and ``Sigma``'s parameters (a handful of numbers, however
many levels there are), and each draw's effects are drawn afterwards from their exact
conditional posterior ``u_l ~ Normal(P_l^-1 b_l, P_l^-1)``. The pairs are draws from the
joint posterior: nothing is approximated. lme4 integrates the effects out the same way.
Two columns at most keep each level's matrices 2 x 2, inverted in closed form.

With 100,000 levels this turns a NUTS run over 100,004 numbers (whose sampler keeps each
draw's position and gradient as well) into one over four.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from pytensor.graph.replace import clone_replace

from ..._names import sigma_name
from ...design import Design, GroupBlock, GroupTerm
from ...priors import PriorSet
from .blocks import block_covariance, block_summaries
from .context import Added, Part
from .predictors import zero_mean_population
from .variables import Containers, as_prior, random_variable, term_dims

__all__ = [
    "COLLAPSED",
    "Collapsible",
    "collapsible",
    "population",
    "integrate_out",
    "EffectDraws",
]

#: What ``idata.attrs["likelihood"]`` says of a collapsed fit.
COLLAPSED = "sufficient statistics, group effects integrated out (exact)"

#: The most columns of group effects integrated out (each level's matrices are 2 x 2).
MAX_COLUMNS = 2


@dataclass(frozen=True)
class Collapsible:
    """Group terms whose effects can be integrated out: all on one factor, one or two
    columns in all, as one correlated ``block`` or as independent terms."""

    terms: tuple[GroupTerm, ...]
    block: GroupBlock | None

    @property
    def width(self) -> int:
        return sum(len(t.columns) for t in self.terms)

    def part(self, n: int) -> Part:
        """The terms as one side of ``theta`` on ``n`` rows: their columns side by side."""
        first = self.terms[0]
        columns = np.hstack(
            [
                np.ones((n, 1))
                if t.values is None
                else np.asarray(t.values, float).reshape(n, len(t.columns))
                for t in self.terms
            ]
        )
        names = tuple(t.name for t in self.terms)
        return Part(None, columns, first.index, first.factor, len(first.levels), terms=names)


def collapsible(design: Design, priors: PriorSet) -> Collapsible | None:
    """The group terms whose effects can be integrated out, or ``None``: the group terms of
    one factor, with one or two columns in all, each with a ``Normal(0, sigma)`` prior
    whose ``sigma`` has a prior of its own and is a single number; correlated as one block,
    or not at all. Of several factors that qualify, the one with the most levels; the other
    factors' effects stay in the model. (The caller checks that the model is gaussian with
    the identity link and summable.)"""
    candidates = []
    for factor in dict.fromkeys(t.factor for t in design.group_terms):
        terms = tuple(t for t in design.group_terms if t.factor == factor)
        blocks = [b for b in design.blocks if b.factor == factor]
        if sum(len(t.columns) for t in terms) > MAX_COLUMNS:
            continue
        if blocks and (len(blocks) != 1 or len(blocks[0].terms) != len(terms)):
            continue
        if all(zero_mean_population(priors[term.name]) for term in terms):
            candidates.append(Collapsible(terms, blocks[0] if blocks else None))
    return max(candidates, key=lambda c: len(c.terms[0].levels), default=None)


def population(spec: Collapsible, design: Design, priors: PriorSet, data: Containers) -> Added:
    """The variables of the effects' population, named as in the model of the rows; the
    Cholesky factor of its covariance ``Sigma`` (``width x width``)."""
    if spec.block is not None:
        covariance = block_covariance(design, spec.block, priors, data)
        terms, chol, corr, sds = covariance.value
        block_summaries(design, spec.block, terms, corr, sds)
        return Added(chol, covariance.internal)
    taus = [
        random_variable(sigma_name(t.name), as_prior(priors, t.name).params["sigma"], None, data)
        for t in spec.terms
    ]
    return Added(pt.diag(pt.stack(taus)))


def integrate_out(
    stats: Any, tables: list[Any], data: Containers, sigma: Any, chol: Any
) -> tuple[Any, Any, Any]:
    """What integrating out the effects of the last side of ``theta`` adds to the summed
    log-likelihood with those effects at zero, and their conditional posterior mean
    ``(levels, width)`` and the Cholesky factor of their conditional covariance
    ``(levels, width, width)``.

    ``tables`` are the other sides' coefficients (the common ones, then other factors'
    group terms) and ``chol`` the population's Cholesky factor.
    """
    side = len(tables)  # the group terms' side of theta
    gram = data.param(_block(stats, side, side).products)  # (levels, width, width)
    c = data.param(stats.cross[side])  # (levels, width)
    for a, table in enumerate(tables):
        block = _block(stats, a, side)
        if block.ia is None:  # a common side, broadcast over the levels
            c = c - pt.sum(data.param(block.products) * table[:, :, None], axis=1)
        else:  # another factor: its products with these levels, in the cells they share
            c = c - _crossed(block, table, c.type.shape, data)
    inverse, log_det = _inverse(chol)
    precision = gram / sigma**2 + inverse[None, :, :]
    quadratic, log_det_p, mean, cov_chol = _per_level(precision, c / sigma**2)
    return pt.sum(-0.5 * log_det - 0.5 * log_det_p + 0.5 * quadratic), mean, cov_chol


def _inverse(chol: Any) -> tuple[Any, Any]:
    """``Sigma^-1`` and ``log|Sigma|`` from its lower-triangular ``chol``, 1 x 1 or 2 x 2."""
    if chol.type.shape[0] == 1:
        return 1 / chol**2, 2 * pt.log(chol[0, 0])
    a, b, d = chol[0, 0], chol[1, 0], chol[1, 1]
    # chol^-1 = [[1/a, 0], [-b/(a d), 1/d]], and Sigma^-1 = chol^-T chol^-1.
    i00, i10, i11 = 1 / a, -b / (a * d), 1 / d
    inverse = pt.stack([pt.stack([i00**2 + i10**2, i10 * i11]), pt.stack([i10 * i11, i11**2])])
    return inverse, 2 * (pt.log(a) + pt.log(d))


def _per_level(precision: Any, shift: Any) -> tuple[Any, Any, Any, Any]:
    """Per level, for ``P`` 1 x 1 or 2 x 2: ``b' P^-1 b``, ``log|P|``, the mean ``P^-1 b``
    and the Cholesky factor of ``P^-1``."""
    if precision.type.shape[-1] == 1:
        p, b = precision[:, 0, 0], shift[:, 0]
        return b**2 / p, pt.log(p), (b / p)[:, None], (1 / pt.sqrt(p))[:, None, None]
    p00, p01, p11 = precision[:, 0, 0], precision[:, 0, 1], precision[:, 1, 1]
    b0, b1 = shift[:, 0], shift[:, 1]
    det = p00 * p11 - p01**2
    m0, m1 = (p11 * b0 - p01 * b1) / det, (p00 * b1 - p01 * b0) / det
    l00 = pt.sqrt(p11 / det)  # P^-1 = [[p11, -p01], [-p01, p00]] / det
    l10 = -p01 / det / l00
    l11 = pt.sqrt(p00 / det - l10**2)
    zero = pt.zeros_like(l00)
    cov_chol = pt.stack([pt.stack([l00, zero], axis=-1), pt.stack([l10, l11], axis=-1)], axis=-2)
    return b0 * m0 + b1 * m1, pt.log(det), pt.stack([m0, m1], axis=-1), cov_chol


def _crossed(block: Any, table: Any, shape: tuple[Any, ...], data: Containers) -> Any:
    """``sum over the cells (i, l) of products[i, l]' table[i]`` for each level ``l`` of the
    integrated factor (``shape``: its levels by its columns), where ``table`` holds another
    factor's coefficients, one row per level ``i``. As one matrix product over every pair of
    levels where the cells fill at least half of them (a product is faster than gathering
    and scattering), else gathered and scattered cell by cell."""
    levels, width = int(shape[0]), int(shape[1])
    products = block.products  # (cells, columns of the other factor, width)
    other_levels, other_width = int(table.type.shape[0]), products.shape[1]
    if 2 * len(products) >= levels * other_levels:
        dense = np.zeros((levels, width, other_levels, other_width))
        dense[block.ib, :, block.ia, :] = products.transpose(0, 2, 1)
        matrix = data.param(dense.reshape(levels * width, other_levels * other_width))
        return pt.reshape(pt.dot(matrix, pt.reshape(table, (-1,))), (levels, width))
    shift = pt.sum(data.param(products) * table[data.param_ints(block.ia)][:, :, None], axis=1)
    return pt.inc_subtensor(pt.zeros((levels, width))[data.param_ints(block.ib)], shift)


def _block(stats: Any, a: int, b: int) -> Any:
    return next(block for block in stats.blocks if (block.a, block.b) == (a, b))


class EffectDraws:
    """Draws collapsed terms' effects from their conditional posterior, for each draw of
    the other variables: a callable ``(posterior, random_seed, log_likelihood) ->
    posterior``.

    When the model of the rows is ``noncentred`` and its pointwise log-likelihood is to be
    computed (``log_likelihood``), it adds what that model samples in place of the effects
    themselves: each term's ``u / tau``, or a block's ``chol^-1 u``; a centred block's
    effects go in as one array too.
    """

    def __init__(
        self,
        model: pm.Model,
        spec: Collapsible,
        mean: Any,
        cov_chol: Any,
        chol: Any,
        noncentred: bool,
    ) -> None:
        self.spec = spec
        self.noncentred = noncentred
        self.names = [rv.name for rv in model.free_RVs]
        self._stand_ins = {rv: rv.type() for rv in model.free_RVs}
        self._outputs = clone_replace([mean, cov_chol, chol], replace=self._stand_ins)
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
        levels, width = len(self.spec.terms[0].levels), self.spec.width
        effects = np.empty((chains, draws, levels, width))
        offsets = np.empty_like(effects) if self.noncentred and log_likelihood else None
        for c in range(chains):
            for d in range(draws):
                mean, cov_chol, chol = self._function(*(v[c, d] for v in values))
                noise = rng.standard_normal((levels, width))
                effects[c, d] = mean + np.einsum("lij,lj->li", cov_chol, noise)
                if offsets is not None:  # chol^-1 u, level by level
                    offsets[c, d] = np.linalg.solve(chol, effects[c, d].T).T
        return posterior.assign(self._variables(effects, offsets, log_likelihood))

    def _variables(
        self, effects: np.ndarray, offsets: np.ndarray | None, log_likelihood: bool
    ) -> dict[str, xr.DataArray]:
        """The draws under the names of the model of the rows."""
        out = {}
        start = 0
        for term in self.spec.terms:
            dims = term_dims(term)
            stop = start + len(term.columns)
            own = effects[..., start] if len(term.columns) == 1 else effects[..., start:stop]
            coords = {dims[0]: list(term.levels)}
            if len(dims) > 1:
                coords[dims[1]] = list(term.columns)
            out[term.name] = xr.DataArray(own, dims=("chain", "draw", *dims), coords=coords)
            if offsets is not None and self.spec.block is None:
                part = offsets[..., start] if len(term.columns) == 1 else offsets[..., start:stop]
                out[f"{term.name}_offset"] = out[term.name].copy(data=part)
            start = stop
        block = self.spec.block
        if block is not None and log_likelihood:
            name = (
                f"{block.prior_name}_offset" if self.noncentred else f"{block.prior_name}_effects"
            )
            array = offsets if self.noncentred else effects
            dims = ("chain", "draw", f"{name}_dim_0", f"{name}_dim_1")
            out[name] = xr.DataArray(array, dims=dims)
        return out
