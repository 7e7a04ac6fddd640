"""Observed responses against predictions: the pointwise log-likelihood, with numpy alone,
and the responses Bayesian R² compares fitted means with.

``FittedModel.log_likelihood`` (and through it ``loo()`` and the ``log_predictive_density``
scorer) reads the responses with :func:`observed_response` and scores them with
:func:`pointwise_log_likelihood`, given the family's parameters of each draw and row;
``FittedModel.r2`` reads them with :func:`r2_response`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import DataError, FamilyError
from ..design import NewDesign, Response, Truncation
from ..families import Family
from .params import category_counts, truncated_log_likelihood

__all__ = ["observed_response", "pointwise_log_likelihood", "r2_response"]


def observed_response(family: Family, response: Response, y: Any, rows: NewDesign) -> np.ndarray:
    """``y`` on the family's scale as a ``(1, rows)`` array (``(1, rows, categories)`` of
    counts for a multinomial family), checked against the rows and the family's support.

    Raises
    ------
    DataError
        If ``y`` is not one value per row, or outside the family's support.
    """
    if family.counts_each_category():
        return category_counts(family, response.levels, y, rows.n_obs)[None]
    codes = family.observed_codes(y, response.levels, response.name)
    flat = np.asarray(codes, dtype=float).reshape(-1)
    if flat.shape[0] != rows.n_obs:
        raise DataError(
            f"y must have one value per row of data ({rows.n_obs}); got {flat.shape[0]}."
        )
    family.check_response(flat, rows.trials, "y")
    return flat[None, :]


def pointwise_log_likelihood(
    family: Family,
    params: dict[str, np.ndarray],
    values: np.ndarray,
    rows: NewDesign,
    truncation: Truncation | None,
) -> np.ndarray:
    """The log-likelihood of ``values`` (from :func:`observed_response`) for each draw of
    ``params`` and row, ``(draws, rows)``; a truncated response's is renormalised to the
    rows' bounds.

    Raises
    ------
    FamilyError
        If the family has no numpy log density (``Likelihood(logpdf=...)``).
    """
    if rows.trials is not None and not family.counts_each_category():
        params = {**params, "trials": rows.trials[None, :]}
    out = np.asarray(family.log_density(values, params), dtype=float)
    if truncation is None:
        return out
    return truncated_log_likelihood(family, params, values, out, truncation, rows.truncation)


def r2_response(family: Family, response: Response) -> np.ndarray:
    """The training responses on the scale of the family's fitted means: proportions of the
    trials for a response with trials.

    Raises
    ------
    FamilyError
        For a family of categories, whose predictions are category probabilities.
    """
    if family.is_categorical():
        raise FamilyError(
            f"r2() compares fitted means with the response; family {family.name!r} "
            "predicts category probabilities, which have no such R². Compare models with "
            "az.loo(idata) instead."
        )
    values = np.asarray(response.values)
    return values if response.trials is None else values / response.trials
