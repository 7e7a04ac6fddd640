"""Censored responses: ``censored(y, status)`` and ``censored(y, y_upper, status)``.

The status of each row says what is known of its response:

========== ===== ==============================================================
status     code  the response is
========== ===== ==============================================================
"none"     0     ``y`` (observed)
"left"     -1    at most ``y``
"right"    1     at least ``y``
"interval" 2     between ``y`` and ``y_upper`` (needs the three-argument form)
========== ===== ==============================================================

Statuses are given as these words or as the codes (brms's ``cens()`` codes). The backend
turns each row into its log density, log CDF, log survival function or log probability of
the interval (``backend.pymc``). Bounds are included, which matters for counts: right
censored is ``P(Y >= y) = 1 - CDF(y - 1)`` and interval ``CDF(y_upper) - CDF(y - 1)``
(brms's Stan code uses ``Y > y`` and ``y < Y <= y_upper`` instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values
from .types import CENSORING_CODES, Censoring

__all__ = [
    "CENSORING_CODES",
    "Censoring",
    "censored_call",
    "censoring_columns",
    "encode_censored",
    "fill_unused_upper",
]

_USAGE = (
    "write 'censored(y, status) ~ ...' (left and right censoring) or "
    "'censored(y, y_upper, status) ~ ...' (also interval censoring), with column names"
)


def censored_call(term: Any) -> Any | None:
    """The ``censored(...)`` call of a response term, or ``None``."""
    components = getattr(term, "components", None) or []
    if len(components) != 1:
        return None
    call = getattr(components[0], "call", None)
    return call if str(getattr(call, "callee", "")) == "censored" else None


def censoring_columns(call: Any) -> tuple[str, str | None, str]:
    """``(y, y_upper or None, status)``: the columns a ``censored()`` call names.

    Raises
    ------
    FormulaError
        If the call does not have two or three column names as arguments.
    """
    args = list(getattr(call, "args", []) or [])
    names = [getattr(arg, "name", None) for arg in args]
    if len(args) not in (2, 3) or getattr(call, "kwargs", None) or None in names:
        raise FormulaError(
            f"The response {str(call)!r} is not a valid censored response; {_USAGE}, e.g. "
            "'censored(time, status) ~ age'."
        )
    if len(names) == 2:
        return str(names[0]), None, str(names[1])
    return str(names[0]), str(names[1]), str(names[2])


def _status_code(value: Any) -> int | None:
    """The code of one status: a word (any case, spaces around) or a number that is a code;
    ``None`` for anything else (text such as ``"2"`` included, booleans too)."""
    if isinstance(value, str):
        return CENSORING_CODES.get(value.strip().lower())
    if (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and float(value) in CENSORING_CODES.values()
    ):
        return int(value)
    return None


def _status_codes(column: pd.Series, name: str) -> np.ndarray:
    """Map a status column (words or codes) to codes; a DataError names the bad values."""
    values = column.to_numpy(dtype=object)
    parsed = [_status_code(value) for value in values]
    bad = np.array([code is None for code in parsed], dtype=bool)
    codes = np.array([0 if code is None else code for code in parsed], dtype=np.int8)
    numbers = set(CENSORING_CODES.values())
    if bad.any():
        raise DataError(
            f"The censoring status column {name!r} must hold one of "
            f"{list(CENSORING_CODES)} or the codes {sorted(numbers)} (-1 left, 0 none, "
            f"1 right, 2 interval) in every row; got {describe_values(pd.unique(values[bad]))} "
            f"in {int(bad.sum())} row(s) (index {describe_values(column.index[bad])})."
        )
    return codes


def fill_unused_upper(description: Any, data: pd.DataFrame) -> pd.DataFrame:
    """Fill the upper bound of rows that are not interval censored with their response.

    Only interval-censored rows need ``y_upper``; elsewhere it is often missing, which must
    not count as a missing value. Statuses are read as :func:`encode_censored` reads them; a
    row whose status is not valid is filled too, so that the status, not the bound, is
    reported (later, with the others).
    """
    call = censored_call(getattr(description.response, "term", None))
    if call is None:
        return data
    response, upper, status = censoring_columns(call)
    if upper is None or upper not in data or status not in data or response not in data:
        return data
    codes = data[status].astype(object).map(_status_code)
    interval = codes == CENSORING_CODES["interval"]
    fill = data[upper].isna() & ~interval
    if not fill.any():
        return data
    data = data.copy()
    data[upper] = data[upper].where(~fill, data[response])
    return data


def encode_censored(
    call: Any, data: pd.DataFrame, family: Any
) -> tuple[str, np.ndarray, Censoring]:
    """The name, values (lower bounds where censored) and censoring of a censored response.

    Raises
    ------
    FormulaError
        If the call is malformed.
    DataError
        For a family that is binary or has trials, an invalid status, interval-censored rows
        without the upper-bound column, or upper bounds that are not above the lower ones.
    """
    name = str(call)
    response, upper_name, status_name = censoring_columns(call)
    if family.binary or family.trials or family.is_categorical():
        raise DataError(
            f"The response {name!r} is censored, which needs a family with a continuous or "
            f"count response (e.g. 'gaussian', 'lognormal', 'weibull', 'exponential', "
            f"'gamma'); got family {family.name!r}."
        )
    for column in (response, upper_name, status_name):
        numeric = column is None or pd.api.types.is_numeric_dtype(data[column].dtype)
        if not numeric and column != status_name:
            raise DataError(
                f"The column {column!r} of the censored response {name!r} must hold "
                f"numbers; got dtype {data[column].dtype}."
            )
    values = data[response].to_numpy(dtype=float)
    status = _status_codes(data[status_name], status_name)
    interval = status == CENSORING_CODES["interval"]
    if upper_name is None:
        if interval.any():
            raise DataError(
                f"The censoring status column {status_name!r} marks {int(interval.sum())} "
                f"row(s) as interval censored (index {describe_values(data.index[interval])}), "
                f"which needs an upper bound: write 'censored({response}, <upper column>, "
                f"{status_name}) ~ ...'."
            )
        upper = values.copy()
    else:
        upper = np.where(interval, data[upper_name].to_numpy(dtype=float), values)
        bad = interval & ~(upper > values)
        if bad.any():
            raise DataError(
                f"Interval-censored rows need {upper_name!r} above {response!r}; got "
                f"{upper_name!r} <= {response!r} (or missing) in {int(bad.sum())} row(s) "
                f"(index {describe_values(data.index[bad])})."
            )
        family.check_response(upper[interval], None, upper_name)
    family.check_response(values, None, name)
    return name, values, Censoring(status, upper)
