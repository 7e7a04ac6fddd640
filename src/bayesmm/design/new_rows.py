"""The records of rows encoded for prediction with a design's state: what
:meth:`~bayesmm.design.DesignState.encode` makes and prediction reads (re-exported by
:mod:`bayesmm.design.types`, beside the records of the design itself)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .autocorrelation import NewSeries
    from .types import Truncation

__all__ = ["NewGroup", "NewDesign", "NewImputation"]


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
    #: A truncated response's bounds on these rows; ``None`` without truncation, or when
    #: the rows lack a column that holds a bound.
    truncation: Truncation | None = None
    #: For each ``mi()`` column, in the design's order: which rows lack it, and their rows of
    #: its model.
    imputed: tuple[NewImputation, ...] = ()
    #: An ``se()`` response's standard errors on these rows; ``None`` without ``se()``, or
    #: when the rows lack the column.
    known_sd: np.ndarray | None = None
    #: The rows' series of an ``ar()``/``cosy()`` term; ``None`` without one, or when the
    #: rows lack its columns.
    series: NewSeries | None = None


@dataclass(frozen=True)
class NewImputation:
    """An ``mi(x)`` column on some rows: ``missing`` marks the rows without ``x`` (whose
    common-matrix column holds a placeholder), ``rows`` encodes them for ``x``'s model
    (``None`` when every row has ``x``), and
    ``fitted`` gives, for the training rows, each missing row's position among the
    posterior's imputed values (``None`` for new rows, whose values are drawn afresh)."""

    column: int
    missing: np.ndarray
    rows: NewDesign | None
    fitted: np.ndarray | None = None
