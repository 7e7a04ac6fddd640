"""The response of a formula, encoded for its family.

A number per row, a binary event, ``p(successes, trials)``, ``censored(...)``, ``trunc(...)``,
the categories of an ordinal or categorical family (codes ``0 .. K - 1``), or a multinomial's
columns of counts (``c(a, b, c)``). Each is checked against the family's support.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import describe_values, did_you_mean
from ..families import FAMILIES, Family
from ..families.categories import threshold_labels
from .censoring import censored_call, encode_censored
from .truncation import encode_truncated, truncation_call
from .types import Response

if TYPE_CHECKING:
    from formulae.environment import Environment

__all__ = ["encode_response", "threshold_labels"]

_log = logging.getLogger("bayesmm")


def _check_proportion(term: Any, data: pd.DataFrame) -> None:
    """The columns of a ``p(successes, trials)`` response hold non-negative whole numbers,
    successes at most trials: named with their rows here, as formulae's own checks name
    neither."""
    components = getattr(term, "components", None) or []
    call = getattr(components[0], "call", None) if len(components) == 1 else None
    if str(getattr(call, "callee", "")) not in ("p", "prop"):
        return
    names = [getattr(arg, "name", None) for arg in getattr(call, "args", None) or []]
    columns = [str(n) for n in names if n is not None and str(n) in data.columns]
    where = f"of the response {str(term.name)!r}"
    for column in columns:
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
        if bad.any():
            raise DataError(
                f"The column {column!r} {where} must hold whole numbers >= 0; got "
                f"{describe_values(data[column][bad])} in {int(bad.sum())} row(s), index "
                f"{describe_values(data.index[bad])}."
            )
    if len(columns) == 2:
        successes, trials = (data[c].to_numpy(dtype=float) for c in columns)
        bad = successes > trials
        if bad.any():
            raise DataError(
                f"The successes {columns[0]!r} {where} must be at most its trials "
                f"{columns[1]!r}; got more in {int(bad.sum())} row(s), index "
                f"{describe_values(data.index[bad])}."
            )


def encode_response(
    description: Any, data: pd.DataFrame, env: Environment, family: Family
) -> Response:
    censored = censored_call(description.response.term)
    if censored is not None:
        name, values, censoring = encode_censored(censored, data, family)
        return Response(name, values, censoring=censoring)
    truncated = truncation_call(description.response.term)
    if truncated is not None:
        name, values, truncation = encode_truncated(truncated, data, family)
        return Response(name, values, truncation=truncation)
    if family.is_categorical():
        return _encode_categories(description, data, family)
    _check_proportion(description.response.term, data)
    from formulae.matrices import ResponseMatrix

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
            with_trials = sorted(
                n for n, f in FAMILIES.items() if f.trials and not f.counts_each_category()
            )
            raise DataError(
                f"The response {name!r} is a p(successes, trials) proportion, which needs "
                f"a family with trials, one of {with_trials}; got family {family.name!r}."
            )
        family.check_response(values, trials, name)
        return Response(name, values, trials)

    if family.trials:
        raise DataError(
            f"Family {family.name!r} needs the response written as p(successes, trials), e.g. "
            f"'p(incidence, size) ~ period'; got {name!r}."
        )

    if kind == "categoric":
        values, event = _binary_event(name, term, matrix, family)
    else:
        values = matrix.ravel().astype(float)
        event = None
        if family.binary:
            event = f"{name} == {'True' if matrix.dtype == bool else '1'}"
    family.check_response(values, None, name)
    if event is not None:
        _log.info("Modeling the probability that %s", event)
    return Response(name, values, None, event)


def _binary_event(
    name: str, term: Any, matrix: np.ndarray, family: Family
) -> tuple[np.ndarray, str]:
    """A categorical response of a binary family as ``1.0`` for its event, and the event
    worded for the log (``"y == 'yes'"``)."""
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
    return values, event


def _encode_categories(description: Any, data: pd.DataFrame, family: Family) -> Response:
    """The response of a family of categories, as codes ``0 .. K - 1`` of its categories.

    The categories of a pandas categorical keep their order (an ordered factor's order, or
    the order of its categories); other columns, integers or text, are sorted.
    """
    if family.counts_each_category():
        return _encode_counts(description, data, family)
    term = description.response.term
    name = str(term.name)
    components = list(getattr(term, "components", []) or [])
    column = getattr(components[0], "name", None) if len(components) == 1 else None
    if column not in data.columns or type(components[0]).__name__ != "Variable":
        raise DataError(
            f"Family {family.name!r} needs the response to be a column of data holding the "
            f"categories, e.g. 'rating ~ temp'; got {name!r}."
        )
    values = data[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = list(values.cat.categories)  # unused categories were dropped
        codes = np.asarray(values.cat.codes, dtype=np.int64)
    else:
        numbers = pd.to_numeric(values, errors="coerce")
        fractional = numbers.notna() & (numbers % 1 != 0)
        if fractional.any():
            raise DataError(
                f"The response {name!r} of family {family.name!r} must be categories (text, "
                "integers or a pandas Categorical); got numbers with fractions, e.g. "
                f"{describe_values(values[fractional].unique())} (rows "
                f"{describe_values(np.flatnonzero(fractional.to_numpy()))})."
            )
        try:
            levels = sorted(pd.unique(values.to_numpy()))
        except TypeError:
            raise DataError(
                f"The response {name!r} mixes numbers and text, which have no order; make it "
                "a pandas Categorical whose categories give the order."
            ) from None
        codes = np.asarray(pd.Index(levels).get_indexer(values.to_numpy()), dtype=np.int64)
        _log.info("The categories of %s in order: %s", name, describe_values(levels, limit=10))
    levels = [v.item() if isinstance(v, np.generic) else v for v in levels]
    needed = family.min_categories()
    if len(levels) < needed:
        raise DataError(
            f"The response {name!r} must have at least {needed} categories for family "
            f"{family.name!r}; got {len(levels)}: {describe_values(levels)}. For two "
            "categories use family='bernoulli'."
        )
    family.check_response(codes.astype(float), None, name)
    return Response(name, codes.astype(float), None, None, tuple(levels))


def _encode_counts(description: Any, data: pd.DataFrame, family: Family) -> Response:
    """The response of a multinomial family: ``c(a, b, c)``, a count of each category (column)
    per row. Its values are the counts, shape ``(n, K)``, its trials their row sums, and its
    levels the columns' names (the first is the reference)."""
    term = description.response.term
    name = str(term.name)
    components = list(getattr(term, "components", []) or [])
    call = getattr(components[0], "call", None) if len(components) == 1 else None
    columns = []
    if call is not None and str(call.callee) == "c":
        columns = [getattr(arg, "name", None) for arg in call.args]
    if not columns or any(c not in data.columns for c in columns):
        raise DataError(
            f"Family {family.name!r} needs the response as the columns of counts of each "
            f"category, e.g. 'c(a, b, c) ~ x'; got {name!r}."
        )
    needed = family.min_categories()
    if len(columns) < needed:
        raise DataError(
            f"The response {name!r} must have at least {needed} columns of counts for family "
            f"{family.name!r}; got {len(columns)}: {columns}. For two, use family='binomial' "
            f"with p({columns[0]}, {columns[0]} + {columns[-1]})."
        )
    values = np.column_stack([np.asarray(data[c], dtype=float) for c in columns])
    for j, column in enumerate(columns):
        family.check_response(values[:, j], None, f"{name}: {column}")
    return Response(name, values, values.sum(axis=1), None, tuple(columns))
