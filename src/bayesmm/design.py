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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from formulae.environment import Environment
from formulae.matrices import CommonEffectsMatrix, ResponseMatrix
from formulae.terms import Intercept
from formulae.terms import Model as FormulaeModel

from ._censoring import Censoring, censored_call, encode_censored, fill_unused_upper
from ._errors import BayesmmWarning, DataError, FormulaError
from ._formulae_state import _lazy_calls, apply_state, dump_state
from ._jsonvalues import decode_value, encode_value
from ._offsets import Offset, encode_offset, is_offset, new_offset, offset_terms
from ._splines import check_spline_bounds, file_linspace
from ._validation import describe_values, did_you_mean
from ._weights import add_weights, mean_sd, weight_values
from .families import FAMILIES, Family, ResponseStats
from .formula import bar_blocks, parse_formula

__all__ = [
    "Design",
    "DesignState",
    "NewDesign",
    "Response",
    "CommonTerm",
    "GroupTerm",
    "GroupBlock",
    "build_design",
    "design_to_dict",
    "design_from_dict",
]

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
    censoring : Censoring or None
        For ``censored(...)`` responses, each row's status and upper bound (``_censoring``).
    levels : tuple or None
        For the ordinal families (``cumulative``, ``sratio``): the categories in order;
        ``values`` then holds their codes ``0 .. K - 1``.
    """

    name: str
    values: np.ndarray
    trials: np.ndarray | None = None
    event: str | None = None
    levels: tuple[Any, ...] | None = None
    censoring: Censoring | None = None

    def stats(
        self,
        scale: Callable[[np.ndarray], np.ndarray] | None = None,
        weights: np.ndarray | None = None,
    ) -> ResponseStats:
        """Mean and standard deviation (of the proportion, for binomial responses), of
        ``scale(y)`` when given (a family's ``prior_scale``); weighted by the observation
        ``weights`` when given (see ``_weights.mean_sd``)."""
        y = self.values
        if y.ndim == 2:  # a multinomial's counts: the reference category's share
            y = y[:, 0]
        if self.trials is not None:
            y = np.divide(y, self.trials, out=np.zeros(len(y)), where=self.trials > 0)
        if scale is not None:
            y = scale(y)
        mean, sd = mean_sd(np.asarray(y, dtype=float), weights)
        return ResponseStats(mean=float(mean), sd=float(sd))


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
        # By its column: a distributional formula's intercept is named "sigma_Intercept".
        return self.columns == ("Intercept",)


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
class GroupBlock:
    """Group terms of one factor whose effects are correlated, e.g. ``(1 + Days | Subject)``.

    Their effects on each level follow one multivariate normal distribution, with a
    correlation matrix over all their columns (an LKJ prior, named :attr:`prior_name`).
    """

    factor: str
    terms: tuple[str, ...]
    prefix: str = ""  # the distributional parameter's, e.g. "sigma_" (see Distributional)

    @property
    def prior_name(self) -> str:
        """The key of the correlation matrix's prior, e.g. ``"Subject_corr"``."""
        return f"{self.prefix}{self.factor}_corr"


@dataclass(frozen=True)
class Distributional:
    """An auxiliary parameter modelled by a formula of its own, e.g. ``sigma ~ x``.

    ``design`` encodes the formula's right-hand side on the same rows as the main design;
    its terms are named with the parameter as prefix (``sigma_Intercept``, ``sigma_x``,
    ``sigma_1|g``), so that they never clash with the main formula's. ``link`` names the link
    between the parameter and its linear predictor.
    """

    param: str
    formula: str
    link: str
    design: Design

    @property
    def prefix(self) -> str:
        return f"{self.param}_"


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
    blocks : tuple of GroupBlock
        The group terms with correlated effects (``(1 + x | g)``); the others are independent.
    n_dropped : int
        Rows removed because of missing values.
    state : DesignState or None
        What is needed to encode new data the same way.
    """

    formula: str
    response: Response
    common: np.ndarray
    common_terms: tuple[CommonTerm, ...]
    group_terms: tuple[GroupTerm, ...]
    n_dropped: int = 0
    state: DesignState | None = field(default=None, repr=False, compare=False)
    blocks: tuple[GroupBlock, ...] = ()
    distributional: tuple[Distributional, ...] = ()
    offset: Offset | None = None
    #: Observation weights (see ``_weights``) and the column of the training rows that has them.
    weights: np.ndarray | None = None
    weights_column: str | None = None

    @property
    def n_obs(self) -> int:
        return int(self.response.values.shape[0])

    @property
    def has_intercept(self) -> bool:
        return any(t.is_intercept for t in self.common_terms)

    def rows(self) -> NewDesign:
        """The training rows in the form :meth:`DesignState.encode` gives for new data."""
        groups = tuple(NewGroup(t.index.astype(np.int64), t.values, ()) for t in self.group_terms)
        return NewDesign(
            self.n_obs,
            self.common,
            groups,
            self.response.trials,
            tuple(d.design.rows() for d in self.distributional),
            offset=None if self.offset is None else self.offset.values,
        )

    def block_columns(self, block: GroupBlock) -> tuple[str, ...]:
        """A label for each column of a correlated block, e.g. ``("1|Subject", "Days|Subject")``.

        A term with several columns labels each as ``expr[level]|factor``.
        """
        labels = []
        for name in block.terms:
            term = next(t for t in self.group_terms if t.name == name)
            if term.expr_levels is None:
                labels.append(term.name)
            else:
                expr = term.name[: -len(term.factor) - 1]  # with a distributional prefix
                labels += [f"{expr}[{level}]|{term.factor}" for level in term.expr_levels]
        return tuple(labels)

    def correlation_names(self, block: GroupBlock) -> tuple[tuple[int, int, str], ...]:
        """``(i, j, name)`` of each correlation of a block, ``i < j``, in reading order.

        The name joins the two columns' labels: ``"1|Subject:Days|Subject_corr"``.
        """
        labels = self.block_columns(block)
        return tuple(
            (i, j, f"{labels[i]}:{labels[j]}_corr")
            for i in range(len(labels))
            for j in range(i + 1, len(labels))
        )

    def block_of(self, term: str) -> GroupBlock | None:
        """The correlated block that holds ``term``, if any."""
        return next((b for b in self.blocks if term in b.terms), None)

    def column_sd(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Standard deviation of each common column (``ddof=1``), weighted by the
        observation ``weights`` when given (see ``_weights.mean_sd``)."""
        return np.asarray(mean_sd(self.common, weights)[1], dtype=float)


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
    names = _names(categorical)
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


def _encode_categories(description: Any, data: pd.DataFrame, family: Family) -> Response:
    """The response of a family of categories, as codes ``0 .. K - 1`` of its categories.

    The categories of a pandas categorical keep their order (an ordered factor's order, or
    the order of its categories); other columns, integers or text, are sorted.
    """
    assert family.categories is not None
    if family.categories.counts:
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
    needed = family.categories.min_levels
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
    assert family.categories is not None
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
    needed = family.categories.min_levels
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


def threshold_labels(levels: Sequence[Any]) -> tuple[str, ...]:
    """The labels of the thresholds between consecutive categories: ``("1|2", "2|3", ...)``."""
    return tuple(f"{a}|{b}" for a, b in pairwise(levels))


def _replace_intercept(formula: str, design: Design, family: Family) -> Design:
    """An ordinal family's design: the intercept column dropped, the thresholds take its place.

    The other columns keep the coding formulae gave them with the intercept present, so a
    factor stays coded against its reference level.
    """
    if family.categories is None or not family.categories.ordinal or design.state is None:
        return design
    intercept = next((t for t in design.common_terms if t.is_intercept), None)
    if intercept is None:
        raise FormulaError(
            f"formula {formula!r} has no intercept, but family {family.name!r} needs one: its "
            "thresholds take the intercept's place (and a factor without it would be coded "
            "with all its levels, which the thresholds make unidentifiable). Remove '0 +' or "
            "'- 1' from the formula."
        )
    width = intercept.stop - intercept.start
    terms = tuple(
        t if t.stop <= intercept.start else replace(t, start=t.start - width, stop=t.stop - width)
        for t in design.common_terms
        if t is not intercept
    )
    dropped = tuple(range(intercept.start, intercept.stop))
    return replace(
        design,
        common=np.delete(design.common, dropped, axis=1),
        common_terms=terms,
        state=replace(design.state, dropped_columns=dropped),
    )


def _split_categories(formula: str, design: Design, family: Family) -> Design:
    """A multinomial logit's design: the formula once per category but the reference.

    Each copy is named with its linear predictor's prefix (``mub_Intercept``, ``mub_x``,
    ``muc_Intercept``, ...): the first is the design itself, the others its distributional
    parts, so that every part of the pipeline that handles distributional formulas
    (priors, backend, prediction, files) handles them.
    """
    if family.categories is None or design.state is None or design.response.levels is None:
        return design
    names = family.categories.predictor_names(design.response.levels)
    if not names:
        return design
    parts = tuple(
        Distributional(name, formula, "identity", _prefixed(design, f"{name}_"))
        for name in names[1:]
    )
    state = replace(design.state, distributional=tuple(p.design.state for p in parts))  # type: ignore[misc]
    return replace(_prefixed(design, f"{names[0]}_"), state=state, distributional=parts)


def _encode_response(
    description: Any, data: pd.DataFrame, env: Environment, family: Family
) -> Response:
    censored = censored_call(description.response.term)
    if censored is not None:
        name, values, censoring = encode_censored(censored, data, family)
        return Response(name, values, censoring=censoring)
    if family.categories is not None:
        return _encode_categories(description, data, family)
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
            with_trials = sorted(n for n, f in FAMILIES.items() if f.trials and not _counts(f))
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
    description: Any, data: pd.DataFrame, env: Environment, n: int, offsets: bool = True
) -> tuple[np.ndarray, tuple[CommonTerm, ...], list[Any], Any]:
    # Offsets are no columns (see _offsets); files before offsets kept them as columns.
    common_terms = [t for t in description.common_terms if not (offsets and is_offset(t))]
    if not common_terms:
        return np.zeros((n, 0)), (), [], None
    common_model = FormulaeModel(*common_terms)
    common_model.eval(data, env)
    matrix = CommonEffectsMatrix(common_model.common_terms)
    matrix.evaluate(data, env)
    terms = []
    for name, term in matrix.terms.items():
        span = matrix.slices[name]
        labels = tuple(str(label) for label in term.labels)
        levels = _column_levels(name, labels) if len(labels) > 1 else None
        terms.append(CommonTerm(str(name), labels, span.start, span.stop, levels))
    values = np.asarray(matrix.design_matrix, dtype=float)
    return values, tuple(terms), list(matrix.terms.values()), matrix


def _group_index(
    data: pd.DataFrame, names: Sequence[str]
) -> tuple[np.ndarray, tuple[str, ...], _FactorEncoder]:
    """Level index per row of a (possibly interacted) factor, over the observed levels only.

    Categorical columns keep their (already tidied) categories; others are sorted. For an
    interaction the levels are the observed combinations, in lexicographic order of the
    component levels (as lme4).
    """
    encoder = _FactorEncoder.fit(data, names)
    labels = [[str(level) for level in cats] for cats in encoder.categories]
    if encoder.keys is None:
        levels = tuple(labels[0])
    else:
        parts = np.unravel_index(encoder.keys, [len(c) for c in encoder.categories])
        levels = tuple(
            ":".join(labels[j][int(part[i])] for j, part in enumerate(parts))
            for i in range(len(encoder.keys))
        )
    return encoder.codes(data).astype(np.int32), levels, encoder


def _encode_group(
    description: Any, data: pd.DataFrame, env: Environment
) -> tuple[tuple[GroupTerm, ...], list[Any], tuple[_GroupEncoder, ...]]:
    group_terms = list(description.group_terms)
    has_intercept = {t.factor.name for t in group_terms if isinstance(t.expr, Intercept)}
    terms = []
    encoders = []
    for term in group_terms:
        factor_names = [component.name for component in term.factor.components]
        for component in term.factor.components:
            if not hasattr(component, "name") or component.name not in data.columns:
                raise FormulaError(
                    f"Grouping factor {term.factor.name!r} in {term.name!r} must be a column "
                    "or an interaction of columns, e.g. '(1|g)' or '(1|g1:g2)'."
                )
        index, levels, factor_encoder = _group_index(data, factor_names)
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
        name = _group_term_name(term)
        factor = str(term.factor.name)
        terms.append(GroupTerm(name, expr, factor, levels, index, values, columns))
        raw_expr = None if values is None else term.expr
        encoders.append(_GroupEncoder(name, factor, len(levels), factor_encoder, raw_expr))
    return tuple(terms), [t.expr for t in group_terms], tuple(encoders)


def _group_term_name(term: Any) -> str:
    """The name of a formulae group-specific term, e.g. ``"Days|Subject"``."""
    expr = "1" if isinstance(term.expr, Intercept) else str(term.expr.name)
    return f"{expr}|{term.factor.name}"


def _correlated_blocks(formula: str, terms: Sequence[GroupTerm]) -> tuple[GroupBlock, ...]:
    """The blocks of ``formula`` whose effects are correlated: ``|`` blocks of two or more
    columns (lme4's semantics; ``||`` blocks and single columns are independent).

    Raises
    ------
    FormulaError
        If a term is written in two blocks, or one factor has two correlated blocks.
    """
    columns = {t.name: len(t.columns) for t in terms}
    owner: dict[str, str] = {}
    blocks: list[GroupBlock] = []
    for bar in bar_blocks(formula):
        text = f"({bar.expr} {'|' if bar.correlated else '||'} {bar.factor})"
        names = [
            _group_term_name(t) for t in parse_formula(f"bmmresponse ~ 0 + {text}").group_terms
        ]
        for name in names:
            if name in owner:
                raise FormulaError(
                    f"formula {formula!r} has the group-specific term {name!r} in two blocks, "
                    f"{owner[name]} and {text}; write each term once."
                )
            owner[name] = text
        if not bar.correlated:
            continue
        # One block per factor: '(x | g1/g2)' is '(x | g1) + (x | g1:g2)'.
        factors = {t.name: t.factor for t in terms if t.name in names}
        for factor in dict.fromkeys(factors.values()):
            members = tuple(n for n in names if factors.get(n) == factor)
            if sum(columns[n] for n in members) < 2:
                continue
            if any(b.factor == factor for b in blocks):
                raise FormulaError(
                    f"formula {formula!r} has two blocks of correlated effects for the factor "
                    f"{factor!r}; join them into one, e.g. '(1 + x + z | {factor})', or make "
                    f"one independent with '||'."
                )
            blocks.append(GroupBlock(factor, members))
    return tuple(blocks)


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


@dataclass(frozen=True)
class NewGroup:
    """A group term evaluated on new rows.

    ``index`` holds fitted level codes ``0..L-1``; a level unseen at fit time gets code
    ``L + j``, where ``new_levels[j]`` is its label.
    """

    index: np.ndarray
    values: np.ndarray | None
    new_levels: tuple[str, ...]


@dataclass(frozen=True)
class NewDesign:
    """Rows encoded for prediction with the state learned at fit time."""

    n_obs: int
    common: np.ndarray
    groups: tuple[NewGroup, ...]
    trials: np.ndarray | None
    #: The rows of each distributional formula, in the design's order.
    distributional: tuple[NewDesign, ...] = ()
    #: The sum of the offset terms of each row; ``None`` without offsets.
    offset: np.ndarray | None = None


def _level_codes(values: np.ndarray, levels: pd.Index) -> tuple[np.ndarray, bool]:
    """Code of each value among the fitted ``levels``, -1 where none matches.

    New data often arrive as text (from JSON or CSV) where the training column held numbers,
    or the other way round: a value that matches no level as it is matches the level with
    the same text (``"2"`` for ``2``). Also returns whether any value was matched that way.
    """
    codes = _lookup(values, levels)
    missing = np.flatnonzero(codes < 0)
    if missing.size == 0:
        return codes, False
    as_text = pd.Index([str(level) for level in levels])
    if not as_text.is_unique:
        return codes, False
    text_codes = _lookup(np.asarray([str(v) for v in values[missing]], dtype=object), as_text)
    codes[missing] = text_codes
    return codes, bool((text_codes >= 0).any())


def _lookup(values: np.ndarray, levels: pd.Index) -> np.ndarray:
    """Position of each value in ``levels`` (-1 where absent).

    A few values (a prediction request) are looked up one by one in the index's hash table,
    which pandas builds once per index; many values go through ``get_indexer``.
    """
    if len(values) > 16:
        return np.asarray(levels.get_indexer(values), dtype=np.int64)
    codes = np.full(len(values), -1, dtype=np.int64)
    for i, value in enumerate(values):
        try:
            position = levels.get_loc(value)
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(position, int | np.integer):
            codes[i] = position
    return codes


def _column_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    return np.asarray(frame[name], dtype=object)


@dataclass(frozen=True, eq=False)
class _FactorEncoder:
    """Maps values of a (possibly interacted) grouping factor to fitted level codes."""

    components: tuple[str, ...]
    categories: tuple[pd.Index, ...]
    # For interactions: the observed combinations as sorted flat codes, and their level code.
    keys: np.ndarray | None
    key_level: np.ndarray | None

    @classmethod
    def fit(cls, data: pd.DataFrame, components: Sequence[str]) -> _FactorEncoder:
        categories = tuple(pd.Categorical(data[name]).categories for name in components)
        if len(components) == 1:
            return cls(tuple(components), categories, None, None)
        codes = [
            np.asarray(pd.Categorical(data[n], categories=c).codes)
            for n, c in zip(components, categories, strict=True)
        ]
        flat = np.ravel_multi_index(codes, [len(c) for c in categories])
        keys = np.unique(flat)  # sorted: the lexicographic order of _group_index
        return cls(tuple(components), categories, keys, np.arange(len(keys)))

    def codes(self, data: pd.DataFrame) -> np.ndarray:
        """Fitted level code of each row; -1 where the level was not seen at fit time."""
        codes = [
            _level_codes(_column_values(data, name), cats)[0]
            for name, cats in zip(self.components, self.categories, strict=True)
        ]
        if self.keys is None or self.key_level is None:
            return codes[0]
        known = np.logical_and.reduce([c >= 0 for c in codes])
        index = np.full(len(data), -1, dtype=np.int64)
        flat = np.ravel_multi_index([c[known] for c in codes], [len(c) for c in self.categories])
        position = np.clip(np.searchsorted(self.keys, flat), 0, len(self.keys) - 1)
        found = self.keys[position] == flat
        rows = np.flatnonzero(known)
        index[rows[found]] = self.key_level[position[found]]
        return index

    def labels(self, data: pd.DataFrame, rows: np.ndarray) -> list[str]:
        """Level labels of the given rows, as the fitted levels are written (``a:b``)."""
        parts = [data[name].to_numpy()[rows] for name in self.components]
        return [":".join(str(p[i]) for p in parts) for i in range(len(rows))]


@dataclass(frozen=True, eq=False)
class _GroupEncoder:
    name: str
    factor: str
    n_levels: int
    factor_encoder: _FactorEncoder
    expr: Any  # formulae term of the varying expression; None for intercepts


@dataclass(frozen=True, eq=False)
class DesignState:
    """What was learned from the training data, to encode new data the same way.

    It keeps formulae's evaluated terms (category levels, reference levels, and the state of
    transforms such as ``center(x)``), the fitted levels of every grouping factor, and the
    training rows themselves (the columns the formula uses, after missing values were handled),
    from which the state can be rebuilt.

    Attributes
    ----------
    formula : str
        The formula.
    frame : pandas.DataFrame or None
        The training rows, restricted to the columns the formula uses; ``None`` for a state
        loaded from a file saved without them.
    predictors : tuple of str
        The columns prediction needs (the formula's columns except the response).
    columns : dict
        For a state loaded from a file: what each of the formula's columns was at fit time,
        ``{"kind": "numeric", "dtype", "range": [min, max]}``, ``{"kind": "bool"}`` or
        ``{"kind": "categorical", "levels"}``. Empty for a state built from data, where
        ``frame`` has the columns themselves.
    """

    formula: str
    frame: pd.DataFrame | None
    predictors: tuple[str, ...]
    categorical: tuple[str, ...]
    common_matrix: Any
    n_common: int
    common_levels: dict[str, pd.Index]
    groups: tuple[_GroupEncoder, ...]
    trials_call: Any
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Columns of formulae's common matrix left out of the design: the intercept of an
    #: ordinal family, whose thresholds take its place.
    dropped_columns: tuple[int, ...] = ()
    #: The states of the distributional formulas, in the design's order.
    distributional: tuple[DesignState, ...] = ()
    #: formulae's offset terms (see ``_offsets``), evaluated again on new rows.
    offsets: tuple[Any, ...] = ()
    #: A multinomial response's columns of counts, whose sum is a new row's number of trials.
    count_columns: tuple[str, ...] = ()

    @property
    def trials_column(self) -> str | None:
        """The column holding the number of trials of a binomial response, if any."""
        if self.trials_call is None:
            return None
        argument = self.trials_call.call.args[1]
        return getattr(argument, "name", None)

    def encode(self, data: pd.DataFrame) -> NewDesign:
        """Encode new rows for prediction.

        Raises
        ------
        DataError
            If ``data`` lacks a column the formula uses, has missing values there, or has a
            level of a categorical common predictor that was not seen at fit time. Unseen levels
            of grouping factors are not an error here; they get new codes (see
            :class:`NewGroup`).
        """
        data = _as_frame(data)
        missing = [name for name in self.predictors if name not in data.columns]
        if missing:
            raise DataError(
                f"data must have the column(s) {missing} that formula {self.formula!r} uses "
                f"to predict; got columns {[str(c) for c in data.columns][:20]}."
            )
        frame = data[list(self.predictors)]
        if self.categorical:
            frame = _as_categorical(frame, [c for c in self.categorical if c in frame])
        incomplete = frame.isna()
        if incomplete.to_numpy().any():
            counts = {str(c): int(n) for c, n in incomplete.sum().items() if n}
            raise DataError(
                f"data must have a value in every row of the columns the formula uses; got "
                f"missing values in {counts}. Fill them in or drop those rows before predicting."
            )
        frame = self._align_common_levels(frame)
        splines = _formulae_terms(self.common_matrix, self.groups, None)
        check_spline_bounds(splines, frame, self.formula)
        n = len(frame)
        if self.common_matrix is None:
            common = np.zeros((n, 0))
        else:
            try:
                common = self.common_matrix.evaluate_new_data(frame).design_matrix
            except Exception as err:  # formulae's evaluation of calls on the new data
                raise DataError(
                    f"Could not evaluate formula {self.formula!r} on the new data: {err}"
                ) from None
            common = np.asarray(common, dtype=float).reshape(n, self.n_common)
            if self.dropped_columns:
                common = np.delete(common, self.dropped_columns, axis=1)
        # Terms of one factor share its level codes: (1|g) and (x|g) encode g once.
        factors: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
        for group in self.groups:
            if group.factor not in factors:
                factors[group.factor] = _factor_index(group, frame)
        groups = []
        for group in self.groups:
            index, new_levels = factors[group.factor]
            groups.append(NewGroup(index, _expr_values(group, frame), new_levels))
        trials = None
        if self.trials_call is not None:
            column = self.trials_column
            if column is None or column in data.columns:
                source = data if column is None else data[[column]]
                trials = np.asarray(self.trials_call.eval_new_data_proportion(source), dtype=float)
        if self.count_columns and all(c in data.columns for c in self.count_columns):
            # A multinomial row's number of trials: the sum of its counts.
            trials = np.asarray(data[list(self.count_columns)], dtype=float).sum(axis=1)
        subs = tuple(state.encode(data) for state in self.distributional)
        offset = new_offset(self.offsets, frame, self.formula)
        return NewDesign(n, common, tuple(groups), trials, subs, offset=offset)

    def _align_common_levels(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Check the levels of categorical common predictors, matching text to numbers.

        Raises a DataError for a level not seen at fit time; returns the frame with values
        matched by their text replaced by the fitted levels, which formulae then encodes.
        """
        aligned = {}
        for name, levels in self.common_levels.items():
            values = _column_values(frame, name)
            codes, by_text = _level_codes(values, levels)
            if (codes < 0).any():
                raise DataError(
                    f"The categorical predictor {name!r} has level(s) "
                    f"{describe_values(pd.unique(values[codes < 0]))} in the new data that "
                    f"were not seen at fit time; its levels are "
                    f"{describe_values(levels, limit=10)}. The model has no effect for an "
                    "unseen level of a common predictor."
                )
            if by_text:
                aligned[name] = levels.to_numpy(dtype=object)[codes]
        return frame.assign(**aligned) if aligned else frame


def _factor_index(group: _GroupEncoder, frame: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Fitted level codes of a grouping factor; unseen level ``j`` gets ``n_levels + j``."""
    index = group.factor_encoder.codes(frame)
    unseen = np.flatnonzero(index < 0)
    if not unseen.size:
        return index, ()
    labels = group.factor_encoder.labels(frame, unseen)
    new_levels = tuple(dict.fromkeys(labels))
    position = {label: j for j, label in enumerate(new_levels)}
    index[unseen] = [group.n_levels + position[label] for label in labels]
    return index, new_levels


def _expr_values(group: _GroupEncoder, frame: pd.DataFrame) -> np.ndarray | None:
    """The predictor columns of a group term on new rows; ``None`` for intercepts."""
    if group.expr is None:
        return None
    try:
        values = np.asarray(group.expr.eval_new_data(frame), dtype=float)
    except Exception as err:
        raise DataError(
            f"Could not evaluate {group.name!r} of formula on the new data: {err}"
        ) from None
    return values.reshape(len(frame), -1)


def _common_levels(raw_terms: Iterable[Any]) -> dict[str, pd.Index]:
    """The fitted levels of each plain categorical column used by common terms."""
    levels: dict[str, pd.Index] = {}
    for term in raw_terms:
        for component in getattr(term, "components", []):
            is_variable = type(component).__name__ == "Variable"
            if is_variable and getattr(component, "kind", None) == "categoric":
                levels[str(component.name)] = pd.Index(list(component.levels), dtype=object)
    return levels


def build_design(
    formula: str,
    data: pd.DataFrame,
    family: Family,
    categorical: str | Sequence[str] | None = None,
    dropna: bool = False,
    distributional: Mapping[str, tuple[str, str]] | None = None,
    weights: Any = None,
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
    weights : str or array-like, optional
        A column of observation weights, or one weight per row of ``data``: each row's
        log-likelihood is multiplied by its weight (see ``_weights``).
    distributional : mapping, optional
        ``{param: (terms, link)}``: auxiliary parameters modelled by formulas of their own,
        e.g. ``{"sigma": ("x + (1|g)", "log")}`` (see :class:`Distributional`). Their
        columns count as the formula's for missing values.

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
    lhs = formula.split("~", 1)[0].strip()
    subs = {
        param: (f"{lhs} ~ {terms}", link) for param, (terms, link) in (distributional or {}).items()
    }
    sub_descriptions = {
        param: _as_written(text, f"{param} ~ {distributional[param][0]}", parse_formula, text)  # type: ignore[index]
        for param, (text, _) in subs.items()
    }
    for param, sub in sub_descriptions.items():
        sub_needed = {name for name in sub.var_names if name}
        _check_columns(f"{param} ~ {distributional[param][0]}", sub_needed, data)  # type: ignore[index]
        needed |= sub_needed
    data, weights_column = add_weights(weights, data, family)
    needed |= {weights_column} if weights_column is not None else set()
    data = _as_categorical(data, categorical)
    data = data[[c for c in data.columns if c in needed]]
    data = fill_unused_upper(description, data)
    data, n_dropped = _handle_missing(data, dropna)
    data = _tidy_categories(data)
    design = _encode_formula(formula, description, data, family, categorical, n_dropped)
    if weights_column is not None:
        values = weight_values(data[weights_column], weights_column)
        design = replace(design, weights=values, weights_column=weights_column)
    design = _replace_intercept(formula, design, family)
    design = _split_categories(formula, design, family)
    if not subs:
        return design
    parts = tuple(
        Distributional(
            param,
            f"{param} ~ {distributional[param][0]}",  # type: ignore[index]
            link,
            _prefixed(
                _as_written(
                    text,
                    f"{param} ~ {distributional[param][0]}",  # type: ignore[index]
                    _encode_formula,
                    text,
                    sub_descriptions[param],
                    data,
                    family,
                    categorical,
                    0,
                ),
                f"{param}_",
            ),
        )
        for param, (text, link) in subs.items()
    )
    assert design.state is not None
    state = replace(design.state, distributional=tuple(p.design.state for p in parts))  # type: ignore[misc]
    return replace(design, state=state, distributional=parts)


def _as_written(text: str, written: str, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, with errors quoting the distributional formula as the user wrote it
    (``sigma ~ z``), not as it is encoded (``y ~ z``, with the main formula's response)."""
    try:
        return function(*args)
    except (FormulaError, DataError) as err:
        raise type(err)(str(err).replace(repr(text), repr(written))) from None


def _prefixed(design: Design, prefix: str) -> Design:
    """``design`` with every term (and block) named with ``prefix``."""
    return replace(
        design,
        common_terms=tuple(replace(t, name=prefix + t.name) for t in design.common_terms),
        group_terms=tuple(replace(t, name=prefix + t.name) for t in design.group_terms),
        blocks=tuple(
            GroupBlock(b.factor, tuple(prefix + t for t in b.terms), prefix) for b in design.blocks
        ),
    )


def _encode_formula(
    formula: str,
    description: Any,
    data: pd.DataFrame,
    family: Family,
    categorical: str | Sequence[str] | None,
    n_dropped: int,
) -> Design:
    """Encode the (complete, tidied) rows of ``data`` as ``description`` says."""
    # Formulas see the data's columns and numpy as `np`, nothing of the caller's scope.
    env = Environment([{"np": _Numpy()}])

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
        common, common_terms, common_raw, common_matrix = _encode_common(
            description, data, env, len(data)
        )
        group_terms, group_raw, group_encoders = _encode_group(description, data, env)
        offsets = offset_terms(description, formula)
        offset = encode_offset(offsets, data, env, formula)
    except (DataError, FormulaError):
        raise
    except Exception as err:  # formulae evaluation errors: bad calls, unknown functions
        raise FormulaError(f"Could not evaluate formula {formula!r} on data: {err}") from None

    _check_categorical_levels(formula, [*common_raw, *group_raw])
    _check_constant_columns(common, common_terms)
    _check_group_levels(group_terms)
    blocks = _correlated_blocks(formula, group_terms)
    response_term = description.response.term
    predictors = tuple(c for c in data.columns if c in _predictor_names(description))
    state = DesignState(
        formula=formula,
        frame=data,
        predictors=predictors,
        categorical=_names(categorical),
        common_matrix=common_matrix,
        n_common=common.shape[1],
        common_levels=_common_levels(common_raw),
        groups=group_encoders,
        trials_call=(
            response_term.components[0]
            if response.trials is not None and not _counts(family)
            else None
        ),
        count_columns=tuple(response.levels or ()) if _counts(family) else (),
        offsets=tuple(offsets),
    )
    return Design(
        formula=formula,
        response=response,
        common=common,
        common_terms=common_terms,
        group_terms=group_terms,
        n_dropped=n_dropped,
        state=state,
        blocks=blocks,
        offset=offset,
    )


def _names(columns: str | Sequence[str] | None) -> tuple[str, ...]:
    if columns is None:
        return ()
    return (columns,) if isinstance(columns, str) else tuple(columns)


def _predictor_names(description: Any) -> set[str]:
    """The columns the right-hand side of the formula uses."""
    names: set[str] = set()
    for term in description.common_terms:
        names |= set(term.var_names)
    for term in description.group_terms:
        names |= set(term.expr.var_names) | set(term.factor.var_names)
    return names


# --- writing a design to JSON and reading it back ---------------------------------------------


def _describe_columns(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """What each column was at fit time, enough to rebuild formulae's terms without the data.

    Numeric columns keep their dtype and range (a stand-in frame takes its values from the
    range, where every function the formula applies is defined); categorical columns keep
    their levels in coding order.
    """
    columns: dict[str, dict[str, Any]] = {}
    for name in frame.columns:
        column = frame[name]
        where = f"column {name!r}"
        if isinstance(column.dtype, pd.CategoricalDtype):
            levels = column.cat.categories.tolist()
            columns[str(name)] = {"kind": "categorical", "levels": encode_value(levels, where)}
        elif pd.api.types.is_bool_dtype(column.dtype):
            columns[str(name)] = {"kind": "bool"}
        elif pd.api.types.is_numeric_dtype(column.dtype):
            values = column.to_numpy(dtype=float)
            columns[str(name)] = {
                "kind": "numeric",
                "dtype": column.to_numpy().dtype.str,
                "range": [encode_value(values.min(), where), encode_value(values.max(), where)],
                # Whole numbers (counts, even in a float column): the stand-in keeps them whole.
                "integral": bool(np.all(np.mod(values, 1) == 0)),
            }
        else:
            levels = pd.Categorical(column).categories.tolist()
            columns[str(name)] = {"kind": "categorical", "levels": encode_value(levels, where)}
    return columns


def _stand_in_frame(columns: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """A small frame of the same column kinds, on which formulae builds the same terms.

    The terms' learned state is then overwritten with the stored one, so the values here only
    need the right kinds and a valid domain: numeric columns run evenly from their minimum to
    their maximum, categorical ones cycle through their levels.
    """
    levels = {
        name: decode_value(c["levels"]) for name, c in columns.items() if c["kind"] == "categorical"
    }
    n = max([4, *(len(v) for v in levels.values())])
    data: dict[str, Any] = {}
    for name, column in columns.items():
        if column["kind"] == "numeric":
            low, high = (decode_value(v) for v in column["range"])
            values = np.linspace(low, high, n)
            dtype = np.dtype(column["dtype"])
            whole = dtype.kind in "iu" or column.get("integral", False)
            data[name] = (np.round(values) if whole else values).astype(dtype)
        elif column["kind"] == "bool":
            data[name] = np.arange(n) % 2 == 1
        else:
            values = levels[name]
            data[name] = pd.Categorical(
                [values[i % len(values)] for i in range(n)], categories=values, ordered=True
            )
    return pd.DataFrame(data)


def _restore_dtypes(frame: pd.DataFrame, columns: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Give stored training rows their fit-time dtypes back (categories and their order)."""
    frame = frame.copy()
    for name, column in columns.items():
        if column["kind"] == "categorical":
            levels = decode_value(column["levels"])
            # Matched by text: the file stores the values as text or numbers.
            codes = pd.Index([str(v) for v in levels]).get_indexer(
                [str(v) for v in frame[name].to_numpy(dtype=object)]
            )
            if np.any(codes < 0):
                raise ValueError(f"column {name!r} has values outside its stored levels")
            frame[name] = pd.Categorical.from_codes(codes, categories=levels, ordered=True)
        elif column["kind"] == "bool":
            frame[name] = frame[name].astype(bool)
    return frame


#: The numpy functions a formula read from a file may call (as ``np.<name>``): elementwise
#: maths only. Everything else a formula can call is one of formulae's own transforms.
SAFE_NUMPY = (
    "abs", "absolute", "arccos", "arcsin", "arctan", "cbrt", "ceil", "clip", "cos", "cosh",
    "exp", "exp2", "expm1", "floor", "log", "log10", "log1p", "log2", "maximum", "minimum",
    "power", "reciprocal", "rint", "round", "sign", "sin", "sinh", "sqrt", "square", "tan",
    "tanh", "trunc",
)  # fmt: skip


class _Numpy:
    """numpy as formulas see it (``np.log(x)``): a module cannot be pickled, this can, so
    designs, models and scikit-learn estimators pickle."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Numpy, ())


def _safe_environment() -> Environment:
    """The namespace of formulas read from files: ``np`` with :data:`SAFE_NUMPY` alone."""
    safe = {n: getattr(np, n) for n in SAFE_NUMPY}
    # Spline knots, e.g. bs(x, knots=np.linspace(2, 8, 4)), with a bounded number of points.
    return Environment([{"np": SimpleNamespace(**safe, linspace=file_linspace)}])


def check_formula_calls(description: Any, formula: str) -> None:
    """Refuse a formula (from a file) that calls anything but safe maths and formulae's transforms.

    formulae resolves dotted call names attribute by attribute, so an unchecked formula could
    reach any function; a formula in a file is data and must not be able to run code.
    """
    from formulae.categorical import ENCODINGS
    from formulae.transforms import TRANSFORMS

    allowed = set(TRANSFORMS) | set(ENCODINGS) | {f"np.{name}" for name in SAFE_NUMPY}
    allowed.add("np.linspace")  # bounded in files: see _splines.file_linspace
    allowed.add("censored")  # read by bayesmm itself (_censoring), never called
    allowed.add("c")  # a multinomial response's columns, read by bayesmm itself
    terms = [*description.common_terms]
    if description.response is not None:
        terms.append(description.response.term)
    for term in description.group_terms:
        terms += [term.expr, term.factor]
    for term in terms:
        for component in getattr(term, "components", []) or []:
            for call in _lazy_calls(getattr(component, "call", None)):
                if str(call.callee) not in allowed:
                    safe = ", ".join(SAFE_NUMPY)
                    raise ValueError(
                        f"formula {formula!r} calls {call.callee}(), which a model file may not "
                        f"call; allowed are formulae's transforms and np.{{{safe}}}"
                    )


def _formulae_terms(common_matrix: Any, groups: Sequence[_GroupEncoder], trials_call: Any) -> list:
    terms = list(common_matrix.terms.values()) if common_matrix is not None else []
    terms += [g.expr for g in groups if g.expr is not None]
    if trials_call is not None:
        terms.append(trials_call)
    return terms


def design_to_dict(design: Design) -> dict[str, Any]:
    """Everything needed to encode new data as ``design`` does, as JSON-ready values.

    The training rows themselves are not included (see :func:`design_from_dict`).

    Raises
    ------
    bayesmm._jsonvalues.UnsupportedValueError
        If a level or a transform's state cannot be written as JSON.
    """
    state = design.state
    if state is None:
        raise ValueError("This design has no state to save.")
    return {
        "formula": design.formula,
        "response": {
            "name": design.response.name,
            "event": design.response.event,
            "trials": design.response.trials is not None,
            **_categories_to_dict(design),
        },
        "n_obs": design.n_obs,
        "n_dropped": design.n_dropped,
        "common_terms": [
            {
                "name": t.name,
                "columns": list(t.columns),
                "start": t.start,
                "stop": t.stop,
                "levels": None if t.levels is None else list(t.levels),
            }
            for t in design.common_terms
        ],
        "group_terms": [
            {
                "name": t.name,
                "expr": t.expr,
                "factor": t.factor,
                "levels": list(t.levels),
                "columns": list(t.columns),
            }
            for t in design.group_terms
        ],
        "blocks": [
            {"factor": b.factor, "terms": list(b.terms), "prefix": b.prefix} for b in design.blocks
        ],
        "distributional": [
            {
                "param": d.param,
                "formula": d.formula,
                "link": d.link,
                "design": design_to_dict(d.design),
            }
            for d in design.distributional
        ],
        **({"weights": design.weights_column} if design.weights_column is not None else {}),
        # Only with offsets: a file without the entry keeps offset() as a column (format 1).
        **({"offsets": list(design.offset.terms)} if design.offset is not None else {}),
        "predictors": list(state.predictors),
        "categorical": list(state.categorical),
        "n_common": state.n_common,
        "columns": state.columns or _describe_columns(state.frame),
        "factors": [
            {
                "components": list(g.factor_encoder.components),
                "categories": [
                    encode_value(list(c), f"levels of {g.factor!r}")
                    for c in g.factor_encoder.categories
                ],
                "keys": encode_value(g.factor_encoder.keys),
                "key_level": encode_value(g.factor_encoder.key_level),
            }
            for g in state.groups
        ],
        "formulae": dump_state(
            [*_formulae_terms(state.common_matrix, state.groups, state.trials_call), *state.offsets]
        ),
    }


def _counts(family: Family) -> bool:
    """Whether the family's response is a count of each category (multinomial)."""
    return family.categories is not None and family.categories.counts


def _categories_to_dict(design: Design) -> dict[str, Any]:
    """The categories of the response and the dropped intercept column, for families of
    categories; nothing for the others, so that their files are as before."""
    response, state = design.response, design.state
    if response.levels is None:
        return {}
    where = f"the categories of the response {response.name!r}"
    return {
        "levels": encode_value(list(response.levels), where),
        "dropped_columns": list(state.dropped_columns) if state is not None else [],
    }


def _stored_levels(response: Response, stored: dict[str, Any]) -> Response:
    """The response with the stored categories (checked against the training rows' own)."""
    if "levels" not in stored:
        return response
    levels = tuple(decode_value(stored["levels"]))
    if response.levels is not None and [str(v) for v in response.levels] != [
        str(v) for v in levels
    ]:
        raise ValueError(
            f"the stored training rows give the categories {list(response.levels)} of the "
            f"response, not the stored {list(levels)}"
        )
    return replace(response, levels=levels)


def design_from_dict(
    spec: dict[str, Any], family: Family, frame: pd.DataFrame | None = None
) -> Design:
    """Rebuild a :class:`Design` from :func:`design_to_dict`'s output.

    formulae builds the terms of the formula on a stand-in frame, and the stored state (levels,
    contrasts, transform parameters, grouping-factor levels) replaces what it learned there.
    With ``frame`` (the training rows), the design also holds the training rows, so predictions
    without new data work; without it, it can only encode new rows.

    Raises
    ------
    ValueError, KeyError
        If the stored description is incomplete or does not fit the formula; the caller words
        the error for its source.
    """
    formula = spec["formula"]
    description = parse_formula(formula)
    check_formula_calls(description, formula)
    columns = spec["columns"]
    stand_in = _stand_in_frame(columns)
    env = _safe_environment()
    trials_call = None
    # What formulae learns from the stand-in is replaced below; its warnings (e.g. poly() on
    # few distinct values) are not about the user's data.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with_offsets = "offsets" in spec
        _, _, _, common_matrix = _encode_common(
            description, stand_in, env, len(stand_in), offsets=with_offsets
        )
        _, _, built_groups = _encode_group(description, stand_in, env)
        offsets = offset_terms(description, formula) if with_offsets else []
        encode_offset(offsets, stand_in, env, formula)
        if spec["response"]["trials"] and not _counts(family):
            trials_call = description.response.term.components[0]
            trials_call.set_type(stand_in, env)
            trials_call.set_data()
    apply_state(
        [*_formulae_terms(common_matrix, built_groups, trials_call), *offsets], spec["formulae"]
    )

    groups = []
    for built, term, factor in zip(built_groups, spec["group_terms"], spec["factors"], strict=True):
        keys = decode_value(factor["keys"])
        encoder = _FactorEncoder(
            tuple(factor["components"]),
            tuple(pd.Index(decode_value(c)) for c in factor["categories"]),
            keys,
            decode_value(factor["key_level"]),
        )
        groups.append(
            _GroupEncoder(term["name"], term["factor"], len(term["levels"]), encoder, built.expr)
        )
    if frame is not None:
        frame = _restore_dtypes(frame[list(columns)], columns)
    # Files before distributional formulas have none.
    subs = tuple(
        Distributional(
            d["param"], d["formula"], d["link"], design_from_dict(d["design"], family, frame)
        )
        for d in spec.get("distributional", [])
    )
    state = DesignState(
        formula=formula,
        frame=frame,
        predictors=tuple(spec["predictors"]),
        categorical=tuple(spec["categorical"]),
        common_matrix=common_matrix,
        n_common=int(spec["n_common"]),
        common_levels=_common_levels(common_matrix.terms.values() if common_matrix else []),
        groups=tuple(groups),
        trials_call=trials_call,
        count_columns=tuple(spec["response"].get("levels", ())) if _counts(family) else (),
        columns=columns,
        offsets=tuple(offsets),
        distributional=tuple(d.design.state for d in subs),  # type: ignore[misc]
    )
    common_terms = tuple(
        CommonTerm(
            t["name"],
            tuple(t["columns"]),
            int(t["start"]),
            int(t["stop"]),
            None if t["levels"] is None else tuple(t["levels"]),
        )
        for t in spec["common_terms"]
    )
    stored = spec["response"]
    state = replace(state, dropped_columns=tuple(stored.get("dropped_columns", ())))
    if frame is None:
        n = 0
        response = Response(
            stored["name"], np.zeros(0), np.zeros(0) if stored["trials"] else None, stored["event"]
        )
        rows = NewDesign(
            0,
            np.zeros((0, state.n_common - len(state.dropped_columns))),
            tuple(
                NewGroup(
                    np.zeros(0, dtype=np.int64),
                    None if t["expr"] == "1" else np.zeros((0, len(t["columns"]))),
                    (),
                )
                for t in spec["group_terms"]
            ),
            None,
        )
    else:
        n = len(frame)
        response = _encode_response(description, frame, env, family)
        if response.name != stored["name"] or response.event != stored["event"]:
            raise ValueError(
                f"the stored training rows give response {response.name!r} "
                f"(event {response.event!r}), not {stored['name']!r} (event {stored['event']!r})"
            )
        rows = state.encode(frame)
    response = _stored_levels(response, stored)
    group_terms = tuple(
        GroupTerm(
            t["name"],
            t["expr"],
            t["factor"],
            tuple(t["levels"]),
            rows.groups[i].index.astype(np.int32),
            rows.groups[i].values,
            tuple(t["columns"]),
        )
        for i, t in enumerate(spec["group_terms"])
    )
    if n and any(len(g.new_levels) for g in rows.groups):
        raise ValueError("the stored training rows have grouping levels the model does not")
    return Design(
        formula=formula,
        response=response,
        common=rows.common,
        common_terms=common_terms,
        group_terms=group_terms,
        n_dropped=int(spec["n_dropped"]),
        state=state,
        # Files of format 1 predate correlated effects: their group effects are independent.
        blocks=tuple(
            GroupBlock(b["factor"], tuple(b["terms"]), b.get("prefix", ""))
            for b in spec.get("blocks", [])
        ),
        distributional=subs,
        offset=_stored_offset(offsets, rows.offset, n),
        weights=_stored_weights(spec, frame),
        weights_column=spec.get("weights"),
    )


def _stored_offset(terms: Sequence[Any], values: np.ndarray | None, n: int) -> Offset | None:
    """The offset of a design read from a file: of its training rows, or of none."""
    if not terms:
        return None
    return Offset(tuple(str(t.name) for t in terms), values if values is not None else np.zeros(n))


def _stored_weights(spec: dict[str, Any], frame: pd.DataFrame | None) -> np.ndarray | None:
    """The weights of a design read from a file, from its training rows (if it has them)."""
    column = spec.get("weights")
    return None if column is None or frame is None else weight_values(frame[column], column)
