"""The right-hand side of a formula, encoded: common and group-specific terms.

Common terms are slices of columns of the common matrix (formulae encodes them). Group terms
are one integer level code per row of their grouping factor, built here over the observed
levels, with formulae's predictor columns; the ``|`` blocks of two or more columns become
``GroupBlock``\\ s of correlated effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values
from ..formula import bar_blocks, parse_formula
from .gps import gp_basis
from .missing import imputed_column
from .monotonic import monotonic_steps
from .offsets import is_offset
from .smooths import smooth_blocks, smooth_labels
from .state import FactorEncoder, GroupEncoder
from .types import CommonTerm, GroupBlock, GroupTerm, column_levels

if TYPE_CHECKING:
    from formulae.environment import Environment


def encode_common(
    description: Any, data: pd.DataFrame, env: Environment, n: int, offsets: bool = True
) -> tuple[np.ndarray, tuple[CommonTerm, ...], list[Any], Any]:
    # Offsets are no columns (see design.offsets); files before offsets kept them as columns.
    common_terms = [t for t in description.common_terms if not (offsets and is_offset(t))]
    if not common_terms:
        return np.zeros((n, 0)), (), [], None
    from formulae.matrices import CommonEffectsMatrix
    from formulae.terms import Model as FormulaeModel

    common_model = FormulaeModel(*common_terms)
    common_model.eval(data, env)
    matrix = CommonEffectsMatrix(common_model.common_terms)
    matrix.evaluate(data, env)
    terms = []
    for name, term in matrix.terms.items():
        span = matrix.slices[name]
        labels = tuple(str(label) for label in term.labels)
        levels = column_levels(name, labels) if len(labels) > 1 else None
        monotonic = monotonic_steps(term)
        steps = None if monotonic is None else monotonic[1]
        penalised = smooth_blocks(term)
        levels = smooth_labels(term) or levels
        gp = gp_basis(term)
        if gp is not None and gp.levels:
            per = len(gp.omega2)
            levels = tuple(f"{level}:{j}" for level in gp.levels for j in range(per))
        terms.append(
            CommonTerm(
                str(name),
                labels,
                span.start,
                span.stop,
                levels,
                steps,
                penalised,
                gp,
                imputed_column(term),
            )
        )
    values = np.asarray(matrix.design_matrix, dtype=float)
    return values, tuple(terms), list(matrix.terms.values()), matrix


def _group_index(
    data: pd.DataFrame, names: Sequence[str]
) -> tuple[np.ndarray, tuple[str, ...], FactorEncoder]:
    """Level index per row of a (possibly interacted) factor, over the observed levels only.

    Categorical columns keep their (already tidied) categories; others are sorted. For an
    interaction the levels are the observed combinations, in lexicographic order of the
    component levels (as lme4).
    """
    encoder = FactorEncoder.fit(data, names)
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


def encode_group(
    description: Any, data: pd.DataFrame, env: Environment
) -> tuple[tuple[GroupTerm, ...], list[Any], tuple[GroupEncoder, ...]]:
    from formulae.terms import Intercept

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
        encoders.append(GroupEncoder(name, factor, len(levels), factor_encoder, raw_expr))
    return tuple(terms), [t.expr for t in group_terms], tuple(encoders)


def _group_term_name(term: Any) -> str:
    """The name of a formulae group-specific term, e.g. ``"Days|Subject"``."""
    from formulae.terms import Intercept

    expr = "1" if isinstance(term.expr, Intercept) else str(term.expr.name)
    return f"{expr}|{term.factor.name}"


def correlated_blocks(formula: str, terms: Sequence[GroupTerm]) -> tuple[GroupBlock, ...]:
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


def check_categorical_levels(formula: str, terms: Iterable[Any]) -> None:
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


def check_constant_columns(design_common: np.ndarray, terms: Sequence[CommonTerm]) -> None:
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


def check_group_levels(terms: Sequence[GroupTerm]) -> None:
    for term in terms:
        if len(term.levels) < 2:
            raise DataError(
                f"The grouping factor {term.factor!r} in {term.name!r} has a single level "
                f"{describe_values(term.levels)}; group-specific effects need at least two levels."
            )
