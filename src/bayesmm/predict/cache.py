"""Stacked posterior draws kept per InferenceData, and released with it.

``Model.predict(idata, ...)`` is called again and again with the same ``idata`` (a server, a
loop over requests); stacking its posterior (:func:`~bayesmm.predict.draws.extract_draws`)
each time was most of the time of a one-row prediction. :class:`StackedDraws` keeps the stacked
draws of each InferenceData it is shown, keyed on the object itself through a weak reference:
when the caller drops the InferenceData, its entry goes with it, so the cache holds no more
entries than there are InferenceData objects alive. The stacked arrays hold no reference to
the InferenceData, so keeping them does not keep it alive.

An entry is used only while the InferenceData still holds the same ``posterior`` group
object and what else the stacked draws depend on (the fixed auxiliary parameters, the group
terms with a population distribution) is unchanged; replacing
``idata.posterior``, or calling ``set_priors``, stacks the draws again. Changing the values of
the posterior's arrays in place is not seen, as a ``FittedModel`` does not see it either.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .draws import PosteriorDraws

__all__ = ["StackedDraws"]


@dataclass(frozen=True)
class _Entry:
    ref: weakref.ref
    posterior: Any  # the posterior group the draws were stacked from
    key: tuple[dict[str, float], tuple[str, ...]]
    draws: PosteriorDraws


class StackedDraws:
    """The stacked posterior draws of each live InferenceData, for one model.

    Examples
    --------
    >>> cache = StackedDraws()
    >>> len(cache)
    0
    """

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, idata: Any, fixed: Mapping[str, float], normal_groups: Sequence[str]
    ) -> PosteriorDraws | None:
        """The draws kept for ``idata`` with these ``fixed`` parameters and ``normal_groups``
        (the arguments of :func:`~bayesmm.predict.draws.extract_draws`); ``None`` if there
        are none, or if ``idata``'s posterior group has been replaced since."""
        entry = self._entries.get(id(idata))
        if entry is None or entry.ref() is not idata or entry.key != _key(fixed, normal_groups):
            return None
        return entry.draws if _posterior(idata) is entry.posterior else None

    def keep(
        self,
        idata: Any,
        draws: PosteriorDraws,
        fixed: Mapping[str, float],
        normal_groups: Sequence[str],
    ) -> None:
        """Keep ``draws``, stacked from ``idata`` with ``fixed`` and ``normal_groups``, until
        ``idata`` is dropped (an object that takes no weak reference, such as a plain dict of
        groups, is not kept)."""
        entries, slot = self._entries, id(idata)

        def release(ref: weakref.ref) -> None:  # called when idata is collected
            if (current := entries.get(slot)) is not None and current.ref is ref:
                del entries[slot]

        try:
            ref = weakref.ref(idata, release)
        except TypeError:
            return
        entries[slot] = _Entry(ref, _posterior(idata), _key(fixed, normal_groups), draws)


def _key(
    fixed: Mapping[str, float], normal_groups: Sequence[str]
) -> tuple[dict[str, float], tuple[str, ...]]:
    return dict(fixed), tuple(normal_groups)


def _posterior(idata: Any) -> Any:
    return idata["posterior"]
