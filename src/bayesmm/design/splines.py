"""B-splines (formulae's ``bs()``) on new rows: their boundary knots, and knots in files.

formulae learns a B-spline's knots from the training rows and keeps them in the transform's
state, which a saved file stores (``design.formulae_state``). Outside its boundary knots a B-spline
basis is not defined; formulae would extrapolate the outermost cubic pieces, which can give
any value at all, so new rows there are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import describe_values
from .formulae_state import lazy_calls

__all__ = ["check_spline_bounds", "file_linspace", "LINSPACE_MAX"]

#: The most points ``np.linspace`` may make in a formula read from a file (knots of a spline):
#: a file must not be able to allocate memory without bound while it is loaded.
LINSPACE_MAX = 1000


def file_linspace(start: float, stop: float, num: int = 50, endpoint: bool = True) -> np.ndarray:
    """``numpy.linspace`` for formulas read from files, e.g. ``bs(x, knots=np.linspace(...))``.

    Raises
    ------
    ValueError
        If ``num`` is more than :data:`LINSPACE_MAX`.
    """
    if not 0 <= int(num) <= LINSPACE_MAX:
        raise ValueError(
            f"np.linspace in a model file may make 0 to {LINSPACE_MAX} points; got num={num}"
        )
    return np.linspace(float(start), float(stop), int(num), endpoint=bool(endpoint))


def _splines(terms: Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    """``(call, env)`` of every ``bs()`` call with learned knots in ``terms``."""
    for term in terms:
        for component in getattr(term, "components", None) or []:
            for call in lazy_calls(getattr(component, "call", None)):
                transform = call.stateful_transform
                knots = getattr(transform, "_knots", None)
                if type(transform).__name__ == "BSpline" and knots is not None and call.args:
                    yield call, getattr(component, "env", None)


def check_spline_bounds(terms: Iterable[Any], frame: pd.DataFrame, formula: str) -> None:
    """Refuse new rows where a ``bs()`` term's argument is outside its boundary knots.

    Raises
    ------
    DataError
        Naming the term, its boundary knots, and the offending values and rows.
    """
    for call, env in _splines(terms):
        knots = np.asarray(call.stateful_transform._knots, dtype=float)
        low, high = float(knots[0]), float(knots[-1])
        try:
            x = np.asarray(call.args[0].eval(frame, env), dtype=float).reshape(-1)
        except Exception:  # formulae's own evaluation of the term reports it, with context
            continue
        outside = (x < low) | (x > high)
        if outside.any():
            raise DataError(
                f"The term {str(call)!r} of formula {formula!r} is a B-spline with boundary "
                f"knots [{low:g}, {high:g}] (the range of {str(call.args[0])!r} in the training "
                f"rows, or the bounds given); the new data have {str(call.args[0])!r} = "
                f"{describe_values(x[outside])} outside them, in {int(outside.sum())} row(s) "
                f"(index {describe_values(frame.index[outside])}). A B-spline is not defined "
                "there. Predict within the range, or fit with wider bounds, e.g. "
                "bs(x, df=4, lower_bound=..., upper_bound=...)."
            )
