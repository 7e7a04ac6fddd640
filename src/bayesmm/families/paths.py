"""The import paths of a family's own functions, by the field of its record that holds them.

A model file that rebuilds a family carrying a built-in family's name (``"gaussian"``) may
name only that family's own functions: :func:`own_paths` says which, for
:meth:`~bayesmm.families.Family.from_dict`.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from ..persist.importpath import UnsavableError, callable_path

__all__ = ["own_paths"]


def own_paths(family: Any) -> dict[str, frozenset[str]]:
    """The import path of each function of ``family``, keyed by where a family record holds
    it: ``likelihood.to_dist``, ``likelihood.draw``, ``likelihood.logpdf``, ``support``,
    ``prior_scale`` and ``aux_priors[param]``. A field whose function has no import path (a
    lambda), or that the family leaves empty, has none."""
    likelihood = family.likelihood
    functions: dict[str, list[Any]] = {
        "likelihood.to_dist": [likelihood.to_dist],
        "likelihood.draw": [likelihood.draw],
        "likelihood.logpdf": [likelihood.logpdf],
        "support": [family.support.check],
        "prior_scale": [family.prior_scale],
    }
    for param, prior in family.aux_priors.items():
        functions[f"aux_priors[{param}]"] = [prior]
    return {key: frozenset(_paths(values)) for key, values in functions.items()}


def _paths(functions: list[Any]) -> set[str]:
    found = set()
    for function in functions:
        if function is None:
            continue
        with suppress(UnsavableError):  # a lambda: no record can name it
            found.add(callable_path(function))
    return found
