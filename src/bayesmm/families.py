"""The family registry: declarative records mapping GLM families to PyMC likelihoods.

A :class:`Family` says which PyMC distribution the response follows, which of its parameters
the linear predictor models (the *parent*), the links it allows, the default priors of its
auxiliary parameters, and which responses are in its support. Family-specific branches live
here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ._categories import Categories
from ._errors import DataError, FamilyError, FormulaError, PriorError
from ._glm import GLM_VARIANCES
from ._pymc_likelihoods import KNOWN_LIKELIHOODS, default_support
from ._support import SupportCheck
from ._validation import choice_message, did_you_mean
from .links import LINKS, Link, get_link
from .priors import Prior, PriorSet, ResponseStats, format_value

__all__ = [
    "Likelihood",
    "Family",
    "Categories",
    "ResponseStats",
    "FAMILIES",
    "get_family",
    "register_family",
    "family_table",
]


@dataclass(frozen=True, init=False)
class Likelihood:
    """The response distribution.

    Parameters
    ----------
    name : str
        The PyMC distribution, e.g. ``"Normal"``.
    params : tuple of str, optional
        The family's parameters, parent first, e.g. ``("mu", "sigma")``. If omitted, the
        parameters of the PyMC distribution, for those bayesmm knows (``Normal``,
        ``Bernoulli``, ``Binomial``, ``Poisson``, ... see ``docs/families.md``); a numpy
        sampler and log density, and for ``Binomial`` the trials keyword, then come with them.
    parent : str, optional
        The parameter modelled by the linear predictor; must be one of ``params``. Default:
        the distribution's usual one (``mu``, ``p``), else the first of ``params``.
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

    Raises
    ------
    FamilyError
        If ``params`` is omitted for a distribution bayesmm does not know, is not a tuple of
        distinct names, or does not hold ``parent``.

    Examples
    --------
    >>> Likelihood("Bernoulli", parent="p").params
    ('p',)
    >>> Likelihood("StudentT", parent="mu").params
    ('mu', 'nu', 'sigma')
    """

    name: str
    params: tuple[str, ...]
    parent: str
    to_dist: Callable[[dict[str, Any]], dict[str, Any]] | None
    logit_kwarg: str | None
    trials_kwarg: str | None
    draw: Callable[[dict[str, np.ndarray], np.random.Generator], np.ndarray] | None
    logpdf: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray] | None

    def __init__(
        self,
        name: str,
        params: Sequence[str] | None = None,
        parent: str | None = None,
        to_dist: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        logit_kwarg: str | None = None,
        trials_kwarg: str | None = None,
        draw: Callable[[dict[str, np.ndarray], np.random.Generator], np.ndarray] | None = None,
        logpdf: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise FamilyError(
                f"Likelihood name must be the name of a PyMC distribution, e.g. 'Bernoulli'; "
                f"got {name!r}."
            )
        known = KNOWN_LIKELIHOODS.get(name)
        if params is None:
            if known is None:
                raise FamilyError(
                    f"Likelihood {name!r}: params must be given, parent first (e.g. "
                    "params=('mu', 'sigma')), for a distribution whose parameters bayesmm does "
                    f"not know; it knows those of {sorted(KNOWN_LIKELIHOODS)}; got params=None."
                    + did_you_mean(name, KNOWN_LIKELIHOODS)
                )
            if parent is not None and parent not in known.params:
                raise FamilyError(
                    f"Likelihood {name!r}: parent must be one of the parameters of PyMC's "
                    f"{name}, {list(known.params)}; got {parent!r}. For another "
                    "parameterisation pass params=(...) and to_dist."
                    + did_you_mean(str(parent), known.params)
                )
            trials_kwarg = trials_kwarg if trials_kwarg is not None else known.trials_kwarg
            if to_dist is None:
                draw = draw if draw is not None else known.draw
                logpdf = logpdf if logpdf is not None else known.logpdf
            params = known.params
        if (
            isinstance(params, str)
            or not isinstance(params, Sequence)
            or not params
            or not all(isinstance(p, str) and p for p in params)
            or len(set(params)) != len(params)
        ):
            raise FamilyError(
                f"Likelihood {name!r}: params must be a tuple of distinct parameter names, "
                f"parent first, e.g. ('mu', 'sigma'); got {params!r}."
            )
        if parent is None:
            usual = known.parent if known is not None else None
            parent = usual if usual in params else params[0]
        elif parent not in params:
            raise FamilyError(
                f"Likelihood {name!r}: parent must be one of its params {list(params)}; got "
                f"{parent!r}." + did_you_mean(str(parent), params)
            )
        assert parent is not None  # for the type checker
        for arg, given in (("to_dist", to_dist), ("draw", draw), ("logpdf", logpdf)):
            if given is not None and not callable(given):
                raise FamilyError(
                    f"Likelihood {name!r}: {arg} must be a callable or None; got {given!r}."
                )
        values: dict[str, Any] = {
            "name": name,
            "params": (parent, *(p for p in params if p != parent)),
            "parent": parent,
            "to_dist": to_dist,
            "logit_kwarg": logit_kwarg,
            "trials_kwarg": trials_kwarg,
            "draw": draw,
            "logpdf": logpdf,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def dist_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """The PyMC distribution's keyword arguments for the family's parameter values."""
        return self.to_dist(values) if self.to_dist is not None else dict(values)


@dataclass(frozen=True, eq=False)
class _FixedPrior:
    """An auxiliary parameter's default prior given as a :class:`Prior`, not a function."""

    prior: Prior

    def __call__(self, stats: ResponseStats) -> Prior:
        return self.prior


_LinkArg = str | Link | Mapping[str, str | Link]

#: The links of an auxiliary parameter with a formula, by its range; the first is the default.
#: The identity on a positive parameter is the user's choice to keep its predictor positive.
_AUX_LINKS: dict[str, tuple[str, ...]] = {
    "positive": ("log", "identity"),
    "unit": ("logit", "probit", "cloglog"),
    "real": ("identity",),
}

#: The support of default priors, for auxiliary parameters without ``aux_bounds``.
_PRIOR_SUPPORT: dict[str, tuple[float, float]] = {
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


@dataclass(frozen=True, init=False)
class Family:
    """A response family: likelihood, links and default auxiliary priors.

    Parameters
    ----------
    name : str
        The family's name, e.g. ``"gaussian"``.
    likelihood : Likelihood
        The response distribution.
    link : str, Link or dict
        The default link of the parent parameter: a name in ``bmm.LINKS``, a
        :class:`~bayesmm.Link`, or ``{parent: link}``. After construction, the name.
    links : tuple of str or Link, optional
        The links the family allows. Default: the default link alone.
    aux_priors : mapping of str to callable or Prior
        For each auxiliary parameter, a :class:`~bayesmm.Prior`, or a function of
        :class:`ResponseStats` returning its default prior, or a number to fix the parameter
        at by default (as the quantile ``q`` of ``asym_laplace``). ``priors`` is another
        name for it.
    support : callable, optional
        Checks the response (and trials); returns what is wrong, or ``None``. Default: the
        support of a distribution bayesmm knows (e.g. 0/1 for ``Bernoulli``), else any
        finite number.
    support_text : str, optional
        The support in words, for error messages.
    trials : bool, optional
        Whether the response is ``p(successes, trials)``. Default: whether the likelihood
        has a trials keyword.
    binary : bool, optional
        Whether the response is an event indicator. Default: true for ``Bernoulli``.
    glm_variance : str, optional
        The exponential-family variance used to fit the maximum-likelihood GLM for
        ``automatic_priors="mle"``: one of ``bayesmm._glm.GLM_VARIANCES``. Families without
        one support only the default automatic priors.
    categories : Categories, optional
        For an ordinal response: how the thresholds and the linear predictor give each
        category's probability. The parent is then the vector of probabilities ``p``.
    prior_scale : callable, optional
        Maps the response to the scale its parent parameter lives on before the default
        priors are scaled from its mean and sd; e.g. ``np.log`` for lognormal, whose ``mu``
        is the mean of ``log(y)``. Default: the response itself.
    aux_bounds : mapping of str to (float, float), optional
        For auxiliary parameters that may be fixed to a number, the open interval the number
        must lie in, e.g. ``{"q": (0, 1)}``; see :meth:`check_fixed`. Parameters not named
        are not checked.
    custom_links : tuple of Link, optional
        Links of this family that are not in ``bmm.LINKS`` (filled in from ``link`` and
        ``links``).

    Raises
    ------
    FamilyError
        If an argument is of the wrong type, a link is unknown or not allowed, or an
        auxiliary parameter has no default prior.

    Examples
    --------
    >>> family = Family("my_bernoulli", Likelihood("Bernoulli", parent="p"), link="logit")
    >>> family.links, family.binary
    (('logit',), True)
    """

    name: str
    likelihood: Likelihood
    link: str
    links: tuple[str, ...]
    aux_priors: Mapping[str, Callable[[ResponseStats], Prior | float]]
    support: SupportCheck
    support_text: str
    trials: bool
    binary: bool
    glm_variance: str | None
    prior_scale: Callable[[np.ndarray], np.ndarray] | None
    aux_bounds: Mapping[str, tuple[float, float]]
    custom_links: tuple[Link, ...]
    categories: Categories | None

    def __init__(
        self,
        name: str,
        likelihood: Likelihood,
        link: _LinkArg,
        links: Sequence[str | Link] | None = None,
        aux_priors: Mapping[str, Callable[[ResponseStats], Prior | float] | Prior] | None = None,
        support: SupportCheck | None = None,
        support_text: str | None = None,
        trials: bool | None = None,
        binary: bool | None = None,
        glm_variance: str | None = None,
        prior_scale: Callable[[np.ndarray], np.ndarray] | None = None,
        aux_bounds: Mapping[str, tuple[float, float]] | None = None,
        custom_links: Sequence[Link] = (),
        *,
        priors: Mapping[str, Callable[[ResponseStats], Prior | float] | Prior] | None = None,
        categories: Categories | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise FamilyError(f"Family name must be a non-empty string; got {name!r}.")
        if not isinstance(likelihood, Likelihood):
            raise FamilyError(
                f"Family {name!r}: likelihood must be a bayesmm.Likelihood, e.g. "
                f"Likelihood('Bernoulli', parent='p'); got {type(likelihood).__name__} "
                f"{likelihood!r}."
            )
        default, allowed, customs = _family_links(name, likelihood.parent, link, links)
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
                f"Family {name!r}: default link {default!r} must be among its links "
                f"{list(allowed)}."
            )
        if glm_variance is not None and glm_variance not in GLM_VARIANCES:
            raise FamilyError(
                choice_message(f"Family {name!r}: glm_variance", glm_variance, GLM_VARIANCES)
            )
        defaults = _aux_defaults(name, likelihood, aux_priors, priors)
        expected = set(likelihood.params) - {likelihood.parent}
        bounds = dict(aux_bounds or {})
        if not set(bounds) <= expected:
            raise FamilyError(
                f"Family {name!r}: aux_bounds may only name auxiliary parameters "
                f"{sorted(expected)}; got {sorted(bounds)}."
            )
        known = KNOWN_LIKELIHOODS.get(likelihood.name)
        if support is None:
            support, inferred_text = default_support(likelihood.name)
            if support_text is None:
                support_text = inferred_text
        elif not callable(support):
            raise FamilyError(
                f"Family {name!r}: support must be a callable support(y, trials) returning "
                f"None or what is wrong; got {support!r}."
            )
        values: dict[str, Any] = {
            "name": name,
            "likelihood": likelihood,
            "link": default,
            "links": allowed,
            "aux_priors": defaults,
            "support": support,
            "support_text": support_text if support_text is not None else "in its support",
            "trials": bool(trials) if trials is not None else likelihood.trials_kwarg is not None,
            "binary": bool(binary) if binary is not None else bool(known and known.binary),
            "glm_variance": glm_variance,
            "prior_scale": prior_scale,
            "aux_bounds": bounds,
            "custom_links": tuple(customs[n] for n in allowed if n in customs),
            "categories": _check_categories(name, categories, likelihood),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __reduce__(self) -> Any:
        # A registered family pickles as its name (its functions are lambdas), so that
        # fitted models and scikit-learn estimators pickle; another family pickles as its
        # fields, which must then be picklable themselves.
        if FAMILIES.get(self.name) is self:
            return (get_family, (self.name,))
        return (_family_from_fields, ({f.name: getattr(self, f.name) for f in fields(self)},))

    @property
    def parent(self) -> str:
        """The parameter modelled by the linear predictor."""
        return self.likelihood.parent

    @property
    def aux_params(self) -> tuple[str, ...]:
        """The auxiliary parameters, in the likelihood's order."""
        return tuple(p for p in self.likelihood.params if p != self.likelihood.parent)

    @property
    def is_registered(self) -> bool:
        """Whether this is the family of its name in :data:`FAMILIES`."""
        return FAMILIES.get(self.name) == self

    def link_named(self, name: str) -> Link:
        """The family's link of that name: one of its own links, else one of ``bmm.LINKS``."""
        own = {link.name: link for link in self.custom_links}
        return own[name] if name in own else get_link(name)

    def resolve_link(self, link: str | Link | None) -> Link:
        """The link to use: ``link`` if given and allowed, else the default.

        Raises
        ------
        FamilyError
            If the link is unknown or the family does not allow it.
        """
        if link is None:
            return self.link_named(self.link)
        if isinstance(link, str) and link in self.links:
            return self.link_named(link)
        chosen = get_link(link)
        if chosen.name not in self.links:
            raise FamilyError(
                f"link {chosen.name!r} is not allowed for family {self.name!r}; "
                f"allowed links are {list(self.links)}."
            )
        return chosen

    def aux_link(self, param: str, link: str | Link | None = None) -> str:
        """The link of an auxiliary parameter modelled by a formula of its own.

        The parameter's range (its ``aux_bounds``, or else the support of its default prior)
        decides the links it allows: log (the default) or identity for positive parameters;
        logit (the default), probit or cloglog for probabilities; identity for real ones.

        Raises
        ------
        FormulaError
            If ``param`` is not an auxiliary parameter that a formula can model.
        FamilyError
            If ``link`` is not a registered link the parameter's range allows.
        """
        if param not in self.aux_params or (
            self.categories is not None and param == self.categories.threshold
        ):
            if param == self.parent:
                what = "the parameter the main formula models"
            elif param in self.aux_params:
                what = f"the thresholds of family {self.name!r}, which take no formula"
            else:
                what = f"not a parameter of family {self.name!r}"
            names = [p for p in self.aux_params if p != getattr(self.categories, "threshold", "")]
            raise FormulaError(
                f"A distributional formula models {param!r}, which is {what}; the parameters "
                f"a formula can model are {names}." + did_you_mean(param, names)
            )
        allowed = _AUX_LINKS[self.aux_range(param)]
        if link is None:
            return allowed[0]
        chosen = get_link(link)
        if LINKS.get(chosen.name) is not chosen or chosen.name not in allowed:
            raise FamilyError(
                f"link[{param!r}] must be one of {list(allowed)} for the {self.aux_range(param)} "
                f"parameter {param!r} of family {self.name!r}; got {chosen.name!r}."
            )
        return chosen.name

    def aux_range(self, param: str) -> str:
        """The range of an auxiliary parameter, ``"positive"``, ``"unit"`` or ``"real"``: from
        its bounds, else from the support of its default prior."""
        if param in self.aux_bounds:
            low, high = self.aux_bounds[param]
        else:
            default = self.aux_priors[param](ResponseStats(0.0, 1.0))
            name = default.name if isinstance(default, Prior) else ""
            low, high = _PRIOR_SUPPORT.get(name, (-np.inf, np.inf))
        if low >= 0 and high <= 1:
            return "unit"
        return "positive" if low >= 0 else "real"

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


def _check_categories(
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


def _family_from_fields(values: dict[str, Any]) -> Family:
    """Rebuild a pickled family that is not registered."""
    return Family(**values)


def _family_links(
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


def _aux_defaults(
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
            out[param] = _FixedPrior(value)
        elif callable(value):
            out[param] = value
        else:
            raise FamilyError(
                f"Family {name!r}: aux_priors[{param!r}] must be a bayesmm.Prior or a "
                f"function of the response summary returning one; got {value!r}."
            )
    return out


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
# and Family from this one; importing it here, once both exist, registers them. The table of
# docs/families.md is generated there, from the records, and re-exported here.
from ._family_records import BUILTIN_FAMILIES, family_table  # noqa: E402

for _family in BUILTIN_FAMILIES:
    register_family(_family)
