"""Summaries of ``(draws, rows)`` arrays: point estimates, intervals, quantiles, densities.

Each works on any array of draws, so prediction, the server, the estimators and
interpretation share them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._validation import check_bins, check_choice, check_probabilities, check_probability

__all__ = [
    "POINT_STATS",
    "INTERVAL_METHODS",
    "point_estimate",
    "interval",
    "highest_density",
    "check_interval",
    "quantiles",
    "density",
    "per_category",
]

POINT_STATS = ("mean", "median")
INTERVAL_METHODS = ("hdi", "eti")


def point_estimate(values: np.ndarray, stat: str = "mean") -> np.ndarray:
    """Mean or median over draws (axis 0)."""
    check_choice("stat", stat, POINT_STATS)
    return values.mean(axis=0) if stat == "mean" else np.median(values, axis=0)


def check_interval(prob: Any, method: Any) -> float:
    """Check an interval's probability and method; return the probability as a float."""
    check_choice("method", method, INTERVAL_METHODS)
    return check_probability("prob", prob)


def interval(values: np.ndarray, prob: float = 0.9, method: str = "hdi") -> np.ndarray:
    """Lower and upper bounds of a ``prob`` interval over draws, shape ``(rows, 2)``.

    ``"hdi"`` is the highest-density interval (ArviZ's ``hdi``); ``"eti"`` is the
    equal-tailed interval between the ``(1 - prob) / 2`` and ``(1 + prob) / 2`` quantiles.
    """
    prob = check_interval(prob, method)
    if method == "eti":
        return np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2], axis=0).T
    return highest_density(values, prob)


#: About how many draws :func:`highest_density` sorts at a time (8 MiB of them).
BLOCK_VALUES = 2**20


def highest_density(values: np.ndarray, prob: float) -> np.ndarray:
    """The narrowest interval holding ``prob`` of each row's draws ``(draws, rows)``, shape
    ``(rows, 2)``: ArviZ's ``hdi`` (unimodal), computed for many rows at once.

    As ArviZ does for one row: the draws sorted, ``k = floor(prob * draws)``, the widths
    ``sorted[k:] - sorted[:draws - k]`` in float64 and the first narrowest, so the bounds are
    the same numbers. Rows are sorted a block at a time, each block's draws copied to be
    contiguous; ``values`` is not changed.

    Examples
    --------
    >>> highest_density(np.arange(10.0)[:, None], 0.5)
    array([[0., 5.]])
    """
    n, rows = values.shape
    inside = int(np.floor(prob * n))
    if inside >= n:
        raise ValueError("Too few elements for interval calculation. ")  # as ArviZ says it
    bounds = np.empty((rows, 2))
    size = max(1, BLOCK_VALUES // max(n, 1))
    for start in range(0, rows, size):
        # A copy, always (sorted in place): the caller's draws stay as they are.
        block = values[:, start : start + size].T.copy(order="C")
        block.sort(axis=1)
        widths = np.subtract(block[:, inside:], block[:, : n - inside], dtype=np.float64)
        first = np.argmin(widths, axis=1)
        taken = np.arange(len(block))
        bounds[start : start + size, 0] = block[taken, first]
        bounds[start : start + size, 1] = block[taken, first + inside]
    return bounds


def quantiles(values: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """Quantiles over draws, shape ``(rows, len(probs))``."""
    probs = check_probabilities("probs", probs)
    return np.quantile(values, probs, axis=0).T


def density(
    values: np.ndarray, bins: int | Sequence[float] | np.ndarray = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Histogram density of each row's draws.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(S, rows)``.
    bins : int or sequence of float
        The number of equal-width bins spanning each row's draws, or the bin edges shared by
        every row (draws outside them are left out, as in ``numpy.histogram``).

    Returns
    -------
    edges : numpy.ndarray
        Shape ``(rows, bins + 1)``.
    density : numpy.ndarray
        Shape ``(rows, bins)``; ``sum(density * diff(edges)) == 1`` for each row whose draws
        all fall inside the edges.
    """
    n, rows = values.shape
    checked = check_bins(bins)
    if isinstance(checked, int):
        # Equal-width bins spanning each row's draws, computed as numpy.histogram does.
        k = checked
        low, high = values.min(axis=0), values.max(axis=0)
        # A row whose draws are all equal gets a unit-width range, as numpy.histogram gives;
        # wider for values so large that +-0.5 is lost to rounding.
        flat = high <= low
        half = np.where(flat, np.maximum(0.5, np.abs(low) * 1e-9), 0.0)
        low, high = low - half, high + half
        edges = np.linspace(low, high, k + 1, axis=1)
        index = ((values - low) / (high - low) * k).astype(np.int64)
        index[index == k] = k - 1
        columns = np.broadcast_to(np.arange(rows), values.shape)
        index[values < edges[columns, index]] -= 1
        index[(values >= edges[columns, index + 1]) & (index != k - 1)] += 1
        inside = np.ones_like(index, dtype=bool)
    else:
        shared = checked
        k = shared.size - 1
        edges = np.broadcast_to(shared, (rows, k + 1))
        index = np.searchsorted(shared, values, side="right") - 1
        index[values == shared[-1]] = k - 1  # the last bin is closed, as in numpy.histogram
        inside = (index >= 0) & (index < k)
    flat_index = (index + np.arange(rows)[None, :] * k)[inside]
    counts = np.bincount(flat_index, minlength=rows * k).reshape(rows, k)
    widths = np.diff(edges, axis=1)
    return np.array(edges), counts / (n * widths)


def per_category(values: np.ndarray, summary: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``summary`` of each category's ``(draws, rows)`` slice of ``values`` ``(draws, rows,
    K)``, side by side: shape ``(rows, K * columns)``, category by category."""
    parts = [np.asarray(summary(values[:, :, k])) for k in range(values.shape[2])]
    return np.concatenate(parts, axis=1)
