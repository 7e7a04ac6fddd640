"""The checks of ``Family``'s arguments: its links, default auxiliary priors and categories.

They word every error with the family's name, so a custom family's author sees which of its
arguments is wrong and what it should be.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import BayesmmDeprecationWarning, FamilyError
from ..links import LINKS, Link
from ..priors import Prior, ResponseStats
from .categories import Categories
from .known import default_support
from .likelihood import Likelihood
from .support import Support

__all__ = [
    "AUX_LINKS",
    "PRIOR_SUPPORT",
    "FixedPrior",
    "LEGACY_POSITIONALS",
    "legacy_keywords",
    "check_categories",
    "checked_links",
    "checked_support",
    "family_links",
    "aux_defaults",
]

#: The links of an auxiliary parameter with a formula, by its range; the first is the default.
#: The identity on a positive parameter is the user's choice to keep its predictor positive.
AUX_LINKS: dict[str, tuple[str, ...]] = {
    "positive": ("log", "identity"),
    "unit": ("logit", "probit", "cloglog"),
    "real": ("identity",),
}

#: The support of default priors, for auxiliary parameters without ``aux_bounds``.
PRIOR_SUPPORT: dict[str, tuple[float, float]] = {
    **dict.fromkeys(
        (
            "HalfNormal",
            "HalfStudentT",
            "HalfCauchy",
            "Gamma",
            "Exponential",
            "LogNormal",
            "InverseGamma",
            "Weibull",
            "Wald",
            "HalfFlat",
        ),
        (0.0, np.inf),
    ),
    **dict.fromkeys(("Beta", "Kumaraswamy"), (0.0, 1.0)),
}


#: The arguments of ``Family`` after ``link`` in the order they once took by position.
LEGACY_POSITIONALS = (
    "links",
    "aux_priors",
    "support",
    "support_text",
    "trials",
    "binary",
    "glm_variance",
    "prior_scale",
    "aux_bounds",
    "custom_links",
)


@dataclass(frozen=True, eq=False)
class FixedPrior:
    """An auxiliary parameter's default prior given as a :class:`Prior`, not a function."""

    prior: Prior

    def __call__(self, stats: ResponseStats) -> Prior:
        return self.prior


def check_categories(
    name: str, categories: Categories | None, likelihood: Likelihood
) -> Categories | None:
    if categories is None:
        return None
    if not isinstance(categories, Categories):
        raise FamilyError(
            f"Family {name!r}: categories must be a bayesmm.families.Categories or None; got "
            f"{categories!r}."
        )
    aux = [p for p in likelihood.params if p != likelihood.parent]
    expected = [categories.threshold] if categories.ordinal else []
    if aux != expected:
        raise FamilyError(
            f"Family {name!r}: a {categories.model} model has the auxiliary parameters "
            f"{expected}; its likelihood has {aux}."
        )
    return categories


def family_links(
    name: str, parent: str, link: Any, links: Sequence[str | Link] | None
) -> tuple[str, tuple[str, ...], dict[str, Link]]:
    """The default link's name, the allowed names, and the family's own Link objects."""
    customs: dict[str, Link] = {}

    def name_of(value: Any, arg: str) -> str:
        if isinstance(value, Link):
            if not value.is_registered:
                if customs.get(value.name, value) != value:
                    raise FamilyError(
                        f"Family {name!r}: {arg} holds two different links named "
                        f"{value.name!r}; give each link its own name."
                    )
                customs[value.name] = value
            return value.name
        if isinstance(value, str) and value:
            return value
        raise FamilyError(
            f"Family {name!r}: {arg} must be a link name (str), a bayesmm.Link or a dict "
            f"{{{parent!r}: link}}; got {type(value).__name__} {value!r}."
        )

    if isinstance(link, Mapping):
        # Only the parent is modelled by the formula; Bambi's form {param: link} is accepted
        # for it alone.
        if list(link) != [parent]:
            raise FamilyError(
                f"Family {name!r}: link as a dict maps parameters to links, and only the "
                f"parent {parent!r} is modelled; got the keys {list(link)}."
            )
        link = link[parent]
    default = name_of(link, "link")
    if links is None:
        allowed: tuple[str, ...] = (default,)
    elif isinstance(links, str | Link) or not isinstance(links, Sequence):
        raise FamilyError(
            f"Family {name!r}: links must be a tuple of link names or bayesmm.Link objects; "
            f"got {links!r}."
        )
    else:
        allowed = tuple(name_of(value, "links") for value in links)
    return default, allowed, customs


def aux_defaults(
    name: str,
    likelihood: Likelihood,
    aux_priors: Mapping[str, Any] | None,
    priors: Mapping[str, Any] | None,
) -> dict[str, Callable[[ResponseStats], Prior | float]]:
    """The default prior of each auxiliary parameter, as a function of the response summary."""
    if aux_priors is not None and priors is not None:
        raise FamilyError(
            f"Family {name!r}: give the auxiliary priors once, as aux_priors or as priors "
            "(two names for one argument); got both."
        )
    given = aux_priors if aux_priors is not None else priors
    given = {} if given is None else given
    if not isinstance(given, Mapping):
        raise FamilyError(
            f"Family {name!r}: aux_priors must be a dict from auxiliary parameter to a "
            f"bayesmm.Prior or a function of the response summary; got {given!r}."
        )
    expected = [p for p in likelihood.params if p != likelihood.parent]
    if set(given) != set(expected):
        missing = [p for p in expected if p not in given]
        hint = (
            f" Pass e.g. aux_priors={{{missing[0]!r}: bmm.Prior('HalfNormal', sigma=1)}}."
            if missing
            else ""
        )
        raise FamilyError(
            f"Family {name!r}: aux_priors must give a default prior for each auxiliary "
            f"parameter {sorted(expected)} of its likelihood {likelihood.name!r}; got "
            f"{sorted(given)}." + hint
        )
    out: dict[str, Callable[[ResponseStats], Prior | float]] = {}
    for param, value in given.items():
        if isinstance(value, Prior):
            out[param] = FixedPrior(value)
        elif callable(value):
            out[param] = value
        else:
            raise FamilyError(
                f"Family {name!r}: aux_priors[{param!r}] must be a bayesmm.Prior or a "
                f"function of the response summary returning one; got {value!r}."
            )
    return out


def legacy_keywords(name: str, legacy: tuple[Any, ...], given: dict[str, Any]) -> dict[str, Any]:
    """The arguments given by position after ``link``, as keywords, with a deprecation warning.

    Raises
    ------
    FamilyError
        If there are more than :data:`LEGACY_POSITIONALS`, or one is also given by keyword.
    """
    if len(legacy) > len(LEGACY_POSITIONALS):
        raise FamilyError(
            f"Family {name!r} takes at most {3 + len(LEGACY_POSITIONALS)} positional "
            f"arguments; got {3 + len(legacy)}. Give the arguments after link by keyword."
        )
    names = LEGACY_POSITIONALS[: len(legacy)]
    twice = [n for n in names if given[n] is not None]
    if twice:
        raise FamilyError(f"Family {name!r} got {twice} both by position and by keyword.")
    warnings.warn(
        f"Family {name!r}: passing {list(names)} by position is deprecated; give every "
        "argument after name, likelihood and link by keyword, e.g. "
        f"Family({name!r}, likelihood, link, {names[0]}=...).",
        BayesmmDeprecationWarning,
        stacklevel=3,
    )
    return {**given, **dict(zip(names, legacy, strict=True))}


def checked_links(
    name: str,
    likelihood: Likelihood,
    link: Any,
    links: Sequence[str | Link] | None,
    custom_links: Sequence[Link],
) -> tuple[str, tuple[str, ...], tuple[Link, ...]]:
    """The default link's name, the allowed links' names, and the family's own links.

    Raises
    ------
    FamilyError
        If a link is unknown, not a link, or the default is not among the allowed ones.
    """
    default, allowed, customs = family_links(name, likelihood.parent, link, links)
    for extra in custom_links:
        if not isinstance(extra, Link):
            raise FamilyError(
                f"Family {name!r}: custom_links must hold bayesmm.Link objects; got {extra!r}."
            )
        customs.setdefault(extra.name, extra)
    named = dict.fromkeys((default, *allowed))
    unknown = [ln for ln in named if ln not in LINKS and ln not in customs]
    if unknown:
        raise FamilyError(
            f"Family {name!r} names unknown links {unknown}; valid link names are "
            f"{sorted(LINKS)}, or pass a bayesmm.Link."
        )
    if default not in allowed:
        raise FamilyError(
            f"Family {name!r}: default link {default!r} must be among its links {list(allowed)}."
        )
    return default, allowed, tuple(customs[n] for n in allowed if n in customs)


def checked_support(name: str, distribution: str, support: Any, text: str | None) -> Support:
    """The family's :class:`Support`: as given, a check with its text, or the known one.

    Raises
    ------
    FamilyError
        If ``support`` is neither a Support, a callable nor ``None``.
    """
    if support is None:
        support = default_support(distribution)
    elif isinstance(support, Support):
        pass
    elif callable(support):
        support = Support(support, text if text is not None else "in its support")
    else:
        raise FamilyError(
            f"Family {name!r}: support must be a bayesmm.families.Support or a callable "
            f"support(y, trials) returning None or what is wrong; got {support!r}."
        )
    return support if text is None else Support(support.check, text)
