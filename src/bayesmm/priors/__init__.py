"""Priors as data: the ``Prior`` record, one ``TermPrior`` per term, the ``PriorSet`` of a
model, and the merging of the user's priors over the defaults.

The defaults themselves are scaled from the data in :mod:`bayesmm.scaling`, a layer above
(it needs the design and the family); ``bayesmm.priors.default_priors`` still finds them
there, imported on first use.

>>> from bayesmm.priors import Prior
>>> Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=5))
Normal(mu: 0, sigma: HalfCauchy(beta: 5))
"""

from __future__ import annotations

from typing import Any

from .prior import (
    DEFAULT_CORRELATION_PRIOR,
    DISTRIBUTIONS,
    Prior,
    format_value,
    prior_from_dict,
    prior_to_dict,
)
from .set import PriorSet, ResponseStats, TermPrior, merge_priors

__all__ = [
    "Prior",
    "PriorSet",
    "TermPrior",
    "ResponseStats",
    "DISTRIBUTIONS",
    "DEFAULT_CORRELATION_PRIOR",
    "default_priors",
    "merge_priors",
    "format_value",
    "prior_to_dict",
    "prior_from_dict",
]


def __getattr__(name: str) -> Any:
    # default_priors lives in bayesmm.scaling, above this layer (it reads the design and the
    # family); importing it on first use keeps `bayesmm.priors.default_priors` working
    # without an import that points up the layers.
    if name in ("default_priors", "DEFAULT_SCALE"):
        from .. import scaling

        return getattr(scaling, name)
    raise AttributeError(f"module 'bayesmm.priors' has no attribute {name!r}")
