"""A toy kind of term for the tests of the term-kind seam: ``scaled(x, s=2)`` is the column
``x`` whose slope ``scaled(x)`` has the prior ``Normal(0, s)``. Module-level, so that a saved
file can name it (``_custom_kinds:SCALED``) and a trusted load can find it again."""

from __future__ import annotations

from collections.abc import Mapping

import bayesmm as bmm


def scaled_prior(options: Mapping[str, float], scale: float) -> bmm.Prior:
    return bmm.Prior("Normal", mu=0.0, sigma=options["s"])


def describe(options: Mapping[str, float]) -> str:
    return f"a slope with the prior Normal(0, s={options['s']:g})"


SCALED = bmm.TermKind(
    "scaled",
    stages=("design", "scaling", "display"),
    summary="a slope whose prior sd is s",
    options={"s": 1.0},
    prior=scaled_prior,
    describe=describe,
    path="_custom_kinds:SCALED",
)
