"""The user's priors over the defaults: ``Model(priors=...)`` and ``set_priors``.

A value is a :class:`~bayesmm.Prior`, a number that fixes an auxiliary parameter, or, with
``automatic_priors="mle"``, a scale on the partial-correlation scale (a name of
:data:`~bayesmm.scaling.mle.NAMED_SCALES` or a number in (0, 1]) that re-derives a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._errors import PriorError
from .._validation import did_you_mean
from ..priors import Prior, PriorSet, merge_priors
from .default import default_priors
from .mle import is_scale, mle_priors, resolve_scale

if TYPE_CHECKING:
    from ..design import Design
    from ..families import Family
    from ..links import Link

__all__ = ["resolve_priors", "GivenPriors"]


def resolve_priors(
    design: Design,
    family: Family,
    link: Link,
    priors: Mapping[Any, Any] | None,
    *,
    automatic_priors: str,
    auto_scale: bool,
    scales: Mapping[str, float],
    user: Mapping[Any, Any],
) -> tuple[PriorSet, dict[str, float], dict[Any, Any]]:
    """The model's priors: the defaults (scaled with the ``scales`` given so far) merged with
    every user prior so far and ``priors``; also the updated scales and user priors.

    Raises
    ------
    PriorError
        If ``priors`` is not a dict, names what the model does not have, gives a scale
        without ``automatic_priors="mle"``, or fixes a parameter outside its bounds.
    """
    if priors is not None and not isinstance(priors, Mapping):
        raise PriorError(
            f"priors must be a dict mapping term names to Prior objects; got "
            f"{type(priors).__name__}."
        )
    aux = set(family.aux_params)
    scales, user = dict(scales), dict(user)
    for key, value in (priors or {}).items():
        names = list(key) if isinstance(key, tuple) else [key]
        fixes_aux = not isinstance(value, str) and all(name in aux for name in names)
        mle = automatic_priors == "mle"
        if is_scale(value) and not fixes_aux and (isinstance(value, str) or mle):
            if not mle:
                raise PriorError(
                    f"priors[{key!r}] = {value!r} is a named scale, which needs "
                    "automatic_priors='mle'; otherwise give a Prior."
                )
            for name in names:
                _check_scale_key(design, name)
                scales[name] = resolve_scale(name, value)
        else:
            user[key] = value
    if automatic_priors == "mle":
        defaults = mle_priors(design, family, link, scales)
    else:
        defaults = default_priors(design, family, link, auto_scale)
    merged = merge_priors(defaults, user)
    family.check_fixed(merged)
    shrinkage = [
        t.prior for t in merged.terms if isinstance(t.prior, Prior) and t.prior.is_shrinkage
    ]
    if shrinkage and family.has_category_predictors():
        raise PriorError(
            f"A {shrinkage[0].name} prior shrinks the slopes of one linear predictor; family "
            f"{family.name!r} has one per category but the first, which it does not cover. "
            "Give the slopes ordinary priors."
        )
    return merged, scales, user


@dataclass
class GivenPriors:
    """The priors a model was given so far (``Model(priors=...)``, then each ``set_priors``),
    by key, and the scales among them (``automatic_priors="mle"``)."""

    priors: dict[Any, Any] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)

    def resolve(
        self,
        design: Design,
        family: Family,
        link: Link,
        priors: Mapping[Any, Any] | None,
        automatic_priors: str,
        auto_scale: bool,
    ) -> PriorSet:
        """The model's priors (:func:`resolve_priors`) with ``priors`` over those given so far;
        they are kept for the next call only if they resolve."""
        merged, self.scales, self.priors = resolve_priors(
            design,
            family,
            link,
            priors,
            automatic_priors=automatic_priors,
            auto_scale=auto_scale,
            scales=self.scales,
            user=self.priors,
        )
        return merged

    def names(self, priors: PriorSet) -> list[str]:
        """The terms of ``priors`` whose priors were given (by name, in a tuple of names, or
        by kind) or scaled (``automatic_priors="mle"``), in the model's order: those that an
        update keeps as they are, where it scales the defaults anew."""
        given = set(self.scales)
        kinds = {"common": ("intercept", "common"), "group_specific": ("group",)}
        for key, value in self.priors.items():
            for name in key if isinstance(key, tuple) else (key,):
                if name not in kinds:
                    given.add(name)
                    continue
                terms = priors.of_kind(*kinds[name])
                if isinstance(value, Prior) and value.is_shrinkage:  # the main slopes alone
                    terms = [t for t in terms if t.kind == "common" and t.param is None]
                given.update(t.name for t in terms)
        return [t.name for t in priors.terms if t.name in given]


def _check_scale_key(design: Design, name: str) -> None:
    valid = [t.name for t in design.common_terms if not t.is_intercept]
    valid += [g.name for g in design.group_terms]
    if name not in (*valid, "common", "group_specific"):
        raise PriorError(
            f"priors has the scale key {name!r}, which is not a common or group-specific "
            f"term of the model. Valid keys for scales are "
            f"{[*valid, 'common', 'group_specific']}." + did_you_mean(name, valid)
        )
