"""The priors of a multivariate model: each response's priors as a univariate model's (the
defaults scaled from that response), named by the response (``y1_x``, ``y1_sigma``), and the
LKJ prior of the residual correlations, ``rescor``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .._errors import PriorError
from .._names import RESCOR_PRIOR, response_name
from ..design.multivariate import MvDesign
from ..families import Family
from ..links import Link
from ..priors import DEFAULT_CORRELATION_PRIOR, Prior, PriorSet, TermPrior
from .user import resolve_priors

__all__ = ["mv_priors", "split_priors", "SHARED_NU", "RESCOR_DEFAULT"]

#: The default prior of the residual correlations: uniform over correlation matrices.
RESCOR_DEFAULT = Prior("LKJCorr", eta=1.0)
#: The degrees of freedom student responses with correlated residuals share.
SHARED_NU = "nu"

#: Keys that set a prior of every response.
_EVERY_RESPONSE = ("common", "group_specific")


def split_priors(
    responses: tuple[str, ...], priors: Mapping[Any, Any] | None, linked: tuple[str, ...] = ()
) -> tuple[dict[str, dict[Any, Any]], dict[str, Any]]:
    """The user's priors of each response, under a univariate model's names, and the shared
    ones (``rescor``, a shared ``nu``).

    A key is a response with a dict of its priors (``{"y1": {"x": ...}}``), a name prefixed
    by its response (``"y1_x"``), ``"common"`` or ``"group_specific"`` (every response),
    ``"rescor"``, or one of ``linked``, the correlation priors of blocks linked across
    responses (``"g_corr"``).

    Raises
    ------
    PriorError
        For a key of none of these forms.
    """
    if priors is not None and not isinstance(priors, Mapping):
        raise PriorError(
            f"priors must be a dict mapping names to Prior objects; got {type(priors).__name__}."
        )
    each: dict[str, dict[Any, Any]] = {r: {} for r in responses}
    shared: dict[str, Any] = {}
    by_length = sorted(responses, key=len, reverse=True)  # "y_2_x" is y_2's, not y's
    for key, value in (priors or {}).items():
        if key in (RESCOR_PRIOR, SHARED_NU, *linked):
            shared[key] = value
        elif key in responses and isinstance(value, Mapping):
            each[key].update(value)
        elif key in _EVERY_RESPONSE:
            for response in responses:
                each[response].setdefault(key, value)
        else:
            owner = next(
                (r for r in by_length if isinstance(key, str) and key.startswith(f"{r}_")), None
            )
            if owner is None:
                raise PriorError(
                    f"priors[{key!r}]: a multivariate model's priors are named by their "
                    f"response, e.g. {response_name(responses[0], 'x')!r}, or given by "
                    f"response, e.g. {{{responses[0]!r}: {{'x': ...}}}}; or "
                    f"{RESCOR_PRIOR!r}. The responses are {list(responses)}."
                )
            each[owner][key[len(owner) + 1 :]] = value
    return each, shared


def mv_priors(
    design: MvDesign,
    families: Mapping[str, Family],
    links: Mapping[str, Link],
    priors: Mapping[Any, Any] | None,
    *,
    automatic_priors: str = "default",
    auto_scale: bool = True,
) -> PriorSet:
    """Every prior of a multivariate model, named by response, in the responses' order, then
    ``rescor`` (and the shared ``nu`` of correlated student responses).

    Raises
    ------
    PriorError
        For a prior the model does not have (named as the user wrote it), or a ``rescor``
        prior that is not an LKJ.
    """
    linked = tuple(b.prior_name for b in design.linked)
    each, shared = split_priors(design.responses, priors, linked)
    terms: list[TermPrior] = []
    for response, part in zip(design.responses, design.designs, strict=True):
        family = families[response]
        try:
            merged, _, _ = resolve_priors(
                part,
                family,
                links[response],
                each[response],
                automatic_priors=automatic_priors,
                auto_scale=auto_scale,
                scales={},
                user={},
            )
        except PriorError as err:
            raise PriorError(f"The priors of response {response!r}: {err}") from None
        terms += [replace(t, name=response_name(response, t.name)) for t in merged.terms]
    terms = _linked_priors(design, terms, shared)
    shared = {k: v for k, v in shared.items() if k not in linked}
    if not design.rescor:
        if shared:
            raise PriorError(
                f"priors[{next(iter(shared))!r}] is a prior of correlated residuals, and "
                "this model has none (rescor=False)."
            )
        return PriorSet(tuple(terms))
    rescor = shared.get(RESCOR_PRIOR, RESCOR_DEFAULT)
    if not isinstance(rescor, Prior) or rescor.name != "LKJCorr":
        raise PriorError(
            f"priors[{RESCOR_PRIOR!r}] must be an LKJ prior, e.g. Prior('LKJCorr', eta=2); "
            f"got {rescor!r}."
        )
    terms.append(TermPrior(RESCOR_PRIOR, "correlation", rescor))
    nus = [response_name(r, SHARED_NU) for r in design.responses]
    if any(t.name in nus for t in terms):  # student responses share one nu
        first = next(t for t in terms if t.name in nus)
        nu = shared.get(SHARED_NU, first.prior)
        terms = [t for t in terms if t.name not in nus]
        terms.append(TermPrior(SHARED_NU, "auxiliary", nu))
    return PriorSet(tuple(terms))


def _linked_priors(
    design: MvDesign, terms: list[TermPrior], shared: Mapping[str, Any]
) -> list[TermPrior]:
    """``terms`` with the correlation priors of blocks linked across responses (``g_corr``)
    in place of each response's own block of the factor (``y1_g_corr``)."""
    for block in design.linked:
        own = {response_name(r, block.prior_name) for r in design.responses}
        terms = [t for t in terms if t.name not in own]
        prior = shared.get(block.prior_name, DEFAULT_CORRELATION_PRIOR)
        if not isinstance(prior, Prior) or prior.name != "LKJCorr":
            raise PriorError(
                f"priors[{block.prior_name!r}] must be an LKJ prior, e.g. "
                f"Prior('LKJCorr', eta=2); got {prior!r}."
            )
        terms.append(TermPrior(block.prior_name, "correlation", prior))
    return terms
