"""``Family`` and the registry: declarative records mapping response families to PyMC.

A :class:`Family` says which PyMC distribution the response follows, which of its parameters
the linear predictor models (the *parent*), the links it allows, the default priors of its
auxiliary parameters, and which responses are in its support. Family-specific branches live
in this package and nowhere else: the rest of bayesmm asks the family.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .._errors import DataError, FamilyError, FormulaError, PriorError
from .._validation import choice_message, did_you_mean
from ..links import LINKS, Link, get_link, saved_path
from ..persist.importpath import PathPolicy
from ..persist.values import decode_value, encode_value
from ..priors import Prior, PriorSet, ResponseStats, format_value, prior_from_dict, prior_to_dict
from .arguments import (
    AUX_LINKS,
    PRIOR_SUPPORT,
    FixedPrior,
    aux_defaults,
    check_categories,
    checked_links,
    checked_support,
    legacy_keywords,
)
from .categories import Categories, CategoryQuestions
from .known import KNOWN_LIKELIHOODS, default_support
from .likelihood import KNOWN, Likelihood, resolve_known
from .support import Support
from .variances import GLM_VARIANCES

__all__ = ["Family", "FAMILIES", "register_family", "get_family"]

_LinkArg = str | Link | Mapping[str, str | Link]


@dataclass(frozen=True, init=False)
class Family(CategoryQuestions):
    """A response family: likelihood, links and default auxiliary priors.

    Every argument after ``link`` is keyword-only; passing them by position still works but
    is deprecated (a :class:`~bayesmm.BayesmmDeprecationWarning`).

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
    support : Support or callable, optional
        The responses the family allows: a :class:`~bayesmm.families.support.Support` record
        (a check with its text), or a check ``support(y, trials)`` returning what is wrong,
        or ``None``. Default: the support of a distribution bayesmm knows (e.g. 0/1 for
        ``Bernoulli``), else any finite number.
    support_text : str, optional
        The support in words, for error messages; replaces the text of ``support``.
    trials : bool, optional
        Whether the response is ``p(successes, trials)``. Default: whether the likelihood
        has a trials keyword.
    binary : bool, optional
        Whether the response is an event indicator. Default: true for ``Bernoulli``.
    glm_variance : str, optional
        The exponential-family variance used to fit the maximum-likelihood GLM for
        ``automatic_priors="mle"``: one of ``bayesmm.families.variances.GLM_VARIANCES``.
        Families without one support only the default automatic priors.
    categories : Categories, optional
        For a response with categories: how the thresholds and the linear predictor give each
        category's probability. The parent is then the vector of probabilities ``p``. The
        rest of bayesmm asks the family about them (:class:`CategoryQuestions`:
        ``is_categorical()``, ``is_ordinal()``, ``counts_each_category()``, ...).
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
    support: Support
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
        *legacy: Any,
        links: Sequence[str | Link] | None = None,
        aux_priors: Mapping[str, Callable[[ResponseStats], Prior | float] | Prior] | None = None,
        support: Support | Callable[..., str | None] | None = None,
        support_text: str | None = None,
        trials: bool | None = None,
        binary: bool | None = None,
        glm_variance: str | None = None,
        prior_scale: Callable[[np.ndarray], np.ndarray] | None = None,
        aux_bounds: Mapping[str, tuple[float, float]] | None = None,
        custom_links: Sequence[Link] = (),
        priors: Mapping[str, Callable[[ResponseStats], Prior | float] | Prior] | None = None,
        categories: Categories | None = None,
    ) -> None:
        if legacy:
            given = {
                "links": links,
                "aux_priors": aux_priors,
                "support": support,
                "support_text": support_text,
                "trials": trials,
                "binary": binary,
                "glm_variance": glm_variance,
                "prior_scale": prior_scale,
                "aux_bounds": aux_bounds,
                "custom_links": custom_links or None,
            }
            moved = legacy_keywords(name, legacy, given)
            links, aux_priors = moved["links"], moved["aux_priors"]
            support, support_text = moved["support"], moved["support_text"]
            trials, binary = moved["trials"], moved["binary"]
            glm_variance, prior_scale = moved["glm_variance"], moved["prior_scale"]
            aux_bounds, custom_links = moved["aux_bounds"], moved["custom_links"] or ()
        if not isinstance(name, str) or not name:
            raise FamilyError(f"Family name must be a non-empty string; got {name!r}.")
        if not isinstance(likelihood, Likelihood):
            raise FamilyError(
                f"Family {name!r}: likelihood must be a bayesmm.Likelihood, e.g. "
                f"Likelihood('Bernoulli', parent='p'); got {type(likelihood).__name__} "
                f"{likelihood!r}."
            )
        default, allowed, customs = checked_links(name, likelihood, link, links, custom_links)
        if glm_variance is not None and glm_variance not in GLM_VARIANCES:
            raise FamilyError(
                choice_message(f"Family {name!r}: glm_variance", glm_variance, GLM_VARIANCES)
            )
        expected = set(likelihood.params) - {likelihood.parent}
        bounds = dict(aux_bounds or {})
        if not set(bounds) <= expected:
            raise FamilyError(
                f"Family {name!r}: aux_bounds may only name auxiliary parameters "
                f"{sorted(expected)}; got {sorted(bounds)}."
            )
        known = KNOWN_LIKELIHOODS.get(likelihood.name)
        values: dict[str, Any] = {
            "name": name,
            "likelihood": likelihood,
            "link": default,
            "links": allowed,
            "aux_priors": aux_defaults(name, likelihood, aux_priors, priors),
            "support": checked_support(name, likelihood.name, support, support_text),
            "trials": bool(trials) if trials is not None else likelihood.trials_kwarg is not None,
            "binary": bool(binary) if binary is not None else bool(known and known.binary),
            "glm_variance": glm_variance,
            "prior_scale": prior_scale,
            "aux_bounds": bounds,
            "custom_links": customs,
            "categories": check_categories(name, categories, likelihood),
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
    def support_text(self) -> str:
        """The support in words, for error messages."""
        return self.support.text

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

    def resolve_links(self, link: Any, params: Mapping[str, Any]) -> tuple[Link, dict[str, str]]:
        """``Model(link=...)``: the parent's link, and the link of each parameter in
        ``params`` (those with distributional formulas). ``link`` is one link for the parent,
        or a dict of links by parameter.

        Raises
        ------
        FamilyError
            If a link is not allowed, or the dict names a parameter without a formula.
        """
        if link is None:
            links: dict[str, Any] = {}
        elif isinstance(link, Mapping):
            links = dict(link)
        else:
            links = {self.parent: link}
        parent = self.resolve_link(links.pop(self.parent, None))
        aux = {param: self.aux_link(param, links.pop(param, None)) for param in params}
        if links:
            raise FamilyError(
                f"link names the parameter(s) {sorted(links)}, which have no formula; give "
                f"links for {self.parent!r} and the parameters of distributional "
                f"formulas {sorted(aux)}."
            )
        return parent, aux

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
        thresholds = self.threshold_param()
        if param not in self.aux_params or param == thresholds:
            if param == self.parent:
                what = "the parameter the main formula models"
            elif param in self.aux_params:
                what = f"the thresholds of family {self.name!r}, which take no formula"
            else:
                what = f"not a parameter of family {self.name!r}"
            names = [p for p in self.aux_params if p != thresholds]
            raise FormulaError(
                f"A distributional formula models {param!r}, which is {what}; the parameters "
                f"a formula can model are {names}." + did_you_mean(param, names)
            )
        allowed = AUX_LINKS[self.aux_range(param)]
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
            low, high = PRIOR_SUPPORT.get(name, (-np.inf, np.inf))
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

    def log_density(self, y: np.ndarray, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The numpy log density (or mass) of responses ``y`` given the family's parameters
        (and ``"trials"``), ``values``, which broadcast together: the likelihood's ``logpdf``.

        Raises
        ------
        FamilyError
            If the family has none (``Likelihood(logpdf=...)``).
        """
        if self.likelihood.logpdf is None:
            raise FamilyError(
                f"Family {self.name!r} has no numpy log density (Likelihood(logpdf=...)), "
                "so the log-likelihood of new data cannot be computed."
            )
        return self.likelihood.logpdf(y, dict(values))

    def parameters(
        self, eta: np.ndarray, aux: Mapping[str, np.ndarray], link: Link
    ) -> dict[str, np.ndarray]:
        """The family's parameters from the linear predictor ``eta`` ``(S, rows)`` and the
        auxiliary draws ``(S, 1)``: the parent through the inverse link, or for an ordinal
        family the probability of each category ``(S, rows, K)`` from its thresholds."""
        values = dict(aux)
        if self.categories is None:
            values[self.parent] = link.linkinv(eta)
            return values
        z = values[self.categories.threshold][:, None, :] - eta[:, :, None]
        values[self.parent] = self.categories.probabilities(z, link.linkinv, np)
        return values

    def combine_predictors(
        self, main: np.ndarray, parts: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray] | None:
        """For the multinomial logit, the probability of each category from the linear
        predictors of the categories but the reference (``main`` and then ``parts``);
        ``None`` for other families, whose parts are auxiliary parameters."""
        if self.categories is None or self.categories.ordinal:
            return None
        z = np.stack([main, *parts.values()], axis=-1)
        return {self.parent: self.categories.probabilities(z, lambda x: x, np)}

    # --- files -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values that rebuild this family in another process; functions by
        import path, never as code.

        Raises
        ------
        FamilyError
            If a function cannot be named by an import path (a lambda, a closure, a
            function of ``__main__``); the message names the family and the function.
        """
        name = self.name
        aux: dict[str, Any] = {}
        for param, prior in self.aux_priors.items():
            if isinstance(prior, FixedPrior):
                aux[param] = {"prior": prior_to_dict(prior.prior)}
            else:
                aux[param] = {"function": saved_path(prior, name, f"its aux_priors[{param!r}]")}
        check = self.support.check
        known = default_support(self.likelihood.name).check
        return {
            "name": name,
            "likelihood": self.likelihood.to_dict(name),
            "link": self.link,
            "links": list(self.links),
            "custom_links": [link.to_dict(name) for link in self.custom_links],
            "aux_priors": aux,
            "support": KNOWN if check is known else saved_path(check, name, "its support"),
            "support_text": self.support.text,
            "trials": self.trials,
            "binary": self.binary,
            "glm_variance": self.glm_variance,
            "prior_scale": None
            if self.prior_scale is None
            else saved_path(self.prior_scale, name, "its prior_scale"),
            "aux_bounds": {
                param: [encode_value(float(low)), encode_value(float(high))]
                for param, (low, high) in self.aux_bounds.items()
            },
            "categories": None if self.categories is None else self.categories.to_dict(),
        }

    @classmethod
    def from_dict(
        cls,
        record: Mapping[str, Any],
        policy: PathPolicy | None = None,
        where: str = "the family record",
        own: Mapping[str, Collection[str]] | None = None,
    ) -> Family:
        """The inverse of :meth:`to_dict`; ``policy`` says which functions the record may
        name (by default the vetted ones, see :mod:`bayesmm.persist.importpath`), ``where``
        names the record in errors, and ``own`` (for a record with a built-in family's name:
        :func:`bayesmm.families.paths.own_paths` of that family) holds the only paths each
        field may name.

        Raises
        ------
        LookupError
            If a function's module cannot be imported or does not hold it, or the policy
            does not allow it (:class:`~bayesmm.persist.importpath.UntrustedPathError`).
        FamilyError
            If the record does not make a family.
        """
        label = f"{where} {record['name']!r}" + (" (a built-in family's name)" if own else "")

        def function(value: Any, key: str, default: Any = None) -> Any:
            owned = None if own is None else own.get(key, ())
            at = f"{label}, in its {key!r} field,"
            return resolve_known(value, default, distribution, policy, at, owned)

        likelihood = Likelihood.from_dict(record["likelihood"], policy, label, own)
        distribution = likelihood.name
        aux: dict[str, Any] = {
            param: (
                prior_from_dict(value["prior"], param)
                if "prior" in value
                else function(value["function"], f"aux_priors[{param}]")
            )
            for param, value in record["aux_priors"].items()
        }
        categories = record.get("categories")  # none in records before categories were kept
        return cls(
            record["name"],
            likelihood,
            record["link"],
            links=tuple(record["links"]),
            aux_priors=aux,
            support=function(record["support"], "support", default_support(distribution).check),
            support_text=record["support_text"],
            trials=record["trials"],
            binary=record["binary"],
            glm_variance=record["glm_variance"],
            prior_scale=function(record["prior_scale"], "prior_scale"),
            aux_bounds={
                param: (float(decode_value(low)), float(decode_value(high)))
                for param, (low, high) in record["aux_bounds"].items()
            },
            custom_links=tuple(
                Link.from_dict(link, policy, f"{label}: custom_links[{i}]")
                for i, link in enumerate(record["custom_links"])
            ),
            categories=None if categories is None else Categories.from_dict(categories),
        )


def _family_from_fields(values: dict[str, Any]) -> Family:
    """Rebuild a pickled family that is not registered."""
    return Family(**values)


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
