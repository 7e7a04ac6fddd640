"""The graph's piece of an approximate Gaussian process, ``hsgp(x)``: its coefficients, the
basis's columns weighted by the kernel's spectral density (see :mod:`bayesmm.design.gps`)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ...._names import sigma_name
from ....design import CommonTerm, Design
from ....design.gps import spectral_density
from ..context import Added, GraphContext
from ..variables import common_dim

__all__ = ["gp_coefficients"]


def gp_coefficients(design: Design, term: CommonTerm, ctx: GraphContext) -> Added:
    """An ``hsgp()`` term's coefficients: ``sqrt(spd(omega)) * z``, ``z ~ Normal(0, 1)``,
    with the kernel's spectral density at the basis's frequencies given the term's
    lengthscale and amplitude (one of each per ``by`` level). See
    :mod:`bayesmm.design.gps`."""
    gp = term.gp
    assert gp is not None
    blocks = max(len(gp.levels), 1)
    model = pm.modelcontext(None)
    dims = None
    if gp.levels:
        dims = (f"{term.name}_by_dim",)
        model.add_coord(dims[0], list(gp.levels))
    amplitude = ctx.variable(sigma_name(term.name), dims)
    lengthscale = ctx.variable(f"{term.name}_lengthscale", dims)
    width = len(gp.omega2)
    z_dim = f"{term.name}_z_dim"
    model.add_coord(z_dim, [str(j) for j in range(width * blocks)])
    z = pm.Normal(f"{term.name}_z", mu=0.0, sigma=1.0, dims=z_dim)
    omega2 = np.asarray(gp.omega2)
    amplitudes, lengthscales = pt.atleast_1d(amplitude), pt.atleast_1d(lengthscale)
    pieces = [
        z[b * width : (b + 1) * width]
        * pt.sqrt(spectral_density(omega2, lengthscales[b], amplitudes[b], gp.kernel, gp.dims, pt))
        for b in range(blocks)
    ]
    coefficients = pt.concatenate(pieces) if blocks > 1 else pieces[0]
    beta = pm.Deterministic(term.name, coefficients, dims=(common_dim(term.name),))
    return Added(beta, (f"{term.name}_z",))
