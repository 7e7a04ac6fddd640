"""Truncated responses: ``trunc(y, lb=0)``, ``trunc(y, ub=10)``, ``trunc(y, lb=a, ub=b)``.

A truncated response is only ever observed between its bounds: its density is the family's,
divided by the family's probability of the interval. Bounds are numbers or columns (one bound
per row); Bambi's spelling ``truncated(...)`` is read the same way. Both bounds are included,
which matters for counts: ``trunc(y, lb=1)`` of a Poisson response is the zero-truncated
Poisson, ``P(Y = y | Y >= 1)`` (as brms and PyMC's ``Truncated``).

Only families whose distribution has a CDF bayesmm can also invert in numpy may be truncated
(:data:`bayesmm.families.TRUNCATABLE`), so that predictions honour the bounds too.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values
from ..families import TRUNCATABLE
from ..families.truncated import is_discrete
from .types import Truncation

__all__ = ["truncation_call", "truncation_of", "truncation_rows", "encode_truncated"]

#: The names of the call: ours and Bambi's.
CALLEES = ("trunc", "truncated")

_USAGE = (
    "write 'trunc(y, lb=0) ~ ...', 'trunc(y, ub=10) ~ ...' or 'trunc(y, lb=low, ub=high) "
    "~ ...', each bound a number or a column name"
)


def truncation_call(term: Any) -> Any | None:
    """The ``trunc(...)`` (or ``truncated(...)``) call of a response term, or ``None``."""
    components = getattr(term, "components", None) or []
    if len(components) != 1:
        return None
    call = getattr(components[0], "call", None)
    return call if str(getattr(call, "callee", "")) in CALLEES else None


def _bound(value: Any, call: Any) -> float | str:
    """A bound as written: a number (perhaps negative) or a column name."""
    kind = type(value).__name__
    if kind == "LazyVariable":
        return str(value.name)
    if (
        kind == "LazyValue"
        and isinstance(value.value, int | float)
        and not isinstance(value.value, bool)
    ):
        return float(value.value)
    if kind == "LazyOperator" and value.op is operator.neg and len(value.args) == 1:
        inner = _bound(value.args[0], call)
        if isinstance(inner, float):
            return -inner
    raise FormulaError(
        f"The bounds of the truncated response {str(call)!r} must be numbers or column names; "
        f"got {str(value)!r}. Write e.g. 'trunc(y, lb=0) ~ x'."
    )


def _columns(call: Any) -> tuple[str, float | str | None, float | str | None]:
    """``(response column, lower, upper)`` of a ``trunc()`` call, its bounds as written."""
    args = list(getattr(call, "args", []) or [])
    kwargs = dict(getattr(call, "kwargs", None) or {})
    name = getattr(args[0], "name", None) if len(args) == 1 else None
    unknown = sorted(set(kwargs) - {"lb", "ub"})
    if name is None or unknown or not kwargs:
        extra = f" (unknown argument(s) {unknown})" if unknown else ""
        raise FormulaError(
            f"The response {str(call)!r} is not a valid truncated response{extra}; {_USAGE}."
        )
    lower = _bound(kwargs["lb"], call) if "lb" in kwargs else None
    upper = _bound(kwargs["ub"], call) if "ub" in kwargs else None
    if isinstance(lower, float) and isinstance(upper, float) and not lower < upper:
        raise DataError(
            f"The truncated response {str(call)!r} needs lb < ub; got lb={lower:g} and "
            f"ub={upper:g}."
        )
    return str(name), lower, upper


def truncation_of(term: Any) -> Truncation | None:
    """The bounds, as written, of a response term that is truncated; ``None`` otherwise."""
    call = truncation_call(term)
    if call is None:
        return None
    _, lower, upper = _columns(call)
    return Truncation(lower, upper)


def _side(bound: float | str | None, data: pd.DataFrame, name: str, fill: float) -> np.ndarray:
    n = len(data)
    if bound is None:
        return np.full(n, fill)
    if isinstance(bound, float):
        return np.full(n, bound)
    column = data[bound]
    dtype = column.dtype
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise DataError(
            f"The bound column {bound!r} of the truncated response {name!r} must hold numbers; "
            f"got dtype {dtype}."
        )
    values = column.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            f"The bound column {bound!r} of the truncated response {name!r} must hold a finite "
            f"number in every row; got {describe_values(pd.unique(column[bad]))} in "
            f"{int(bad.sum())} row(s) (index {describe_values(data.index[bad])})."
        )
    return values


def _fractional(bounds: np.ndarray) -> np.ndarray:
    """Which finite bounds are not whole numbers (infinite ones are no bound)."""
    finite = np.isfinite(bounds)
    return finite & (np.mod(np.where(finite, bounds, 0.0), 1) != 0)


def truncation_rows(
    truncation: Truncation, data: pd.DataFrame, name: str, counts: bool = False
) -> Truncation:
    """``truncation`` with the bounds of each row of ``data``; whole numbers for ``counts``.

    Raises
    ------
    DataError
        If a bound column is missing, holds something other than finite numbers (whole
        numbers, for counts), or the lower bound is not below the upper one in some rows.
    """
    missing = [c for c in truncation.columns if c not in data.columns]
    if missing:
        raise DataError(
            f"data must have the column(s) {missing} that hold the bounds of the truncated "
            f"response {name!r}; got columns {[str(c) for c in data.columns][:20]}."
        )
    low = _side(truncation.lower, data, name, -np.inf)
    high = _side(truncation.upper, data, name, np.inf)
    if counts:
        fractional = _fractional(low) | _fractional(high)
        if fractional.any():
            raise DataError(
                f"The bounds of the truncated count response {name!r} must be whole numbers (both "
                f"are included: lb=1 means 1, 2, ...); got fractions in {int(fractional.sum())} "
                f"row(s) (index {describe_values(data.index[fractional])})."
            )
    bad = ~(low < high)
    if bad.any():
        raise DataError(
            f"The truncated response {name!r} needs its lower bound below its upper bound; got "
            f"lb >= ub in {int(bad.sum())} row(s) (index {describe_values(data.index[bad])})."
        )
    return Truncation(truncation.lower, truncation.upper, low, high)


def encode_truncated(
    call: Any, data: pd.DataFrame, family: Any
) -> tuple[str, np.ndarray, Truncation]:
    """The name, values and truncation of a truncated response.

    Raises
    ------
    FormulaError
        If the call is malformed.
    DataError
        For a family that cannot be truncated, bounds that are not numbers, ``lb >= ub``,
        or responses outside their bounds.
    """
    name = str(call)
    response, lower, upper = _columns(call)
    if family.name not in TRUNCATABLE:
        raise DataError(
            f"The response {name!r} is truncated, which needs a family whose CDF bayesmm knows, "
            f"one of {sorted(TRUNCATABLE)}; got family {family.name!r}."
        )
    if not pd.api.types.is_numeric_dtype(data[response].dtype):
        raise DataError(
            f"The column {response!r} of the truncated response {name!r} must hold numbers; "
            f"got dtype {data[response].dtype}."
        )
    values = data[response].to_numpy(dtype=float)
    family.check_response(values, None, name)
    counts = is_discrete(family.name)
    truncation = truncation_rows(Truncation(lower, upper), data, name, counts)
    outside = (values < truncation.low) | (values > truncation.high)
    if outside.any():
        raise DataError(
            f"The truncated response {name!r} must lie within its bounds "
            f"({truncation.describe()}); got {describe_values(values[outside])} outside them "
            f"in {int(outside.sum())} row(s) (index {describe_values(data.index[outside])})."
        )
    return name, values, truncation
