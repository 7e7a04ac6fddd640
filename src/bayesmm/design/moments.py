"""Weighted moments of a gaussian model's rows, by cell: what its exact sufficient statistics
and its default priors are made of, kept so that later rows can be added without the earlier
ones.

Each row contributes its weight ``w`` times the products of two *sides*: the common side
``u = (1, the common matrix's columns, the response, the offset)`` and one side per group
term, its columns ``z`` (a column of ones for an intercept). :class:`Moments` keeps, for each
pair of sides, the sums of ``w u u'``, ``w u z'`` or ``w z_a z_b'`` over the rows of each
cell: one cell for two common sides, one per level for a common side and a group term or two
terms of one factor, one per pair of levels that share a row for two crossed factors. The
sums are linear in the rows, so the moments of two batches of rows add (:meth:`Moments.merged`),
the levels matched by name and new levels added; the sufficient statistics of the gaussian
likelihood (``backend.graph.sufficient``, centred on the means of all the rows) and the
means and sds that default priors are scaled from (:meth:`Moments.scales`) follow from them
exactly. To keep the sums accurate when a column is far from zero, the common side is taken
around an anchor (the first batch's means), and a batch with another anchor is moved onto it
before it is added: the ones column makes that move a linear map.

A file holds them in the group :data:`STATISTICS_GROUP` (:meth:`Moments.to_dataset`); they
are aggregates of the training rows (``docs/io.md``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._errors import DataError
from ..families import Family
from ..links import Link
from ..priors import ResponseStats
from .kinds import TERM_KINDS
from .types import Design

__all__ = [
    "STATISTICS_GROUP",
    "MomentBlock",
    "GroupSide",
    "Scales",
    "Moments",
    "shortcut_blocker",
    "moments_blocker",
    "statistics_to_save",
]

#: The group of a model file that holds the moments of its rows.
STATISTICS_GROUP = "bayesmm_statistics"

#: The layout of that group; it goes up when the layout changes.
_LAYOUT = 1


def shortcut_blocker(design: Design, family: Family, link: Link) -> str | None:
    """Why neither summary of the rows is exact for this model, or ``None`` when one is:
    sufficient statistics for a gaussian model with the identity link, binomial counts for a
    bernoulli one (any link)."""
    name = family.likelihood.name
    if name not in ("Normal", "Bernoulli") or family.is_categorical():
        return f"family {family.name!r} is neither gaussian nor bernoulli"
    if name == "Normal" and link.name != "identity":
        return f"the link is {link.name!r}, not 'identity'"
    if name == "Bernoulli" and design.weights is not None:
        return "a bernoulli model has weights"
    if design.response.censoring is not None:
        return "the response is censored"
    if design.response.truncation is not None:
        return "the response is truncated"
    if design.response.known_sd is not None:
        return "se() gives each row its own known standard error"
    if design.series is not None:
        return f"{design.series.state.term.call} makes a series' rows depend on each other"
    if any(term.steps is not None for term in design.common_terms):
        return "it has a monotonic effect"
    if design.imputed:
        return "it imputes a predictor"
    if design.distributional:
        return f"{[p.param for p in design.distributional]} are modelled by formulas"
    if np.ndim(design.response.values) != 1:
        return "the response has several columns"
    return None


def moments_blocker(design: Design, family: Family, link: Link) -> str | None:
    """Why the moments of this model's rows do not make its likelihood and default priors,
    or ``None`` when they do: a gaussian model with the identity link whose statistics are
    exact (:func:`shortcut_blocker`), whose common terms are plain columns (no ``s()`` or
    ``hsgp()``, whose columns the graph transforms) and whose priors scale from ``y`` itself."""
    blocker = shortcut_blocker(design, family, link)
    if blocker is None and family.likelihood.name != "Normal":
        blocker = f"family {family.name!r} is not gaussian"
    if blocker is not None:
        return blocker
    for term in design.common_terms:
        kind = TERM_KINDS.get(term.kind) if term.kind is not None else None
        if kind is not None and "graph" in kind.stages:
            return f"the term {term.name!r} is a {term.kind}() term, not a plain column"
    if family.prior_scale is not None:
        return f"family {family.name!r} scales its priors from a transform of the response"
    return None


@dataclass(frozen=True)
class MomentBlock:
    """The sums of one pair of sides, by cell: ``products`` is ``(cells, columns of a,
    columns of b)``; ``left`` and ``right`` are each cell's level codes in the factors of
    ``a`` and ``b``, ``None`` for the common side (which has one level)."""

    products: np.ndarray
    left: np.ndarray | None
    right: np.ndarray | None

    def transposed(self) -> MomentBlock:
        """The same sums with the sides swapped."""
        return MomentBlock(self.products.transpose(0, 2, 1), self.right, self.left)


@dataclass(frozen=True)
class GroupSide:
    """A group term as a side: its name, its grouping factor and its number of columns."""

    name: str
    factor: str
    width: int


@dataclass(frozen=True)
class Scales:
    """What default priors are scaled from (``scaling.default_priors``): the response's mean
    and sd, the offset's mean, the sd of each common column and of each group term's
    columns (by term name), all weighted as :func:`bayesmm.design.weights.mean_sd` weighs
    them."""

    response: ResponseStats
    offset: float | None
    columns: np.ndarray
    groups: Mapping[str, np.ndarray]


def _common_labels(design: Design) -> tuple[str, ...]:
    """A label for each column of the common matrix, from its terms."""
    labels = [f"column {j}" for j in range(design.common.shape[1])]
    for term in design.common_terms:
        for j, column in enumerate(term.columns[: term.stop - term.start]):
            labels[term.start + j] = column
    return tuple(labels)


def _sums(cells: np.ndarray, n_cells: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``out[c, s, t]``: the sum over the rows of cell ``c`` of ``left[:, s] * right[:, t]``."""
    out = np.empty((n_cells, left.shape[1], right.shape[1]))
    for s in range(left.shape[1]):
        for t in range(right.shape[1]):
            out[:, s, t] = np.bincount(cells, weights=left[:, s] * right[:, t], minlength=n_cells)
    return out


#: A side on the rows: its level codes (``None`` for the common side), its columns, its
#: factor and its number of levels.
_Rows = tuple[np.ndarray | None, np.ndarray, str, int]


def _pair(a: _Rows, b: _Rows, weights: np.ndarray) -> MomentBlock:
    """The block of two sides on the same rows, ``a`` before ``b``."""
    (index_a, values_a, factor_a, _), (index_b, values_b, factor_b, levels_b) = a, b
    weighted = values_a * weights[:, None]
    if index_b is None:  # both common
        return MomentBlock((weighted.T @ values_b)[None], None, None)
    if index_a is None or factor_a == factor_b:
        codes = index_b if index_a is None else index_a
        cells, inverse = np.unique(codes, return_inverse=True)
        products = _sums(inverse.ravel(), len(cells), weighted, values_b)
        return MomentBlock(products, None if index_a is None else cells, cells)
    keys = index_a.astype(np.int64) * levels_b + index_b
    cells, inverse = np.unique(keys, return_inverse=True)
    products = _sums(inverse.ravel(), len(cells), weighted, values_b)
    return MomentBlock(products, cells // levels_b, cells % levels_b)


def _added(mine: MomentBlock, theirs: MomentBlock, size: int) -> MomentBlock:
    """Two blocks of one pair of sides, their codes in the same levels, added cell by cell
    (``size``: the levels of the right side's factor)."""
    if mine.right is None or theirs.right is None:
        return MomentBlock(mine.products + theirs.products, None, None)
    keys = np.concatenate([mine.right, theirs.right]).astype(np.int64)
    if mine.left is not None and theirs.left is not None:
        keys = keys + size * np.concatenate([mine.left, theirs.left]).astype(np.int64)
    cells, inverse = np.unique(keys, return_inverse=True)
    products = np.zeros((len(cells), *mine.products.shape[1:]))
    np.add.at(products, inverse.ravel(), np.concatenate([mine.products, theirs.products]))
    left = None if mine.left is None else cells // size
    return MomentBlock(products, left, cells % size)


def _mean_sd(first: float, second: float, weight: float, n_eff: float) -> tuple[float, float]:
    """The weighted mean (less the anchor) and sd from the weighted sums of a column and of
    its square, with Kish's effective sample size in the ``n / (n - 1)`` correction."""
    shift = first / weight
    if n_eff < 1.0 + 1e-9:
        return shift, 0.0
    spread = max(second / weight - shift**2, 0.0)
    return shift, float(np.sqrt(spread * n_eff / (n_eff - 1.0)))


@dataclass(frozen=True)
class Moments:
    """The weighted moments of a gaussian model's rows (see the module's documentation).

    Attributes
    ----------
    common : tuple of str
        The labels of the common matrix's columns.
    response : str
        The response, as written in the formula.
    offset : bool
        Whether the common side ends with the offset.
    rows : int
        The number of rows summed.
    anchor : numpy.ndarray
        What is subtracted from each column of the common side (0 for the ones).
    sums : numpy.ndarray
        The unweighted sums of each column of the common side less its anchor.
    squared_weights : float
        The sum of the squared weights (the rows' number, without weights).
    groups : tuple of GroupSide
        The group terms, sides ``1, 2, ...``.
    levels : mapping of str to tuple of str
        The levels of each grouping factor, whose codes the blocks hold.
    blocks : mapping of (int, int) to MomentBlock
        The sums of each pair of sides ``a <= b`` (side 0 the common side).
    """

    common: tuple[str, ...]
    response: str
    offset: bool
    rows: int
    anchor: np.ndarray
    sums: np.ndarray
    squared_weights: float
    groups: tuple[GroupSide, ...]
    levels: Mapping[str, tuple[str, ...]]
    blocks: Mapping[tuple[int, int], MomentBlock]

    @classmethod
    def of_design(cls, design: Design) -> Moments:
        """The moments of a design's rows (a gaussian model's: see :func:`moments_blocker`)."""
        n = design.n_obs
        weights = np.ones(n) if design.weights is None else np.asarray(design.weights, float)
        columns = [np.ones((n, 1)), np.asarray(design.common, dtype=float).reshape(n, -1)]
        columns.append(np.asarray(design.response.values, dtype=float).reshape(n, 1))
        if design.offset is not None:
            columns.append(np.asarray(design.offset.values, dtype=float).reshape(n, 1))
        values = np.hstack(columns)
        anchor = values.mean(axis=0) if n else np.zeros(values.shape[1])
        anchor[0] = 0.0
        values = values - anchor
        sides: list[_Rows] = [(None, values, "", 1)]
        for term in design.group_terms:
            z = np.ones((n, 1)) if term.values is None else np.asarray(term.values, float)
            sides.append((term.index, z.reshape(n, -1), term.factor, len(term.levels)))
        blocks = {
            (a, b): _pair(sides[a], sides[b], weights)
            for a in range(len(sides))
            for b in range(a, len(sides))
        }
        return cls(
            common=_common_labels(design),
            response=design.response.name,
            offset=design.offset is not None,
            rows=n,
            anchor=anchor,
            sums=values.sum(axis=0),
            squared_weights=float(np.sum(weights**2)),
            groups=tuple(GroupSide(t.name, t.factor, len(t.columns)) for t in design.group_terms),
            levels={t.factor: tuple(t.levels) for t in design.group_terms},
            blocks=blocks,
        )

    @property
    def weight(self) -> float:
        """The sum of the weights (the rows' number, without weights)."""
        return float(self.blocks[(0, 0)].products[0, 0, 0])

    @property
    def response_column(self) -> int:
        """The response's column of the common side."""
        return 1 + len(self.common)

    def factor(self, side: int) -> str:
        """The grouping factor of a side (``""`` for the common side)."""
        return "" if side == 0 else self.groups[side - 1].factor

    def block(self, a: int, b: int) -> MomentBlock:
        """The block of sides ``a`` and ``b``, in that order."""
        return self.blocks[(a, b)] if a <= b else self.blocks[(b, a)].transposed()

    def common_means(self) -> np.ndarray:
        """The unweighted mean of each column of the common matrix over all the rows."""
        columns = slice(1, 1 + len(self.common))
        return self.anchor[columns] + self.sums[columns] / self.rows

    def _layout(self) -> tuple[Any, ...]:
        return (self.common, self.response, self.offset, self.groups)

    def merged(self, other: Moments) -> Moments:
        """The moments of these rows and ``other``'s together: the levels matched by name
        (``other``'s new ones after these), ``other``'s sums moved onto this anchor.

        Raises
        ------
        DataError
            If ``other`` is of another model's rows.
        """
        if other._layout() != self._layout():
            raise DataError(
                "These statistics are of another model's rows (other columns or group terms); "
                "they cannot be added."
            )
        levels = {
            factor: _union(mine, other.levels[factor]) for factor, mine in self.levels.items()
        }
        codes = {f: _codes(other.levels[f], levels[f]) for f in levels}
        # other's side is u - anchor_o; this one's is u - anchor = (u - anchor_o) - d * 1.
        move = np.eye(len(self.anchor))
        move[:, 0] -= self.anchor - other.anchor
        blocks = {}
        for (a, b), mine in self.blocks.items():
            theirs = other.blocks[(a, b)]
            products = theirs.products
            if a == 0:
                products = np.einsum("ij,cjk->cik", move, products)
                if b == 0:
                    products = np.einsum("cik,jk->cij", products, move)
            left = None if theirs.left is None else codes[self.factor(a)][theirs.left]
            right = None if theirs.right is None else codes[self.factor(b)][theirs.right]
            size = len(levels[self.factor(b)]) if b else 1
            blocks[(a, b)] = _added(mine, MomentBlock(products, left, right), size)
        return Moments(
            common=self.common,
            response=self.response,
            offset=self.offset,
            rows=self.rows + other.rows,
            anchor=self.anchor,
            sums=self.sums + move @ other.sums,
            squared_weights=self.squared_weights + other.squared_weights,
            groups=self.groups,
            levels=levels,
            blocks=blocks,
        )

    def scales(self) -> Scales:
        """The means and sds that default priors are scaled from, over all the rows."""
        products = self.blocks[(0, 0)].products[0]
        weight = products[0, 0]
        n_eff = weight**2 / self.squared_weights

        def column(j: int) -> tuple[float, float]:
            shift, sd = _mean_sd(products[0, j], products[j, j], weight, n_eff)
            return float(self.anchor[j] + shift), sd

        mean, sd = column(self.response_column)
        offset = column(self.response_column + 1)[0] if self.offset else None
        columns = np.array([column(j)[1] for j in range(1, 1 + len(self.common))])
        groups = {}
        for side, term in enumerate(self.groups, start=1):
            first = self.blocks[(0, side)].products[:, 0, :].sum(axis=0)
            second = np.einsum("cjj->j", self.blocks[(side, side)].products)
            groups[term.name] = np.array(
                [_mean_sd(f, s, weight, n_eff)[1] for f, s in zip(first, second, strict=True)]
            )
        return Scales(ResponseStats(mean=mean, sd=sd), offset, columns, groups)

    def to_dataset(self) -> xr.Dataset:
        """The moments as the netCDF group of a model file (:data:`STATISTICS_GROUP`)."""
        factors = list(self.levels)
        variables: dict[str, Any] = {
            "anchor": (("common_side",), self.anchor),
            "sums": (("common_side",), self.sums),
        }
        for i, factor in enumerate(factors):
            variables[f"levels_{i}"] = ((f"level_{i}",), np.asarray(self.levels[factor], str))
        for (a, b), block in self.blocks.items():
            dims = (f"cell_{a}_{b}", f"column_{a}_{b}_a", f"column_{a}_{b}_b")
            variables[f"products_{a}_{b}"] = (dims, block.products)
            for name, codes in (("left", block.left), ("right", block.right)):
                if codes is not None:
                    variables[f"{name}_{a}_{b}"] = ((dims[0],), codes.astype(np.int64))
        layout = {
            "layout": _LAYOUT,
            "common": list(self.common),
            "response": self.response,
            "offset": self.offset,
            "rows": self.rows,
            "squared_weights": self.squared_weights,
            "groups": [[g.name, g.factor, g.width] for g in self.groups],
            "factors": factors,
        }
        return xr.Dataset(variables, attrs={"bayesmm_moments": json.dumps(layout)})

    @classmethod
    def from_dataset(cls, dataset: xr.Dataset) -> Moments:
        """The inverse of :meth:`to_dataset`.

        Raises
        ------
        ValueError, KeyError
            If the group is not one :meth:`to_dataset` wrote; the caller names the file.
        """
        layout = json.loads(str(dataset.attrs["bayesmm_moments"]))
        if layout["layout"] > _LAYOUT:
            raise ValueError(f"its statistics have layout {layout['layout']}, newer than this")
        groups = tuple(GroupSide(str(n), str(f), int(w)) for n, f, w in layout["groups"])
        levels = {
            factor: tuple(str(v) for v in dataset[f"levels_{i}"].values)
            for i, factor in enumerate(layout["factors"])
        }
        blocks = {}
        for a in range(len(groups) + 1):
            for b in range(a, len(groups) + 1):
                codes = [
                    dataset[f"{name}_{a}_{b}"].values if f"{name}_{a}_{b}" in dataset else None
                    for name in ("left", "right")
                ]
                blocks[(a, b)] = MomentBlock(dataset[f"products_{a}_{b}"].values, *codes)
        return cls(
            common=tuple(layout["common"]),
            response=str(layout["response"]),
            offset=bool(layout["offset"]),
            rows=int(layout["rows"]),
            anchor=np.asarray(dataset["anchor"].values, dtype=float),
            sums=np.asarray(dataset["sums"].values, dtype=float),
            squared_weights=float(layout["squared_weights"]),
            groups=groups,
            levels=levels,
            blocks=blocks,
        )


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """The levels of ``first``, then those of ``second`` that ``first`` lacks, in order."""
    return tuple(dict.fromkeys((*first, *second)))


def _codes(labels: tuple[str, ...], levels: tuple[str, ...]) -> np.ndarray:
    """The position of each of ``labels`` among ``levels``."""
    position = {level: i for i, level in enumerate(levels)}
    return np.array([position[label] for label in labels], dtype=np.int64)


def statistics_to_save(
    design: Design,
    family: Family,
    link: Link,
    held: xr.Dataset | None,
    attrs: Mapping[str, Any],
    choice: bool | None,
) -> xr.Dataset | None:
    """The group :data:`STATISTICS_GROUP` of a fit's file, or ``None`` for none.

    ``choice=False`` stores none; ``True`` the statistics the fit holds (``held``: an
    update's, or a file's) or else those of its training rows; ``None`` (the default) does
    so where the fit sampled its rows' sufficient statistics or was updated from them (its
    ``attrs``), and stores none otherwise.

    Raises
    ------
    DataError
        If ``choice`` is not True, False or None; or is True for a model whose statistics
        are not exact, or that holds neither statistics nor its training rows.
    """
    if choice is not None and not isinstance(choice, bool):
        raise DataError(f"statistics must be True, False or None; got {choice!r}.")
    if choice is False or held is not None:
        return None if choice is False else held
    if choice is None and not str(attrs.get("likelihood", "")).startswith("sufficient stat"):
        return None
    blocker = moments_blocker(design, family, link)
    if blocker is not None and choice:
        raise DataError(
            "statistics=True stores the sufficient statistics of a gaussian model with the "
            f"identity link; here {blocker}. Keep the training rows in the file instead "
            "(posterior_only=False): an update refits on them."
        )
    if blocker is None and design.n_obs == 0 and choice:
        raise DataError(
            "statistics=True sums the training rows, and this model holds none: it was "
            "loaded from a file saved with posterior_only=True and without statistics."
        )
    if blocker is not None or design.n_obs == 0:
        return None
    return Moments.of_design(design).to_dataset()
