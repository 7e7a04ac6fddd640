"""Observation weights: each row's log-likelihood times its weight (frequency weights).

``Model(..., weights="w")`` names a column; an array of one weight per row of ``data`` is kept
as a column of its own, :data:`WEIGHTS_COLUMN`, so that the training rows (and a saved file)
hold the weights either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._errors import DataError
from ._validation import describe_values, did_you_mean

__all__ = ["WEIGHTS_COLUMN", "add_weights", "weight_values"]

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
        family's likelihood does not take weights (families of categories, for now).
    """
    if weights is None:
        return data, None
    if getattr(family, "categories", None) is not None:
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
