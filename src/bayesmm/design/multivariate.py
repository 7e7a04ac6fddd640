"""The design of a multivariate model: one :class:`~bayesmm.design.Design` per response, on
the same rows, and whether the responses' residuals are correlated (``rescor``).

Each response's design is the design of its own :class:`~bayesmm.Formula`, its terms named
as a univariate model's (``Intercept``, ``1|g``, ``sigma_x``); :meth:`MvDesign.prefixed`
names them by the response (``y1_Intercept``, ``y1_1|g``, ``y1_sigma_x``) for the graph,
as distributional formulas are named by their parameter. Prediction reads each response's
posterior under the univariate names, so that every univariate piece serves each response.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._errors import DataError, FamilyError, FormulaError
from .._names import response_name
from .._validation import did_you_mean
from ..families import Family
from ..formula import bar_blocks
from .build import DroppedRowsWarning, formula_design, prefixed_design
from .group_calls import read_group_calls
from .kinds import formulae_text
from .state import as_frame
from .types import Design, GroupBlock

if TYPE_CHECKING:
    from ..formula import MvFormula

__all__ = [
    "MvDesign",
    "LinkedBlock",
    "build_mv_design",
    "linked_blocks",
    "resolve_rescor",
    "RESCOR_FAMILIES",
]

#: The families whose responses may have correlated residuals (a multivariate normal or t).
RESCOR_FAMILIES = ("gaussian", "t")


@dataclass(frozen=True)
class LinkedBlock:
    """Group terms of one factor in several responses whose effects are correlated, written
    ``(1 | gr(g, id="p"))`` (or ``(1 | p | g)``) in each response's formula.

    Each level's effects over all the terms' columns are one multivariate normal, whose
    correlation has one LKJ prior keyed :attr:`prior_name` (``"g_corr"``). The correlations
    are named by the columns they join, ``"y1_1|g:y2_1|g_corr"``.

    Attributes
    ----------
    id : str
        The id the formulas give.
    factor : str
        The grouping factor.
    terms : tuple of str
        The terms, named by their response (``"y1_1|g"``), in the responses' order.
    """

    id: str
    factor: str
    terms: tuple[str, ...]

    @property
    def block(self) -> GroupBlock:
        """The terms as one correlated block (named without a response)."""
        return GroupBlock(self.factor, self.terms)

    @property
    def prior_name(self) -> str:
        return self.block.prior_name


@dataclass(frozen=True)
class MvDesign:
    """The designs of a multivariate model's responses, on the same rows.

    Attributes
    ----------
    responses : tuple of str
        The responses, in order (the columns of the data).
    designs : tuple of Design
        Each response's design, its terms named as a univariate model's.
    rescor : bool
        Whether the responses' residuals are correlated (one multivariate likelihood).
    linked : tuple of LinkedBlock
        Group terms whose effects are correlated across responses (``gr(g, id=)``).
    """

    responses: tuple[str, ...]
    designs: tuple[Design, ...]
    rescor: bool = False
    linked: tuple[LinkedBlock, ...] = ()

    def linked_design(self, linked: LinkedBlock) -> Design:
        """A design of the linked block's terms alone (named by their responses) as one
        correlated block, which the graph builds and prediction reads as a univariate
        block (its sds, correlations named ``"y1_1|g:y2_1|g_corr"`` and columns)."""
        parts = [self.prefixed(r) for r in self.responses]
        terms = tuple(t for part in parts for t in part.group_terms if t.name in linked.terms)
        return replace(parts[0], group_terms=terms, blocks=(linked.block,))

    @property
    def n_obs(self) -> int:
        return self.designs[0].n_obs

    def design_of(self, response: str) -> Design:
        """The design of ``response``, named as a univariate model's."""
        return self.designs[self.responses.index(response)]

    def prefixed(self, response: str) -> Design:
        """The design of ``response`` with every term named by the response, its
        distributional formulas' too (``y1_x``, ``y1_sigma_x``)."""
        prefix = response_name(response, "")
        design = prefixed_design(self.design_of(response), prefix)
        parts = tuple(
            replace(part, design=prefixed_design(part.design, prefix))
            for part in design.distributional
        )
        return replace(design, distributional=parts)


def resolve_rescor(families: Mapping[str, Family], rescor: bool | None) -> bool:
    """Whether the responses' residuals are correlated: ``rescor=None`` turns it on when every
    response is gaussian, or every one is student, and off otherwise.

    Raises
    ------
    FamilyError
        For ``rescor=True`` with a response of another family, or with gaussian and student
        responses together; for a ``rescor`` that is not a bool or None.
    """
    if rescor is not None and not isinstance(rescor, bool):
        raise FamilyError(f"rescor must be True, False or None; got {rescor!r}.")
    names = {response: family.name for response, family in families.items()}
    kinds = set(names.values())
    if rescor is None:
        return len(kinds) == 1 and kinds <= set(RESCOR_FAMILIES)
    if rescor:
        other = next((r for r, name in names.items() if name not in RESCOR_FAMILIES), None)
        if other is not None:
            raise FamilyError(
                f"rescor=True correlates gaussian or t (student) residuals; the response {other!r} "
                f"has family {names[other]!r}. Pass rescor=False (or leave it None)."
            )
        if len(kinds) > 1:
            raise FamilyError(
                f"rescor=True needs every response gaussian, or every one t; got {names}."
            )
    return rescor


def build_mv_design(
    formula: MvFormula,
    data: pd.DataFrame,
    families: Mapping[str, Family],
    links: Mapping[str, Mapping[str, str]],
    *,
    rescor: bool,
    categorical: str | Sequence[str] | None = None,
    dropna: bool = False,
) -> MvDesign:
    """Encode ``data`` for each response of ``formula``, on the same rows.

    Rows missing any response are dropped with a :class:`DroppedRowsWarning` under
    ``dropna=True``; otherwise they are a ``DataError`` naming the response and the rows.
    Rows missing a predictor of any response's formulas are handled as a univariate model
    handles them, and every response keeps the rows that all keep.

    Raises
    ------
    FormulaError
        For a response that is not a column of ``data``.
    DataError
        For missing responses without ``dropna``, and for what the univariate design refuses.
    FamilyError
        For a family or a kind of term a multivariate model does not take yet.
    """
    data = as_frame(data)
    data = _complete_responses(formula.responses, data, dropna)
    designs = _designs(formula, data, families, links, categorical, dropna)
    kept = [_rows_of(d) for d in designs]
    common = kept[0]
    for index in kept[1:]:
        common = common.intersection(index, sort=False)
    if any(len(index) != len(common) for index in kept):  # a predictor of one missing
        designs = _designs(formula, data.loc[common], families, links, categorical, dropna)
    for response, design in zip(formula.responses, designs, strict=True):
        _check_supported(response, design, families[response], rescor)
    linked = linked_blocks(formula.responses, designs)
    return MvDesign(formula.responses, tuple(designs), rescor, linked)


def linked_blocks(responses: Sequence[str], designs: Sequence[Design]) -> tuple[LinkedBlock, ...]:
    """The group terms linked across responses by an id (:class:`LinkedBlock`), read from
    each response's main formula as written (its design's state: a loaded file's too).

    An id written in one response only links nothing, as in a univariate model.

    Raises
    ------
    FormulaError
        For an id given to two factors, a factor linked by two ids, or a linked factor with
        another group term in the same formula.
    """
    by_id: dict[str, list[tuple[str, str]]] = {}
    for response, design in zip(responses, designs, strict=True):
        main = design.state.formula if design.state is not None else ""
        for call in read_group_calls(main)[1]:
            blocks = [b for b in bar_blocks(formulae_text(main)) if b.factor == call.factor]
            if len(blocks) > 1:
                raise FormulaError(
                    f"The formula of response {response!r} links the factor {call.factor!r} in "
                    f"{call.written} and has another group term of it; write its terms as one, "
                    f"e.g. '(1 + x | gr({call.factor}, id=\"{call.id}\"))'."
                )
            by_id.setdefault(call.id, []).append((response, call.factor))
    linked: list[LinkedBlock] = []
    for group_id, members in by_id.items():
        factors = sorted({factor for _, factor in members})
        if len(factors) > 1:
            raise FormulaError(
                f"The id {group_id!r} links the factors {factors}; an id links one factor's "
                "terms across responses."
            )
        if len(members) < 2:
            continue
        if any(b.factor == factors[0] for b in linked):
            raise FormulaError(
                f"The factor {factors[0]!r} is linked by two ids; give its terms one id."
            )
        terms = tuple(
            response_name(response, term.name)
            for response, design in zip(responses, designs, strict=True)
            if (response, factors[0]) in members
            for term in design.group_terms
            if term.factor == factors[0]
        )
        linked.append(LinkedBlock(group_id, factors[0], terms))
    return tuple(linked)


def _rows_of(design: Design) -> pd.Index:
    """The labels of the rows of ``data`` a design kept."""
    if design.state is None or design.state.frame is None:
        return pd.RangeIndex(design.n_obs)
    return design.state.frame.index


def _designs(
    formula: MvFormula,
    data: pd.DataFrame,
    families: Mapping[str, Family],
    links: Mapping[str, Mapping[str, str]],
    categorical: str | Sequence[str] | None,
    dropna: bool,
) -> list[Design]:
    return [
        formula_design(f, data, families[r], links[r], categorical, dropna)
        for r, f in formula.by_response().items()
    ]


def _complete_responses(responses: tuple[str, ...], data: pd.DataFrame, dropna: bool) -> Any:
    """``data`` without the rows missing a response (``dropna``), or an error naming them."""
    columns = [str(c) for c in data.columns]
    for response in responses:
        if response not in data.columns:
            hint = did_you_mean(response, columns) or f" Columns are {columns[:20]}."
            raise FormulaError(f"The response {response!r} is not a column of data.{hint}")
    missing = data[list(responses)].isna()
    incomplete = missing.any(axis=1)
    if not incomplete.any():
        return data
    if not dropna:
        first = next(r for r in responses if missing[r].any())
        rows = list(data.index[missing[first]])
        shown = f"{rows[:10]}{' ...' if len(rows) > 10 else ''}"
        raise DataError(
            f"The response {first!r} is missing in {len(rows)} rows: {shown}. A multivariate "
            "model needs every response of a row; pass dropna=True to drop the rows missing "
            "any response, or fill them in first."
        )
    n_bad = int(incomplete.sum())
    if n_bad == len(data):
        raise DataError("Every row of data misses a response.")
    counts = {r: int(n) for r, n in missing.sum().items() if n}
    warnings.warn(
        f"Automatically removing {n_bad}/{len(data)} rows missing a response {counts}.",
        DroppedRowsWarning,
        stacklevel=4,
    )
    return data.loc[~incomplete]


def _check_supported(response: str, design: Design, family: Family, rescor: bool) -> None:
    """What a multivariate model does not take yet, named by the response."""
    if family.is_categorical():
        raise FamilyError(
            f"The response {response!r} has family {family.name!r}, a probability per "
            "category, which a multivariate model does not take yet; fit it on its own."
        )
    parts = [
        ("ar()/cosy()", design.series is not None),
        ("mi()", bool(design.imputed)),
        ("weights", design.weights is not None),
    ]
    if rescor:
        response_kinds = design.response.kinds
        parts += [(f"{kind}()", True) for kind in response_kinds]
    for what, present in parts:
        if present:
            raise FormulaError(
                f"The formula of response {response!r} uses {what}, which a multivariate "
                f"model {'with rescor ' if rescor else ''}does not take yet."
            )
