"""Design: from formula and data to the response, the common matrix and group index vectors.

formulae parses the formula and encodes the response, the common terms and the predictor
columns of group-specific terms. The grouping factors are encoded here as one integer level
index per row: a group term contributes ``b[index] * x`` to the linear predictor, so no dense
``n x levels`` matrix is ever built (formulae's own group matrices build one per factor, which
costs gigabytes at the scale of lme4's InstEval).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulae.environment import Environment
from formulae.matrices import CommonEffectsMatrix, ResponseMatrix
from formulae.terms import Intercept
from formulae.terms import Model as FormulaeModel

from ._errors import BayesmmWarning, DataError, FormulaError
from ._validation import describe_values, did_you_mean
from .families import Family, ResponseStats
from .formula import parse_formula

__all__ = ["Design", "Response", "CommonTerm", "GroupTerm", "build_design"]

_log = logging.getLogger("bayesmm")


@dataclass(frozen=True)
class Response:
    """The encoded response.

    Attributes
    ----------
    name : str
        The response as written in the formula, e.g. ``"Reaction"`` or ``"p(incidence, size)"``.
    values : numpy.ndarray
        The response (successes for binomial responses), as floats.
    trials : numpy.ndarray or None
        Numbers of trials of a binomial response.
    event : str or None
        For binary responses, the event whose probability is modelled, e.g. ``"y == 'y'"``.
    """

    name: str
    values: np.ndarray
    trials: np.ndarray | None = None
    event: str | None = None

    def stats(self) -> ResponseStats:
        """Mean and standard deviation (of the proportion, for binomial responses)."""
        y = self.values / self.trials if self.trials is not None else self.values
        sd = float(np.std(y, ddof=1)) if y.size > 1 else 0.0
        return ResponseStats(mean=float(np.mean(y)), sd=sd)


@dataclass(frozen=True)
class CommonTerm:
    """A common (population-level) term: a slice of columns of the common matrix.

    ``levels`` are the coordinate labels of a term with several columns (e.g. the non-reference
    levels of a factor); ``None`` for single-column terms.
    """

    name: str
    columns: tuple[str, ...]
    start: int
    stop: int
    levels: tuple[str, ...] | None = None

    @property
    def is_intercept(self) -> bool:
        return self.name == "Intercept"


@dataclass(frozen=True)
class GroupTerm:
    """A group-specific term ``expr | factor``, stored as a level index per row.

    Attributes
    ----------
    name : str
        E.g. ``"1|Subject"`` or ``"Days|Subject"``.
    expr : str
        The varying expression, ``"1"`` for intercepts.
    factor : str
        The grouping factor, e.g. ``"Subject"`` or ``"g1:g2"``.
    levels : tuple of str
        The observed levels of the factor, in order; position ``i`` is index ``i``.
    index : numpy.ndarray
        The level index of each row (``int32``).
    values : numpy.ndarray or None
        The predictor columns, shape ``(n, k)``; ``None`` for intercepts.
    columns : tuple of str
        Labels of the predictor columns.
    """

    name: str
    expr: str
    factor: str
    levels: tuple[str, ...]
    index: np.ndarray
    values: np.ndarray | None
    columns: tuple[str, ...]

    @property
    def is_intercept(self) -> bool:
        return self.values is None

    @property
    def expr_levels(self) -> tuple[str, ...] | None:
        """Coordinate labels of the columns when there are several."""
        return _column_levels(self.expr, self.columns) if len(self.columns) > 1 else None


@dataclass(frozen=True)
class Design:
    """Everything the model is built from, derived from the formula and the data.

    Attributes
    ----------
    formula : str
        The formula.
    response : Response
        The encoded response.
    common : numpy.ndarray
        The common design matrix, shape ``(n, p)``, including the intercept column if any.
    common_terms : tuple of CommonTerm
        The common terms, in formula order.
    group_terms : tuple of GroupTerm
        The group-specific terms, in formula order.
    n_dropped : int
        Rows removed because of missing values.
    """

    formula: str
    response: Response
    common: np.ndarray
    common_terms: tuple[CommonTerm, ...]
    group_terms: tuple[GroupTerm, ...]
    n_dropped: int = 0

    @property
    def n_obs(self) -> int:
        return int(self.response.values.shape[0])

    @property
    def has_intercept(self) -> bool:
        return any(t.is_intercept for t in self.common_terms)

    def column_sd(self) -> np.ndarray:
        """Standard deviation of each common column (``ddof=1``)."""
        return (
            np.std(self.common, axis=0, ddof=1)
            if self.n_obs > 1
            else np.zeros(self.common.shape[1])
        )


def _column_levels(term: str, columns: Sequence[str]) -> tuple[str, ...]:
    """Turn formulae's labels ``term[level]`` into the bare levels for coordinates."""
    prefix = term + "["
    if all(c.startswith(prefix) and c.endswith("]") for c in columns):
        return tuple(c[len(prefix) : -1] for c in columns)
    return tuple(columns)


def _as_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas.DataFrame with one row per observation; "
            f"got {type(data).__name__}."
        )
    if data.shape[0] == 0:
        raise DataError("data must have at least one row; got an empty DataFrame.")
    return data


def _check_columns(formula: str, needed: Iterable[str], data: pd.DataFrame) -> None:
    columns = [str(c) for c in data.columns]
    for name in sorted(needed):
        if name not in data.columns:
            hint = did_you_mean(name, columns) or f" Columns are {columns[:20]}."
            raise FormulaError(
                f"formula {formula!r} uses {name!r}, which is not a column of data.{hint}"
            )


def _as_categorical(data: pd.DataFrame, categorical: str | Sequence[str] | None) -> pd.DataFrame:
    if categorical is None:
        return data
    names = [categorical] if isinstance(categorical, str) else list(categorical)
    for name in names:
        if name not in data.columns:
            raise DataError(
                f"categorical names {name!r}, which is not a column of data."
                + did_you_mean(name, [str(c) for c in data.columns])
            )
    data = data.copy()
    for name in names:
        data[name] = pd.Categorical(data[name])
    return data


def _handle_missing(data: pd.DataFrame, dropna: bool) -> tuple[pd.DataFrame, int]:
    missing = data.isna()
    incomplete = missing.any(axis=1)
    n_bad = int(incomplete.sum())
    if n_bad == 0:
        return data, 0
    if not dropna:
        counts = {str(c): int(n) for c, n in missing.sum().items() if n}
        raise DataError(
            f"data has missing values in the columns the formula uses: {counts} "
            f"({n_bad} of {len(data)} rows affected). Pass dropna=True to drop these rows, "
            "or fill them in first."
        )
    if n_bad == len(data):
        raise DataError("Every row of data has a missing value in a column the formula uses.")
    message = f"Automatically removing {n_bad}/{len(data)} rows from the dataset."
    _log.info(message)
    warnings.warn(message, DroppedRowsWarning, stacklevel=4)
    return data.loc[~incomplete], n_bad


class DroppedRowsWarning(BayesmmWarning):
    """Rows with missing values were removed from the data (``dropna=True``)."""


def _tidy_categories(data: pd.DataFrame) -> pd.DataFrame:
    """Drop unused categories, and keep the categories' order as the coding order.

    Dropping unused categories avoids all-zero dummy columns and empty levels. formulae sorts
    the levels of unordered categoricals, so they are marked ordered to keep the user's order
    (the first category is the reference level, as in R).
    """
    data = data.copy()
    for name in data.columns:
        if isinstance(data[name].dtype, pd.CategoricalDtype):
            data[name] = data[name].cat.remove_unused_categories().cat.as_ordered()
    return data


def _encode_response(
    description: Any, data: pd.DataFrame, env: Environment, family: Family
) -> Response:
    response = ResponseMatrix(description.response)
    description.response.set_type(data, env)
    description.response.set_data()
    response.evaluate(data, env)
    term = description.response.term
    name = str(term.name)
    matrix = np.asarray(response.design_matrix)
    kind = response.kind

    if kind == "proportion":
        values, trials = matrix[:, 0].astype(float), matrix[:, 1].astype(float)
        if not family.trials:
            raise DataError(
                f"The response {name!r} is a p(successes, trials) proportion, which needs "
                f"family 'binomial'; got family {family.name!r}."
            )
        family.check_response(values, trials, name)
        return Response(name, values, trials)

    if family.trials:
        raise DataError(
            f"Family 'binomial' needs the response written as p(successes, trials), e.g. "
            f"'p(incidence, size) ~ period'; got {name!r}."
        )

    if kind == "categoric":
        if not family.binary:
            raise DataError(
                f"The response {name!r} is categorical (strings or categories), but family "
                f"{family.name!r} needs numbers. Convert it to numbers, or use a family for "
                "categorical responses such as 'bernoulli'."
            )
        component = term.components[0]
        levels = list(getattr(component, "levels", None) or [])
        if matrix.ndim == 2 and matrix.shape[1] > 1:
            if matrix.shape[1] != 2:
                raise DataError(
                    f"The response {name!r} has {matrix.shape[1]} levels {levels}, but family "
                    f"{family.name!r} needs two. Pick the event with {name}['level']."
                )
            # As in R's glm: the second level is the event.
            event_level = levels[1]
            values = matrix[:, 1].astype(float)
        else:
            event_level = component.reference
            if event_level not in levels:
                raise DataError(
                    f"The response {name}[{event_level!r}] names a level that {name!r} does not "
                    f"have; its levels are {levels}."
                    + did_you_mean(str(event_level), [str(v) for v in levels])
                )
            values = matrix.ravel().astype(float)
        event = f"{name} == {event_level!r}"
    else:
        values = matrix.ravel().astype(float)
        event = None
        if family.binary:
            event = f"{name} == {'True' if matrix.dtype == bool else '1'}"
    family.check_response(values, None, name)
    if event is not None:
        _log.info("Modeling the probability that %s", event)
    return Response(name, values, None, event)


def _encode_common(
    description: Any, data: pd.DataFrame, env: Environment, n: int
) -> tuple[np.ndarray, tuple[CommonTerm, ...], list[Any]]:
    if not description.common_terms:
        return np.zeros((n, 0)), (), []
    common_model = FormulaeModel(*description.common_terms)
    common_model.eval(data, env)
    matrix = CommonEffectsMatrix(common_model.common_terms)
    matrix.evaluate(data, env)
    terms = []
    for name, term in matrix.terms.items():
        span = matrix.slices[name]
        labels = tuple(str(label) for label in term.labels)
        levels = _column_levels(name, labels) if len(labels) > 1 else None
        terms.append(CommonTerm(str(name), labels, span.start, span.stop, levels))
    return np.asarray(matrix.design_matrix, dtype=float), tuple(terms), list(matrix.terms.values())


def _group_index(data: pd.DataFrame, names: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Level index per row of a (possibly interacted) factor, over the observed levels only."""
    codes = []
    labels = []
    for name in names:
        # Categorical columns keep their (already tidied) categories; others are sorted.
        categorical = pd.Categorical(data[name])
        codes.append(np.asarray(categorical.codes))
        labels.append([str(level) for level in categorical.categories])
    if len(codes) == 1:
        return codes[0].astype(np.int32), tuple(labels[0])
    # Observed combinations only, in lexicographic order of the component levels (as lme4).
    stacked = np.column_stack(codes)
    unique, index = np.unique(stacked, axis=0, return_inverse=True)
    levels = tuple(":".join(labels[j][code] for j, code in enumerate(row)) for row in unique)
    return index.ravel().astype(np.int32), levels


def _encode_group(
    description: Any, data: pd.DataFrame, env: Environment
) -> tuple[tuple[GroupTerm, ...], list[Any]]:
    group_terms = list(description.group_terms)
    has_intercept = {t.factor.name for t in group_terms if isinstance(t.expr, Intercept)}
    terms = []
    for term in group_terms:
        factor_names = [component.name for component in term.factor.components]
        for component in term.factor.components:
            if not hasattr(component, "name") or component.name not in data.columns:
                raise FormulaError(
                    f"Grouping factor {term.factor.name!r} in {term.name!r} must be a column "
                    "or an interaction of columns, e.g. '(1|g)' or '(1|g1:g2)'."
                )
        index, levels = _group_index(data, factor_names)
        values: np.ndarray | None = None
        columns: tuple[str, ...] = ("Intercept",)
        expr = "1"
        if not isinstance(term.expr, Intercept):
            # Coded like common terms: reduced rank when the factor also has an intercept.
            term.expr.set_type(data, env)
            term.expr.set_data(term.factor.name not in has_intercept)
            values = np.asarray(term.expr.data, dtype=float)
            values = values[:, None] if values.ndim == 1 else values
            columns = tuple(str(label) for label in term.expr.labels)
            expr = str(term.expr.name)
        name = f"{expr}|{term.factor.name}"
        terms.append(GroupTerm(name, expr, str(term.factor.name), levels, index, values, columns))
    return tuple(terms), [t.expr for t in group_terms]


def _check_categorical_levels(formula: str, terms: Iterable[Any]) -> None:
    for term in terms:
        for component in getattr(term, "components", []):
            levels = getattr(component, "levels", None)
            is_factor = getattr(component, "kind", None) == "categoric"
            if is_factor and levels is not None and len(levels) < 2:
                raise DataError(
                    f"The factor {component.name!r} in formula {formula!r} has a single "
                    f"level {describe_values(levels)}; a factor needs at least two levels. "
                    "Remove it from the formula or check the data."
                )


def _check_constant_columns(design_common: np.ndarray, terms: Sequence[CommonTerm]) -> None:
    if design_common.shape[0] < 2:
        return
    sd = np.std(design_common, axis=0)
    for term in terms:
        if term.is_intercept:
            continue
        for j in range(term.start, term.stop):
            if sd[j] == 0:
                raise DataError(
                    f"The predictor {term.columns[j - term.start]!r} (term {term.name!r}) is "
                    f"constant (every value is {design_common[0, j]:g}); its effect cannot be "
                    "estimated. Remove it from the formula."
                )


def _check_group_levels(terms: Sequence[GroupTerm]) -> None:
    for term in terms:
        if len(term.levels) < 2:
            raise DataError(
                f"The grouping factor {term.factor!r} in {term.name!r} has a single level "
                f"{describe_values(term.levels)}; group-specific effects need at least two levels."
            )


def build_design(
    formula: str,
    data: pd.DataFrame,
    family: Family,
    categorical: str | Sequence[str] | None = None,
    dropna: bool = False,
) -> Design:
    """Encode ``data`` as described by ``formula`` for ``family``.

    Parameters
    ----------
    formula : str
        An lme4-style formula.
    data : pandas.DataFrame
        One row per observation.
    family : Family
        The response family; used to encode and check the response.
    categorical : str or sequence of str, optional
        Columns to treat as categorical whatever their dtype.
    dropna : bool, default False
        Drop rows with missing values in the columns the formula uses (with a warning).
        If false, such rows are an error.

    Returns
    -------
    Design

    Raises
    ------
    FormulaError, DataError
        For malformed formulas, missing columns, missing values, single-level factors,
        constant predictors, or responses outside the family's support.
    """
    data = _as_frame(data)
    description = parse_formula(formula)
    needed = {name for name in description.var_names if name}
    _check_columns(formula, needed, data)
    data = _as_categorical(data, categorical)
    data = data[[c for c in data.columns if c in needed]]
    data, n_dropped = _handle_missing(data, dropna)
    data = _tidy_categories(data)
    # Formulas see the data's columns and numpy as `np`, nothing of the caller's scope.
    env = Environment([{"np": np}])

    try:
        response = _encode_response(description, data, env, family)
    except (DataError, FormulaError):
        raise
    except Exception as err:  # formulae's own checks of the response, e.g. in p(s, n)
        raise DataError(
            f"The response {str(description.response.term.name)!r} of formula {formula!r} is "
            f"invalid: {err}"
        ) from None
    try:
        common, common_terms, common_raw = _encode_common(description, data, env, len(data))
        group_terms, group_raw = _encode_group(description, data, env)
    except (DataError, FormulaError):
        raise
    except Exception as err:  # formulae evaluation errors: bad calls, unknown functions
        raise FormulaError(f"Could not evaluate formula {formula!r} on data: {err}") from None

    _check_categorical_levels(formula, [*common_raw, *group_raw])
    _check_constant_columns(common, common_terms)
    _check_group_levels(group_terms)
    return Design(
        formula=formula,
        response=response,
        common=common,
        common_terms=common_terms,
        group_terms=group_terms,
        n_dropped=n_dropped,
    )
