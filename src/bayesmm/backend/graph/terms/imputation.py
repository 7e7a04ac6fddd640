"""The models of ``mi()`` columns in PyMC (see :mod:`bayesmm.design.missing`).

Each column ``x`` with a model ``x ~ z`` gets ``x ~ Normal(eta_x, x_sigma)`` on the rows
that have it (an observed variable named ``x_observed``) and a parameter per row that lacks it
(``x_missing``, over the dimension ``x__missing``, labelled by the rows' positions); the
main formula's ``mi(x)`` then reads ``x`` with those parameters in its missing rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ...._names import sigma_name
from ....design import CommonTerm, Design
from ..context import Added, GraphContext

__all__ = ["imputed_columns", "imputed_coefficient", "missing_dim", "observed_dim"]


def missing_dim(column: str) -> str:
    return f"{column}__missing"


def observed_dim(column: str) -> str:
    return f"{column}__observed"


def imputed_columns(
    design: Design, ctx: GraphContext, predictor: Callable[[Design, GraphContext], Added]
) -> Added:
    """Each ``mi()`` term's values on every row, by term name (``"mi(x)"``): the observed
    ``x`` where it is, its parameters where it is not; with ``x``'s model added, whose
    linear predictor ``predictor`` builds (the graph's ``linear_predictor``)."""
    values: dict[str, Any] = {}
    internal: list[str] = []
    model = pm.modelcontext(None)
    for imputed in design.imputed:
        column = imputed.column
        missing = np.flatnonzero(imputed.missing)
        observed = np.flatnonzero(~imputed.missing)
        model.add_coord(missing_dim(column), missing)
        model.add_coord(observed_dim(column), observed)
        linear = predictor(imputed.design, ctx.plain())
        eta, internal = linear.value, [*internal, *linear.internal]
        spread = ctx.variable(sigma_name(column))
        x = ctx.data.rows(imputed.design.response.values)[:, 0]
        pm.Normal(
            f"{column}_observed",
            mu=eta[observed],
            sigma=spread,
            observed=x[observed],
            dims=observed_dim(column),
        )
        drawn = pm.Normal(
            f"{column}_missing", mu=eta[missing], sigma=spread, dims=missing_dim(column)
        )
        term = next(t.name for t in design.common_terms if t.imputed == column)
        values[term] = pt.set_subtensor(x[missing], drawn)
    return Added(values, tuple(internal))


def imputed_coefficient(design: Design, term: CommonTerm, ctx: GraphContext) -> Added:
    """The graph's piece of an ``mi(x)`` term: its coefficient, and ``x`` on every row (the
    observed values with the imputed ones, from :func:`imputed_columns`)."""
    return Added((ctx.variable(term.name), ctx.imputed[term.name]))
