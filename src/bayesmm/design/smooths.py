"""Penalised smooths: ``s(x, k=10)`` and ``s(x, k=10, by=g)``.

A smooth is a cubic B-spline basis of ``k`` functions on evenly spaced knots over the range of
``x`` (scaled to [0, 1]), penalised by the integrated squared second derivative, as mgcv's
and brms's smooths are. The basis is rewritten, once, so that the penalty becomes a
random-effect prior (Wood 2017, section 5.8; brms's ``smooth2random``):

* the constant is removed by a sum-to-zero constraint over the training rows (the intercept
  takes it);
* of the ``k - 1`` directions left, the penalty's null space, the linear trend, is one
  column with a fixed-effect prior (unit sd over the training rows);
* the other ``k - 2`` are scaled by the inverse square roots of the penalty's eigenvalues, so
  the penalty is ``sum(b ** 2)``, and then by one constant that gives them a mean variance of
  1 over the training rows; their coefficients are ``Normal(0, s(x)_sigma)``. A small
  ``s(x)_sigma`` is a straight line, a large one a wiggly curve: the data choose.

With ``by=g`` each level of the factor ``g`` gets a smooth of its own (constrained to sum to
zero over its own rows, with its own sd); put ``g`` in the formula too, for the levels'
means.

:class:`Smooth` is a formulae stateful transform: its state (knots, the range, the basis
rewriting, the ``by`` levels) is plain numbers, written to files as formulae's own
transforms' state is.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values
from .by import by_columns, by_labels, check_by, level_rows
from .formulae_state import lazy_calls, term_calls

__all__ = [
    "SMOOTH",
    "Smooth",
    "check_smooths",
    "smooth_blocks",
    "smooth_labels",
    "smooth_penalty_scale",
]

#: The name of the call in formulas.
SMOOTH = "s"
_DEGREE = 3
_MIN_K = 4


def _knots(k: int) -> np.ndarray:
    """Cubic B-spline knots on [0, 1] for ``k`` basis functions: ``k - 2`` evenly spaced
    breakpoints, the ends repeated."""
    inner = np.linspace(0.0, 1.0, k - _DEGREE + 1)
    return np.concatenate([np.zeros(_DEGREE), inner, np.ones(_DEGREE)])


#: How far beyond its training range, in ranges, a smooth is evaluated (by its end pieces):
#: enough for the finite differences and steps of ``interpret`` at the ends of the data.
MARGIN = 0.1


def _basis(u: np.ndarray, knots: np.ndarray) -> np.ndarray:
    from scipy.interpolate import BSpline

    inside = np.clip(u, 0.0, 1.0)
    basis = BSpline.design_matrix(inside, knots, _DEGREE).toarray()
    beyond = inside != u
    if beyond.any():  # the end polynomials, continued
        curves = BSpline(knots, np.eye(len(knots) - _DEGREE - 1), _DEGREE, extrapolate=True)
        basis[beyond] = curves(u[beyond])
    return basis


def _penalty(knots: np.ndarray, k: int) -> np.ndarray:
    """``S[i, j] = integral of B_i''(u) B_j''(u) du`` over [0, 1]: each product is a quadratic
    on each knot interval, so two Gauss-Legendre points per interval are exact."""
    from scipy.interpolate import BSpline

    points, weights = np.polynomial.legendre.leggauss(2)
    breaks = np.unique(knots)
    curvature = BSpline(knots, np.eye(k), _DEGREE).derivative(2)  # every basis function at once
    penalty = np.zeros((k, k))
    for left, right in itertools.pairwise(breaks):
        second = curvature((right - left) / 2 * points + (right + left) / 2)
        penalty += (second * ((right - left) / 2 * weights)[:, None]).T @ second
    return penalty


def _rewriting(basis: np.ndarray, penalty: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, float]:
    """The ``k x (k - 1)`` matrix taking the basis to [linear trend, penalised columns] under
    a sum-to-zero constraint on these rows (at ``u``), and the scale of the penalised
    columns. The trend increases with ``u`` and has unit sd on the rows."""
    constraint = basis.mean(axis=0)[:, None]
    q, _ = np.linalg.qr(constraint, mode="complete")
    free = q[:, 1:]  # every coefficient vector whose curve sums to zero on these rows
    values, vectors = np.linalg.eigh(free.T @ penalty @ free)
    trend = free @ vectors[:, :1]
    curve = basis @ trend
    sd = float(curve.std())
    trend *= (1.0 if np.cov(curve[:, 0], u)[0, 1] >= 0 else -1.0) / sd
    wiggly = free @ vectors[:, 1:] / np.sqrt(values[1:])
    scale = 1.0 / np.sqrt(float((basis @ wiggly).var(axis=0).mean()))
    return np.column_stack([trend, wiggly * scale]), scale


class Smooth:
    """``s(x, k=10, by=None)``: the rewritten basis of a penalised smooth (see the module)."""

    __transform_name__ = SMOOTH
    __stateful_transform__ = True

    def __init__(self) -> None:
        self.params_set = False
        self.k = 0
        self.lower = 0.0
        self.upper = 1.0
        self.levels: list[str] = []  # of ``by``; empty without
        self.rewritings: list[Any] = []  # one (k x (k - 1)) matrix per level
        self.scales: list[float] = []

    def __call__(self, x: Any, k: int = 10, by: Any = None) -> np.ndarray:
        values = np.asarray(x, dtype=float)
        labels = by_labels(by)
        if not self.params_set:
            self._learn(values, int(k), labels)
        margin = MARGIN * (self.upper - self.lower)
        outside = (values < self.lower - margin) | (values > self.upper + margin)
        if outside.any():
            raise DataError(
                f"s() is known on [{self.lower:g}, {self.upper:g}], the range of its predictor "
                f"at fit time, and is continued {MARGIN:.0%} of that range beyond each end; "
                f"got {describe_values(values[outside])} further out in {int(outside.sum())} "
                "row(s)."
            )
        basis = _basis((values - self.lower) / (self.upper - self.lower), _knots(self.k))
        blocks = [basis @ np.asarray(rewriting) for rewriting in self.rewritings]
        return by_columns(blocks, labels, self.levels, SMOOTH)

    def _learn(self, values: np.ndarray, k: int, labels: pd.Series | None) -> None:
        self.k, self.lower, self.upper = k, float(values.min()), float(values.max())
        knots = _knots(k)
        u = (values - self.lower) / (self.upper - self.lower)
        basis = _basis(u, knots)
        penalty = _penalty(knots, k)
        self.levels = [] if labels is None else sorted(pd.unique(labels))
        for rows in level_rows(labels, self.levels, len(values)):
            rewriting, scale = _rewriting(basis[rows], penalty, u[rows])
            self.rewritings.append(rewriting)
            self.scales.append(scale)
        self.params_set = True


def smooth_labels(term: Any) -> tuple[str, ...] | None:
    """Labels of a smooth's columns: ``trend, 1, 2, ...`` (prefixed ``level:`` per ``by``
    level); ``None`` for other terms."""
    transform = _transform(term)
    if transform is None:
        return None
    own = ("trend", *(str(j) for j in range(1, transform.k - 1)))
    if not transform.levels:
        return own
    return tuple(f"{level}:{label}" for level in transform.levels for label in own)


def smooth_blocks(term: Any) -> tuple[tuple[int, int], ...] | None:
    """The penalised columns of a formulae common term that is a smooth, as ``(start,
    stop)`` within the term, one block per ``by`` level (the first column of each level's
    ``k - 1`` is its linear trend); ``None`` for other terms."""
    transform = _transform(term)
    if transform is None:
        return None
    width = transform.k - 1
    count = max(len(transform.levels), 1)
    return tuple((j * width + 1, (j + 1) * width) for j in range(count))


def smooth_penalty_scale(term: Any) -> tuple[float, float, tuple[float, ...]]:
    """``(lower, upper, scales)`` of a fitted smooth: with ``w = upper - lower``, a prior sd
    ``s`` of the penalised coefficients and a residual sd ``sigma`` give the penalty
    ``lambda = sigma^2 / (scale^2 s^2) * w^3`` on the integral of ``f''(x)^2`` (the units of
    smoothing-spline software, e.g. scipy's ``make_smoothing_spline``)."""
    transform = _transform(term)
    assert transform is not None
    return transform.lower, transform.upper, tuple(transform.scales)


def _transform(term: Any) -> Smooth | None:
    components = list(getattr(term, "components", []) or [])
    if len(components) != 1:
        return None
    for call in lazy_calls(getattr(components[0], "call", None)):
        if isinstance(call.stateful_transform, Smooth):
            return call.stateful_transform
    return None


def check_smooths(description: Any, data: pd.DataFrame) -> None:
    """Each ``s()`` names a numeric column with at least ``k`` distinct values, ``k >= 4``,
    and (``by=``) a column of levels; alone in its term, never in a group term.

    Raises
    ------
    FormulaError
        For a malformed call, an interaction, or ``s()`` in a group term.
    DataError
        For a predictor that is not numeric, ``k`` too small or larger than the distinct
        values, or a ``by`` column that is numeric.
    """
    for call in term_calls(
        description,
        SMOOTH,
        "The term {term!r} interacts a smooth; write s(x, by=g) for one smooth per level of g.",
        "The group term {term!r} has a smooth s(); smooths are common terms.",
    ):
        _check_call(call, data)


def _constant(value: Any) -> Any:
    if type(value).__name__ == "LazyValue":
        return value.value
    return None


def _check_call(call: Any, data: pd.DataFrame) -> None:
    args = list(getattr(call, "args", []) or [])
    kwargs = dict(getattr(call, "kwargs", None) or {})
    name = getattr(args[0], "name", None) if len(args) == 1 else None
    unknown = sorted(set(kwargs) - {"k", "by"})
    if str(call.callee) != SMOOTH or name is None or unknown:
        raise FormulaError(
            f"{str(call)!r} is not a smooth of one column; write s(x), s(x, k=10) or "
            "s(x, k=10, by=g) with x and g columns of the data"
            + (f" (unknown argument(s) {unknown})." if unknown else ".")
        )
    term = str(call)
    column = data[name]
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        raise DataError(
            f"{term} needs a numeric predictor; {name!r} holds {column.dtype} values. A "
            "categorical predictor takes a term of its own, e.g. 'y ~ g'."
        )
    k = _constant(kwargs["k"]) if "k" in kwargs else 10
    if isinstance(k, bool) or not isinstance(k, int) or k < _MIN_K:
        raise DataError(f"{term}: k must be a whole number >= {_MIN_K}; got {k!r}.")
    distinct = len(np.unique(column.to_numpy(dtype=float)))
    if k > distinct:
        raise DataError(
            f"{term}: k={k} basis functions need at least {k} distinct values of {name!r}; "
            f"got {distinct}. Use a smaller k."
        )
    by = check_by(kwargs, data, term, "smooth")
    if by is not None:
        per_level = data.groupby(data[by].astype(str), observed=True)[name].nunique()
        few = per_level[per_level < k]
        if len(few):
            raise DataError(
                f"{term}: k={k} basis functions need at least {k} distinct values of {name!r} "
                f"in each level of {by!r}; got {describe_values(few.to_dict())} for level(s) "
                f"{describe_values(list(few.index))}. Use a smaller k."
            )
