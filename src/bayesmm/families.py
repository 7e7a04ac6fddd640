"""The family registry: declarative records mapping GLM families to PyMC likelihoods.

A :class:`Family` says which PyMC distribution the response follows, which of its parameters
the linear predictor models (the *parent*), the links it allows, the default priors of its
auxiliary parameters, and which responses are in its support. Family-specific branches live
here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ._errors import DataError, FamilyError, PriorError
from ._glm import GLM_VARIANCES
from ._validation import choice_message
from .links import LINKS, Link, get_link
from .priors import Prior, PriorSet, ResponseStats, format_value

__all__ = [
    "Likelihood",
    "Family",
    "ResponseStats",
    "FAMILIES",
    "get_family",
    "register_family",
]


@dataclass(frozen=True)
class Likelihood:
    """The response distribution.

    Parameters
    ----------
    name : str
        The PyMC distribution, e.g. ``"Normal"``.
    params : tuple of str
        The family's parameters, parent first, e.g. ``("mu", "sigma")``.
    parent : str
        The parameter modelled by the linear predictor.
    to_dist : callable, optional
        Maps the family's parameters to the PyMC distribution's keyword arguments, using only
        arithmetic so that it works on numpy arrays and pytensor tensors. Default: identity.
    logit_kwarg : str, optional
        The distribution's keyword that takes the parent on the logit scale (e.g. ``"logit_p"``);
        used with the logit link, which is then never inverted, for numerical stability.
    trials_kwarg : str, optional
        The distribution's keyword for the number of trials (e.g. ``"n"``).
    draw : callable, optional
        ``draw(values, rng)`` draws responses with numpy, for posterior predictive draws
        without PyMC. ``values`` maps each family parameter (and ``"trials"`` for binomial
        families) to an array; the arrays broadcast together. Without it, a family can be
        fitted and give ``kind="response_params"`` predictions, but not ``kind="response"``.
    logpdf : callable, optional
        ``logpdf(y, values)``: the log density (or mass) of responses ``y`` with numpy, for
        the log predictive density of new data without PyMC. ``values`` is as for ``draw``.
    """

    name: str
    params: tuple[str, ...]
    parent: str
    to_dist: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    logit_kwarg: str | None = None
    trials_kwarg: str | None = None
    draw: Callable[[dict[str, np.ndarray], np.random.Generator], np.ndarray] | None = None
    logpdf: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray] | None = None

    def dist_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """The PyMC distribution's keyword arguments for the family's parameter values."""
        return self.to_dist(values) if self.to_dist is not None else dict(values)


#: A check of the response: returns a description of what is wrong, or ``None``.
SupportCheck = Callable[[np.ndarray, "np.ndarray | None"], "str | None"]


@dataclass(frozen=True)
class Family:
    """A response family: likelihood, links and default auxiliary priors.

    Parameters
    ----------
    name : str
        The family's name, e.g. ``"gaussian"``.
    likelihood : Likelihood
        The response distribution.
    link : str
        The default link of the parent parameter.
    links : tuple of str
        The links the family allows.
    aux_priors : mapping of str to callable
        For each auxiliary parameter, a function of :class:`ResponseStats` returning its
        default :class:`~bayesmm.Prior`, or a number to fix the parameter at by default (as
        the quantile ``q`` of ``asym_laplace``).
    support : callable
        Checks the response (and trials); returns what is wrong, or ``None``.
    support_text : str
        The support in words, for error messages.
    trials : bool
        Whether the response is ``p(successes, trials)``.
    binary : bool
        Whether the response is an event indicator (bernoulli).
    glm_variance : str, optional
        The exponential-family variance used to fit the maximum-likelihood GLM for
        ``automatic_priors="mle"``: one of ``bayesmm._glm.GLM_VARIANCES``. Families without
        one support only the default automatic priors.
    prior_scale : callable, optional
        Maps the response to the scale its parent parameter lives on before the default
        priors are scaled from its mean and sd; e.g. ``np.log`` for lognormal, whose ``mu``
        is the mean of ``log(y)``. Default: the response itself.
    aux_bounds : mapping of str to (float, float), optional
        For auxiliary parameters that may be fixed to a number, the open interval the number
        must lie in, e.g. ``{"q": (0, 1)}``; see :meth:`check_fixed`. Parameters not named
        are not checked.
    """

    name: str
    likelihood: Likelihood
    link: str
    links: tuple[str, ...]
    aux_priors: Mapping[str, Callable[[ResponseStats], Prior | float]] = field(default_factory=dict)
    support: SupportCheck = field(default=lambda y, trials: None)
    support_text: str = "real numbers"
    trials: bool = False
    binary: bool = False
    glm_variance: str | None = None
    prior_scale: Callable[[np.ndarray], np.ndarray] | None = None
    aux_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [ln for ln in (self.link, *self.links) if ln not in LINKS]
        if unknown:
            raise FamilyError(
                f"Family {self.name!r} names unknown links {unknown}; "
                f"valid links are {sorted(LINKS)}."
            )
        if self.link not in self.links:
            raise FamilyError(
                f"Family {self.name!r}: default link {self.link!r} must be among its links "
                f"{list(self.links)}."
            )
        if self.glm_variance is not None and self.glm_variance not in GLM_VARIANCES:
            raise FamilyError(
                choice_message(
                    f"Family {self.name!r}: glm_variance", self.glm_variance, GLM_VARIANCES
                )
            )
        expected = set(self.likelihood.params) - {self.likelihood.parent}
        if set(self.aux_priors) != expected:
            raise FamilyError(
                f"Family {self.name!r}: aux_priors must give a default prior for each "
                f"auxiliary parameter {sorted(expected)}; got {sorted(self.aux_priors)}."
            )
        if not set(self.aux_bounds) <= expected:
            raise FamilyError(
                f"Family {self.name!r}: aux_bounds may only name auxiliary parameters "
                f"{sorted(expected)}; got {sorted(self.aux_bounds)}."
            )

    def __reduce__(self) -> Any:
        # A registered family pickles as its name (its functions are lambdas), so that
        # fitted models and scikit-learn estimators pickle; another family pickles as its
        # fields, which must then be picklable themselves.
        if FAMILIES.get(self.name) is self:
            return (get_family, (self.name,))
        return (Family, tuple(getattr(self, f.name) for f in fields(self)))

    @property
    def parent(self) -> str:
        """The parameter modelled by the linear predictor."""
        return self.likelihood.parent

    @property
    def aux_params(self) -> tuple[str, ...]:
        """The auxiliary parameters, in the likelihood's order."""
        return tuple(p for p in self.likelihood.params if p != self.likelihood.parent)

    def resolve_link(self, link: str | Link | None) -> Link:
        """The link to use: ``link`` if given and allowed, else the default.

        Raises
        ------
        FamilyError
            If the link is unknown or the family does not allow it.
        """
        if link is None:
            return get_link(self.link)
        chosen = get_link(link)
        if chosen.name not in self.links:
            raise FamilyError(
                f"link {chosen.name!r} is not allowed for family {self.name!r}; "
                f"allowed links are {list(self.links)}."
            )
        return chosen

    def check_fixed(self, priors: PriorSet) -> None:
        """Raise :class:`PriorError` if an auxiliary parameter is fixed outside its bounds.

        Raises
        ------
        PriorError
            If ``priors`` fixes an auxiliary parameter named in ``aux_bounds`` to a number
            outside its open interval (e.g. the quantile ``q`` of ``asym_laplace`` to 1.5).
        """
        for term in priors.of_kind("auxiliary"):
            if isinstance(term.prior, Prior) or term.name not in self.aux_bounds:
                continue
            low, high = self.aux_bounds[term.name]
            if not low < float(term.prior) < high:
                wanted = (
                    f"a number above {low:g}"
                    if np.isinf(high)
                    else f"a number in ({low:g}, {high:g})"
                )
                raise PriorError(
                    f"priors[{term.name!r}] fixes the parameter {term.name!r} of family "
                    f"{self.name!r}, which must be {wanted}; got {format_value(term.prior)}."
                )

    def check_response(self, y: np.ndarray, trials: np.ndarray | None, name: str) -> None:
        """Raise :class:`DataError` if the response is outside the family's support."""
        problem = self.support(y, trials)
        if problem is not None:
            raise DataError(
                f"The response {name!r} must be {self.support_text} for family "
                f"{self.name!r}; {problem}"
            )


FAMILIES: dict[str, Family] = {}


def register_family(family: Family, *, overwrite: bool = False) -> Family:
    """Add a family to the registry so that ``Model(..., family=name)`` finds it.

    Raises
    ------
    FamilyError
        If a family of that name exists and ``overwrite`` is false.
    """
    if not isinstance(family, Family):
        raise FamilyError(f"family must be a bayesmm.Family; got {type(family).__name__}.")
    if family.name in FAMILIES and not overwrite:
        raise FamilyError(
            f"A family named {family.name!r} is already registered; pass overwrite=True to "
            "replace it."
        )
    FAMILIES[family.name] = family
    return family


def get_family(family: str | Family) -> Family:
    """Look up a family by name; a :class:`Family` is returned as is.

    Raises
    ------
    FamilyError
        If the name is not registered; the message lists the valid ones.
    """
    if isinstance(family, Family):
        return family
    if not isinstance(family, str) or family not in FAMILIES:
        raise FamilyError(choice_message("family", family, FAMILIES))
    return FAMILIES[family]


# The records of the built-in families live in their own module, which imports Likelihood
# and Family from this one; importing it here, once both exist, registers them.
from ._family_records import BUILTIN_FAMILIES, PRIOR_TEXT, SCALE_TEXT  # noqa: E402

for _family in BUILTIN_FAMILIES:
    register_family(_family)


# --- the family table of docs/families.md ---------------------------------------------------


def family_table(families: Mapping[str, Family] | None = None) -> str:
    """The markdown table of the registered families, as ``docs/families.md`` shows it.

    Generated from the registry (``tests/test_docs.py`` checks that the page holds exactly
    this), so that the page cannot go stale; ``python docs/family_table.py`` rewrites it.
    """
    rows = [
        "| Family | PyMC likelihood | Parameters (parent first) | Default link | Allowed links "
        "| Auxiliary parameters (default prior) | Response |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for family in (families or FAMILIES).values():
        scale = family.prior_scale
        if scale is None:
            sd = "sd(y)"
        else:
            sd = f"sd({SCALE_TEXT.get(scale) or getattr(scale, '__name__', 'f') + '(y)'})"
        aux = []
        for name in family.aux_params:
            function = family.aux_priors[name]
            text = PRIOR_TEXT.get(function)
            default = function(ResponseStats(0.0, 1.0))
            if not isinstance(default, Prior):
                aux.append(f"`{name} = {format_value(default)}` (fixed)")
                continue
            aux.append(f"`{name} ~ {text.format(sd=sd) if text else default}`")
        params = ", ".join(f"`{p}`" for p in family.likelihood.params)
        rows.append(
            f"| `{family.name}` | `{family.likelihood.name}` | {params} | `{family.link}` | "
            f"{', '.join(family.links)} | {', '.join(aux) or 'none'} | {family.support_text} |"
        )
    return "\n".join(rows) + "\n"
