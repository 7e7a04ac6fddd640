"""A design's learned state grown by new rows: the levels of grouping factors that the rows
bring, added after the fitted ones, and the summaries of the columns over all the rows.

A model updated with new rows from stored statistics (``bayesmm.workflow.update``) has no
earlier rows to encode again: everything else the design learned (categories and contrasts
of common predictors, the state of transforms such as ``center(x)``) stays as it was, and
the new rows are encoded with it. A grouping factor's new levels get the codes after the
fitted ones, in the order the rows bring them, as a prediction for unseen levels gives them
(:class:`~bayesmm.design.state.DesignState`).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from .columns import ColumnSummary
from .state import FactorEncoder

__all__ = ["grown_encoder", "grown_summary", "grown_design"]


def _unseen(frame: pd.DataFrame, name: str, categories: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """The codes of a component's values among ``categories`` (-1 for none: values matched by
    their text count as seen), and the categories with the unseen values added in order."""
    codes = FactorEncoder((name,), (categories,), None, None).codes(frame)
    added = pd.unique(frame[name].to_numpy()[codes < 0])
    return codes, categories.append(pd.Index(added)) if len(added) else categories


def grown_encoder(
    encoder: FactorEncoder, frame: pd.DataFrame
) -> tuple[FactorEncoder, tuple[str, ...]]:
    """``encoder`` with the levels of ``frame`` it has not seen added after its own, and the
    labels of those levels in their order (``a:b`` for an interaction)."""
    index = encoder.codes(frame)
    unseen = np.flatnonzero(index < 0)
    if not unseen.size:
        return encoder, ()
    labels = encoder.labels(frame, unseen)
    added = tuple(dict.fromkeys(labels))
    grown = [
        _unseen(frame, n, c)[1] for n, c in zip(encoder.components, encoder.categories, strict=True)
    ]
    if encoder.keys is None or encoder.key_level is None:
        return FactorEncoder(encoder.components, tuple(grown), None, None), added
    # An interaction: its observed combinations as flat codes over the grown categories.
    sizes = [len(c) for c in grown]
    old = np.unravel_index(encoder.keys, [len(c) for c in encoder.categories])
    keys = np.ravel_multi_index(old, sizes)
    codes = [_unseen(frame, n, c)[0] for n, c in zip(encoder.components, grown, strict=True)]
    flat = np.ravel_multi_index([c[unseen] for c in codes], sizes)
    position = {label: j for j, label in enumerate(added)}
    level = len(encoder.keys) + np.array([position[label] for label in labels], dtype=np.int64)
    new_keys, first = np.unique(flat, return_index=True)
    every = np.concatenate([keys, new_keys])
    order = np.argsort(every)
    levels = np.concatenate([encoder.key_level, level[first]])[order]
    return FactorEncoder(encoder.components, tuple(grown), every[order], levels), added


def grown_summary(summary: ColumnSummary, column: pd.Series, n_before: int) -> ColumnSummary:
    """The summary of a column over the ``n_before`` rows it summarised and ``column``'s: a
    categorical column's levels (new ones after the others, values matched by their text)
    and counts, a bool column's share, a numeric column's range and mean (its quartiles are
    no longer known)."""
    n = len(column)
    if summary.kind == "categorical":
        levels, rows = pd.Index(list(summary.levels)), column.to_frame("c")
        grown = _unseen(rows, "c", levels)[1]
        codes = FactorEncoder(("c",), (grown,), None, None).codes(rows)
        counts = None
        if summary.counts is not None:
            counts = (*summary.counts, *[0] * (len(grown) - len(levels)))
            counts = tuple(int(c) for c in np.add(counts, np.bincount(codes, minlength=len(grown))))
        return ColumnSummary(kind="categorical", levels=tuple(grown), counts=counts)
    if summary.kind == "bool":
        share = None
        if summary.share is not None:
            share = (summary.share * n_before + float(column.astype(bool).sum())) / (n_before + n)
        return ColumnSummary(kind="bool", share=share)
    new = ColumnSummary.of_values(pd.Series(column.to_numpy(dtype=float)))
    low, high = min(summary.low, new.low), max(summary.high, new.high)
    mean = None
    if summary.mean is not None and new.mean is not None:
        mean = (summary.mean * n_before + new.mean * n) / (n_before + n)
    integral = None if summary.integral is None else bool(summary.integral and new.integral)
    return ColumnSummary(
        kind="numeric", dtype=summary.dtype, range=(low, high), integral=integral, mean=mean
    )


def grown_design(
    description: dict[str, Any], frame: pd.DataFrame, dropped: int = 0
) -> dict[str, Any]:
    """A design's JSON form (``design.file.design_to_dict``) grown by the rows of ``frame``
    (already checked by the design's state): each grouping factor's new levels added, the
    column summaries of all the rows, and their number.

    Returns a new dict; ``description`` is not changed.
    """
    grown = copy.deepcopy(description)
    for i, (term, stored) in enumerate(zip(grown["group_terms"], grown["factors"], strict=True)):
        encoder, added = grown_encoder(FactorEncoder.from_dict(stored), frame)
        grown["factors"][i] = encoder.to_dict(term["factor"])
        term["levels"] = [*term["levels"], *added]
    n_before = int(description["n_obs"])
    grown["columns"] = {
        name: grown_summary(ColumnSummary.from_dict(record), frame[name], n_before).to_dict(
            f"column {name!r}"
        )
        for name, record in description["columns"].items()
    }
    grown["n_obs"] = n_before + len(frame)
    grown["n_dropped"] = int(description["n_dropped"]) + dropped
    return grown
