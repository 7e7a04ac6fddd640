"""Which likelihood a fit samples: the rows, or their exact summary (sufficient statistics,
with a factor integrated out, or the counts of identical rows), for the sampler that runs."""

from __future__ import annotations

import math
import os
import warnings

from ..._errors import BayesmmWarning, DataError
from ..graph import sufficient
from ..graph.built import BuiltModel
from ..graph.sufficient import NOT_WORTH_IT
from .registry import SAMPLERS

__all__ = ["summed_for", "ANNOUNCE_ROWS"]


#: A fit of at least this many rows that samples the rows says how long it may take.
ANNOUNCE_ROWS = 100_000

#: Seconds of one chain's NUTS step per row, and the steps of a typical iteration, measured on
#: ``y ~ x + (1|g)`` with a million rows (349 s for 2 chains of 1,000 iterations of about 31
#: steps each, on 2 cores; ``benchmarks/large_data.py``).
SECONDS_PER_ROW_STEP = 349 / (1_000_000 * 1_000 * 31)
TYPICAL_STEPS = 31


def _announce(n_obs: int, sampling: tuple[int, int, int | None] | None, why: str) -> None:
    """Say, for a large NUTS fit of the rows, why the rows are sampled and about how long
    (``sampling`` is ``None`` for an approximation, whose time this does not estimate)."""
    if n_obs < ANNOUNCE_ROWS or sampling is None:
        return
    draws, tune, chains = sampling
    chains = chains or 4
    rounds = math.ceil(chains / max(1, min(chains, os.cpu_count() or 1)))
    seconds = n_obs * (draws + tune) * TYPICAL_STEPS * SECONDS_PER_ROW_STEP * rounds
    minutes = max(1, round(seconds / 60))
    warnings.warn(
        f"Sampling all {n_obs} rows with NUTS ({why}): expect roughly {minutes} "
        f"minute{'s' if minutes > 1 else ''}, more for a model with more terms or a harder "
        "posterior. See docs/large-data.md.",
        BayesmmWarning,
        stacklevel=5,  # the line that called fit(): through summed_for, sample, fit
    )


def summed_for(
    built: BuiltModel,
    choice: bool | None,
    sampling: tuple[int, int, int | None] = (1000, 1000, None),
    inference_method: str = "auto",
) -> BuiltModel | None:
    """The model a fit with ``sufficient_statistics=choice`` samples in place of ``built``'s
    rows: its summary (``built.summarised``, see
    :func:`~bayesmm.backend.graph.sufficient.summary_model`), or ``None`` to sample the rows
    (then, for a large NUTS fit, a warning estimating its time; ``sampling`` is its ``(draws,
    tune, chains)``; an approximation's optimisation shows its own progress).

    Parameters
    ----------
    built : BuiltModel
        The model of the rows.
    choice : bool or None
        ``True`` insists on an exact summary, ``False`` declines, ``None`` uses one where it is
        exact and worth it (:func:`~bayesmm.backend.graph.sufficient.worth_it`).
    sampling : (int, int, int or None), default (1000, 1000, None)
        The fit's draws, tune and chains, for the estimate of its time.
    inference_method : str, default "auto"
        The fit's; an approximation's time is not estimated.

    Raises
    ------
    DataError
        For a ``choice`` that is not a bool or None, and for ``True`` on a model whose
        statistics are not exact, saying why.
    """
    if choice is not None and not isinstance(choice, bool):
        raise DataError(f"sufficient_statistics must be True, False or None; got {choice!r}.")
    if built.summarised is None:
        return None
    n_obs = len(built.observed)
    record = SAMPLERS.get(inference_method)
    approximate = record is not None and record.approximation
    timed = None if approximate else sampling  # the estimate is NUTS'
    if choice is False:
        _announce(n_obs, timed, "sufficient_statistics=False")
        return None
    if choice is None and n_obs < sufficient.SHORTCUT_MIN_ROWS:  # read here: tests lower it
        return None
    summed = built.summarised(bool(choice))
    if isinstance(summed, str):
        if choice and summed != NOT_WORTH_IT:
            raise DataError(
                "sufficient_statistics=True needs a gaussian model with the identity link or a "
                "bernoulli model without weights, with an uncensored response and no "
                f"distributional formulas; here {summed}."
            )
        why = summed if summed == NOT_WORTH_IT else f"no exact summary: {summed}"
        _announce(n_obs, timed, why)
        return None
    return summed
