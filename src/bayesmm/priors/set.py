"""The priors of a model: one ``TermPrior`` per term, a ``PriorSet``, and the user's
priors merged over the defaults (the defaults themselves are scaled from the data in
:mod:`bayesmm.scaling`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import PriorError
from .._validation import did_you_mean
from .prior import Prior, prior_from_dict, prior_to_dict

__all__ = ["ResponseStats", "TermPrior", "PriorSet", "merge_priors"]


@dataclass(frozen=True)
class ResponseStats:
    """Summaries of the response that default priors are scaled from.

    For binomial responses these are of the proportion ``successes / trials``.
    """

    mean: float
    sd: float


@dataclass(frozen=True)
class TermPrior:
    """The prior of one model term, with the kind of term it belongs to."""

    name: str
    kind: str  # "intercept", "common", "group", "correlation" or "auxiliary"
    prior: Prior | float
    #: The auxiliary parameter whose distributional formula has the term; None for the main.
    param: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The name, kind and prior as JSON-ready values (the prior as ``prior_to_dict``)."""
        return {"name": self.name, "kind": self.kind, "prior": prior_to_dict(self.prior)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TermPrior:
        """The inverse of :meth:`to_dict`."""
        name = values["name"]
        return cls(name, values["kind"], prior_from_dict(values["prior"], name))


@dataclass(frozen=True)
class PriorSet:
    """All the priors of a model, in display order."""

    terms: tuple[TermPrior, ...]
    #: Raise the prior of the population-level parameters and hyperparameters to this power
    #: in the model's graph (power-scaling refits, ``FittedModel.sensitivity(refit=True)``);
    #: ``None``: the prior as it is. Not saved: a fit's priors are the unpowered ones.
    power: float | None = None

    def __getitem__(self, name: str) -> Prior | float:
        for term in self.terms:
            if term.name == name:
                return term.prior
        raise KeyError(name)

    def names(self) -> list[str]:
        """The names of every term and auxiliary parameter that has a prior."""
        return [t.name for t in self.terms]

    def of_kind(self, *kinds: str) -> list[TermPrior]:
        """The priors of the given kinds, in order."""
        return [t for t in self.terms if t.kind in kinds]

    def fixed(self) -> dict[str, float]:
        """The auxiliary parameters fixed to a number rather than sampled."""
        return {
            t.name: float(t.prior)
            for t in self.of_kind("auxiliary")
            if not isinstance(t.prior, Prior)
        }

    def normal_groups(self) -> list[str]:
        """The group terms whose prior is ``Normal(mu, sigma)`` with a prior on ``sigma``:
        their effects have a population distribution (see ``Prior.is_normal_with_hyperprior``)."""
        return [
            t.name
            for t in self.of_kind("group")
            if isinstance(t.prior, Prior) and t.prior.is_normal_with_hyperprior
        ]

    def to_list(self) -> list[dict[str, Any]]:
        """Every term's prior, in display order, as JSON-ready values."""
        return [t.to_dict() for t in self.terms]


def merge_priors(defaults: PriorSet, priors: Mapping[str, Any] | None) -> PriorSet:
    """Replace default priors with the user's.

    Keys are term names (``"Days"``, ``"1|Subject"``), auxiliary parameter names
    (``"sigma"``), tuples of names sharing one prior, or ``"common"`` / ``"group_specific"``
    for every term of that kind. Named keys beat ``"common"`` / ``"group_specific"``. A number
    for an auxiliary parameter fixes it to that value.

    Raises
    ------
    PriorError
        For a key that names nothing in the model (the message lists the valid keys), a
        value that is not a Prior, a group-specific prior without a hyperprior on its scale,
        or a hyperprior on a common term.
    """
    if priors is None:
        return defaults
    if not isinstance(priors, Mapping):
        raise PriorError(
            f"priors must be a dict mapping term names to Prior objects; got "
            f"{type(priors).__name__}."
        )
    valid = defaults.names()
    by_kind = {"common": ("intercept", "common"), "group_specific": ("group",)}
    chosen: dict[str, Any] = {}
    named: dict[str, Any] = {}
    for key, value in priors.items():
        names = list(key) if isinstance(key, tuple) else [key]
        for name in names:
            if name in by_kind:
                terms = defaults.of_kind(*by_kind[name])
                if _shrinks(value):  # a shrinkage prior covers the main formula's slopes alone
                    terms = [t for t in terms if t.kind == "common" and t.param is None]
                    _check_shrinkage_kind(name, value, terms)
                for term in terms:
                    chosen.setdefault(term.name, value)
            elif name in valid:
                named[name] = value
            else:
                raise PriorError(
                    f"priors has the key {name!r}, which is not a term or parameter of the "
                    f"model. Valid keys are {valid + list(by_kind)}." + did_you_mean(name, valid)
                )
    chosen.update(named)

    merged = []
    for term in defaults.terms:
        if term.name not in chosen:
            merged.append(term)
            continue
        value = chosen[term.name]
        if _shrinks(value):
            _check_shrinkage(term, value, chosen)
        _check_user_prior(term, value)
        merged.append(TermPrior(term.name, term.kind, value, term.param))
    return PriorSet(tuple(merged))


def _shrinks(value: Any) -> bool:
    return isinstance(value, Prior) and value.is_shrinkage


def _check_shrinkage_kind(key: str, value: Prior, slopes: Sequence[TermPrior]) -> None:
    """A shrinkage prior given to every term of a kind must reach some slope: never silently
    none (``"group_specific"``, or ``"common"`` in a model without slopes)."""
    if slopes:
        return
    why = (
        "it is never a prior of group-specific effects"
        if key == "group_specific"
        else "the main formula has no slopes"
    )
    raise PriorError(
        f"priors[{key!r}] = {value!r}, but a {value.name} prior shrinks the slopes of the main "
        f"formula jointly and {why}. Give it to 'common' (every slope, never the intercept) or "
        f"to a tuple of slopes, e.g. priors={{('x1', 'x2'): Prior({value.name!r})}}."
    )


def _check_shrinkage(term: TermPrior, value: Prior, chosen: Mapping[str, Any]) -> None:
    """A shrinkage prior goes on slopes of the main formula, and one such prior per model."""
    if term.kind != "common" or term.param is not None:
        what = "the intercept" if term.kind == "intercept" else f"a {term.kind} term"
        if term.param is not None:
            what = f"a term of the formula of {term.param!r}"
        raise PriorError(
            f"priors[{term.name!r}] = {value!r}, but {term.name!r} is {what}: a {value.name} "
            "prior shrinks the slopes of the main formula jointly. Give it to 'common' (every "
            "slope, never the intercept) or to a tuple of slopes, e.g. "
            f"priors={{('x1', 'x2'): Prior({value.name!r})}}."
        )
    others = {repr(v) for v in chosen.values() if _shrinks(v) and v != value}
    if others:
        raise PriorError(
            f"priors give two different shrinkage priors, {sorted(others | {repr(value)})}; "
            "a model takes one, over the slopes it is given to."
        )


def _check_user_prior(term: TermPrior, value: Any) -> None:
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        if term.kind != "auxiliary":
            raise PriorError(
                f"priors[{term.name!r}] is the number {value!r}; only auxiliary parameters "
                "can be fixed to a number. Give a Prior, e.g. "
                + (
                    "Prior('LKJCorr', eta=2)."
                    if term.kind == "correlation"
                    else "Prior('Normal', mu=0, sigma=1)."
                )
            )
        return
    if not isinstance(value, Prior):
        raise PriorError(
            f"priors[{term.name!r}] must be a bayesmm.Prior"
            + (" or a number" if term.kind == "auxiliary" else "")
            + f"; got {type(value).__name__}."
        )
    if term.kind == "correlation":
        _check_correlation_prior(term.name, value)
        return
    if value.name == "LKJCorr":
        raise PriorError(
            f"priors[{term.name!r}] = {value!r}, but an LKJ prior is a prior of the correlations "
            "of group effects: give it with the key '<factor>_corr' of a block such as "
            "'(1 + x | g)', e.g. priors={'g_corr': Prior('LKJCorr', eta=2)}."
        )
    if term.kind == "group" and not value.has_hyperprior:
        raise PriorError(
            f"priors[{term.name!r}] = {value!r} has no hyperprior. Group-specific effects need a "
            "prior on their scale, e.g. Prior('Normal', mu=0, sigma=Prior('HalfNormal', sigma=1))."
        )
    if term.kind in ("common", "intercept") and value.has_hyperprior:
        raise PriorError(
            f"priors[{term.name!r}] = {value!r} has a hyperprior, but {term.name!r} is a common "
            "term: its effect is one number, so there is no population of effects to learn a "
            "scale from. Use fixed parameters, e.g. Prior('Normal', mu=0, sigma=10)."
        )


def _check_correlation_prior(name: str, prior: Prior) -> None:
    eta: Any = prior.params.get("eta")
    if prior.name != "LKJCorr" or set(prior.params) != {"eta"} or prior.dist is not None:
        raise PriorError(
            f"priors[{name!r}] must be an LKJ prior on the correlation matrix, "
            f"Prior('LKJCorr', eta=...) with eta > 0; got {prior!r}."
        )
    if isinstance(eta, Prior | str) or not np.ndim(eta) == 0 or not float(eta) > 0:
        raise PriorError(
            f"priors[{name!r}]: eta must be a positive number (1 is uniform over correlation "
            f"matrices, larger values favour weaker correlations); got {eta!r}."
        )
