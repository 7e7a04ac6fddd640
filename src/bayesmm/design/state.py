"""New rows encoded as at fit time: ``DesignState`` and the ``NewDesign`` it gives.

``DesignState`` keeps what the training data taught formulae (levels, contrasts, the state of
transforms), the fitted levels of every grouping factor and the training rows, and encodes
new rows with them; a level of a grouping factor unseen at fit time gets a new code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import describe_values, did_you_mean, evaluation_reason
from ..persist.values import decode_value, encode_value
from .autocorrelation import SeriesState, encode_series
from .columns import ColumnSummary, describe_columns
from .known_sd import known_sd_rows
from .offsets import new_offset
from .plain_rows import PlainRows
from .splines import check_spline_bounds
from .truncation import truncation_rows
from .types import Design, KnownSD, NewDesign, NewGroup, NewImputation, Truncation


def as_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas.DataFrame with one row per observation; "
            f"got {type(data).__name__}."
        )
    if data.shape[0] == 0:
        raise DataError("data must have at least one row; got an empty DataFrame.")
    duplicated = data.columns[data.columns.duplicated()] if not data.columns.is_unique else ()
    if len(duplicated):
        raise DataError(
            f"data must have unique column names; got the column(s) "
            f"{describe_values(pd.unique(duplicated))} more than once. Rename or drop them."
        )
    return data


def check_finite(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a DataError naming the first numeric column with an infinite value and its rows
    (missing values are handled before, by ``dropna``)."""
    for name in columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(column.dtype)
            and not pd.api.types.is_bool_dtype(column.dtype)
        ):
            continue
        values = column.to_numpy(dtype=float)
        bad = np.isinf(values)
        if bad.any():
            rows = frame.index[bad]
            raise DataError(
                f"{what} has infinite values in the column {name!r}: "
                f"{describe_values(values[bad])} in {int(bad.sum())} row(s), index "
                f"{describe_values(rows)}. Predictors must be finite numbers."
            )


def check_numeric(frame: pd.DataFrame, name: str) -> pd.Series:
    """A new column of a predictor that was numeric at fit time, as numbers.

    Raises
    ------
    DataError
        Naming the column and the rows whose values are not numbers (text, say).
    """
    column = frame[name]
    if pd.api.types.is_numeric_dtype(column.dtype) and not isinstance(
        column.dtype, pd.CategoricalDtype
    ):
        return column
    numbers = pd.to_numeric(column.astype(object), errors="coerce")
    bad = numbers.isna() & column.notna()
    if bad.any():
        raise DataError(
            f"data's column {name!r} must hold numbers, as it did at fit time; got "
            f"{describe_values(pd.unique(column[bad].astype(object)))} in {int(bad.sum())} "
            f"row(s), index {describe_values(frame.index[bad.to_numpy()])}."
        )
    return numbers.astype(float)


def as_categorical(data: pd.DataFrame, categorical: str | Sequence[str] | None) -> pd.DataFrame:
    if categorical is None:
        return data
    names = column_names(categorical)
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
class FactorEncoder:
    """Maps values of a (possibly interacted) grouping factor to fitted level codes."""

    components: tuple[str, ...]
    categories: tuple[pd.Index, ...]
    # For interactions: the observed combinations as sorted flat codes, and their level code.
    keys: np.ndarray | None
    key_level: np.ndarray | None

    @classmethod
    def fit(cls, data: pd.DataFrame, components: Sequence[str]) -> FactorEncoder:
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

    def to_dict(self, factor: str) -> dict[str, Any]:
        """JSON-ready values; ``factor`` names the factor in errors.

        Raises
        ------
        bayesmm.persist.values.UnsupportedValueError
            If a level cannot be written as JSON.
        """
        return {
            "components": list(self.components),
            "categories": [encode_value(list(c), f"levels of {factor!r}") for c in self.categories],
            "keys": encode_value(self.keys),
            "key_level": encode_value(self.key_level),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> FactorEncoder:
        """The inverse of :meth:`to_dict`."""
        return cls(
            tuple(record["components"]),
            tuple(pd.Index(decode_value(c)) for c in record["categories"]),
            decode_value(record["keys"]),
            decode_value(record["key_level"]),
        )

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
class GroupEncoder:
    name: str
    factor: str
    n_levels: int
    factor_encoder: FactorEncoder
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
    columns : dict of str to ColumnSummary
        For a state loaded from a file: what each of the formula's columns was at fit time
        (a file holds their JSON form, :meth:`ColumnSummary.to_dict`). Empty for a state
        built from data, where ``frame`` has the columns themselves; see
        :meth:`column_summaries`.
    """

    formula: str
    frame: pd.DataFrame | None
    predictors: tuple[str, ...]
    categorical: tuple[str, ...]
    common_matrix: Any
    n_common: int
    common_levels: dict[str, pd.Index]
    groups: tuple[GroupEncoder, ...]
    trials_call: Any
    columns: dict[str, ColumnSummary] = field(default_factory=dict)
    #: Columns of formulae's common matrix left out of the design: the intercept of an
    #: ordinal family, whose thresholds take its place.
    dropped_columns: tuple[int, ...] = ()
    #: The states of the distributional formulas, in the design's order.
    distributional: tuple[DesignState, ...] = ()
    #: formulae's offset terms (see ``design.offsets``), evaluated again on new rows.
    offsets: tuple[Any, ...] = ()
    #: A multinomial response's columns of counts, whose sum is a new row's number of trials.
    count_columns: tuple[str, ...] = ()
    #: A truncated response's bounds as written (numbers or columns); ``None`` without.
    truncation: Truncation | None = None
    #: The response as written, which names it in errors.
    response_name: str = ""
    #: The ``mi()`` columns: each one's column in the common matrix and its model's state.
    imputed: tuple[ImputedState, ...] = ()
    #: An ``se()`` response's column of standard errors, as written; ``None`` without.
    known_sd: KnownSD | None = None
    #: The training series of an ``ar()``/``cosy()`` term; ``None`` without one.
    series: SeriesState | None = None

    @property
    def response_kinds(self) -> tuple[str, ...]:
        """The kinds of the response its state knows (:data:`~bayesmm.design.TERM_KINDS`):
        ``"trunc"``, ``"se"``."""
        kind = self.series.term.kind if self.series is not None else "ar"
        present = (("trunc", self.truncation), ("se", self.known_sd), (kind, self.series))
        return tuple(name for name, part in present if part is not None)

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
        data = as_frame(data)
        plain = self.plain_rows.encode(data) if self.plain_rows is not None else None
        if plain is not None:  # numpy alone (design.plain_rows); the same arrays as below
            return self._new_design(data, *plain)
        return self.encode_with_formulae(data)

    @cached_property
    def plain_rows(self) -> PlainRows | None:
        """How new rows of this formula are encoded without formulae; ``None`` when a term
        has a shape that only formulae encodes (see :mod:`bayesmm.design.plain_rows`)."""
        return PlainRows.of(self)

    def encode_with_formulae(self, data: pd.DataFrame) -> NewDesign:
        """:meth:`encode` through formulae and pandas, whatever the formula's terms: the
        general path, which the fast one falls back to and is checked against."""
        data = as_frame(data)
        optional = [i.column for i in self.imputed]
        # An imputed column may be missing, in some rows or all of them (left out).
        data = data.assign(**{c: np.nan for c in optional if c not in data.columns})
        missing = [name for name in self.predictors if name not in data.columns]
        if missing:
            raise DataError(
                f"data must have the column(s) {missing} that formula {self.formula!r} uses "
                f"to predict; got columns {[str(c) for c in data.columns][:20]}."
            )
        frame = data[list(self.predictors)]
        if self.categorical:
            frame = as_categorical(frame, [c for c in self.categorical if c in frame])
        numeric = [name for name in self.predictors if self.was_numeric(name)]
        if numeric:
            frame = frame.assign(**{name: check_numeric(frame, name) for name in numeric})
        incomplete = frame.drop(columns=[c for c in optional if c in frame]).isna()
        if incomplete.to_numpy().any():
            counts = {str(c): int(n) for c, n in incomplete.sum().items() if n}
            raise DataError(
                f"data must have a value in every row of the columns the formula uses; got "
                f"missing values in {counts}. Fill them in or drop those rows before predicting."
            )
        check_finite(frame, numeric, "data")
        frame = self._align_common_levels(frame)
        splines = formulae_terms(self.common_matrix, self.groups, None)
        check_spline_bounds(splines, frame, self.formula)
        n = len(frame)
        if self.common_matrix is None:
            common = np.zeros((n, 0))
        else:
            try:
                common = self.common_matrix.evaluate_new_data(frame).design_matrix
            except Exception as err:  # formulae's evaluation of calls on the new data
                raise DataError(
                    f"Could not evaluate formula {self.formula!r} on the new data: "
                    f"{evaluation_reason(err)}"
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
        return self._new_design(data, n, common, tuple(groups), frame)

    def _new_design(
        self,
        data: pd.DataFrame,
        n: int,
        common: np.ndarray,
        groups: tuple[NewGroup, ...],
        frame: pd.DataFrame | None = None,
    ) -> NewDesign:
        """The rows' design from their common matrix and group terms: the parts read from
        ``data`` itself (trials, distributional formulas, bounds, standard errors), and those
        read from the checked predictors ``frame`` (offsets, ``mi()``), which a formula
        encoded without formulae has none of."""
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
        offset: np.ndarray | None = None
        imputed: tuple[NewImputation, ...] = ()
        if frame is not None:
            offset = new_offset(self.offsets, frame, self.formula)
            imputed = tuple(self._imputation(i, frame, data) for i in self.imputed)
        truncation = None
        if self.truncation is not None and set(self.truncation.columns) <= set(data.columns):
            truncation = truncation_rows(self.truncation, data, self.response_name)
        known = None
        column = self.known_sd.column if self.known_sd is not None else None
        if column in data.columns and data[column].notna().all():  # else: the mean alone
            known = known_sd_rows(self.known_sd, data, self.response_name).values  # type: ignore[arg-type]
        series = None if self.series is None else encode_series(self.series, data)
        return NewDesign(
            n, common, groups, trials, subs, offset, truncation, imputed, known, series
        )

    @staticmethod
    def _imputation(
        imputed: ImputedState, frame: pd.DataFrame, data: pd.DataFrame
    ) -> NewImputation:
        """An ``mi()`` column on new rows; its model encodes them only if some lack it."""
        missing = frame[imputed.column].isna().to_numpy()
        rows = imputed.state.encode(data) if missing.any() else None
        return NewImputation(imputed.index, missing, rows)

    @property
    def response_columns(self) -> tuple[str, ...]:
        """Columns that predictive draws of the response need besides the predictors: the
        number of trials of a binomial response, the bounds of a truncated one, the standard
        errors of an ``se()`` one."""
        columns = [self.trials_column] if self.trials_column is not None else []
        if self.truncation is not None:
            columns += self.truncation.columns
        if self.known_sd is not None:
            columns.append(self.known_sd.column)
        if self.series is not None:
            columns += self.series.term.columns
        return tuple(dict.fromkeys(columns))

    def was_numeric(self, name: str) -> bool:
        """Whether the predictor ``name`` held numbers (not bools, not categories) at fit
        time."""
        if name in self.categorical or name in self.common_levels:
            return False
        if self.frame is not None and name in self.frame:
            column = self.frame[name]
            return (
                pd.api.types.is_numeric_dtype(column.dtype)
                and not pd.api.types.is_bool_dtype(column.dtype)
                and not isinstance(column.dtype, pd.CategoricalDtype)
            )
        summary = self.columns.get(name)
        return summary is not None and summary.kind == "numeric"

    def column_summaries(self) -> dict[str, ColumnSummary]:
        """What each of the formula's columns was at fit time: the stored summaries, or
        those of the training rows."""
        if self.columns or self.frame is None:
            return dict(self.columns)
        return describe_columns(self.frame)

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


@dataclass(frozen=True)
class ImputedState:
    """An ``mi()`` column: its name, its position in the common matrix, and the state of its
    model, which encodes new rows for imputing it."""

    column: str
    index: int
    state: DesignState


def _factor_index(group: GroupEncoder, frame: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
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


def _expr_values(group: GroupEncoder, frame: pd.DataFrame) -> np.ndarray | None:
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


def common_levels(raw_terms: Iterable[Any]) -> dict[str, pd.Index]:
    """The fitted levels of each plain categorical column used by common terms."""
    levels: dict[str, pd.Index] = {}
    for term in raw_terms:
        for component in getattr(term, "components", []):
            is_variable = type(component).__name__ == "Variable"
            if is_variable and getattr(component, "kind", None) == "categoric":
                levels[str(component.name)] = pd.Index(list(component.levels), dtype=object)
    return levels


def formulae_terms(common_matrix: Any, groups: Sequence[GroupEncoder], trials_call: Any) -> list:
    terms = list(common_matrix.terms.values()) if common_matrix is not None else []
    terms += [g.expr for g in groups if g.expr is not None]
    if trials_call is not None:
        terms.append(trials_call)
    return terms


def column_names(columns: str | Sequence[str] | None) -> tuple[str, ...]:
    if columns is None:
        return ()
    return (columns,) if isinstance(columns, str) else tuple(columns)


def rows_to_predict(design: Design, data: pd.DataFrame | None) -> NewDesign:
    """The rows a prediction is for, encoded: ``data``'s, or the training rows (``None``).

    Raises
    ------
    DataError
        For the training rows of a design kept without them, or new rows of a design
        without a state to encode them with; and as :meth:`DesignState.encode`.
    """
    if data is None:
        check_training_rows(design)
        return design.rows()
    if design.state is None:
        raise DataError("This design has no state to encode new data with.")
    return design.state.encode(data)


def check_training_rows(design: Design) -> None:
    """Raise a ``DataError`` if ``design`` was saved without its training rows."""
    if design.n_obs == 0:
        raise DataError(
            "This model was saved without its training rows (posterior_only=True), so it "
            "cannot predict for them: pass data, the rows to predict for."
        )


def training_frame(design: Design) -> pd.DataFrame:
    """The rows ``design`` was built from (the columns its formulas use).

    Raises
    ------
    DataError
        For a design kept without them (``posterior_only=True``).
    """
    check_training_rows(design)
    if design.state is None or design.state.frame is None:
        raise DataError("This model has no training rows.")
    return design.state.frame
