"""Request and response schemas, generated from the served model's inputs.

Each input column becomes a field of ``Row``: numeric columns take finite numbers, categorical
predictors one of their fitted levels, grouping factors any level (unseen ones follow the
new-group policy), and a binomial model's trials column a whole number. Validation is strict:
the OpenAPI schema says exactly what is accepted. Levels of categorical predictors are text
(``"2"``, even when the training column held numbers); grouping-factor levels are text or
whole numbers, matched by their text (``308`` for ``"308"``).

A multivariate model's rows hold the columns of every response's formulas (never the
responses), and each row's result holds one object per response: ``{"responses": {"y1":
{...}, "y2": {...}}}`` (the ``Mv*`` answers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, create_model

from ..design import DesignState
from ..fitted import FittedModel
from ..predict import KINDS, POLICIES

__all__ = [
    "InputColumn",
    "SCHEMA_PIECES",
    "describe_inputs",
    "describe_state",
    "request_models",
]


def _imputed_columns(state: DesignState) -> set[str]:
    return {imputed.column for imputed in state.imputed}


#: The serving stage's table of kinds (:data:`bayesmm.design.kinds.TERM_KINDS`): the columns
#: of a kind's terms that a request may leave out, ``piece(state) -> {column, ...}`` (an
#: ``mi()`` column, which the model imputes). Other kinds' columns are plain fields, typed
#: from the training data's summary (:class:`~bayesmm.design.ColumnSummary`).
def _known_sd_column(state: DesignState) -> set[str]:
    return {state.known_sd.column} if state.known_sd is not None else set()


def _series_columns(state: DesignState) -> set[str]:
    """``ar()``, ``cosy()``: none; their time and series columns are required, and a series'
    column takes any label (a new series is predicted from the stationary distribution)."""
    return set()


SCHEMA_PIECES: dict[str, Callable[[DesignState], set[str]]] = {
    "mi": _imputed_columns,
    "se": _known_sd_column,
    "ar": _series_columns,
    "cosy": _series_columns,
}

Kind = Literal["response_params", "response"]
# A strict bool first: Literal[False] alone would accept 0, which equals False in Python.
Policy = Annotated[
    StrictBool | Literal["uncertainty", "gaussian", "old_levels", "population"],
    Field(union_mode="left_to_right"),
]
assert set(KINDS) == {"response_params", "response"}
assert set(POLICIES) == {"uncertainty", "gaussian", "old_levels", "population"}


#: A grouping factor's level: text, or a whole number matched by its text (308 for "308").
Level = Annotated[str, StringConstraints(min_length=1)] | int


@dataclass(frozen=True)
class InputColumn:
    """One column a request row must have."""

    name: str
    role: str  # "predictor", "group", "trials", "bound" or "sd" (se()'s standard errors)
    type: str  # "number", "boolean" or "level"
    levels: tuple[str, ...] | None  # the fitted levels of categorical columns and factors
    example: Any
    optional: bool = False  # may be null or left out: an mi() column (imputed), se()'s sd


def describe_inputs(fitted: FittedModel) -> list[InputColumn]:
    """The columns a request row needs, with their types, fitted levels and an example value."""
    state = fitted.design.state
    spec = fitted.spec
    if state is None or spec is None:
        raise ValueError("The model has no design state or spec to describe its inputs.")
    return describe_state(state)


def describe_state(state: DesignState) -> list[InputColumn]:
    """The columns that a design's ``state`` encodes new rows from, as request inputs."""
    columns = state.column_summaries()
    factors: dict[str, tuple[str, ...]] = {}
    for group in state.groups:
        encoder = group.factor_encoder
        for name, levels in zip(encoder.components, encoder.categories, strict=True):
            factors[name] = tuple(str(level) for level in levels)
    examples: dict[str | None, Any] = {}
    if state.series is not None:  # the example forecasts the first series one step on
        term, labels = state.series.term, state.series.labels
        examples = {term.time: int(state.series.last[0]) + 1, term.group: labels[0]}
        factors.update({term.group: labels} if term.group is not None else {})
    names = list(state.predictors)
    names += [c for c in state.response_columns if c not in names]
    bounds = state.truncation.columns if state.truncation is not None else ()
    inputs = []
    for name in names:
        column = columns[name]
        role = "trials" if name == state.trials_column else "predictor"
        role = "bound" if name in bounds and name not in state.predictors else role
        role = "sd" if name in _known_sd_column(state) else role
        if column.kind == "numeric":
            low, high = column.low, column.high
            example: Any = round((low + high) / 2, 6)
            if role == "trials" or (role == "bound" and name == state.truncation.upper):  # type: ignore[union-attr]
                example = high  # the widest bounds seen: an example row never falls outside
            elif role == "bound":
                example = low
            if column.dtype is not None and column.dtype[1] in "iu":
                example = round(example)
            example = examples.get(name, example)
            optional = any(name in piece(state) for piece in SCHEMA_PIECES.values())
            inputs.append(InputColumn(name, role, "number", None, example, optional))
        elif column.kind == "bool":
            inputs.append(InputColumn(name, role, "boolean", None, False))
        else:
            levels = tuple(str(v) for v in column.levels)
            if name in factors and name not in state.common_levels:
                role, levels = "group", factors[name]
            example = examples.get(name, levels[0])
            inputs.append(InputColumn(name, role, "level", levels, example))
    return inputs


def _row_field(column: InputColumn) -> tuple[Any, Any]:
    description = {
        "predictor": f"Predictor {column.name!r}.",
        "group": f"Grouping factor {column.name!r}: a fitted level, or a new one (see "
        "sample_new_groups).",
        "trials": f"Number of trials {column.name!r} of the binomial response.",
        "bound": f"Bound {column.name!r} of the truncated response.",
        "sd": f"Known standard error {column.name!r} of the response (se()).",
    }[column.role]
    if column.type == "number":
        if column.role == "trials":
            return int, Field(alias=column.name, ge=0, description=description)
        if column.optional:
            description += (
                " Null or left out: needed for kind='response' only."
                if column.role == "sd"
                else " Null or left out: imputed from its model (mi())."
            )
            return float | None, Field(
                None, alias=column.name, allow_inf_nan=False, description=description
            )
        return float, Field(alias=column.name, allow_inf_nan=False, description=description)
    if column.type == "boolean":
        return bool, Field(alias=column.name, description=description)
    if column.role == "group":
        return Level, Field(alias=column.name, description=description)
    assert column.levels is not None
    return Literal[column.levels], Field(alias=column.name, description=description)


class _Request(BaseModel):
    # Strict: what the schema documents is exactly what is accepted ("3" is not a number).
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Kind = Field(
        "response",
        description="'response_params': the mean parameter (e.g. mu, p); 'response': a new "
        "observation, with the family's noise.",
    )
    sample_new_groups: Policy | None = Field(
        None,
        description="Policy for group levels not seen at fit time; null uses the model's "
        "default. false rejects them.",
    )
    include_group_specific: bool = Field(
        True, description="false predicts from the common effects alone."
    )
    random_seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed for response draws and new-group draws."
    )


def request_models(
    inputs: list[InputColumn], n_draws: int, max_batch: int
) -> dict[str, type[BaseModel]]:
    """The request models of the three prediction endpoints, for this model's inputs."""
    fields = {f"c{i}": _row_field(column) for i, column in enumerate(inputs)}
    row = create_model("Row", __config__=ConfigDict(extra="forbid", strict=True), **fields)
    common: dict[str, Any] = {
        "rows": (
            list[row],
            Field(
                min_length=1,
                max_length=max_batch,
                description=f"One to {max_batch} input rows; one result per row, in order.",
            ),
        ),
        "n_samples": (
            int | None,
            Field(
                None,
                ge=1,
                le=n_draws,
                description=f"Use this many evenly spaced posterior draws (at most {n_draws}); "
                "null uses all.",
            ),
        ),
    }
    point = create_model(
        "PointRequest",
        __base__=_Request,
        kind=(
            Kind,
            Field(
                "response_params",
                description="'response_params' (the default here): the mean parameter; "
                "'response': a new observation.",
            ),
        ),
        stat=(Literal["mean", "median"], Field("mean", description="The point estimate.")),
        **common,
    )
    interval = create_model(
        "IntervalRequest",
        __base__=_Request,
        prob=(float, Field(0.94, gt=0, lt=1, description="Probability mass of the interval.")),
        method=(
            Literal["hdi", "eti"],
            Field("hdi", description="Highest-density or equal-tailed interval."),
        ),
        **common,
    )
    density = create_model(
        "DensityRequest",
        __base__=_Request,
        bins=(int, Field(20, ge=1, le=1000, description="Histogram bins (when no quantiles).")),
        quantiles=(
            list[Annotated[float, Field(gt=0, lt=1)]] | None,
            Field(
                None,
                min_length=1,
                max_length=99,
                description="Probabilities in (0, 1); when given, quantiles are returned "
                "instead of a histogram.",
            ),
        ),
        **common,
    )
    return {"row": row, "point": point, "interval": interval, "density": density}


class _Response(BaseModel):
    kind: Kind
    n_draws: int = Field(description="Posterior draws used.")


class PointResult(BaseModel):
    value: float


class PointResponse(_Response):
    stat: Literal["mean", "median"]
    results: list[PointResult]


class IntervalResult(BaseModel):
    lower: float
    upper: float


class IntervalResponse(_Response):
    prob: float
    method: Literal["hdi", "eti"]
    results: list[IntervalResult]


class CategoryPointResult(BaseModel):
    categories: dict[str, float] = Field(
        description="For each category, by its label: its point estimate (of its "
        "probability, or of its share of the predictive draws)."
    )


class CategoryPointResponse(_Response):
    """A family of categories: one estimate per category and row."""

    stat: Literal["mean", "median"]
    results: list[CategoryPointResult]


class CategoryIntervalResult(BaseModel):
    categories: dict[str, IntervalResult] = Field(
        description="For each category, by its label: an interval (of its probability)."
    )


class CategoryIntervalResponse(_Response):
    """A family of categories: one interval per category and row."""

    prob: float
    method: Literal["hdi", "eti"]
    results: list[CategoryIntervalResult]


class DensityResult(BaseModel):
    x: list[float] | None = Field(None, description="Bin midpoints.")
    density: list[float] | None = Field(None, description="Density at each midpoint.")
    probs: list[float] | None = Field(None, description="The quantiles' probabilities.")
    quantiles: list[float] | None = Field(None, description="The quantiles.")


class DensityResponse(_Response):
    results: list[DensityResult]


class ColumnInfo(BaseModel):
    name: str
    role: Literal["predictor", "group", "trials", "bound", "sd"]
    type: Literal["number", "boolean", "level"]
    levels: list[str] | None


class GroupInfo(BaseModel):
    factor: str
    terms: list[str]
    n_levels: int


class ModelInfo(BaseModel):
    formula: str
    family: str
    link: str
    response: str
    inputs: list[ColumnInfo]
    groups: list[GroupInfo]
    chains: int
    draws: int
    sample_new_groups: Policy
    policies: list[str]
    versions: dict[str, str]
    data_sha256: str | None


class MvPointResult(BaseModel):
    responses: dict[str, PointResult] = Field(
        description="For each response, by its name: its point estimate."
    )


class MvPointResponse(_Response):
    """A multivariate model: one estimate per response and row."""

    stat: Literal["mean", "median"]
    results: list[MvPointResult]


class MvIntervalResult(BaseModel):
    responses: dict[str, IntervalResult] = Field(
        description="For each response, by its name: its interval."
    )


class MvIntervalResponse(_Response):
    """A multivariate model: one interval per response and row."""

    prob: float
    method: Literal["hdi", "eti"]
    results: list[MvIntervalResult]


class MvDensityResult(BaseModel):
    responses: dict[str, DensityResult] = Field(
        description="For each response, by its name: its histogram density or quantiles."
    )


class MvDensityResponse(_Response):
    """A multivariate model: one histogram (or quantiles) per response and row."""

    results: list[MvDensityResult]


class ResponseInfo(BaseModel):
    name: str
    formula: str
    family: str
    link: str


class MvModelInfo(BaseModel):
    formula: str
    responses: list[ResponseInfo]
    rescor: bool
    inputs: list[ColumnInfo]
    groups: list[GroupInfo]
    chains: int
    draws: int
    sample_new_groups: Policy
    policies: list[str]
    versions: dict[str, str]
    data_sha256: str | None
