"""Offsets: ``offset(expr)`` terms, added to the linear predictor with coefficient 1.

formulae reads ``offset(np.log(exposure))`` as a common term with one column. Here such terms
are taken out of the common matrix: they get no coefficient, no prior and no posterior
variable, and their sum is added to the linear predictor as it is, for the training rows
and, evaluated again on them, for new rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values
from .types import Offset

__all__ = ["Offset", "is_offset", "offset_terms", "encode_offset", "new_offset"]


def _is_offset_component(component: Any) -> bool:
    return str(getattr(getattr(component, "call", None), "callee", "")) == "offset"


def is_offset(term: Any) -> bool:
    """Whether a formulae term is ``offset(...)``."""
    components = getattr(term, "components", None) or []
    return len(components) == 1 and _is_offset_component(components[0])


def offset_terms(description: Any, formula: str) -> list[Any]:
    """The offset terms of a parsed formula's common part.

    Raises
    ------
    FormulaError
        If ``offset()`` is part of an interaction or of a group-specific term, where it would
        get a coefficient.
    """
    for term in description.common_terms:
        components = getattr(term, "components", None) or []
        if len(components) > 1 and any(_is_offset_component(c) for c in components):
            raise FormulaError(
                f"formula {formula!r} has offset() inside the interaction {str(term.name)!r}; "
                "an offset must be a term of its own, e.g. 'y ~ x + offset(np.log(t))'."
            )
    for term in description.group_terms:
        expr = getattr(term, "expr", None)
        if any(_is_offset_component(c) for c in getattr(expr, "components", None) or []):
            raise FormulaError(
                f"formula {formula!r} has offset() in the group-specific term "
                f"{str(term.name)!r}; an offset has no group-specific effects. Write it as a "
                "common term, e.g. 'y ~ x + offset(np.log(t)) + (1|g)'."
            )
    return [term for term in description.common_terms if is_offset(term)]


def _checked(values: Any, name: str, formula: str, index: pd.Index, n: int) -> np.ndarray:
    values = np.asarray(values, dtype=float).reshape(n, -1)[:, 0]
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            f"The offset {name!r} of formula {formula!r} must be a finite number in every row; "
            f"got {describe_values(values[bad])} in {int(bad.sum())} row(s) "
            f"(index {describe_values(index[bad])}). A log offset needs positive values."
        )
    return values


def encode_offset(
    terms: Sequence[Any], data: pd.DataFrame, env: Any, formula: str
) -> Offset | None:
    """Evaluate the offset terms on the training rows; ``None`` without offsets.

    Raises
    ------
    DataError
        If an offset is not a finite number in some row (e.g. the log of zero).
    """
    if not terms:
        return None
    total = np.zeros(len(data))
    for term in terms:
        # A log of zero is reported below, with its rows, rather than warned about.
        with np.errstate(divide="ignore", invalid="ignore"):
            term.set_type(data, env)
            term.set_data(False)
        total += _checked(term.data, str(term.name), formula, data.index, len(data))
    return Offset(tuple(str(t.name) for t in terms), total)


def new_offset(terms: Sequence[Any], frame: pd.DataFrame, formula: str) -> np.ndarray | None:
    """The offset of new rows, evaluated with the terms built on the training rows.

    Raises
    ------
    DataError
        If an offset cannot be evaluated, or is not a finite number in some row.
    """
    if not terms:
        return None
    total = np.zeros(len(frame))
    for term in terms:
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = term.eval_new_data(frame)
        except Exception as err:  # formulae's evaluation of the call on the new rows
            raise DataError(
                f"Could not evaluate the offset {str(term.name)!r} of formula {formula!r} on "
                f"the new data: {err}"
            ) from None
        total += _checked(values, str(term.name), formula, frame.index, len(frame))
    return total
