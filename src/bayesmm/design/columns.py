"""What each column of the training rows was at fit time: :class:`ColumnSummary`.

A model file keeps one summary per column the formula uses (the ``columns`` entry of its
design), so that a model saved without its rows can still rebuild formulae's terms on a
stand-in frame, describe a server's inputs and give the typical values of grids. The file
holds the JSON form (:meth:`ColumnSummary.to_dict`); every other stage reads the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import choice_message
from ..persist.values import decode_value, encode_value

__all__ = ["COLUMN_KINDS", "ColumnSummary", "describe_columns"]

#: The kinds of column: numbers, booleans, and everything else as categories.
COLUMN_KINDS = ("numeric", "bool", "categorical")

#: The quantiles kept of a numeric column: its minimum, quartiles and maximum.
_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class ColumnSummary:
    """A column of the training rows, as far as later stages need it without the rows.

    Attributes
    ----------
    kind : {"numeric", "bool", "categorical"}
        Numbers; booleans; anything else (text, categories), coded by its levels.
    levels : tuple
        A categorical column's levels in coding order; ``(False, True)`` for a bool column;
        empty for a numeric one.
    counts : tuple of int or None
        How often each level of a categorical column occurs; ``None`` where not known (files
        written before the counts were kept).
    share : float or None
        The share of ``True`` in a bool column; ``None`` where not known.
    dtype : str or None
        A numeric column's numpy dtype, as ``numpy.dtype.str`` (``"<f8"``).
    range : tuple or None
        A numeric column's minimum and maximum, as stored.
    integral : bool or None
        Whether a numeric column holds whole numbers only (even as floats); ``None`` where not
        known.
    mean : float or None
        A numeric column's mean; ``None`` where not known.
    quartiles : tuple of float or None
        A numeric column's minimum, quartiles and maximum; ``None`` where not known.

    Examples
    --------
    >>> import pandas as pd
    >>> summary = ColumnSummary.of_values(pd.Series([1, 2, 2, 7]))
    >>> summary.kind, summary.low, summary.high, summary.typical
    ('numeric', 1.0, 7.0, 3)
    >>> ColumnSummary.from_dict(summary.to_dict()) == summary
    True
    """

    kind: str
    levels: tuple[Any, ...] = ()
    counts: tuple[int, ...] | None = None
    share: float | None = None
    dtype: str | None = None
    range: tuple[Any, Any] | None = None
    integral: bool | None = None
    mean: float | None = None
    quartiles: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise ValueError(choice_message("kind", self.kind, COLUMN_KINDS))
        if self.kind == "numeric" and (self.dtype is None or self.range is None):
            raise ValueError(
                f"a numeric column summary needs its dtype and range; got dtype={self.dtype!r}, "
                f"range={self.range!r}."
            )
        if self.kind == "bool" and self.levels != (False, True):
            # A bool column takes both values whatever the training rows held.
            object.__setattr__(self, "levels", (False, True))

    @classmethod
    def of_values(cls, column: pd.Series) -> ColumnSummary:
        """The summary of a column of training rows (missing values of numbers left out)."""
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
        ):
            categorical = pd.Categorical(column)
            codes = categorical.codes[categorical.codes >= 0]
            levels = categorical.categories.tolist()
            counts = np.bincount(codes, minlength=len(levels))
            return cls(kind="categorical", levels=tuple(levels), counts=tuple(map(int, counts)))
        if pd.api.types.is_bool_dtype(dtype):
            return cls(kind="bool", share=float(column.mean()))
        values = column.to_numpy(dtype=float)
        values = values[~np.isnan(values)]  # an mi() column's missing values
        return cls(
            kind="numeric",
            dtype=column.to_numpy().dtype.str,
            range=(float(values.min()), float(values.max())),
            integral=bool(np.all(np.mod(values, 1) == 0)),
            mean=float(values.mean()),
            quartiles=tuple(float(q) for q in np.quantile(values, _QUANTILES)),
        )

    @property
    def low(self) -> float:
        """A numeric column's minimum."""
        return float(self._range()[0])

    @property
    def high(self) -> float:
        """A numeric column's maximum."""
        return float(self._range()[1])

    def _range(self) -> tuple[Any, Any]:
        if self.range is None:
            raise ValueError(f"a {self.kind} column has no range; only numeric columns do.")
        return self.range

    @property
    def whole(self) -> bool:
        """Whether a numeric column takes whole numbers only: an integer dtype, or floats
        that were all whole."""
        return np.dtype(self.dtype).kind in "iu" or bool(self.integral)

    @property
    def five_numbers(self) -> tuple[float, ...]:
        """A numeric column's five-number summary (minimum, quartiles, maximum); evenly
        spaced over its range where the file kept no quartiles."""
        if self.quartiles:
            return tuple(self.quartiles)
        return tuple(float(q) for q in np.linspace(self.low, self.high, len(_QUANTILES)))

    @property
    def typical(self) -> Any:
        """The typical value: the mean of a numeric column (rounded for whole numbers; the
        middle of the range where the mean is not known), the most common level of another
        (the first where the counts are not known)."""
        if self.kind == "numeric":
            mean = self.mean if self.mean is not None else (self.low + self.high) / 2
            return round(mean) if self.integral else mean
        if self.kind == "bool":
            return self.share is not None and self.share > 0.5
        return self.levels[int(np.argmax(self.counts))] if self.counts else self.levels[0]

    def to_dict(self, where: str = "column") -> dict[str, Any]:
        """The JSON form of a model file; ``where`` names the column in errors.

        Raises
        ------
        bayesmm.persist.values.UnsupportedValueError
            If a level cannot be written as JSON.
        """
        if self.kind == "categorical":
            record: dict[str, Any] = {"kind": self.kind}
            record["levels"] = encode_value(list(self.levels), where)
            if self.counts is not None:
                record["counts"] = list(self.counts)
            return record
        if self.kind == "bool":
            return {"kind": self.kind, **({"share": self.share} if self.share is not None else {})}
        record = {
            "kind": self.kind,
            "dtype": self.dtype,
            "range": [encode_value(v, where) for v in self._range()],
        }
        # Written only where known, so that an older file's record reads back as it was.
        if self.integral is not None:
            record["integral"] = self.integral
        if self.mean is not None:
            record["mean"] = self.mean
        if self.quartiles is not None:
            record["quartiles"] = list(self.quartiles)
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ColumnSummary:
        """The inverse of :meth:`to_dict`; the entries a file's version lacks are ``None``.

        Raises
        ------
        ValueError, KeyError
            If the record is incomplete; the caller words the error for its source.
        """
        kind = record["kind"]
        if kind == "categorical":
            counts = record.get("counts")
            return cls(
                kind=kind,
                levels=tuple(decode_value(record["levels"])),
                counts=None if counts is None else tuple(int(n) for n in counts),
            )
        if kind == "bool":
            share = record.get("share")
            return cls(kind=kind, share=None if share is None else float(share))
        low, high = (decode_value(v) for v in record.get("range", (None, None)))
        quartiles = record.get("quartiles")
        integral, mean = record.get("integral"), record.get("mean")
        return cls(
            kind=kind,
            dtype=record.get("dtype"),
            range=None if low is None else (low, high),
            integral=None if integral is None else bool(integral),
            mean=None if mean is None else float(mean),
            quartiles=None if quartiles is None else tuple(float(q) for q in quartiles),
        )


def describe_columns(frame: pd.DataFrame) -> dict[str, ColumnSummary]:
    """The summary of every column of ``frame`` (the training rows the formula uses)."""
    return {str(name): ColumnSummary.of_values(frame[name]) for name in frame.columns}
