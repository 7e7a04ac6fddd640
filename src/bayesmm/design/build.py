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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import BayesmmWarning, DataError, FormulaError
from .._validation import did_you_mean, evaluation_reason
from ..families import Family, get_family
from ..formula import parse_formula
from .autocorrelation import check_series_family, read_series, with_series
from .censoring import fill_unused_upper
from .gps import GP, GaussianProcess, check_gps
from .group_calls import read_group_calls
from .kinds import read_kind_calls, registered_kinds, with_kinds
from .known_sd import check_known_sd_family, known_sd_rows, read_known_sd
from .missing import (
    MISSING,
    Missing,
    check_missing,
    check_missing_only_in_main,
    check_no_missing_elsewhere,
    encode_imputations,
)
from .monotonic import MONOTONIC, Monotonic, check_monotonic
from .offsets import encode_offset, offset_terms
from .response import encode_response
from .smooths import SMOOTH, Smooth, check_smooths
from .state import (
    DesignState,
    ImputedState,
    as_categorical,
    as_frame,
    check_finite,
    column_names,
    common_levels,
)
from .terms import (
    check_categorical_levels,
    check_constant_columns,
    check_group_levels,
    correlated_blocks,
    encode_common,
    encode_group,
)
from .truncation import truncation_of
from .types import Design, Distributional, GroupBlock, KnownSD
from .weights import add_weights, weight_values

if TYPE_CHECKING:
    from ..formula import Formula

__all__ = ["build_design", "formula_design", "prefixed_design", "DroppedRowsWarning"]

_log = logging.getLogger("bayesmm")


def _check_columns(formula: str, needed: Iterable[str], data: pd.DataFrame) -> None:
    columns = [str(c) for c in data.columns]
    for name in sorted(needed):
        if name not in data.columns:
            hint = did_you_mean(name, columns) or f" Columns are {columns[:20]}."
            raise FormulaError(
                f"formula {formula!r} uses {name!r}, which is not a column of data.{hint}"
            )


def _check_no_dates(formula: str, description: Any, data: pd.DataFrame) -> None:
    """A date or duration column is neither a number nor a category to a formula (formulae
    says only "unrecognized type"); it may be a grouping factor, which only compares values."""
    factors = {name for term in description.group_terms for name in term.factor.var_names}
    valued = {name for term in description.group_terms for name in term.expr.var_names}
    for name in sorted(set(description.var_names) - (factors - valued)):
        if not name or name not in data.columns:
            continue
        dtype = data[name].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise DataError(
                f"data's column {name!r} holds dates or durations ({dtype}), which formula "
                f"{formula!r} cannot use as a number or a category. Convert it first: e.g. "
                f"days since the first, (data[{name!r}] - data[{name!r}].min()).dt.days, or "
                f"a category, data[{name!r}].astype(str)."
            )


def _handle_missing(
    data: pd.DataFrame, dropna: bool, imputed: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, int]:
    missing = data.drop(columns=list(imputed)).isna()  # mi() columns are imputed, not dropped
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


def _replace_intercept(formula: str, design: Design, family: Family) -> Design:
    """An ordinal family's design: the intercept column dropped, the thresholds take its place.

    The other columns keep the coding formulae gave them with the intercept present, so a
    factor stays coded against its reference level.
    """
    if not family.is_ordinal() or design.state is None:
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
    if design.state is None:
        return design
    names = family.predictor_names(design.response.levels)
    if not names:
        return design
    parts = tuple(
        Distributional(name, formula, "identity", prefixed_design(design, f"{name}_"))
        for name in names[1:]
    )
    state = replace(design.state, distributional=tuple(p.design.state for p in parts))  # type: ignore[misc]
    return replace(prefixed_design(design, f"{names[0]}_"), state=state, distributional=parts)


def build_design(
    formula: str,
    data: pd.DataFrame,
    family: Family,
    categorical: str | Sequence[str] | None = None,
    dropna: bool = False,
    distributional: Mapping[str, tuple[str, str]] | None = None,
    weights: Any = None,
    imputation: Mapping[str, str] | None = None,
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
        log-likelihood is multiplied by its weight (see :mod:`~bayesmm.design.weights`).
    distributional : mapping, optional
        ``{param: (terms, link)}``: auxiliary parameters modelled by formulas of their own,
        e.g. ``{"sigma": ("x + (1|g)", "log")}`` (see :class:`Distributional`). Their
        columns count as the formula's for missing values.
    imputation : mapping, optional
        ``{column: terms}``: the model of each ``mi(column)`` of the formula, e.g.
        ``{"x": "z"}`` (see :mod:`bayesmm.design.missing`); those columns may have missing
        values, and their models' columns count as the formula's.

    Returns
    -------
    Design

    Raises
    ------
    FormulaError, DataError
        For malformed formulas, missing columns, missing values, single-level factors,
        constant predictors, or responses outside the family's support.
    """
    data = as_frame(data)
    written, formula, known, found = _read_calls(formula, family, bool(distributional))
    formula, series = read_series(formula)
    formula = read_group_calls(formula)[0]
    series = check_series_family(series, family, bool(distributional), data)
    distributional, found = _read_part_calls(distributional, found)
    description = parse_formula(formula)
    needed = {name for name in description.var_names if name}
    needed |= {known.column} if known is not None else set()
    needed |= set(series.columns) if series is not None else set()
    _check_columns(formula, needed, data)
    _check_no_dates(formula, description, data)
    lhs = formula.split("~", 1)[0].strip()
    subs = {
        param: (f"{lhs} ~ {terms}", link) for param, (terms, link) in (distributional or {}).items()
    }
    sub_descriptions = {
        param: _as_written(text, f"{param} ~ {distributional[param][0]}", parse_formula, text)
        for param, (text, _) in subs.items()
    }
    for param, sub in sub_descriptions.items():
        sub_needed = {name for name in sub.var_names if name}
        _check_columns(f"{param} ~ {distributional[param][0]}", sub_needed, data)
        needed |= sub_needed
    imputation = dict(imputation or {})
    for column, terms in imputation.items():
        text = f"{column} ~ {terms}"
        sub_needed = {name for name in parse_formula(text).var_names if name}
        _check_columns(text, sub_needed, data)
        needed |= sub_needed
    data, weights_column = add_weights(weights, data, family)
    needed |= {weights_column} if weights_column is not None else set()
    data = as_categorical(data, categorical)
    data = data[[c for c in data.columns if c in needed]]
    data = fill_unused_upper(description, data)
    data, n_dropped = _handle_missing(data, dropna, tuple(imputation))
    check_missing(description, data, tuple(imputation))
    used = _predictor_names(description).union(
        *(_predictor_names(sub) for sub in sub_descriptions.values())
    )
    check_finite(data, [c for c in data.columns if c in used], "data")
    for each in (description, *sub_descriptions.values()):
        check_monotonic(each, data)  # before the categories are tidied (and all ordered)
        check_smooths(each, data)
        check_gps(each, data)
    data = _tidy_categories(data)
    design = _encode_formula(written, description, data, family, categorical, n_dropped)
    design = _with_known_sd(design, known, data)
    if weights_column is not None:
        values = weight_values(data[weights_column], weights_column)
        design = replace(design, weights=values, weights_column=weights_column)
    design = with_series(design, series, data)
    design = _replace_intercept(formula, design, family)
    design = _split_categories(formula, design, family)
    for sub in sub_descriptions.values():
        check_missing_only_in_main(sub)
    design = _imputed(with_kinds(design, found), imputation, data, categorical, family)
    if not subs:
        return design
    parts = tuple(
        _distributional_part(
            param, terms, link, subs[param][0], sub_descriptions[param], data, family, categorical
        )
        for param, (terms, link) in (distributional or {}).items()
    )
    parts = tuple(replace(p, design=with_kinds(p.design, found, f"{p.param}_")) for p in parts)
    assert design.state is not None
    state = replace(design.state, distributional=tuple(p.design.state for p in parts))  # type: ignore[misc]
    return replace(design, state=state, distributional=parts)


def formula_design(
    formula: Formula,
    data: pd.DataFrame,
    family: Family,
    links: Mapping[str, str],
    categorical: str | Sequence[str] | None = None,
    dropna: bool = False,
    weights: Any = None,
) -> Design:
    """:func:`build_design` of a :class:`~bayesmm.Formula` (what ``Model`` encodes): its
    main formula, each distributional formula with its parameter's link from ``links``, and
    the models of its ``mi()`` columns."""
    distributional = {p: (terms, links[p]) for p, terms in formula.distributional.items()}
    return build_design(
        formula.main,
        data,
        family,
        categorical=categorical,
        dropna=dropna,
        distributional=distributional,
        weights=weights,
        imputation=formula.imputation,
    )


def _read_calls(
    formula: str, family: Family, has_parts: bool
) -> tuple[str, str, KnownSD | None, dict[str, dict[str, float]]]:
    """The formula as written, as formulae reads it (an ``se()`` response as its column, the
    terms of registered kinds without their options), the ``se()`` call, and the kinds'
    options by term (:mod:`~bayesmm.design.kinds`): the design keeps the formula as written."""
    text, known = read_known_sd(formula)
    text, found = read_kind_calls(text)
    if known is not None:
        check_known_sd_family(family.name, has_parts)
    return formula, text, known, found


def _with_known_sd(design: Design, known: KnownSD | None, data: pd.DataFrame) -> Design:
    """``design`` with an ``se(y, sei)`` response's standard error of each row, and the
    column's name in its state."""
    if known is None or design.state is None:
        return design
    known = known_sd_rows(known, data, design.response.name)
    state = replace(design.state, known_sd=replace(known, values=np.zeros(0)))
    return replace(design, response=replace(design.response, known_sd=known), state=state)


def _read_part_calls(
    distributional: Mapping[str, tuple[str, str]] | None, found: dict[str, dict[str, float]]
) -> tuple[dict[str, tuple[str, str]], dict[str, dict[str, float]]]:
    """The distributional formulas with their calls of registered kinds read
    (:func:`~bayesmm.design.kinds.read_kind_calls`), and those calls' options with
    ``found``'s."""
    parts = {}
    for param, (terms, link) in (distributional or {}).items():
        text, more = read_kind_calls(terms)
        text, linked = read_group_calls(text)
        if linked:
            raise FormulaError(
                f"{linked[0].written} in the formula of {param!r}: an id links the terms of "
                "the responses' main formulas; a distributional formula's cannot be linked yet."
            )
        clash = [k for k in more if k in found and found[k] != more[k]]
        if clash:
            raise FormulaError(f"{clash[0]} is written with different options in two formulas.")
        parts[param], found = (text, link), {**found, **more}
    return parts, found


def _distributional_part(
    param: str,
    terms: str,
    link: str,
    text: str,
    description: Any,
    data: pd.DataFrame,
    family: Family,
    categorical: str | Sequence[str] | None,
) -> Distributional:
    """The design of one distributional formula on the main formula's rows, its terms
    prefixed with the parameter's name (``sigma_x``). ``text`` is the formula as encoded,
    with the main formula's response; errors quote it as written (``sigma ~ x``)."""
    written = f"{param} ~ {terms}"
    design = _as_written(
        text, written, _encode_formula, text, description, data, family, categorical, 0
    )
    return Distributional(param, written, link, prefixed_design(design, f"{param}_"))


def _imputed(
    design: Design,
    imputation: Mapping[str, str],
    data: pd.DataFrame,
    categorical: str | Sequence[str] | None,
    family: Family,
) -> Design:
    """``design`` with the model of each ``mi()`` column (gaussian, its terms prefixed with
    the column's name, ``x_Intercept``)."""
    if not imputation:
        return design
    if family.has_category_predictors():
        raise FormulaError(
            f"mi() is for families with one linear predictor; family {family.name!r} has one "
            "per category. Impute the column before fitting."
        )
    gaussian = get_family("gaussian")

    def encode(text: str, rows: pd.DataFrame) -> Design:
        column = text.split("~", 1)[0].strip()
        description = _as_written(text, text, parse_formula, text)
        sub = _as_written(
            text, text, _encode_formula, text, description, rows, gaussian, categorical, 0
        )
        return prefixed_design(sub, f"{column}_")

    imputations = encode_imputations(imputation, data, encode)
    check_no_missing_elsewhere(design, imputations)
    index = {t.imputed: t.start for t in design.common_terms if t.imputed is not None}
    assert design.state is not None
    states = tuple(ImputedState(i.column, index[i.column], i.design.state) for i in imputations)  # type: ignore[arg-type]
    return replace(design, imputed=imputations, state=replace(design.state, imputed=states))


def _as_written(text: str, written: str, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, with errors quoting the distributional formula as the user wrote it
    (``sigma ~ z``), not as it is encoded (``y ~ z``, with the main formula's response)."""
    try:
        return function(*args)
    except (FormulaError, DataError) as err:
        raise type(err)(str(err).replace(repr(text), repr(written))) from None


def prefixed_design(design: Design, prefix: str) -> Design:
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
    env = _formula_environment()
    try:
        response = encode_response(description, data, env, family)
    except (DataError, FormulaError):
        raise
    except Exception as err:  # formulae's own checks of the response, e.g. in p(s, n)
        raise DataError(
            f"The response {str(description.response.term.name)!r} of formula {formula!r} is "
            f"invalid: {evaluation_reason(err)}"
        ) from None
    try:
        common, common_terms, common_raw, common_matrix = encode_common(
            description, data, env, len(data)
        )
        group_terms, group_raw, group_encoders = encode_group(description, data, env)
        offsets = offset_terms(description, formula)
        offset = encode_offset(offsets, data, env, formula)
    except (DataError, FormulaError):
        raise
    except Exception as err:  # formulae evaluation errors: bad calls, unknown functions
        raise FormulaError(
            f"Could not evaluate formula {formula!r} on data: {evaluation_reason(err)}"
        ) from None

    check_categorical_levels(formula, [*common_raw, *group_raw])
    check_constant_columns(common, common_terms)
    check_group_levels(group_terms)
    blocks = correlated_blocks(read_group_calls(formula)[0], group_terms)
    response_term = description.response.term
    predictors = tuple(c for c in data.columns if c in _predictor_names(description))
    state = DesignState(
        formula=formula,
        frame=data,
        predictors=predictors,
        categorical=column_names(categorical),
        common_matrix=common_matrix,
        n_common=common.shape[1],
        common_levels=common_levels(common_raw),
        groups=group_encoders,
        trials_call=(
            response_term.components[0]
            if response.trials is not None and not family.counts_each_category()
            else None
        ),
        count_columns=tuple(response.levels or ()) if family.counts_each_category() else (),
        truncation=truncation_of(response_term),
        response_name=response.name,
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


def _formula_environment() -> Any:
    """The names a formula may call: numpy as ``np`` and bayesmm's transforms."""
    from formulae.environment import Environment

    # Formulas see the data's columns and numpy as `np`, nothing of the caller's scope.
    return Environment(
        [
            {
                "np": _Numpy(),
                MONOTONIC: Monotonic,
                SMOOTH: Smooth,
                GP: GaussianProcess,
                MISSING: Missing,
                **registered_kinds(),
            }
        ]
    )


def _predictor_names(description: Any) -> set[str]:
    """The columns the right-hand side of the formula uses."""
    names: set[str] = set()
    for term in description.common_terms:
        names |= set(term.var_names)
    for term in description.group_terms:
        names |= set(term.expr.var_names) | set(term.factor.var_names)
    return names


class _Numpy:
    """numpy as formulas see it (``np.log(x)``): a module cannot be pickled, this can, so
    designs, models and scikit-learn estimators pickle."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Numpy, ())
