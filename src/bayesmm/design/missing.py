"""Predictors with missing values, imputed in the model: ``mi(x)`` with a model ``x ~ z``.

``bmm.Formula("y ~ mi(x) + z", "x ~ z")``: the rows where ``x`` is missing stay in the data;
``x`` gets a gaussian model of its own (``x ~ Normal(x_Intercept + x_z z, x_sigma)``) on the
rows that have it, and its missing values become parameters (``x_missing``) drawn from that
model given the data, so the slope of ``mi(x)`` uses every row and carries the uncertainty
of the imputation (brms's ``mi()``). The formula of ``x`` is told apart from distributional
formulas by its left side: a column that ``mi()`` names.

In the design, ``mi(x)``'s column holds ``x`` with a placeholder (the mean of the observed
values, :class:`Missing`) where it is missing; the backend puts the parameters there, and
prediction imputes the missing values of new rows from ``x``'s model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .formulae_state import term_calls, uses
from .types import Design, Imputation

__all__ = [
    "MISSING",
    "Missing",
    "check_missing",
    "check_missing_only_in_main",
    "check_no_missing_elsewhere",
    "encode_imputations",
    "filled",
    "imputed_column",
]

#: The name of the call in formulas.
MISSING = "mi"


class Missing:
    """``mi(x)``: ``x`` with the mean of its observed values where it is missing."""

    __transform_name__ = MISSING
    __stateful_transform__ = True

    def __init__(self) -> None:
        self.params_set = False
        self.fill = 0.0

    def __call__(self, x: Any) -> np.ndarray:
        values = np.asarray(x, dtype=float)
        if not self.params_set:
            observed = values[np.isfinite(values)]
            self.fill = float(observed.mean()) if observed.size else 0.0
            self.params_set = True
        return np.where(np.isnan(values), self.fill, values)


def filled(data: pd.DataFrame, columns: Mapping[str, float]) -> pd.DataFrame:
    """``data`` with each of ``columns``' missing values set to its placeholder."""
    return data.assign(**{c: data[c].fillna(value) for c, value in columns.items()})


def check_missing(description: Any, data: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """Each ``mi()`` is ``mi(column)`` of a numeric column, alone in its term.

    Raises
    ------
    FormulaError
        For ``mi()`` of an expression, in an interaction or a group term.
    DataError
        For a column that is not numeric, or has no observed value.
    """
    for call in term_calls(
        description,
        MISSING,
        "The term {term!r} is not mi(x) of one column on its own; an imputed predictor is a "
        "term of its own, e.g. 'y ~ mi(x) + z'.",
        "The group term {term!r} has mi(); imputed predictors are common terms.",
    ):
        args = list(getattr(call, "args", []) or [])
        if str(call.callee) != MISSING or len(args) != 1 or getattr(args[0], "name", None) is None:
            raise FormulaError(
                f"{str(call)!r} is not mi(x) of one column on its own; an imputed predictor is "
                "a term of its own, e.g. 'y ~ mi(x) + z'."
            )
    for column in columns:
        values = data[column]
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
            values.dtype
        ):
            raise DataError(
                f"mi({column}) imputes numbers from a gaussian model; {column!r} holds "
                f"{values.dtype} values."
            )
        if values.notna().sum() < 2:
            raise DataError(f"mi({column}) needs at least two observed values of {column!r}.")


def imputed_column(term: Any) -> str | None:
    """The column of a formulae common term that is ``mi(x)``; ``None`` for other terms."""
    components = list(getattr(term, "components", []) or [])
    if len(components) != 1:
        return None
    call = getattr(components[0], "call", None)
    if call is None or str(call.callee) != MISSING:
        return None
    return str(call.args[0].name)


def check_missing_only_in_main(description: Any) -> None:
    """A distributional formula (or the model of an imputed column) has no ``mi()``."""
    for term in [*description.common_terms, *(t.expr for t in description.group_terms)]:
        for component in getattr(term, "components", []) or []:
            if uses(getattr(component, "call", None), MISSING):
                raise FormulaError(
                    f"mi() is for the main formula's predictors; {str(term.name)!r} is in a "
                    "formula of its own (a distributional formula or an imputation model)."
                )


def check_no_missing_elsewhere(design: Design, imputations: tuple[Imputation, ...]) -> None:
    """An imputed column's missing values reach no term but its ``mi()``."""
    parts = [design, *(d.design for d in design.distributional), *(i.design for i in imputations)]
    columns = ", ".join(repr(i.column) for i in imputations)
    for part in parts:
        for term in part.common_terms:
            values = part.common[:, term.start : term.stop]
            if term.imputed is None and np.isnan(values).any():
                raise DataError(
                    f"The term {term.name!r} uses a column with missing values ({columns}), "
                    "which only its mi() term may impute; use mi() alone for that column."
                )
        for group in part.group_terms:
            if group.values is not None and np.isnan(group.values).any():
                raise DataError(
                    f"The group term {group.name!r} uses a column with missing values "
                    f"({columns}), which only its mi() term may impute."
                )


def encode_imputations(
    imputation: Mapping[str, str],
    data: pd.DataFrame,
    encode: Callable[[str, pd.DataFrame], Design],
) -> tuple[Imputation, ...]:
    """The model of each imputed column, encoded by ``encode(formula, rows)`` on every row
    (the column's missing values at its mean, a placeholder the likelihood never reads)."""
    out = []
    for column, terms in imputation.items():
        missing = data[column].isna().to_numpy()
        rows = filled(data, {column: float(data[column].mean())})
        formula = f"{column} ~ {terms}"
        out.append(Imputation(column, formula, encode(formula, rows), missing))
    return tuple(out)
