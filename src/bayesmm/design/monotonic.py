"""Monotonic effects of ordered predictors: ``mo(x)`` (Bürkner & Charpentier 2020).

``x`` is an ordered factor (a pandas ordered Categorical) or whole numbers; its ``D + 1``
values, in order, get the codes ``0 .. D``. The design column of ``mo(x)`` holds the codes;
the effect of code ``c`` is ``b * D * sum(zeta[:c])``, where the simplex ``zeta`` (``D``
increments, ``Dirichlet(1)``) says how the total change ``b * D`` is spread over the steps.
So ``b`` is the average change per step, as in brms, and the effect is monotonic in ``x``.

:class:`Monotonic` is a formulae stateful transform: it learns the values at fit time and
codes new rows by them; its state is plain data (the values), written to files as
formulae's other transforms are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values
from .by import label
from .formulae_state import lazy_calls, term_calls

__all__ = ["Monotonic", "check_monotonic", "monotonic_steps", "MONOTONIC"]

#: The most steps a numeric mo() may have (its values are every whole number in its range).
MAX_STEPS = 200

#: The name of the call in formulas.
MONOTONIC = "mo"


class Monotonic:
    """``mo(x)``: the codes ``0 .. D`` of ``x``'s ordered values (see the module)."""

    __transform_name__ = MONOTONIC
    __stateful_transform__ = True

    def __init__(self) -> None:
        self.params_set = False
        self.values: list[Any] = []

    def __call__(self, x: Any) -> np.ndarray:
        if not self.params_set:
            self.values = _ordered_values(x)
            self.params_set = True
        labels = [str(v) for v in self.values]
        position = {label: i for i, label in enumerate(labels)}
        given = pd.Series(np.asarray(x, dtype=object)).map(label)
        codes = given.map(position)
        unseen = codes.isna().to_numpy()
        if unseen.any():
            raise DataError(
                f"mo() got value(s) {describe_values(pd.unique(given[unseen]))} that were not "
                f"among its ordered values at fit time, {describe_values(labels, limit=12)}, in "
                f"{int(unseen.sum())} row(s). A monotonic effect is only known between them."
            )
        return codes.to_numpy(dtype=float)

    @property
    def steps(self) -> int:
        """``D``, the number of steps between the lowest and the highest value."""
        return len(self.values) - 1


def _ordered_values(x: Any) -> list[Any]:
    """The ordered values of a fit-time predictor: its categories, or the whole numbers
    from its smallest to its largest (every one a step, seen or not, as in brms)."""
    series = pd.Series(x)
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [label(v) for v in series.cat.categories]
    numbers = series.to_numpy(dtype=float)
    low, high = int(numbers.min()), int(numbers.max())
    return [str(v) for v in range(low, high + 1)]


def check_monotonic(description: Any, data: pd.DataFrame) -> None:
    """Each ``mo()`` term names one column of an ordered factor or of whole numbers, alone.

    Raises
    ------
    FormulaError
        For ``mo()`` of anything but one column, in an interaction or a group term.
    DataError
        For an unordered factor (text, or a Categorical that is not ordered), booleans,
        numbers that are not whole, or fewer than two distinct values.
    """
    for call in term_calls(
        description,
        MONOTONIC,
        "The term {term!r} interacts a monotonic effect; mo() must be a term of its own, "
        "e.g. 'y ~ mo(x) + z'.",
        "The group term {term!r} has a monotonic effect; mo() is for common terms only.",
    ):
        _check_column(call, data)


def _check_column(call: Any, data: pd.DataFrame) -> None:
    args = list(getattr(call, "args", []) or [])
    name = getattr(args[0], "name", None) if len(args) == 1 else None
    if str(call.callee) != MONOTONIC or name is None or getattr(call, "kwargs", None):
        raise FormulaError(
            f"{str(call)!r} is not a monotonic effect of one column; write mo(x) with x a "
            "column of the data."
        )
    column = data[name]
    term = f"mo({name})"
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if not dtype.ordered:
            raise DataError(
                f"{term} needs an ordered factor, and {name!r} is a Categorical without an "
                "order; make it ordered, e.g. data[name] = pd.Categorical(values, "
                "categories=[...], ordered=True)."
            )
        levels = len(column.cat.remove_unused_categories().cat.categories)
    elif pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise DataError(
            f"{term} needs an ordered factor or whole numbers; {name!r} holds {dtype} values, "
            "which have no order bayesmm can trust. Make it an ordered pandas Categorical."
        )
    else:
        values = column.to_numpy(dtype=float)
        fractional = np.isfinite(values) & (np.mod(np.nan_to_num(values), 1) != 0)
        if fractional.any():
            raise DataError(
                f"{term} needs whole numbers (or an ordered factor); {name!r} has fractions, "
                f"e.g. {describe_values(pd.unique(values[fractional]))}, in "
                f"{int(fractional.sum())} row(s)."
            )
        finite = values[np.isfinite(values)]
        levels = len(np.unique(finite))
        span = int(finite.max() - finite.min()) if finite.size else 0
        if span > MAX_STEPS:
            raise DataError(
                f"{term}: the whole numbers from {finite.min():g} to {finite.max():g} would be "
                f"{span} steps, more than {MAX_STEPS}; make {name!r} an ordered factor of the "
                "values it takes, or group them."
            )
    if levels < 2:
        raise DataError(f"{term} needs at least two distinct values of {name!r}; got {levels}.")


def monotonic_steps(term: Any) -> tuple[int, tuple[str, ...]] | None:
    """``(D, labels of the steps' upper values)`` of a formulae common term that is
    ``mo(x)``, from its fitted transform; ``None`` for other terms."""
    components = list(getattr(term, "components", []) or [])
    if len(components) != 1:
        return None
    for call in lazy_calls(getattr(components[0], "call", None)):
        transform = call.stateful_transform
        if isinstance(transform, Monotonic):
            return transform.steps, tuple(str(v) for v in transform.values[1:])
    return None
