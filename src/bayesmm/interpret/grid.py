"""``data_grid``: new rows over the values of a few variables, typical values for the rest.

As marginaleffects' ``datagrid``: the conditioning variables take the values given (or a
range for a numeric one, every level for a categorical one), and every other predictor its
typical value: the mean of a numeric column, the most common level of a categorical one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import describe_values, did_you_mean
from ..design.columns import ColumnSummary
from ..fitted import FittedModel
from .responses import holds_posterior, one_response

__all__ = [
    "Conditional",
    "as_fitted",
    "fitted_and",
    "conditional_values",
    "data_grid",
    "typical_values",
]

#: Points of the range of a numeric variable on the x axis.
RANGE_POINTS = 50
#: The most points ``num`` may ask for: each is a row of every grid built on it.
MAX_RANGE_POINTS = 100_000


def as_fitted(model: Any, idata: Any = None, response: str | None = None) -> FittedModel:
    """A :class:`FittedModel` from what the functions of :mod:`bayesmm.interpret` take: a
    ``FittedModel`` (from ``model.fitted(idata)`` or ``bmm.load``), or a ``Model`` and the
    InferenceData its ``fit()`` returned; of a multivariate model (an ``MvFittedModel``, or
    an ``MvModel`` and its fit), the ``FittedModel`` of its response ``response``.

    Raises
    ------
    DataError
        For anything else, saying what to pass; for a multivariate model without
        ``response``, or with one it does not have, naming its responses.
    """
    if holds_posterior(model):
        if idata is not None:
            raise DataError(
                f"model is a {type(model).__name__}, which holds its posterior: pass "
                "idata=None (or the Model and its InferenceData instead)."
            )
        return one_response(model, response)
    if callable(getattr(model, "fitted", None)) and idata is not None:
        fitted = model.fitted(idata)
        if holds_posterior(fitted):
            return one_response(fitted, response)
    raise DataError(
        "model must be a FittedModel (model.fitted(idata), or bmm.load(path)), or a bmm.Model "
        f"with the InferenceData its fit() returned as idata; got {type(model).__name__}"
        + (" without idata." if idata is None else f" and {type(idata).__name__}.")
    )


def fitted_and(
    function: str, model: Any, idata: Any, name: str, value: Any, response: str | None = None
) -> tuple[Any, Any]:
    """The ``FittedModel`` (of ``response``, for a multivariate model) and the argument
    ``name`` (``value``) of ``function(model, idata, name, ...)``: given a fitted model, the
    second positional argument is ``name``'s.

    Raises
    ------
    DataError
        For anything :func:`as_fitted` refuses, and for a fitted model with both a second
        positional argument and ``name``, naming what was passed where.
    """
    if not holds_posterior(model) or idata is None or _is_posterior(idata):
        return as_fitted(model, idata, response), value
    if value is None:
        return as_fitted(model, None, response), idata
    raise DataError(
        f"{function}() takes a {type(model).__name__} without idata, so its second argument "
        f"is {name}; "
        f"got {_short(idata)} there and {name}={_short(value)} as well. Pass each by name, "
        f"e.g. {function}(fitted, {name}=...)."
    )


def _is_posterior(value: Any) -> bool:
    """Whether ``value`` is an InferenceData (arviz is not imported to ask)."""
    return type(value).__name__ == "InferenceData"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} {text[:50]}..."


@dataclass(frozen=True)
class Conditional:
    """The conditioning variables, in order (x axis, colour, panels), with given values."""

    names: tuple[str, ...]
    values: Mapping[str, Any]


def conditional_values(conditional: Any, arg: str = "conditional") -> Conditional:
    """``conditional`` as names and any values given for them.

    Raises
    ------
    DataError
        If it is not a name, a list of names or a dict of names to values.
    """
    if conditional is None:
        return Conditional((), {})
    if isinstance(conditional, str):
        return Conditional((conditional,), {})
    if isinstance(conditional, Mapping):
        names = tuple(str(k) for k in conditional)
        values = {str(k): v for k, v in conditional.items() if v is not None}
        return Conditional(names, values)
    if isinstance(conditional, Sequence) and all(isinstance(c, str) for c in conditional):
        return Conditional(tuple(conditional), {})
    raise DataError(
        f"{arg} must be a column name, a list of names, or a dict of names to values, e.g. "
        f"{{'Days': [0, 5, 9]}}; got {conditional!r}."
    )


def _states(fitted: FittedModel) -> list[Any]:
    """The design's state and those of its distributional formulas."""
    state = fitted.design.state
    if state is None:
        return []
    found, todo = [], [state]
    while todo:
        current = todo.pop(0)
        found.append(current)
        todo.extend(current.distributional)
    return found


def predictors_of(fitted: FittedModel) -> list[str]:
    """Every column a prediction needs: those of the main formula and of the distributional
    ones, in order."""
    names: dict[str, None] = {}
    for state in _states(fitted):
        names.update(dict.fromkeys(state.predictors))
    return list(names)


def grouping_columns(fitted: FittedModel) -> set[str]:
    """The columns that make the grouping factors (categorical whatever their dtype)."""
    return {
        c for state in _states(fitted) for g in state.groups for c in g.factor_encoder.components
    }


def trials_columns(fitted: FittedModel) -> list[str]:
    """The columns besides the predictors that predictive draws (``kind="response"``) need
    of new rows: a binomial response's number of trials, a truncated response's bounds. Not
    the times and series of ``ar()``/``cosy()``: a grid's rows are predicted from the
    stationary distribution, whose mean is the linear predictor's."""
    state = fitted.design.state
    if state is None:
        return []
    series = set(state.series.term.columns) if state.series is not None else set()
    return [c for c in state.response_columns if c not in series]


def _check_names(
    fitted: FittedModel, names: Sequence[str], arg: str, also: Sequence[str] = ()
) -> list[str]:
    """The predictors a prediction needs, with ``names`` checked to be among them (or among
    ``also``)."""
    predictors = predictors_of(fitted)
    for name in names:
        if name not in predictors and name not in also:
            raise DataError(
                f"{arg} names {name!r}, which is not a predictor of the model; its predictors "
                f"are {predictors}." + did_you_mean(name, predictors)
            )
    return predictors


def column_summary(fitted: FittedModel, name: str) -> ColumnSummary:
    """A predictor's :class:`~bayesmm.design.columns.ColumnSummary`, from the training rows or
    the file's record; a grouping factor's column is categorical whatever its dtype."""
    categorical = name in grouping_columns(fitted)
    for state in _states(fitted):
        if state.frame is not None and name in state.frame:
            column = state.frame[name]
            return ColumnSummary.of_values(column.astype("category") if categorical else column)
    if categorical:  # a grouping factor: its fitted levels
        for state in _states(fitted):
            for group in state.groups:
                encoder = group.factor_encoder
                if name in encoder.components:
                    levels = encoder.categories[encoder.components.index(name)]
                    return ColumnSummary(kind="categorical", levels=tuple(levels))
    for state in _states(fitted):
        if name in state.columns:
            return state.columns[name]
    raise DataError(f"The model has no record of the column {name!r}.")


def typical_values(fitted: FittedModel, name: str) -> Any:
    """A column's typical value: the mean of a numeric one (a whole number for a column of
    whole numbers), the most common level of another (a grouping factor's too)."""
    return column_summary(fitted, name).typical


def monotonic_columns(fitted: FittedModel) -> set[str]:
    """The numeric columns of ``mo()`` terms, which take whole numbers only."""
    design = fitted.design
    parts = [("", design), *((d.prefix, d.design) for d in design.distributional)]
    # A monotonic term is named as written, mo(x) (sigma_mo(x) in sigma's formula).
    return {
        t.name[len(prefix) + 3 : -1]
        for prefix, part in parts
        for t in part.common_terms
        if t.steps is not None
    }


def _default_values(fitted: FittedModel, name: str, position: int, num: int) -> list[Any]:
    summary = column_summary(fitted, name)
    if summary.kind != "numeric":
        return list(summary.levels)
    five = summary.five_numbers
    values = np.linspace(five[0], five[-1], num) if position == 0 else np.unique(five)
    if name in monotonic_columns(fitted):  # a mo() predictor takes whole numbers only
        return [int(v) for v in np.unique(np.round(values))]
    return list(values)


def data_grid(
    model: Any,
    idata: Any = None,
    conditional: Any = None,
    *,
    num: int = RANGE_POINTS,
    response: str | None = None,
) -> pd.DataFrame:
    """New rows: every combination of the conditioning variables' values, with the other
    predictors at their typical values.

    Parameters
    ----------
    model, idata
        A ``FittedModel``, or a ``Model`` and its fit's InferenceData.
    conditional : str, list of str or dict
        The variables to vary, in order (x axis, colour, panels). A dict gives their values
        (``{"Days": [0, 5, 9]}``; ``None`` for the default). By default, the first numeric
        variable runs over its range in ``num`` points, later numeric ones take their
        quantiles (0, 0.25, 0.5, 0.75, 1), categorical ones every level.
    num : int, default 50
        Points in the range of the first numeric variable, from 2 to 100,000.
    response : str, optional
        For a multivariate model, the response whose predictors make the grid (required).

    Returns
    -------
    pandas.DataFrame
        One row per combination, a column per predictor of the model, and for a binomial
        response the column of its number of trials (its typical value, the mean rounded,
        unless given in ``conditional``).

    Raises
    ------
    DataError
        If a conditioning variable is not a predictor of the model.

    Examples
    --------
    >>> data_grid(fitted, {"Days": [0, 9]})  # doctest: +SKIP
       Days Subject
    0     0     308
    1     9     308
    """
    fitted, conditional = fitted_and(
        "data_grid", model, idata, "conditional", conditional, response
    )
    wanted = conditional_values(conditional)
    if (
        isinstance(num, bool)
        or not isinstance(num, int | np.integer)
        or not 2 <= num <= MAX_RANGE_POINTS
    ):
        raise DataError(f"num must be an integer from 2 to {MAX_RANGE_POINTS}; got {num!r}.")
    trials = trials_columns(fitted)
    predictors = _check_names(fitted, wanted.names, "conditional", trials)
    predictors += [name for name in trials if name not in predictors]
    axes: dict[str, list[Any]] = {}
    for position, name in enumerate(wanted.names):
        given = wanted.values.get(name)
        if given is None:
            axes[name] = _default_values(fitted, name, position, num)
        else:
            values = list(np.atleast_1d(np.asarray(given, dtype=object)))
            if not values:
                raise DataError(f"conditional[{name!r}] must hold at least one value; got none.")
            axes[name] = values
    combos = (
        pd.MultiIndex.from_product(list(axes.values()), names=list(axes)).to_frame(index=False)
        if axes
        else pd.DataFrame(index=[0])
    )
    for name in predictors:
        if name not in combos:
            combos[name] = typical_values(fitted, name)
    return combos[[*axes, *(p for p in predictors if p not in axes)]]


def check_levels(fitted: FittedModel, name: str, values: Sequence[Any], arg: str) -> None:
    """Raise a DataError naming ``arg`` if ``values`` of a categorical predictor (not a
    grouping factor, whose new levels the policies handle) are not among its levels."""
    state = fitted.design.state
    levels = state.common_levels.get(name) if state is not None else None
    if levels is None:
        return
    known = {str(v) for v in levels}
    bad = [v for v in values if str(v) not in known]
    if bad:
        raise DataError(
            f"{arg} has the value(s) {describe_values(bad)} for {name!r}, which are not among "
            f"its levels {describe_values(list(levels), limit=10)}."
        )
