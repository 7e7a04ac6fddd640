"""``comparisons`` and ``slopes``: how a prediction changes with one variable.

A comparison sets a variable to two values on every row (a grid, or the observed rows) and
compares the two predictions draw by draw: their difference, ratio, log ratio or lift. A
slope is the derivative by a central finite difference. Averaged (``average_by``), they are
the average over rows of the per-row comparison, as marginaleffects' ``avg_comparisons`` and
``avg_slopes``. Both sides of a comparison are computed in one call, so a new group's draws
are the same on either side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import check_choice, did_you_mean
from ..fitted import FittedModel
from .effects import (
    Effect,
    averaged,
    check_summary,
    group_note,
    long_table,
    prediction_options,
    quantity,
    rows_to_use,
    summary,
)
from .grid import (
    check_levels,
    column_summary,
    conditional_values,
    fitted_and,
    monotonic_columns,
    predictors_of,
)

__all__ = ["COMPARISONS", "SLOPES", "Contrast", "contrasts_of", "comparisons", "slopes"]

#: How two predictions are compared (marginaleffects' names; Bambi's "diff" and "lift" too).
COMPARISONS = ("difference", "ratio", "lnratio", "lift", "diff")
#: The kinds of slope (marginaleffects' names): dy/dx, and its elasticities.
SLOPES = ("dydx", "eyex", "eydx", "dyex")


@dataclass(frozen=True)
class Contrast:
    """One comparison of a variable: ``hi`` against ``lo``, each a value or (``step``) a
    shift of the row's own value."""

    variable: str
    lo: Any
    hi: Any
    label: str
    step: float | None = None

    def rows(self, base: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self.step is not None:
            x = base[self.variable].astype(float)
            return base, base.assign(**{self.variable: x + self.step})
        return base.assign(**{self.variable: self.lo}), base.assign(**{self.variable: self.hi})


def _numeric(fitted: FittedModel, variable: str) -> bool:
    """Whether a predictor is numeric (not a factor, a bool or a grouping factor's column)."""
    state = fitted.design.state
    if state is not None and variable in state.common_levels:
        return False
    return column_summary(fitted, variable).kind == "numeric"


def _levels(fitted: FittedModel, variable: str) -> list[Any]:
    state = fitted.design.state
    if state is not None and variable in state.common_levels:
        return list(state.common_levels[variable])
    return list(column_summary(fitted, variable).levels)


def _pairs(values: Sequence[Any], how: str) -> list[tuple[Any, Any]]:
    if how == "pairwise":
        return [(a, b) for i, a in enumerate(values) for b in values[i + 1 :]]
    return [(values[0], b) for b in values[1:]]


def contrasts_of(fitted: FittedModel, contrast: Any) -> list[Contrast]:
    """The comparisons ``contrast`` asks for.

    ``"x"``: a numeric variable's +1 step, or each level of a categorical one against its
    reference (the first). A dict: ``{"x": [a, b]}`` compares ``b`` with ``a``; a longer
    list compares each value with the first; ``{"x": "pairwise"}`` or ``"reference"`` every
    level; ``{"x": 2.5}`` a numeric step.

    Raises
    ------
    DataError
        For a variable that is not a predictor, or a value outside its levels.
    """
    predictors = predictors_of(fitted)
    spec: Mapping[str, Any] = {contrast: None} if isinstance(contrast, str) else contrast
    if not isinstance(spec, Mapping) or not spec:
        raise DataError(
            "contrast must be a variable's name or a dict of one variable to its values, "
            f"e.g. {{'trt': ['placebo', 'drug']}} or {{'x': 1}}; got {contrast!r}."
        )
    out = []
    for variable, given in spec.items():
        if variable not in predictors:
            raise DataError(
                f"contrast names {variable!r}, which is not a predictor of the model; its "
                f"predictors are {predictors}." + did_you_mean(str(variable), predictors)
            )
        out += _one_variable(fitted, str(variable), given)
    return out


def _one_variable(fitted: FittedModel, variable: str, given: Any) -> list[Contrast]:
    numeric = _numeric(fitted, variable)
    is_number = isinstance(given, int | float | np.integer | np.floating)
    if (given is None and numeric) or (is_number and not isinstance(given, bool)):
        step = 1.0 if given is None else float(given)
        if not numeric:
            raise DataError(
                f"contrast[{variable!r}] is a numeric step, {given!r}, but {variable!r} is "
                "categorical: give two of its levels, 'reference' or 'pairwise'."
            )
        return [Contrast(variable, None, None, f"+{step:g}", step)]
    how = "reference"
    if numeric and isinstance(given, str):
        raise DataError(
            f"contrast[{variable!r}] is {given!r}, but {variable!r} is numeric: give two or "
            "more values to compare, or a step, e.g. {'" + variable + "': 1}."
        )
    if given is None or (isinstance(given, str) and given in ("reference", "pairwise")):
        how = "reference" if given is None else given
        values = _levels(fitted, variable)
    elif (
        isinstance(given, Sequence | np.ndarray) and not isinstance(given, str) and len(given) >= 2
    ):
        values = list(given)
    else:
        raise DataError(
            f"contrast[{variable!r}] must be two or more values, 'reference', 'pairwise' or "
            f"(for a numeric variable) a step; got {given!r}."
        )
    if not numeric:
        check_levels(fitted, variable, values, f"contrast[{variable!r}]")
    return [Contrast(variable, lo, hi, f"{hi} - {lo}") for lo, hi in _pairs(values, how)]


def _compare(hi: np.ndarray, lo: np.ndarray, comparison: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if comparison in ("difference", "diff"):
            return hi - lo
        if comparison == "ratio":
            return hi / lo
        if comparison == "lnratio":
            return np.log(hi / lo)
        return (hi - lo) / lo  # lift


def _table(
    fitted: FittedModel,
    base: pd.DataFrame,
    parts: list[tuple[str, str, np.ndarray]],
    average_by: Any,
    options: Any,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The per-row draws of each comparison, side by side, with their table."""
    values, tables = [], []
    note = group_note(fitted, base, options)
    for term, label, draws in parts:
        table = base.assign(group_effects=note)
        if average_by is not None:
            draws, table = averaged(draws, table, average_by)
        draws, table = long_table(draws, table, fitted.design.response.levels)
        table.insert(0, "contrast", label)
        table.insert(0, "term", term)
        values.append(draws)
        tables.append(table)
    return np.concatenate(values, axis=1), pd.concat(tables, ignore_index=True)


def comparisons(
    model: Any,
    idata: Any = None,
    contrast: Any = None,
    conditional: Any = None,
    average_by: Any = None,
    *,
    comparison: str = "difference",
    target: str = "mean",
    kind: str = "response_params",
    scale: str = "response",
    prob: float = 0.9,
    method: str = "hdi",
    return_draws: bool = False,
    response: str | None = None,
    **options: Any,
) -> Any:
    """How the prediction changes between two values of a variable, per row or averaged.

    Parameters
    ----------
    model, idata
        A ``FittedModel``, or a ``Model`` and its fit's InferenceData.
    contrast : str or dict
        What to compare (see :func:`contrasts_of`): ``"x"``, ``{"x": [a, b]}``, a list of
        values, ``"pairwise"``, ``"reference"``, or a numeric step ``{"x": 1}``.
    conditional : str, list of str or dict, optional
        Compare on a grid of these variables (see :func:`data_grid`).
    average_by : str, list of str or True, optional
        Average the per-row comparisons over the observed rows (within groups of these
        columns; ``True``: all rows), as marginaleffects' ``avg_comparisons``. Without
        ``conditional`` or ``average_by``, one comparison per observed row.
    comparison : {"difference", "ratio", "lnratio", "lift"}, default "difference"
        ``hi - lo``, ``hi / lo``, ``log(hi / lo)`` or ``(hi - lo) / lo``; ``"diff"`` is
        ``"difference"``.
    target, kind, scale, prob, method, return_draws, response, **options
        As for :func:`predictions`.

    Returns
    -------
    pandas.DataFrame, or (pandas.DataFrame, numpy.ndarray)
        ``term`` and ``contrast``, the rows' (or groups') columns, ``estimate``, ``lower``,
        ``upper``.

    Raises
    ------
    DataError
        For a variable that is not a predictor, a value outside its levels, or an unknown
        comparison.
    """
    check_choice("comparison", comparison, COMPARISONS)
    check_summary(prob, method, return_draws)
    fitted, contrast = fitted_and("comparisons", model, idata, "contrast", contrast, response)
    effect = Effect(target, kind, scale).check(fitted)
    wanted = contrasts_of(fitted, contrast)
    if conditional is not None:
        overlap = set(conditional_values(conditional).names) & {c.variable for c in wanted}
        if overlap:
            raise DataError(
                f"conditional and contrast both name {sorted(overlap)}: the contrast sets that "
                "variable itself; condition on others."
            )
    chosen = prediction_options(**options)
    base = rows_to_use(fitted, conditional, average_by)
    parts = []
    for c in wanted:
        lo, hi = c.rows(base)
        both = quantity(fitted, pd.concat([lo, hi], ignore_index=True), effect, chosen)
        n = len(base)
        parts.append((c.variable, c.label, _compare(both[:, n:], both[:, :n], comparison)))
    values, table = _table(fitted, base, parts, average_by, chosen)
    return summary(values, table, prob, method, return_draws)


def slopes(
    model: Any,
    idata: Any = None,
    wrt: str | None = None,
    conditional: Any = None,
    average_by: Any = None,
    *,
    slope: str = "dydx",
    eps: float | None = None,
    target: str = "mean",
    kind: str = "response_params",
    scale: str = "response",
    prob: float = 0.9,
    method: str = "hdi",
    return_draws: bool = False,
    response: str | None = None,
    **options: Any,
) -> Any:
    """The derivative of the prediction with respect to a numeric variable, per row or
    averaged.

    Parameters
    ----------
    model, idata
        A ``FittedModel``, or a ``Model`` and its fit's InferenceData.
    wrt : str
        The numeric variable.
    conditional, average_by
        As for :func:`comparisons`.
    slope : {"dydx", "eyex", "eydx", "dyex"}, default "dydx"
        ``dy/dx``; the elasticity ``dy/dx * x / y``; ``dy/dx / y``; ``dy/dx * x``.
    eps : float, optional
        The step of the central difference; by default ``1e-4`` times the variable's range.
    target, kind, scale, prob, method, return_draws, response, **options
        As for :func:`predictions`.

    Returns
    -------
    pandas.DataFrame, or (pandas.DataFrame, numpy.ndarray)
        As for :func:`comparisons`, ``contrast`` naming the slope.

    Raises
    ------
    DataError
        For a variable that is not a numeric predictor, or an unknown slope.
    """
    check_choice("slope", slope, SLOPES)
    check_summary(prob, method, return_draws)
    fitted, wrt = fitted_and("slopes", model, idata, "wrt", wrt, response)
    effect = Effect(target, kind, scale).check(fitted)
    if kind == "response":
        raise DataError(
            "slopes take kind='response_params': a difference of two independent predictive "
            "draws over a tiny step says nothing; use comparisons(kind='response') instead."
        )
    predictors = predictors_of(fitted)
    if not isinstance(wrt, str) or wrt not in predictors:
        raise DataError(
            f"wrt must be the name of a numeric predictor of the model, one of {predictors}; "
            f"got {wrt!r}." + (did_you_mean(wrt, predictors) if isinstance(wrt, str) else "")
        )
    if not _numeric(fitted, wrt):
        raise DataError(
            f"wrt must be the name of a numeric predictor; got {wrt!r}, which is categorical: "
            "use comparisons() for it."
        )
    if wrt in monotonic_columns(fitted):
        raise DataError(
            f"{wrt!r} enters the model as mo({wrt}), whose effect moves in steps between its "
            f"whole values and has no slope; use comparisons(..., contrast={{{wrt!r}: [a, b]}})."
        )
    chosen = prediction_options(**options)
    base = rows_to_use(fitted, conditional, average_by)
    x = base[wrt].to_numpy(dtype=float)
    h = _step(fitted, wrt, eps)
    # y itself only for the elasticities: dy/dx needs the two sides alone.
    shifts = (-h / 2, h / 2) if slope in ("dydx", "dyex") else (-h / 2, h / 2, 0.0)
    frames = [base.assign(**{wrt: x + d}) for d in shifts]
    both = quantity(fitted, pd.concat(frames, ignore_index=True), effect, chosen)
    n = len(base)
    dydx = (both[:, n : 2 * n] - both[:, :n]) / h
    shape = (1, n) + (1,) * (dydx.ndim - 2)
    xs = x.reshape(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if slope == "dydx":
            value = dydx
        elif slope == "dyex":
            value = dydx * xs
        else:
            y = both[:, 2 * n :]
            value = dydx * xs / y if slope == "eyex" else dydx / y
    values, table = _table(fitted, base, [(wrt, slope, value)], average_by, chosen)
    return summary(values, table, prob, method, return_draws)


def _step(fitted: FittedModel, variable: str, eps: float | None) -> float:
    if eps is not None:
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps > 0:
            raise DataError(f"eps must be a positive number; got {eps!r}.")
        return float(eps)
    summary = column_summary(fitted, variable)
    spread = summary.high - summary.low
    return 1e-4 * (spread if spread > 0 else 1.0)
