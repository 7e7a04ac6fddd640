"""Observation weights: each row's log-likelihood times its weight (frequency weights).

``Model(..., weights="w")`` names a column; an array of one weight per row of ``data`` is kept
as a column of its own, :data:`WEIGHTS_COLUMN`, so that the training rows (and a saved file)
hold the weights either way. A ``pandas.Series`` is matched to ``data`` by index. The default
priors are scaled from the weighted means and sds of :func:`mean_sd`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import describe_values, did_you_mean

__all__ = ["WEIGHTS_COLUMN", "add_weights", "mean_sd", "weight_values"]

#: The column that holds weights given as an array; no formula can name it.
WEIGHTS_COLUMN = "(weights)"


def add_weights(
    weights: Any, data: pd.DataFrame, family: Any = None
) -> tuple[pd.DataFrame, str | None]:
    """``data`` with the weights as a column, and that column's name (``None``: no weights).

    Raises
    ------
    DataError
        If ``weights`` names no column of ``data``, or is not one number per row, or the
        family's likelihood does not take weights (families of categories, for now). A
        ``pandas.Series`` is matched to ``data`` by index, and must have each row's label
        once; arrays and lists are taken in the order of ``data``'s rows.
    """
    if weights is None:
        return data, None
    if family is not None and family.is_categorical():
        raise DataError(
            f"weights are not supported with family {family.name!r} (a family of categories) "
            "yet; fit without weights, or repeat rows by their integer weights."
        )
    if isinstance(weights, str):
        if weights not in data.columns:
            columns = [str(c) for c in data.columns]
            hint = did_you_mean(weights, columns) or f" Columns are {columns[:20]}."
            if weights == WEIGHTS_COLUMN:
                hint = (
                    " This model was fitted with weights given as an array; to refit it, pass "
                    "the data with the weights as a column of that name."
                )
            raise DataError(f"weights names {weights!r}, which is not a column of data.{hint}")
        return data, weights
    if isinstance(weights, pd.Series):
        # By label, as pandas aligns columns: a reordered Series must not shift the weights.
        aligned = "weights is a pandas Series, so it is matched to the rows of data by index"
        missing = data.index.difference(weights.index, sort=False)
        if len(missing):
            raise DataError(
                f"{aligned}; its index lacks {len(missing)} of data's labels "
                f"({describe_values(missing)}). Pass a Series indexed like data, or an array "
                "in the order of data's rows."
            )
        repeated = weights.index[weights.index.duplicated()].unique()
        if len(repeated):
            raise DataError(
                f"{aligned}, which needs each label once; got the labels "
                f"{describe_values(repeated)} more than once."
            )
        weights = weights.reindex(data.index)
    values = np.asarray(weights)
    if values.ndim != 1 or values.shape[0] != len(data):
        raise DataError(
            f"weights must be a column name or one number per row of data ({len(data)} rows); "
            f"got an array of shape {values.shape}."
        )
    return data.assign(**{WEIGHTS_COLUMN: values}), WEIGHTS_COLUMN


def weight_values(column: pd.Series, name: str) -> np.ndarray:
    """The weights as floats, checked: finite, non-negative and not all zero.

    Raises
    ------
    DataError
        Naming the column (``name``) and the offending rows.
    """
    where = f"weights (column {name!r})" if name != WEIGHTS_COLUMN else "weights"
    if not (pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column)):
        raise DataError(f"{where} must be numbers; got dtype {column.dtype}.")
    values = column.to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise DataError(
            f"{where} must be finite numbers >= 0; got {describe_values(values[bad])} in "
            f"{int(bad.sum())} row(s) (index {describe_values(column.index[bad])})."
        )
    if not values.any():
        raise DataError(f"{where} must not all be zero: every row would be ignored.")
    return values


def mean_sd(values: np.ndarray, weights: np.ndarray | None) -> tuple[Any, Any]:
    """Mean and standard deviation (``ddof=1``) along the rows of ``values``.

    With observation weights, the weighted mean and sd, with Kish's effective sample size
    ``sum(w)**2 / sum(w**2)`` in place of ``n`` in the ``n / (n - 1)`` correction: rows of
    weight 0 do not count, and equal weights give the unweighted values. The sd is 0 when
    fewer than two rows count.
    """
    if weights is None:
        n = values.shape[0]
        mean = np.mean(values, axis=0)
        return mean, np.std(values, axis=0, ddof=1) if n > 1 else np.zeros_like(mean)
    share = np.asarray(weights, dtype=float) / np.sum(weights)
    # Deviations from a counted row: a constant column then has an sd of exactly 0.
    reference = values[np.argmax(share > 0)]
    shift = np.tensordot(share, values - reference, axes=1)
    mean = reference + shift
    n_eff = 1.0 / np.sum(share**2)
    if n_eff < 1.0 + 1e-9:
        return mean, np.zeros_like(mean)
    spread = np.tensordot(share, (values - reference - shift) ** 2, axes=1)
    return mean, np.sqrt(spread * n_eff / (n_eff - 1.0))
