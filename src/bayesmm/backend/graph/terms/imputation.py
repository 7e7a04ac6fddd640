"""The models of ``mi()`` columns in PyMC (see :mod:`bayesmm.design.missing`).

Each column ``x`` with a model ``x ~ z`` gets ``x ~ Normal(eta_x, x_sigma)`` on the rows
that have it (an observed variable named ``x_observed``) and a parameter per row that lacks it
(``x_missing``, over the dimension ``x__missing``, labelled by the rows' positions); the
main formula's ``mi(x)`` then reads ``x`` with those parameters in its missing rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ...._names import sigma_name
from ....design import Design
from ....priors import PriorSet
from ..predictors import linear_predictor
from ..variables import Containers, as_prior, random_variable

__all__ = ["imputed_columns", "missing_dim", "observed_dim"]


def missing_dim(column: str) -> str:
    return f"{column}__missing"


def observed_dim(column: str) -> str:
    return f"{column}__observed"


def imputed_columns(
    design: Design,
    priors: PriorSet,
    center: bool,
    noncentered: bool | str,
    internal: list[str],
    data: Containers,
    indexes: dict[str, Any],
) -> dict[str, Any]:
    """Each ``mi()`` term's values on every row, by term name (``"mi(x)"``): the observed
    ``x`` where it is, its parameters where it is not; with ``x``'s model added."""
    values: dict[str, Any] = {}
    model = pm.modelcontext(None)
    for imputed in design.imputed:
        column = imputed.column
        missing = np.flatnonzero(imputed.missing)
        observed = np.flatnonzero(~imputed.missing)
        model.add_coord(missing_dim(column), missing)
        model.add_coord(observed_dim(column), observed)
        eta = linear_predictor(imputed.design, priors, center, noncentered, internal, data, indexes)
        spread = random_variable(
            sigma_name(column), as_prior(priors, sigma_name(column)), None, data
        )
        x = data.rows(imputed.design.response.values)[:, 0]
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
    return values
