"""Predictions for more rows than their draws fit in memory, a chunk of rows at a time.

A prediction holds every posterior draw for every row: 2,000 draws of ten million rows are
160 GB. :class:`Chunked` runs a function of per-row summaries (a fitted model's ``point``,
``interval``, ``quantiles``, ``density``) on ``chunk_rows`` rows at a time and joins their
tables, so that memory follows the chunk, not the data.

Two things keep the chunks one prediction. Each chunk draws its responses from its own
stream, spawned from one ``random_seed``, so that no two chunks share their noise. And an
unseen group level is drawn from a stream keyed by its label (``level_seed``), so that a
new level whose rows fall in several chunks is the same level in all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError

__all__ = ["Chunked", "DEFAULT_CHUNK_ROWS", "SUMMARIES"]

#: Rows per chunk by default: 2,000 draws of 20,000 rows are 320 MB per array.
DEFAULT_CHUNK_ROWS = 20_000

#: The per-row summaries a :class:`Chunked` runs, each a method of the same name.
SUMMARIES = ("point", "interval", "quantiles", "density")

_log = logging.getLogger("bayesmm")


class Chunked:
    """Per-row summaries, ``chunk_rows`` rows at a time (see the module).

    Made by :meth:`bayesmm.FittedModel.chunked`; its methods take what the fitted model's
    methods of the same names take.

    Parameters
    ----------
    summarise : callable
        ``summarise(name, rows, **options)``: the summary ``name`` (one of :data:`SUMMARIES`)
        of a DataFrame of rows, as a DataFrame with one row per row.
    chunk_rows : int, default 20,000
        Rows per chunk, at least 1.

    Raises
    ------
    DataError
        If ``chunk_rows`` is not a positive integer.

    Examples
    --------
    >>> import pandas as pd
    >>> chunked = Chunked(lambda name, rows, **options: rows.assign(n=len(rows)), chunk_rows=2)
    >>> chunked.point(pd.DataFrame({"x": [1, 2, 3]}))["n"].tolist()
    [2, 2, 1]
    """

    def __init__(
        self, summarise: Callable[..., pd.DataFrame], chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> None:
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int | np.integer):
            raise DataError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")
        if chunk_rows < 1:
            raise DataError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")
        self.summarise, self.chunk_rows = summarise, int(chunk_rows)

    def _run(self, method: str, data: pd.DataFrame, options: dict[str, Any]) -> pd.DataFrame:
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                f"chunked().{method}() predicts for new rows: data must be a pandas DataFrame; "
                f"got {type(data).__name__}."
            )
        seed = options.pop("random_seed", None)
        if isinstance(seed, np.random.Generator):
            raise DataError(
                f"chunked().{method}() spawns one stream per chunk from random_seed: give an "
                "integer or None, not a Generator."
            )
        root = np.random.SeedSequence(seed)
        options.setdefault("level_seed", int(root.generate_state(1)[0]))
        starts = range(0, len(data), self.chunk_rows)
        streams = root.spawn(len(starts))
        tables = []
        for number, (start, stream) in enumerate(zip(starts, streams, strict=True)):
            rows = data.iloc[start : start + self.chunk_rows]
            seeded = np.random.default_rng(stream)
            tables.append(self.summarise(method, rows, random_seed=seeded, **options))
            _log.info("chunked %s: chunk %d of %d done", method, number + 1, len(starts))
        if not tables:
            raise DataError(f"chunked().{method}() got no rows.")
        return pd.concat(tables)

    def point(self, data: pd.DataFrame, **options: Any) -> pd.DataFrame:
        """:meth:`bayesmm.FittedModel.point`, a chunk at a time."""
        return self._run("point", data, options)

    def interval(self, data: pd.DataFrame, **options: Any) -> pd.DataFrame:
        """:meth:`bayesmm.FittedModel.interval`, a chunk at a time."""
        return self._run("interval", data, options)

    def quantiles(self, data: pd.DataFrame, **options: Any) -> pd.DataFrame:
        """:meth:`bayesmm.FittedModel.quantiles`, a chunk at a time."""
        return self._run("quantiles", data, options)

    def density(self, data: pd.DataFrame, **options: Any) -> pd.DataFrame:
        """:meth:`bayesmm.FittedModel.density`, a chunk at a time."""
        return self._run("density", data, options)
