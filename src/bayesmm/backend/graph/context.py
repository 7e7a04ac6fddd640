"""What the builders of a linear predictor read, as one frozen record, and what each returns.

A builder takes the design it builds from and a :class:`GraphContext`; it returns what it
added to the graph as an :class:`Added` (its value, and the names of the variables it sampled
for the sampler's sake, which the posterior drops), instead of appending to lists shared by
every builder. Each grouping factor's level index is data, read once per model through
:meth:`Containers.factor_index <bayesmm.backend.graph.variables.Containers.factor_index>`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from ...priors import Prior, PriorSet
from .variables import Containers, as_prior, random_variable

__all__ = ["GraphContext", "Added", "Part", "LinearParts", "internal_of"]


def _unit() -> float:
    return 1.0


@dataclass(frozen=True)
class GraphContext:
    """The settings and the data every builder of one model reads.

    Attributes
    ----------
    priors : PriorSet
        Every term's and parameter's prior.
    data : Containers
        The model's data containers.
    center : bool
        Centre the common predictors when the formula has an intercept
        (``build_model``'s ``center_predictors``).
    noncentered : bool or "auto"
        The parameterisation of group effects (``use_noncentered``).
    sigma : callable
        ``sigma()`` is the residual sd a shrinkage prior of the slopes scales with; 1 where
        there is none (a distributional formula's).
    imputed : mapping
        The values on every row of each ``mi()`` term, by term name.
    carrier : str or None
        The group term, or block, whose levels carry the common coefficients
        (``intercept_carrier``); ``None`` for none.
    linked : mapping
        Group effects built outside the formula, by term name: a multivariate model's blocks
        linked across responses (``gr(g, id=)``).
    rows : int or None
        The number of rows the likelihood sums, where they are more than the design's (an
        update from stored statistics, ``sufficient.stored_model``); ``None``: the design's.
    means : numpy.ndarray or None
        The mean of each column of the common matrix over those rows, which centred
        predictors are centred on; ``None``: the design's own.
    """

    priors: PriorSet
    data: Containers
    center: bool = True
    noncentered: bool | str = "auto"
    sigma: Callable[[], Any] = _unit
    imputed: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    carrier: str | None = None
    linked: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    rows: int | None = None
    means: np.ndarray | None = None

    def n_obs(self, design: Any) -> int:
        """The number of rows behind the model of ``design``: its own, or :attr:`rows`."""
        return int(design.n_obs) if self.rows is None else self.rows

    def prior(self, name: str) -> Prior:
        """The prior of ``name``, which must be a :class:`~bayesmm.priors.Prior`."""
        return as_prior(self.priors, name)

    def variable(self, name: str, dims: tuple[str, ...] | None = None) -> Any:
        """``name ~`` its prior, over ``dims``."""
        return random_variable(name, self.prior(name), dims, self.data)

    def plain(self) -> GraphContext:
        """The context of a formula other than the response's: no residual sd to scale with,
        no imputed columns and no carrier."""
        return replace(self, sigma=_unit, imputed=MappingProxyType({}), carrier=None)


@dataclass(frozen=True)
class Added:
    """What a builder added: its ``value`` and the ``internal`` variables it sampled."""

    value: Any
    internal: tuple[str, ...] = ()


def internal_of(pieces: Iterable[Added]) -> tuple[str, ...]:
    """The internal variables of several pieces, in order."""
    return tuple(name for piece in pieces for name in piece.internal)


@dataclass(frozen=True)
class Part:
    """One coefficient tensor of a linear predictor and the data it multiplies.

    ``coef`` is a scalar (an intercept: a column of ones), a vector of common slopes (times
    the dense ``columns``), or a group term's effects, shape ``(levels,)`` or ``(levels, k)``
    (row ``i`` takes level ``index[i]``, times ``columns[i]``; ``None``: ones).
    """

    coef: Any
    columns: np.ndarray | None = None
    index: np.ndarray | None = None
    factor: str | None = None
    levels: int = 0
    #: The common slopes' part: the column of the common matrix of each coefficient, and
    #: the column means subtracted from ``columns`` (``None``: not centred).
    positions: tuple[int, ...] = ()
    means: np.ndarray | None = None
    #: A group part's terms, whose columns ``columns`` holds side by side.
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinearParts:
    """A linear predictor as parts: ``eta = common parts + offset + group parts``."""

    common: tuple[Part, ...]
    offset: np.ndarray | None
    groups: tuple[Part, ...]
    #: ``mi()`` terms: their coefficient and their values on every row (a tensor: the
    #: observed values with the imputed ones, see ``imputation``).
    imputed: tuple[tuple[Any, Any], ...] = ()
    #: The variables sampled for the sampler's sake (see :class:`Added`).
    internal: tuple[str, ...] = ()

    def take(self, rows: np.ndarray) -> LinearParts:
        """The same coefficients on some of the rows."""

        def one(part: Part) -> Part:
            columns = None if part.columns is None else part.columns[rows]
            return replace(
                part, columns=columns, index=None if part.index is None else part.index[rows]
            )

        offset = None if self.offset is None else self.offset[rows]
        imputed = tuple((coef, values[rows]) for coef, values in self.imputed)
        return LinearParts(
            tuple(map(one, self.common)),
            offset,
            tuple(map(one, self.groups)),
            imputed,
            self.internal,
        )
