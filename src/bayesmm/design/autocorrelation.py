"""Residual autocorrelation within series: ``ar(time=t, gr=g, p=1)`` and ``cosy(time=t, gr=g)``.

The rows of a series (the rows sharing a value of ``gr``; one series without it) have
correlated residuals ``e = y - mu``:

- ``ar(p)``: an autoregressive process of order ``p``, stationary, ``e_t = ar_1 e_{t-1} +
  ... + ar_p e_{t-p} + sigma * z_t``, so ``sigma`` is the innovations' sd (statsmodels'
  ARIMA and brms's ``ar(cov = TRUE)`` read it so); the series' first value comes from the
  stationary distribution. Times are whole numbers, one step apart within a series.
- ``cosy``: compound symmetry, every pair of a series' residuals correlated by ``cosy``, each
  with sd ``sigma``. Times only order the rows; a series may skip times.

The call is read from the formula's text and removed before formulae sees the formula. The
design keeps the term (:class:`SeriesTerm`), the training series (their labels and their
first and last times, what a saved file holds: :class:`SeriesState`) and the layout of the
training rows (:class:`SeriesRows`): each row's series, its position within it, and the rows
of its previous ``p`` values. Rows may come in any order; nothing is sorted in place.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._names import SDERR
from .._validation import describe_values
from ..formula import find_calls
from ..priors import Prior, TermPrior

if TYPE_CHECKING:
    from ..families import Family
    from .types import Design

__all__ = [
    "SERIES_CALLS",
    "SeriesTerm",
    "SeriesState",
    "SeriesRows",
    "NewSeries",
    "read_series",
    "series_rows",
    "with_series",
    "encode_series",
    "check_series_family",
    "series_priors",
    "durbin_levinson",
]

#: The calls of residual structures brms has; those bayesmm fits are in ``_FITTED``.
SERIES_CALLS = ("ar", "ma", "arma", "cosy", "unstr")
_FITTED = ("ar", "cosy")
#: The label of the one series of a term without ``gr``.
ONE_SERIES = "1"


@dataclass(frozen=True)
class SeriesTerm:
    """A residual structure as written: its kind, the time column, the series column
    (``None``: all rows are one series) and the autoregressive order ``p``."""

    kind: str
    time: str
    group: str | None = None
    p: int = 0
    #: An ``ar()`` of a family without a residual sd: a latent autocorrelated residual on
    #: the linear predictor, with innovation sd ``sderr`` (set from the family).
    latent: bool = False

    @property
    def call(self) -> str:
        """The call as bayesmm writes it, e.g. ``"ar(time=t, gr=g, p=1)"``."""
        group = f", gr={self.group}" if self.group is not None else ""
        order = f", p={self.p}" if self.kind == "ar" else ""
        return f"{self.kind}(time={self.time}{group}{order})"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.time,) if self.group is None else (self.time, self.group)

    @property
    def lags(self) -> int:
        """How many previous residuals a row's conditional mean reads (``p`` of ``ar``)."""
        return self.p if self.kind == "ar" else 0


@dataclass(frozen=True)
class SeriesState:
    """The training series: ``labels``, and per series its ``first`` and ``last`` time and
    its number of rows ``length``. A saved file keeps it, so forecasts need no rows."""

    term: SeriesTerm
    labels: tuple[str, ...]
    first: np.ndarray
    last: np.ndarray
    length: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "first": self.first.tolist(),
            "last": self.last.tolist(),
            "length": self.length.tolist(),
            **({"latent": True} if self.term.latent else {}),
        }

    @classmethod
    def from_dict(cls, term: SeriesTerm, values: dict[str, Any]) -> SeriesState:
        arrays = (np.asarray(values[k], dtype=np.int64) for k in ("first", "last", "length"))
        term = replace(term, latent=bool(values.get("latent", False)))
        return cls(term, tuple(str(v) for v in values["labels"]), *arrays)


@dataclass(frozen=True)
class SeriesRows:
    """The layout of some rows in their series.

    Attributes
    ----------
    state : SeriesState
        The series.
    series : numpy.ndarray
        Each row's series, a code into :attr:`SeriesState.labels`, shape ``(n,)``.
    position : numpy.ndarray
        How many rows of its series come before the row, shape ``(n,)``.
    lags : numpy.ndarray
        The rows of its previous ``lags`` values, shape ``(n, lags)``: column ``k - 1`` holds
        the row ``k`` steps before (the row itself where there is none, ``position < k``).
    order : numpy.ndarray
        The rows sorted by series, then time.
    tails : numpy.ndarray
        The last ``lags`` rows of each series, newest first (column ``k - 1`` is the row
        ``k`` steps before the series' next time), shape ``(series, lags)``; ``-1`` where a
        series is shorter.
    """

    state: SeriesState
    series: np.ndarray
    position: np.ndarray
    lags: np.ndarray
    order: np.ndarray
    tails: np.ndarray

    @property
    def leads(self) -> np.ndarray:
        """The row ``k`` steps after each row, ``(n, lags)``; ``-1`` where there is none."""
        n, p = self.lags.shape
        out = np.full((n, p), -1, dtype=np.int64)
        for k in range(p):
            has = self.position > k
            out[self.lags[has, k], k] = np.flatnonzero(has)
        return out


@dataclass(frozen=True)
class NewSeries:
    """New rows in their series: each row's code into the training labels (``-1`` for a
    series the model has not seen), its series label and its time; ``fitted`` for the
    training rows themselves, whose layout it is."""

    code: np.ndarray
    labels: np.ndarray
    time: np.ndarray
    fitted: SeriesRows | None = None

    @classmethod
    def of_training(cls, rows: SeriesRows) -> NewSeries:
        """The training rows as rows to predict for: their own layout."""
        labels = np.asarray(rows.state.labels, dtype=object)[rows.series]
        return cls(rows.series, labels, np.zeros(len(rows.series), dtype=np.int64), rows)


def _arguments(kind: str, node: ast.Call, written: str) -> SeriesTerm:
    """The term of one parsed call ``kind(time, gr, p=..)``, checked."""
    names = ["time", "gr", "p"] if kind == "ar" else ["time", "gr"]
    given: dict[str, Any] = dict(zip(names, node.args, strict=False))
    if len(node.args) > len(names):
        raise FormulaError(f"{written} takes at most the arguments {names}; got more.")
    for keyword in node.keywords:
        if keyword.arg not in names or keyword.arg in given:
            raise FormulaError(
                f"{written}: {kind}() takes the arguments {names} (each once); got "
                f"{ast.unparse(keyword)}."
            )
        given[str(keyword.arg)] = keyword.value
    columns = {}
    for name in ("time", "gr"):
        value = given.get(name)
        if value is not None and not isinstance(value, ast.Name):
            raise FormulaError(
                f"{written}: {name}= must be a column name, e.g. {kind}(time=day, gr=subject); "
                f"got {ast.unparse(value)}."
            )
        columns[name] = value.id if isinstance(value, ast.Name) else None
    if columns["time"] is None:
        raise FormulaError(f"{written}: name the column of the times, e.g. {kind}(time=day).")
    p: Any = 0
    if kind == "ar":
        order = given.get("p")
        p = 1 if order is None else order.value if isinstance(order, ast.Constant) else 0
        if isinstance(p, bool) or not isinstance(p, int) or p < 1:
            raise FormulaError(f"{written}: p= must be a whole number of at least 1.")
    return SeriesTerm(kind, columns["time"], columns["gr"], p)


def read_series(formula: str) -> tuple[str, SeriesTerm | None]:
    """``formula`` without its ``ar()``/``cosy()`` term, and the term; the formula unchanged
    and ``None`` without one.

    Raises
    ------
    FormulaError
        For a residual structure bayesmm does not fit, more than one, one outside the
        right-hand side, or arguments that are not column names and an order.
    """
    calls = find_calls(formula, SERIES_CALLS)
    if not calls:
        return formula, None
    lhs = formula.split("~", 1)[0] if "~" in formula else ""
    call = calls[0]
    written = formula[call.start : call.stop]
    if call.name not in _FITTED:
        raise FormulaError(
            f"{written}: bayesmm fits the residual structures ar() and cosy(); {call.name}() "
            "is not available yet."
        )
    if len(calls) > 1:
        raise FormulaError(
            f"formula {formula!r} has {len(calls)} residual structures; a formula takes one."
        )
    if call.start < len(lhs) + 1:
        raise FormulaError(f"{written} is a term of the right-hand side of formula {formula!r}.")
    try:
        node = ast.parse(f"f({call.arguments})", mode="eval").body
    except SyntaxError:
        raise FormulaError(f"Could not read {written!r} in formula {formula!r}.") from None
    assert isinstance(node, ast.Call)
    term = _arguments(call.name, node, written)
    before, after = formula[: call.start].rstrip(), formula[call.stop :].lstrip()
    if before.endswith("+"):
        before = before[:-1].rstrip()
    elif after.startswith("+"):
        after = after[1:].lstrip()
    text = f"{before} {after}".strip()
    return (f"{text} 1" if text.endswith("~") else text), term


def durbin_levinson(partial: list[Any], stack: Any = np.stack) -> tuple[Any, Any]:
    """The coefficients of each order ``m = 0..p`` of a stationary AR(p) from its partial
    autocorrelations ``partial`` (``p`` scalars, or arrays over draws), as the rows of a
    ``(p + 1, p)`` table padded with zeros (row ``p``: the AR coefficients), and each order's
    prediction variance over the innovations', ``prod_{k > m} 1 / (1 - r_k^2)``, ``(p + 1,)``.

    Row ``m`` predicts a value from the ``m`` before it: the Durbin-Levinson recursion
    ``phi(m)_k = phi(m-1)_k - r_m phi(m-1)_{m-k}``, ``phi(m)_m = r_m``. ``stack(values, axis)``
    joins arrays (``numpy.stack``, or pytensor's in the graph); draws stay the first axis.
    """
    p = len(partial)
    zero = partial[0] * 0
    rows, phi = [[zero] * p], list[Any]()
    for m, r in enumerate(partial, start=1):
        phi = [phi[k] - r * phi[m - 2 - k] for k in range(m - 1)] + [r]
        rows.append(phi + [zero] * (p - m))
    keep = [1 - r**2 for r in partial]
    scales = []
    for m in range(p + 1):
        scale = zero + 1
        for factor in keep[m:]:
            scale = scale / factor
        scales.append(scale)
    table = stack([stack(row, axis=-1) for row in rows], axis=-2)
    return table, stack(scales, axis=-1)


def series_priors(term: SeriesTerm) -> list[TermPrior]:
    """The default priors of a residual structure: flat on its correlations' range, ``ar``
    (each partial autocorrelation of an ``ar(p)``) on ``(-1, 1)``, ``cosy`` on ``(0, 1)``;
    a latent ``ar``'s innovation sd ``sderr``, half Student-t on the link's scale."""
    low = -1.0 if term.kind == "ar" else 0.0
    terms = [TermPrior(term.kind, "autocorrelation", Prior("Uniform", lower=low, upper=1.0))]
    if term.latent:
        terms.append(TermPrior(SDERR, "autocorrelation", SDERR_PRIOR))
    return terms


#: The default prior of a latent ``ar()``'s innovation sd, on the link's scale (brms's).
SDERR_PRIOR = Prior("HalfStudentT", nu=3, sigma=2.5)

#: The families whose series' likelihood is exact: a multivariate normal or t per series.
SERIES_FAMILIES = ("gaussian", "t")


def check_series_family(
    term: SeriesTerm | None, family: Family, has_parts: bool, data: pd.DataFrame
) -> SeriesTerm | None:
    """``ar()`` and ``cosy()`` are exact for gaussian and t responses with one ``sigma``; an
    ``ar()`` of another family of one linear predictor is a latent autocorrelated residual
    on it (``term.latent``). Returns the term, marked so.

    Raises
    ------
    FormulaError
        For ``cosy()`` of another family, a family of categories, or a formula for an
        auxiliary parameter.
    DataError
        For a column ``data`` lacks.
    """
    if term is None:
        return None
    _check_columns(term, data)
    if has_parts:
        raise FormulaError(
            f"{term.call} takes one residual sd; it cannot take distributional formulas."
        )
    if family.name in SERIES_FAMILIES:
        return term
    if term.kind != "ar" or family.is_categorical() or family.has_category_predictors():
        hint = (
            " For a shared correlation within series, use (1|group)." if term.kind == "cosy" else ""
        )
        raise FormulaError(
            f"{term.call} models correlated residuals of a gaussian or t (student) response; "
            f"with family {family.name!r} only ar() is available, as a latent residual "
            f"(docs/autocorrelation.md).{hint}"
        )
    return replace(term, latent=True)


def _check_columns(term: SeriesTerm, data: pd.DataFrame) -> None:
    for column in term.columns:
        if column not in data.columns:
            raise DataError(f"{term.call} names the column {column!r}, which data does not have.")


def _times(term: SeriesTerm, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's time (whole numbers) and series label, checked."""
    _check_columns(term, data)
    raw = data[term.time]
    times = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(times) | (np.mod(times, 1) != 0)
    if bad.any():
        rows = list(data.index[bad][:5])
        raise DataError(
            f"The times {term.time!r} of {term.call} must be whole numbers; rows {rows} hold "
            f"{describe_values(raw[bad].to_numpy()[:5])}."
        )
    labels = (
        np.full(len(data), ONE_SERIES, dtype=object)
        if term.group is None
        else data[term.group].astype(str).to_numpy(dtype=object)
    )
    return times.astype(np.int64), labels


def _check_steps(term: SeriesTerm, labels: np.ndarray, times: np.ndarray, gaps: bool) -> None:
    """Times within a series are distinct, and (``gaps=False``) one step apart, in the rows
    sorted by series and time."""
    same = labels[1:] == labels[:-1]
    step = np.diff(times)
    for bad, what in ((same & (step == 0), "twice"), (same & (step > 1) & ~gaps, "with a gap")):
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{term.call}: series {str(labels[at])!r} has the time {times[at + 1]} {what}"
                + (f" (after {times[at]})" if what != "twice" else "")
                + "; within a series each time comes once"
                + ("." if gaps else ", one step after the last (fill gaps with rows).")
            )


def series_rows(term: SeriesTerm, data: pd.DataFrame) -> tuple[SeriesState, SeriesRows]:
    """The series of the training rows ``data`` and their layout.

    Raises
    ------
    DataError
        Naming the term and the column: a column ``data`` lacks, times that are not whole
        numbers, and a series with a time twice or (``ar``) with a gap.
    """
    times, labels = _times(term, data)
    names, series = np.unique(labels.astype(str), return_inverse=True)
    order = np.lexsort((times, series))
    _check_steps(term, names[series[order]], times[order], gaps=term.kind != "ar")
    sorted_series = series[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_series)) + 1]
    counts = np.diff(np.r_[starts, len(order)])
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order)) - np.repeat(starts, counts)
    p = term.lags
    within = np.arange(len(order)) - np.repeat(starts, counts)  # in sorted order
    lags = np.repeat(np.arange(len(order))[:, None], p, axis=1)
    tails = np.full((len(names), p), -1, dtype=np.int64)
    for k in range(1, p + 1):
        at = np.flatnonzero(within >= k)
        lags[order[at], k - 1] = order[at - k]
        back = starts + counts - k  # the row k - 1 steps before each series' last
        tails[:, k - 1] = np.where(counts >= k, order[np.maximum(back, 0)], -1)
    state = SeriesState(
        term,
        tuple(str(n) for n in names),
        times[order][starts],
        times[order][starts + counts - 1],
        counts.astype(np.int64),
    )
    return state, SeriesRows(state, series.astype(np.int64), position, lags, order, tails)


def with_series(design: Design, term: SeriesTerm | None, data: pd.DataFrame) -> Design:
    """``design`` with the series of its rows (``data``, the encoded rows), and their state.

    Raises
    ------
    FormulaError
        For weights, censoring, truncation or known standard errors, which the series'
        joint density does not take.
    """
    if term is None or design.state is None:
        return design
    response = design.response
    parts = {
        "weights": design.weights,
        "censoring": response.censoring,
        "truncation": response.truncation,
        "se()": response.known_sd,
    }
    taken = [name for name, part in parts.items() if part is not None]
    if taken:
        raise FormulaError(
            f"{term.call} models each series' joint density, which takes no {taken[0]}; fit "
            "the model without it."
        )
    state, rows = series_rows(term, data)
    return replace(design, series=rows, state=replace(design.state, series=state))


def encode_series(state: SeriesState, data: pd.DataFrame) -> NewSeries | None:
    """New rows in the training series; ``None`` when ``data`` lacks the term's columns
    (prediction then refuses what needs them)."""
    term = state.term
    if not set(term.columns) <= set(data.columns):
        return None
    times, labels = _times(term, data)
    known = {label: i for i, label in enumerate(state.labels)}
    code = np.array([known.get(str(v), -1) for v in labels], dtype=np.int64)
    return NewSeries(code, labels, times)
