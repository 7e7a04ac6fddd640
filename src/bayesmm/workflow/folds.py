"""Which fold each row is held out in: rows at random, stratified rows, or whole groups.

Every function here is pure: it reads labels and a ``numpy.random.Generator`` and returns
one fold number ``0 .. K-1`` per row. The folds are as even as the labels allow: ``K``
folds of rows differ in size by at most one row; a stratum's rows are spread so that its
count in any two folds differs by at most one; whole groups go, largest first, to the fold
with the fewest rows so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import describe_values, did_you_mean

__all__ = [
    "DEFAULT_K",
    "row_folds",
    "group_folds",
    "group_codes",
    "row_labels",
    "check_k",
    "assign_folds",
]

#: The number of folds when neither ``k`` nor ``groups`` is given: the usual choice, a
#: tenth of the rows held out at a time.
DEFAULT_K = 10


def row_folds(
    n_rows: int, k: int, rng: np.random.Generator, strata: np.ndarray | None = None
) -> np.ndarray:
    """A fold for each of ``n_rows`` rows, at random: ``k`` folds whose sizes differ by at
    most one row.

    With ``strata`` (one integer code per row), the rows of each stratum are dealt to the
    folds in turn, continuing where the previous stratum stopped, so each stratum's count
    in any two folds differs by at most one, and so do the folds' sizes.

    Examples
    --------
    >>> folds = row_folds(10, 3, np.random.default_rng(0))
    >>> sorted(np.bincount(folds).tolist())
    [3, 3, 4]
    """
    order = rng.permutation(n_rows)
    if strata is not None:
        # A stable sort keeps the random order within each stratum.
        order = order[np.argsort(strata[order], kind="stable")]
    folds = np.empty(n_rows, dtype=np.int64)
    folds[order] = np.arange(n_rows) % k
    # Fold 0 would otherwise always be among the larger ones.
    return rng.permutation(k)[folds]


def group_folds(codes: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A fold for each row, keeping the rows of a group (``codes``, ``0 .. G-1``) together.

    The groups, in random order and then largest first, each go to the fold with the fewest
    rows so far: every fold gets at least one group when ``k <= G``, and the folds' sizes
    are close. ``k = G`` gives each group a fold of its own.

    Examples
    --------
    >>> codes = np.array([0, 0, 1, 1, 2, 2, 3])
    >>> folds = group_folds(codes, 2, np.random.default_rng(0))
    >>> bool(all(len(set(folds[codes == g])) == 1 for g in range(4)))
    True
    """
    sizes = np.bincount(codes)
    order = rng.permutation(len(sizes))
    order = order[np.argsort(-sizes[order], kind="stable")]
    rows_in = np.zeros(k, dtype=np.int64)
    fold_of_group = np.empty(len(sizes), dtype=np.int64)
    for group in order:
        fold = int(np.argmin(rows_in))
        fold_of_group[group] = fold
        rows_in[fold] += sizes[group]
    return rng.permutation(k)[fold_of_group][codes]


def row_labels(rows: pd.DataFrame, argument: str, value: Any) -> np.ndarray:
    """One label per row: the column ``value`` of ``rows``, or ``value`` itself, a sequence
    of one label per row.

    Raises
    ------
    DataError
        Naming ``argument``: for a column that ``rows`` lacks (with the columns it has and a
        close match), or a sequence whose length is not the number of rows.
    """
    if isinstance(value, str):
        if value not in rows.columns:
            columns = [str(c) for c in rows.columns]
            raise DataError(
                f"{argument}={value!r}: there is no column {value!r} among the model's "
                f"training rows, whose columns are {columns}."
                + did_you_mean(value, columns)
                + f" A column the formula does not use can be given as {argument}=<one "
                "label per row>."
            )
        return rows[value].to_numpy()
    if isinstance(value, pd.Series | pd.Index | np.ndarray | Sequence):
        labels = np.asarray(value)
        if labels.ndim != 1 or len(labels) != len(rows):
            raise DataError(
                f"{argument} must be a column name or one label per training row "
                f"({len(rows)}); got an array of shape {labels.shape}."
            )
        return labels
    raise DataError(
        f"{argument} must be a column name or one label per training row; got "
        f"{type(value).__name__} {value!r}."
    )


def group_codes(labels: np.ndarray, argument: str) -> np.ndarray:
    """The groups of ``labels`` as codes ``0 .. G-1``, in the labels' sorted order.

    Raises
    ------
    DataError
        For missing labels, naming ``argument`` and the rows.
    """
    codes, _ = pd.factorize(pd.Series(labels), sort=True)
    missing = np.flatnonzero(codes < 0)
    if missing.size:
        raise DataError(
            f"{argument} has missing values in {missing.size} row(s) (positions "
            f"{describe_values(missing)}); every row needs a label to be put in a fold."
        )
    return np.asarray(codes, dtype=np.int64)


def check_k(k: Any, available: int, unit: str) -> int:
    """``k`` if it is a whole number of folds from 2 to ``available`` (rows or groups).

    Raises
    ------
    DataError
        Naming ``k``, what it may be, and what it was.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise DataError(f"k must be a whole number of folds, at least 2; got {k!r}.")
    if k > available:
        raise DataError(
            f"k must be at most the number of {unit} ({available}), so that no fold is empty; "
            f"got k={k}. Pass a smaller k"
            + (", or leave k out for one fold per group." if unit == "groups" else ".")
        )
    return int(k)


def assign_folds(
    n_rows: int,
    k: int | None,
    rng: np.random.Generator,
    groups: np.ndarray | None = None,
    strata: np.ndarray | None = None,
) -> np.ndarray:
    """The fold of each row: ``k`` folds of rows (10 without ``k``), stratified by
    ``strata``; with ``groups`` (one label per row), ``k`` folds of whole groups, or,
    without ``k``, one fold per group (leave-one-group-out, fold ``j`` the ``j``-th group
    in sorted order).

    Raises
    ------
    DataError
        For a ``k`` that is not between 2 and the number of rows (or groups), missing group
        labels, fewer than two groups, or ``groups`` with ``strata``.
    """
    if groups is None:
        chosen = check_k(DEFAULT_K if k is None else k, n_rows, "rows")
        codes = None if strata is None else group_codes(strata, "stratify")
        return row_folds(n_rows, chosen, rng, codes)
    if strata is not None:
        raise DataError(
            "stratify and groups cannot be combined: the folds hold whole groups. Leave "
            "stratify out, or stratify rows without groups."
        )
    codes = group_codes(groups, "groups")
    n_groups = int(codes.max()) + 1
    if k is None:
        if n_groups < 2:
            raise DataError(
                "groups must hold at least 2 groups for leave-one-group-out; got 1 group."
            )
        return codes
    return group_folds(codes, check_k(k, n_groups, "groups"), rng)
