"""The graph's piece of a monotonic effect, ``mo(x)``: a part of the linear predictor of its
own, indexed by each row's code (see :mod:`bayesmm.design.monotonic`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ...._names import monotonic_dim, monotonic_name
from ....design import CommonTerm, Design
from ..context import Added, GraphContext, Part

__all__ = ["monotonic_part"]


def monotonic_part(design: Design, term: CommonTerm, ctx: GraphContext) -> Added:
    """``mo(x)``: ``b * D * cumsum(zeta)`` at each row's code, with ``b ~ prior`` (the
    average change per step) and the simplex ``zeta ~ Dirichlet(1)`` (``mo(x)_simplex``,
    one share of the total change per step). Indexed by the codes, as a group term is."""
    assert term.steps is not None
    steps = len(term.steps)
    b = ctx.variable(term.name)
    if steps == 1:
        cumulative: Any = pt.as_tensor(np.array([0.0, 1.0]))
    else:
        dim = monotonic_dim(term.name)
        pm.modelcontext(None).add_coord(dim, list(term.steps))
        zeta = pm.Dirichlet(monotonic_name(term.name), a=np.ones(steps), dims=dim)
        cumulative = pt.concatenate([pt.zeros(1), pt.cumsum(zeta)]) * steps
    codes = design.common[:, term.start].astype(np.int64)
    return Added(Part(b * cumulative, None, codes, f"@{term.name}", steps + 1))
