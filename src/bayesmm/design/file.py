"""A ``Design`` written to JSON and read back (the design entry of a model file).

``design_to_dict`` writes what formulae learned, the grouping factors' levels and a
description of each column; ``design_from_dict`` has formulae build the same terms on a
small stand-in frame and sets the stored state back onto them. Formulas read from files see
only the numpy functions of :data:`SAFE_NUMPY` (``check_formula_calls``).

Each record writes its own part (``CommonTerm.to_dict``, ``GroupBlock.to_dict``,
``FactorEncoder.to_dict``, ...); this module puts the parts together and rebuilds formulae's
terms.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..families import Family, get_family
from ..formula import parse_formula
from ..persist.values import decode_value, encode_value
from .autocorrelation import SeriesRows, SeriesState, read_series, series_rows
from .columns import ColumnSummary
from .formulae_state import apply_state, dump_state, lazy_calls
from .gps import GP, GaussianProcess
from .kinds import formulae_text, registered_kinds
from .known_sd import known_sd_rows, read_known_sd
from .missing import MISSING, Missing, filled
from .monotonic import MONOTONIC, Monotonic
from .offsets import encode_offset, offset_terms
from .response import encode_response
from .smooths import SMOOTH, Smooth
from .splines import file_linspace
from .state import (
    DesignState,
    FactorEncoder,
    GroupEncoder,
    ImputedState,
    common_levels,
    formulae_terms,
)
from .terms import encode_common, encode_group
from .truncation import truncation_of
from .types import (
    CommonTerm,
    Design,
    Distributional,
    GroupBlock,
    GroupTerm,
    Imputation,
    NewDesign,
    NewGroup,
    Offset,
    Response,
)
from .weights import weight_values

if TYPE_CHECKING:
    from formulae.environment import Environment

__all__ = ["design_to_dict", "design_from_dict", "check_formula_calls", "SAFE_NUMPY"]


def _stand_in_frame(columns: dict[str, ColumnSummary]) -> pd.DataFrame:
    """A small frame of the same column kinds, on which formulae builds the same terms.

    The terms' learned state is then overwritten with the stored one, so the values here only
    need the right kinds and a valid domain: numeric columns run evenly from their minimum to
    their maximum, categorical ones cycle through their levels.
    """
    levels = {name: list(c.levels) for name, c in columns.items() if c.kind == "categorical"}
    n = max([4, *(len(v) for v in levels.values())])
    data: dict[str, Any] = {}
    for name, column in columns.items():
        if column.kind == "numeric":
            low, high = column.range  # type: ignore[misc]
            values = np.linspace(low, high, n)
            data[name] = (np.round(values) if column.whole else values).astype(column.dtype)
        elif column.kind == "bool":
            data[name] = np.arange(n) % 2 == 1
        else:
            cycle = levels[name]
            data[name] = pd.Categorical(
                [cycle[i % len(cycle)] for i in range(n)], categories=cycle, ordered=True
            )
    return pd.DataFrame(data)


def _restore_dtypes(frame: pd.DataFrame, columns: dict[str, ColumnSummary]) -> pd.DataFrame:
    """Give stored training rows their fit-time dtypes back (categories and their order)."""
    frame = frame.copy()
    for name, column in columns.items():
        if column.kind == "categorical":
            levels = list(column.levels)
            # Matched by text: the file stores the values as text or numbers.
            codes = pd.Index([str(v) for v in levels]).get_indexer(
                [str(v) for v in frame[name].to_numpy(dtype=object)]
            )
            if np.any(codes < 0):
                raise ValueError(f"column {name!r} has values outside its stored levels")
            frame[name] = pd.Categorical.from_codes(codes, categories=levels, ordered=True)
        elif column.kind == "bool":
            frame[name] = frame[name].astype(bool)
    return frame


#: The numpy functions a formula read from a file may call (as ``np.<name>``): elementwise
#: maths only. Everything else a formula can call is one of formulae's own transforms.
SAFE_NUMPY = (
    "abs",
    "absolute",
    "arccos",
    "arcsin",
    "arctan",
    "cbrt",
    "ceil",
    "clip",
    "cos",
    "cosh",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "log",
    "log10",
    "log1p",
    "log2",
    "maximum",
    "minimum",
    "power",
    "reciprocal",
    "rint",
    "round",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "tan",
    "tanh",
    "trunc",
)


def _safe_environment() -> Environment:
    """The namespace of formulas read from files: ``np`` with :data:`SAFE_NUMPY` alone."""
    from formulae.environment import Environment

    safe = {n: getattr(np, n) for n in SAFE_NUMPY}
    # Spline knots, e.g. bs(x, knots=np.linspace(2, 8, 4)), with a bounded number of points.
    return Environment(
        [
            {
                "np": SimpleNamespace(**safe, linspace=file_linspace),
                MONOTONIC: Monotonic,
                SMOOTH: Smooth,
                GP: GaussianProcess,
                MISSING: Missing,
                # Kinds of term registered in this process: a file's kinds are registered
                # only under the trust rules before its design is read (docs/io.md).
                **registered_kinds(),
            }
        ]
    )


def check_formula_calls(description: Any, formula: str) -> None:
    """Refuse a formula (from a file) that calls anything but safe maths and formulae's transforms.

    formulae resolves dotted call names attribute by attribute, so an unchecked formula could
    reach any function; a formula in a file is data and must not be able to run code.
    """
    from formulae.categorical import ENCODINGS
    from formulae.transforms import TRANSFORMS

    allowed = set(TRANSFORMS) | set(ENCODINGS) | {f"np.{name}" for name in SAFE_NUMPY}
    allowed.add("np.linspace")  # bounded in files: see design.splines.file_linspace
    allowed.add("censored")  # read by bayesmm itself (design.censoring), never called
    allowed.update(("trunc", "truncated"))  # read by bayesmm itself (truncation), never called
    allowed.update((MONOTONIC, SMOOTH, GP, MISSING))  # bayesmm's own transforms: data only
    allowed.update(registered_kinds())  # registered kinds (a file's, only once trusted)
    allowed.add("c")  # a multinomial response's columns, read by bayesmm itself
    terms = [*description.common_terms]
    if description.response is not None:
        terms.append(description.response.term)
    for term in description.group_terms:
        terms += [term.expr, term.factor]
    for term in terms:
        for component in getattr(term, "components", []) or []:
            for call in lazy_calls(getattr(component, "call", None)):
                if str(call.callee) not in allowed:
                    safe = ", ".join(SAFE_NUMPY)
                    raise ValueError(
                        f"formula {formula!r} calls {call.callee}(), which a model file may not "
                        f"call; allowed are formulae's transforms and np.{{{safe}}}"
                    )


def design_to_dict(design: Design) -> dict[str, Any]:
    """Everything needed to encode new data as ``design`` does, as JSON-ready values.

    The training rows themselves are not included (see :func:`design_from_dict`).

    Raises
    ------
    bayesmm.persist.values.UnsupportedValueError
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
        "common_terms": [t.to_dict() for t in design.common_terms],
        "group_terms": [t.to_dict() for t in design.group_terms],
        "blocks": [b.to_dict() for b in design.blocks],
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
        # Only with mi() terms: the model of each imputed column.
        **(
            {
                "imputed": [
                    {
                        "column": i.column,
                        "formula": i.formula,
                        "index": next(
                            t.start for t in design.common_terms if t.imputed == i.column
                        ),
                        "design": design_to_dict(i.design),
                    }
                    for i in design.imputed
                ]
            }
            if design.imputed
            else {}
        ),
        # Only with ar() or cosy(): the training series, which forecasts continue.
        **({"series": state.series.to_dict()} if state.series is not None else {}),
        # Only with offsets: a file without the entry keeps offset() as a column (format 1).
        **({"offsets": list(design.offset.terms)} if design.offset is not None else {}),
        "predictors": list(state.predictors),
        "categorical": list(state.categorical),
        "n_common": state.n_common,
        "columns": {
            name: column.to_dict(f"column {name!r}")
            for name, column in state.column_summaries().items()
        },
        "factors": [g.factor_encoder.to_dict(g.factor) for g in state.groups],
        "formulae": dump_state(
            [*formulae_terms(state.common_matrix, state.groups, state.trials_call), *state.offsets]
        ),
    }


def _stored_columns(spec: dict[str, Any]) -> dict[str, ColumnSummary]:
    """The column summaries of a design's JSON form (:func:`design_to_dict`)."""
    return {name: ColumnSummary.from_dict(c) for name, c in spec["columns"].items()}


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


def _rebuild_terms(
    spec: dict[str, Any], description: Any, family: Family
) -> tuple[Any, tuple[Any, ...], list[Any], Any]:
    """formulae's terms of the formula, built on a stand-in frame and given the stored state:
    the common matrix, the group terms, the offset terms and the trials' call."""
    formula = spec["formula"]
    stand_in = _stand_in_frame(_stored_columns(spec))
    env = _safe_environment()
    trials_call = None
    # What formulae learns from the stand-in is replaced below; its warnings (e.g. poly() on
    # few distinct values) are not about the user's data.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with_offsets = "offsets" in spec
        _, _, _, common_matrix = encode_common(
            description, stand_in, env, len(stand_in), offsets=with_offsets
        )
        _, _, built_groups = encode_group(description, stand_in, env)
        offsets = offset_terms(description, formula) if with_offsets else []
        encode_offset(offsets, stand_in, env, formula)
        if spec["response"]["trials"] and not family.counts_each_category():
            trials_call = description.response.term.components[0]
            trials_call.set_type(stand_in, env)
            trials_call.set_data()
    apply_state(
        [*formulae_terms(common_matrix, built_groups, trials_call), *offsets], spec["formulae"]
    )
    return common_matrix, built_groups, offsets, trials_call


def _state_from_dict(
    spec: dict[str, Any],
    family: Family,
    frame: pd.DataFrame | None,
    subs: tuple[Distributional, ...],
) -> DesignState:
    """The design's state: formulae's terms with the stored state, and the factors' encoders."""
    formula = spec["formula"]
    description = parse_formula(formulae_text(formula))
    check_formula_calls(description, formula)
    common_matrix, built_groups, offsets, trials_call = _rebuild_terms(spec, description, family)
    groups = tuple(
        GroupEncoder(
            term["name"],
            term["factor"],
            len(term["levels"]),
            FactorEncoder.from_dict(factor),
            built.expr,
        )
        for built, term, factor in zip(
            built_groups, spec["group_terms"], spec["factors"], strict=True
        )
    )
    return DesignState(
        formula=formula,
        frame=frame,
        predictors=tuple(spec["predictors"]),
        categorical=tuple(spec["categorical"]),
        common_matrix=common_matrix,
        n_common=int(spec["n_common"]),
        common_levels=common_levels(common_matrix.terms.values() if common_matrix else []),
        groups=groups,
        trials_call=trials_call,
        count_columns=(
            tuple(spec["response"].get("levels", ())) if family.counts_each_category() else ()
        ),
        columns=_stored_columns(spec),
        offsets=tuple(offsets),
        distributional=tuple(d.design.state for d in subs),  # type: ignore[misc]
        dropped_columns=tuple(spec["response"].get("dropped_columns", ())),
        truncation=truncation_of(getattr(description.response, "term", None)),
        response_name=spec["response"]["name"],
        known_sd=read_known_sd(formula)[1],
        series=_stored_series(spec, formula),
    )


def _stored_series(spec: dict[str, Any], formula: str) -> SeriesState | None:
    """The training series of an ``ar()``/``cosy()`` term, as stored; ``None`` without."""
    term = read_series(read_known_sd(formula)[0])[1]
    return None if term is None else SeriesState.from_dict(term, spec["series"])


def _no_rows(spec: dict[str, Any], state: DesignState) -> tuple[Response, NewDesign]:
    """The response and rows of a design saved without its training rows: none."""
    stored = spec["response"]
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
    return response, rows


def _training_rows(
    spec: dict[str, Any], state: DesignState, frame: pd.DataFrame, family: Family
) -> tuple[Response, NewDesign]:
    """The response and rows of the stored training rows, checked against the stored design."""
    stored = spec["response"]
    description = parse_formula(formulae_text(spec["formula"]))
    response = encode_response(description, frame, _safe_environment(), family)
    if response.name != stored["name"] or response.event != stored["event"]:
        raise ValueError(
            f"the stored training rows give response {response.name!r} "
            f"(event {response.event!r}), not {stored['name']!r} (event {stored['event']!r})"
        )
    if state.known_sd is not None:
        response = replace(response, known_sd=known_sd_rows(state.known_sd, frame, response.name))
    rows = state.encode(frame)
    if any(len(g.new_levels) for g in rows.groups):
        raise ValueError("the stored training rows have grouping levels the model does not")
    return response, rows


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
    columns = _stored_columns(spec)
    if frame is not None:
        frame = _restore_dtypes(frame[list(columns)], columns)
    # Files before distributional formulas have none.
    subs = tuple(
        Distributional(
            d["param"], d["formula"], d["link"], design_from_dict(d["design"], family, frame)
        )
        for d in spec.get("distributional", [])
    )
    state = _state_from_dict(spec, family, frame, subs)
    imputed = _stored_imputations(spec, frame)
    if imputed:
        states = tuple(
            ImputedState(i.column, int(d["index"]), i.design.state)  # type: ignore[arg-type]
            for i, d in zip(imputed, spec["imputed"], strict=True)
        )
        state = replace(state, imputed=states)
    if frame is None:
        response, rows = _no_rows(spec, state)
    else:
        response, rows = _training_rows(spec, state, frame, family)
    n = 0 if frame is None else len(frame)
    return Design(
        formula=spec["formula"],
        response=_stored_levels(response, spec["response"]),
        common=rows.common,
        common_terms=tuple(CommonTerm.from_dict(t) for t in spec["common_terms"]),
        group_terms=tuple(
            GroupTerm.from_dict(t, rows.groups[i].index, rows.groups[i].values)
            for i, t in enumerate(spec["group_terms"])
        ),
        n_dropped=int(spec["n_dropped"]),
        state=state,
        # Files of format 1 predate correlated effects: their group effects are independent.
        blocks=tuple(GroupBlock.from_dict(b) for b in spec.get("blocks", [])),
        distributional=subs,
        offset=_stored_offset(state.offsets, rows.offset, n),
        weights=_stored_weights(spec, frame),
        weights_column=spec.get("weights"),
        imputed=imputed,
        series=None if frame is None or state.series is None else _layout(state.series, frame),
    )


def _layout(state: SeriesState, frame: pd.DataFrame) -> SeriesRows:
    """The training rows' layout in their series, checked against the stored series."""
    stored, rows = series_rows(state.term, frame)
    if stored.labels != state.labels or not np.array_equal(stored.last, state.last):
        raise ValueError("the stored training rows have other series than the model")
    return rows


def _stored_imputations(spec: dict[str, Any], frame: pd.DataFrame | None) -> tuple[Imputation, ...]:
    """The models of the ``mi()`` columns of a design read from a file, on its training rows
    (each column's missing values at its mean, as when fitted) or on none."""
    gaussian = get_family("gaussian")
    out = []
    for stored in spec.get("imputed", []):
        column = stored["column"]
        rows = None if frame is None else filled(frame, {column: float(frame[column].mean())})
        missing = np.zeros(0, bool) if frame is None else frame[column].isna().to_numpy()
        design = design_from_dict(stored["design"], gaussian, rows)
        out.append(Imputation(column, stored["formula"], design, missing))
    return tuple(out)


def _stored_offset(terms: Sequence[Any], values: np.ndarray | None, n: int) -> Offset | None:
    """The offset of a design read from a file: of its training rows, or of none."""
    if not terms:
        return None
    return Offset(tuple(str(t.name) for t in terms), values if values is not None else np.zeros(n))


def _stored_weights(spec: dict[str, Any], frame: pd.DataFrame | None) -> np.ndarray | None:
    """The weights of a design read from a file, from its training rows (if it has them)."""
    column = spec.get("weights")
    return None if column is None or frame is None else weight_values(frame[column], column)
