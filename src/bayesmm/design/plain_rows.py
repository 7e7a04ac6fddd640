"""New rows of a plain formula encoded with numpy alone: the fast path of
:meth:`~bayesmm.design.DesignState.encode`.

formulae and pandas take about a millisecond to encode one row, most of the time of a
one-row prediction. A formula whose terms all have one of a few known shapes is encoded here
instead, from the columns' arrays and what formulae learned at fit time (the levels and the
contrast matrix of each categorical column):

- the intercept, a numeric column, a categorical column, and interactions of these;
- group terms ``(1 | g)`` and ``(x | g)`` whose expression is one of those terms and whose
  factor is one column (not ``g1:g2``).

Any other term (a call such as ``center(x)``, ``np.log(x)``, ``s(x)``, ``mo(x)``), an offset,
an ``mi()`` column or an interacted factor leaves the formula without a plan
(:meth:`PlainRows.of` returns ``None``), and formulae encodes its rows. Each value is computed
as formulae computes it (same dtypes, same products, in the same order), so both paths give
the same arrays, bit for bit.

The plan never decides what is an error. Whenever the rows hold anything it does not expect
(a missing column, a missing or infinite value, text in a numeric column, a level of a
categorical predictor not seen at fit time, a dtype or a type of value it does not know), it
returns ``None`` and the general path encodes the rows, with its own errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .new_rows import NewGroup

if TYPE_CHECKING:
    from .state import DesignState

__all__ = ["PlainRows"]


class _Unsupported(Exception):
    """A term or factor of a shape the plan does not know."""


@dataclass(frozen=True)
class _Levels:
    """The code of each fitted level, as the design state matches values to levels: by the
    value itself, else by its text (``"308"`` for ``308``) when the levels' texts are
    unique."""

    exact: dict[Any, int]
    text: dict[str, int] | None

    @classmethod
    def of(cls, levels: Sequence[Any]) -> _Levels:
        values = list(levels.tolist() if isinstance(levels, pd.Index) else levels)
        if not (_all_of(values, str) or _all_of(values, int)):
            raise _Unsupported  # levels whose matching pandas and a dict might not agree on
        text = [str(v) for v in values]
        unique = len(set(text)) == len(text)
        return cls(
            {v: i for i, v in enumerate(values)},
            {t: i for i, t in enumerate(text)} if unique else None,
        )

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Code of each value, -1 where no level matches."""
        exact, text = self.exact, self.text or {}
        return np.fromiter(
            (code if (code := exact.get(v)) is not None else text.get(str(v), -1) for v in values),
            dtype=np.int64,
            count=len(values),
        )


@dataclass(frozen=True)
class _Component:
    """A numeric column (``matrix`` ``None``), or a categorical one: its levels and the rows
    of its contrast matrix."""

    column: str
    levels: _Levels | None = None
    matrix: np.ndarray | None = None


#: A term: the intercept (``None``), or its components, multiplied when more than one.
_Term = tuple[_Component, ...] | None


@dataclass(frozen=True)
class _Group:
    factor: str
    column: str
    n_levels: int
    levels: _Levels
    expr: _Term | None  # None: the intercept of the group term, which has no columns


@dataclass(frozen=True)
class PlainRows:
    """How to encode new rows of a plain formula without formulae (see the module's text).

    Made once per design state by :meth:`of`; :meth:`encode` gives the common matrix and the
    group terms of new rows, or ``None`` for rows the general path must see.
    """

    numeric: tuple[str, ...]
    other: tuple[str, ...]
    common: tuple[_Term, ...]
    n_common: int
    dropped: tuple[int, ...]
    groups: tuple[_Group, ...]

    @classmethod
    def of(cls, state: DesignState) -> PlainRows | None:
        """The plan of ``state``'s formula; ``None`` if a term has a shape it does not know,
        or the formula has offsets or ``mi()`` columns."""
        if state.offsets or state.imputed:
            return None
        terms = list(state.common_matrix.terms.values()) if state.common_matrix else []
        try:
            common = tuple(_term(t) for t in terms)
            groups = tuple(_group(g) for g in state.groups)
        except _Unsupported:
            return None
        numeric = tuple(name for name in state.predictors if state.was_numeric(name))
        other = tuple(name for name in state.predictors if name not in numeric)
        return cls(numeric, other, common, state.n_common, state.dropped_columns, groups)

    def encode(self, data: pd.DataFrame) -> tuple[int, np.ndarray, tuple[NewGroup, ...]] | None:
        """The number of rows, the common matrix and the group terms of ``data``'s rows; or
        ``None`` where the general path must encode them (and perhaps raise)."""
        columns = _read(data, self.numeric, self.other)
        if columns is None:
            return None
        n = len(data)
        if self.common:
            try:
                parts = [_evaluate(term, columns, n) for term in self.common]
            except _Unsupported:  # a level of a categorical predictor unseen at fit time
                return None
            common = np.asarray(np.column_stack(parts), dtype=float).reshape(n, self.n_common)
            if self.dropped:
                common = np.delete(common, self.dropped, axis=1)
        else:
            common = np.zeros((n, 0))
        factors: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
        groups = []
        for group in self.groups:
            if group.factor not in factors:
                if columns[group.column].dtype.kind == "f":
                    return None  # numbers matched to whole-number levels: left to pandas
                factors[group.factor] = _factor_index(group, columns[group.column])
            index, new_levels = factors[group.factor]
            values = None
            if group.expr is not None:
                try:
                    evaluated = _evaluate(group.expr, columns, n)
                except _Unsupported:
                    return None
                values = np.asarray(evaluated, dtype=float).reshape(n, -1)
            groups.append(NewGroup(index, values, new_levels))
        return n, common, tuple(groups)


def _all_of(values: Sequence[Any], kind: type) -> bool:
    # The exact type: bools are ints to isinstance, and numpy's scalars compare as numbers.
    return all(type(v) is kind for v in values)


def _term(term: Any) -> _Term:
    kind = type(term).__name__
    if kind == "Intercept":
        return None
    if kind != "Term" or not term.components:
        raise _Unsupported
    return tuple(_component(c) for c in term.components)


def _component(component: Any) -> _Component:
    if type(component).__name__ != "Variable" or getattr(component, "level", None) is not None:
        raise _Unsupported  # a call, or a response's y['level']
    if component.kind == "numeric":
        return _Component(str(component.name))
    if component.kind != "categoric" or component.contrast_matrix is None:
        raise _Unsupported
    levels = _Levels.of(component.levels)
    return _Component(str(component.name), levels, np.asarray(component.contrast_matrix.matrix))


def _group(group: Any) -> _Group:
    encoder = group.factor_encoder
    if len(encoder.components) != 1:
        raise _Unsupported
    expr = None if group.expr is None else _term(group.expr)
    if group.expr is not None and expr is None:
        raise _Unsupported  # an intercept written as the expression
    column = encoder.components[0]
    return _Group(group.factor, column, group.n_levels, _Levels.of(encoder.categories[0]), expr)


def _read(
    data: pd.DataFrame, numeric: Sequence[str], other: Sequence[str]
) -> dict[str, np.ndarray] | None:
    """The predictors' arrays, when every column is there and holds what the plan expects:
    numbers (no missing or infinite ones) where the column held numbers at fit time, else
    text or whole numbers alone."""
    columns: dict[str, np.ndarray] = {}
    present = data.columns
    for name in numeric:
        if name not in present:
            return None
        series = data[name]
        dtype = series.dtype
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iuf":
            return None
        values = series.to_numpy()
        if dtype.kind == "f" and not np.isfinite(values).all():
            return None
        columns[name] = values
    for name in other:
        if name not in present:
            return None
        values = data[name].to_numpy(dtype=object)
        if not (_all_of(values, str) or _all_of(values, int)):
            return None
        columns[name] = values
    return columns


def _evaluate(term: _Term, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """A term's columns on the rows, with the dtypes formulae gives them (the intercept's
    ones are integers; a numeric column keeps its dtype)."""
    if term is None:
        return np.ones(n, dtype=int)
    result = None
    for component in term:
        values = columns[component.column]
        if component.levels is not None:
            codes = component.levels.codes(values)
            if (codes < 0).any():
                raise _Unsupported
            values = component.matrix[codes]  # type: ignore[index]
        if result is None:
            result = values
            continue
        # An interaction: the product of every column of the left with every column of the
        # right, the left's columns outermost.
        left = result.reshape(n, -1)
        right = values.reshape(n, -1)
        result = (left[:, :, None] * right[:, None, :]).reshape(n, -1)
    return result  # type: ignore[return-value]


def _factor_index(group: _Group, values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Fitted level codes of a factor; unseen level ``j`` gets ``n_levels + j``, labelled
    by its text (as ``design.state`` labels it)."""
    index = group.levels.codes(np.asarray(values, dtype=object))
    unseen = np.flatnonzero(index < 0)
    if not unseen.size:
        return index, ()
    labels = [str(v) for v in values[unseen]]
    new_levels = tuple(dict.fromkeys(labels))
    position = {label: j for j, label in enumerate(new_levels)}
    index[unseen] = [group.n_levels + position[label] for label in labels]
    return index, new_levels
