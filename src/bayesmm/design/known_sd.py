"""Responses with known standard errors, ``se(yi, sei) ~ ...``: meta-analysis and
meta-regression.

Each row's response ``yi`` is an estimate whose sampling standard deviation ``sei`` is known
(a study's reported standard error). The likelihood is ``yi ~ Normal(mu_i, sei)``: no
residual ``sigma`` is estimated, as brms's ``se()`` by default. ``se(yi, sei, sigma=True)``
adds one, ``yi ~ Normal(mu_i, sqrt(sigma^2 + sei^2))``.

The call is read from the formula's text before formulae parses it (formulae could parse it
but not evaluate it): the response is then the column ``yi`` as any other, and the design
keeps the column of the standard errors (:class:`~bayesmm.design.types.KnownSD`). New rows
need ``sei`` only for what depends on the response's spread (``kind="response"`` draws, the
log-likelihood), not for ``kind="response_params"``.
"""

from __future__ import annotations

import ast

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values
from ..formula import find_calls
from .types import KnownSD

__all__ = ["KNOWN_SD", "read_known_sd", "known_sd_rows", "check_known_sd_family"]

#: The call of a response with known standard errors.
KNOWN_SD = "se"


def read_known_sd(formula: str) -> tuple[str, KnownSD | None]:
    """``formula`` with an ``se(yi, sei[, sigma=...])`` response written as ``yi``, and what
    the call says (without values); the formula unchanged and ``None`` without one.

    Raises
    ------
    FormulaError
        If ``se()`` is not the whole response, its arguments are not two column names, or
        ``sigma`` is not ``True`` or ``False``.
    """
    if "~" not in formula:
        return formula, None
    lhs, rhs = formula.split("~", 1)
    calls = find_calls(formula, [KNOWN_SD])
    if not calls:
        return formula, None
    call = calls[0]
    if len(calls) > 1 or call.stop > len(lhs) or lhs.strip() != formula[call.start : call.stop]:
        raise FormulaError(
            f"se() must be the whole response of formula {formula!r}, e.g. "
            "'se(yi, sei) ~ 1 + (1|study)'; it cannot be written on the right-hand side."
        )
    written = formula[call.start : call.stop]
    try:
        node = ast.parse(f"f({call.arguments})", mode="eval").body
    except SyntaxError:
        raise FormulaError(f"Could not read {written!r} in formula {formula!r}.") from None
    assert isinstance(node, ast.Call)
    names = [a.id for a in node.args if isinstance(a, ast.Name)]
    if len(node.args) != 2 or len(names) != 2:
        raise FormulaError(
            f"{written} takes two column names, the estimates and their standard errors, "
            "e.g. se(yi, sei); transform columns in the data first."
        )
    sigma = False
    for keyword in node.keywords:
        value = None
        if isinstance(keyword.value, ast.Constant):
            value = keyword.value.value
        if keyword.arg != "sigma" or not isinstance(value, bool):
            raise FormulaError(
                f"{written}: the only option of se() is sigma=True or sigma=False (a residual "
                f"sd besides the known ones); got {ast.unparse(keyword)}."
            )
        sigma = value
    return f"{names[0]} ~{rhs}", KnownSD(names[1], sigma)


def known_sd_rows(known: KnownSD, data: pd.DataFrame, response: str) -> KnownSD:
    """``known`` with the standard error of each row of ``data``, checked: finite and
    positive.

    Raises
    ------
    DataError
        Naming the column and the rows, for values that are not finite positive numbers.
    """
    column = known.column
    if column not in data.columns:
        raise DataError(
            f"The standard errors of se({response}, {column}) are the column {column!r}, which "
            "data does not have."
        )
    raw = data[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        rows = list(data.index[bad][:5])
        raise DataError(
            f"The standard errors {column!r} of se({response}, {column}) must be finite numbers "
            f"greater than 0; rows {rows} hold {describe_values(raw[bad].to_numpy()[:5])}."
        )
    return KnownSD(column, known.sigma, values)


def check_known_sd_family(family_name: str, has_parts: bool) -> None:
    """``se()`` is for gaussian responses, and its spread is known: no formula for sigma.

    Raises
    ------
    FormulaError
        For another family, or a distributional formula.
    """
    if family_name != "gaussian":
        raise FormulaError(
            f"se() gives a gaussian response known standard errors; family {family_name!r} "
            "has none. Use family='gaussian'."
        )
    if has_parts:
        raise FormulaError(
            "se() fixes the response's spread to the known standard errors (plus one sigma "
            "with sigma=True): it cannot take distributional formulas."
        )
