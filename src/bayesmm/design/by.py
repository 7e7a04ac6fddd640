"""Terms with one curve per level of a factor, ``by=g`` (``s(x, by=g)``, ``hsgp(x, by=g)``):
the levels as labels, each level's rows, a column block per level, and the check of ``by``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from .._validation import describe_values

__all__ = ["by_columns", "by_labels", "check_by", "label", "level_rows"]


def label(value: Any) -> str:
    """A value as its label: whole floats as integers, so 2.0 and 2 are one value."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def by_labels(by: Any) -> pd.Series | None:
    """Each row's level of ``by`` as a label; ``None`` without ``by``."""
    return None if by is None else pd.Series(np.asarray(by, dtype=object)).map(label)


def level_rows(labels: pd.Series | None, levels: Sequence[str], n: int) -> list[np.ndarray]:
    """Which of ``n`` rows each level has (all of them, as one level, without ``by``)."""
    if labels is None:
        return [np.ones(n, bool)]
    return [(labels == level).to_numpy() for level in levels]


def by_columns(
    blocks: Sequence[np.ndarray], labels: pd.Series | None, levels: Sequence[str], callee: str
) -> np.ndarray:
    """The term's columns: ``blocks[0]`` without ``by``; else each level's block, zero on
    the other levels' rows.

    Raises
    ------
    DataError
        For a level not seen at fit time.
    """
    if labels is None:
        return blocks[0]
    unseen = ~labels.isin(levels).to_numpy()
    if unseen.any():
        raise DataError(
            f"{callee}(..., by=) got level(s) {describe_values(pd.unique(labels[unseen]))} not "
            f"seen at fit time; its levels are {describe_values(list(levels))}."
        )
    rows = level_rows(labels, levels, len(labels))
    return np.column_stack([block * own[:, None] for block, own in zip(blocks, rows, strict=True)])


def check_by(kwargs: Mapping[str, Any], data: pd.DataFrame, term: str, per: str) -> str | None:
    """The column ``by=`` names (``None`` without it): a factor, one ``per`` per level.

    Raises
    ------
    FormulaError, DataError
        For ``by`` that is not a column, or holds fractional numbers.
    """
    if "by" not in kwargs:
        return None
    by = getattr(kwargs["by"], "name", None)
    if by is None or by not in data.columns:
        raise FormulaError(f"{term}: by must name a column of the data; got {kwargs['by']}.")
    if pd.api.types.is_float_dtype(data[by].dtype):
        raise DataError(
            f"{term}: by={by!r} must be a factor (text, categories or whole numbers): one "
            f"{per} per level; got {data[by].dtype} values."
        )
    return str(by)
