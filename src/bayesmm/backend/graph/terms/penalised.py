"""The graph's piece of a smooth, ``s(x)``: its coefficients, linear trends with the term's
prior and penalised columns that share one sd per block (see :mod:`bayesmm.design.smooths`)."""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt

from ...._names import sigma_name
from ....design import CommonTerm, Design
from ..context import Added, GraphContext
from ..variables import common_dim, random_variable

__all__ = ["smooth_coefficients"]


def smooth_coefficients(design: Design, term: CommonTerm, ctx: GraphContext) -> Added:
    """A smooth's coefficients, ``s(x)`` over its columns: its linear trends with the term's
    prior, and its penalised columns ``s(x)_sigma * z``, ``z ~ Normal(0, 1)`` (non-centred),
    one sd per block (per ``by`` level). See :mod:`bayesmm.design.smooths`."""
    assert term.penalised is not None
    fixed, blocks = term.fixed_columns, term.penalised
    model = pm.modelcontext(None)
    sd_dims = None
    labels = term.levels or ()
    if len(blocks) > 1:  # one per level of by: "a:trend", "a:1", ... give "a"
        sd_dims = (f"{sigma_name(term.name)}_dim",)
        model.add_coord(sd_dims[0], [labels[start].rsplit(":", 1)[0] for start, _ in blocks])
    sd = ctx.variable(sigma_name(term.name), sd_dims)
    trend_dims = None
    if len(fixed) > 1:
        trend_dims = (f"{term.name}_trend_dim",)
        model.add_coord(trend_dims[0], [labels[j] for j in fixed])
    trend = random_variable(f"{term.name}_trend", ctx.prior(term.name), trend_dims, ctx.data)
    n_wiggly = sum(stop - start for start, stop in blocks)
    z_dim = f"{term.name}_z_dim"
    model.add_coord(z_dim, [str(j) for j in range(n_wiggly)])
    z = pm.Normal(f"{term.name}_z", mu=0.0, sigma=1.0, dims=z_dim)
    sds, trends = pt.atleast_1d(sd), pt.atleast_1d(trend)
    pieces, at = [], 0
    for b, (start, stop) in enumerate(blocks):  # each level: its trend, then its wiggles
        pieces += [trends[b : b + 1], z[at : at + stop - start] * sds[b]]
        at += stop - start
    coefficients = pt.concatenate(pieces)
    beta = pm.Deterministic(term.name, coefficients, dims=(common_dim(term.name),))
    return Added(beta, (f"{term.name}_trend", f"{term.name}_z"))
