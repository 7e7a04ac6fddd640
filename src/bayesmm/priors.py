"""Priors: the ``Prior`` record, default priors scaled from the data, and user overrides.

Default rules (documented with their formulas in ``docs/priors.md``), in the spirit of
rstanarm's autoscaling (Gabry & Goodrich, "Prior distributions for rstanarm models"):

* ``S`` is the scale of the linear predictor: ``sd(y)`` for the identity link,
  ``1`` for logit, probit, cloglog and log links, and ``|g'(mean(y))| * sd(y)`` (delta method)
  for the inverse and inverse-squared links.
* Intercept ``~ Normal(g(mean(y)), 2.5 * S)``, on centred predictors when they are centred.
* Slope of column ``x`` ``~ Normal(0, 2.5 * S / sd(x))``.
* Group effects of column ``x`` ``~ Normal(0, sigma)``, ``sigma ~ HalfNormal(2.5 * S / sd(x))``
  (``sd(x) = 1`` for group intercepts).
* Auxiliary parameters: the family's own defaults (see :mod:`bayesmm.families`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import DataError, PriorError
from ._validation import did_you_mean
from ._weights import mean_sd

if TYPE_CHECKING:  # runtime imports would be circular: families and design use Prior
    from .design import Design
    from .families import Family
    from .links import Link

__all__ = [
    "Prior",
    "PriorSet",
    "TermPrior",
    "ResponseStats",
    "default_priors",
    "merge_priors",
    "format_value",
]

#: Multiplier of the data scale in the default priors: rstanarm's 2.5.
DEFAULT_SCALE = 2.5

_REAL, _POS, _NONNEG, _UNIT, _COUNT, _INT = (
    "real",
    "positive",
    "non-negative",
    "unit",
    "count",
    "integer",
)

#: PyMC's scalar distributions, each parameter with its constraint. Kept here so that a Prior
#: is checked when it is made, without importing PyMC; ``tests/test_priors.py`` checks the
#: table against the installed PyMC.
DISTRIBUTIONS: dict[str, dict[str, str]] = {
    "AsymmetricLaplace": {"kappa": _POS, "mu": _REAL, "b": _POS, "q": _UNIT},
    "Bernoulli": {"p": _UNIT, "logit_p": _REAL},
    "Beta": {"alpha": _POS, "beta": _POS, "mu": _UNIT, "sigma": _POS, "nu": _POS},
    "BetaBinomial": {"alpha": _POS, "beta": _POS, "n": _COUNT},
    "Binomial": {"n": _COUNT, "p": _UNIT, "logit_p": _REAL},
    "Cauchy": {"alpha": _REAL, "beta": _POS},
    "DiracDelta": {"c": _REAL},
    "DiscreteUniform": {"lower": _INT, "upper": _INT},
    "DiscreteWeibull": {"q": _UNIT, "beta": _POS},
    "ExGaussian": {"mu": _REAL, "sigma": _POS, "nu": _POS},
    "Exponential": {"lam": _POS, "scale": _POS},
    "Flat": {},
    "Gamma": {"alpha": _POS, "beta": _POS, "mu": _POS, "sigma": _POS},
    "Geometric": {"p": _UNIT},
    "Gumbel": {"mu": _REAL, "beta": _POS},
    "HalfCauchy": {"beta": _POS},
    "HalfFlat": {},
    "HalfNormal": {"sigma": _POS, "tau": _POS},
    "HalfStudentT": {"nu": _POS, "sigma": _POS, "lam": _POS},
    "HyperGeometric": {"N": _COUNT, "k": _COUNT, "n": _COUNT},
    "InverseGamma": {"alpha": _POS, "beta": _POS, "mu": _POS, "sigma": _POS},
    "Kumaraswamy": {"a": _POS, "b": _POS},
    "Laplace": {"mu": _REAL, "b": _POS},
    # Only for the correlations of group effects (the matrix's size comes from the formula).
    "LKJCorr": {"eta": _POS},
    "LogNormal": {"mu": _REAL, "sigma": _POS, "tau": _POS},
    "Logistic": {"mu": _REAL, "s": _POS},
    "Moyal": {"mu": _REAL, "sigma": _POS},
    "NegativeBinomial": {"mu": _POS, "alpha": _POS, "p": _UNIT, "n": _POS},
    "Normal": {"mu": _REAL, "sigma": _POS, "tau": _POS},
    "Pareto": {"alpha": _POS, "m": _POS},
    "Poisson": {"mu": _NONNEG},
    "Rice": {"nu": _NONNEG, "sigma": _POS, "b": _NONNEG},
    "SkewNormal": {"alpha": _REAL, "mu": _REAL, "sigma": _POS, "tau": _POS},
    "SkewStudentT": {"a": _POS, "b": _POS, "mu": _REAL, "sigma": _POS, "lam": _POS},
    "StudentT": {"nu": _POS, "mu": _REAL, "sigma": _POS, "lam": _POS},
    "Triangular": {"lower": _REAL, "c": _REAL, "upper": _REAL},
    "TruncatedNormal": {"mu": _REAL, "sigma": _POS, "tau": _POS, "lower": _REAL, "upper": _REAL},
    "Uniform": {"lower": _REAL, "upper": _REAL},
    "VonMises": {"mu": _REAL, "kappa": _POS},
    "Wald": {"mu": _POS, "lam": _POS, "phi": _POS, "alpha": _NONNEG},
    "Weibull": {"alpha": _POS, "beta": _POS},
}

_CONSTRAINTS: dict[str, tuple[Any, str]] = {
    _REAL: (lambda v: np.all(np.isfinite(v)), "finite"),
    _POS: (lambda v: np.all(np.isfinite(v) & (v > 0)), "positive"),
    _NONNEG: (lambda v: np.all(np.isfinite(v) & (v >= 0)), "non-negative"),
    _UNIT: (lambda v: np.all((v >= 0) & (v <= 1)), "between 0 and 1"),
    _COUNT: (lambda v: np.all((v >= 0) & (np.mod(v, 1) == 0)), "a non-negative integer"),
    _INT: (lambda v: np.all(np.isfinite(v) & (np.mod(v, 1) == 0)), "an integer"),
}


def _check_parameters(name: str, params: Mapping[str, Any]) -> None:
    """Check a built-in distribution's parameter names and values (see DISTRIBUTIONS)."""
    if name not in DISTRIBUTIONS:
        raise PriorError(
            f"Prior name must be a PyMC distribution; got {name!r}."
            + (did_you_mean(name, DISTRIBUTIONS) or f" Known names are {sorted(DISTRIBUTIONS)}.")
            + " For another distribution pass dist=callable (see docs/priors.md)."
        )
    allowed = DISTRIBUTIONS[name]
    for param, value in params.items():
        if param not in allowed:
            raise PriorError(
                f"Prior {name!r} has no parameter {param!r}; its parameters are "
                f"{list(allowed)}." + did_you_mean(param, allowed)
            )
        if isinstance(value, Prior):
            continue
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise PriorError(
                f"Prior {name!r}: {param} must be a number, an array of numbers or a Prior; "
                f"got {value!r}."
            ) from None
        check, wording = _CONSTRAINTS[allowed[param]]
        if not check(array):
            raise PriorError(f"Prior {name!r}: {param} must be {wording}; got {value!r}.")
    bounds = [params.get("lower"), params.get("upper")]
    numeric = not any(b is None or isinstance(b, Prior) for b in bounds)
    if numeric and not np.all(np.asarray(bounds[0], float) < np.asarray(bounds[1], float)):
        raise PriorError(
            f"Prior {name!r}: lower must be less than upper; got lower={bounds[0]!r}, "
            f"upper={bounds[1]!r}."
        )


def format_value(value: Any) -> str:
    """Format a prior parameter for display, rounding numbers to 4 decimals."""
    if isinstance(value, Prior):
        return repr(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(round(float(value), 4))
    arr = np.asarray(value)
    if arr.dtype.kind in "fiu":
        if arr.ndim == 0:
            return format_value(arr.item())
        return "[" + ", ".join(format_value(v) for v in arr.ravel().tolist()) + "]"
    return repr(value)


@dataclass(frozen=True, eq=False, init=False)
class Prior:
    """A prior distribution: a PyMC distribution name and its parameters.

    Parameters may be numbers, arrays, or other ``Prior`` objects (hyperpriors), to any depth.
    The name and the parameters are checked when the prior is made: an unknown distribution,
    a parameter the distribution does not have, or a value outside the parameter's domain
    (e.g. a negative ``sigma``) is a :class:`~bayesmm.PriorError`.

    Parameters
    ----------
    name : str
        A PyMC distribution name, e.g. ``"Normal"`` or ``"HalfStudentT"``; any name when
        ``dist`` is given.
    dist : callable, optional
        For distributions PyMC does not have under a name: ``dist(name, dims=dims, **params)``
        must create and return a PyMC random variable inside the model context. Its parameters
        are not checked.
    **params
        The distribution's parameters.

    Examples
    --------
    >>> Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=5))
    Normal(mu: 0, sigma: HalfCauchy(beta: 5))
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    dist: Callable[..., Any] | None = None

    def __init__(self, name: str, *, dist: Callable[..., Any] | None = None, **params: Any):
        if not isinstance(name, str) or not name:
            raise PriorError(f"Prior name must be a non-empty string; got {name!r}.")
        if dist is not None and not callable(dist):
            raise PriorError(
                f"Prior dist must be a callable dist(name, dims=..., **params) returning a PyMC "
                f"variable; got {type(dist).__name__}."
            )
        if dist is None:
            _check_parameters(name, params)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", dict(params))
        object.__setattr__(self, "dist", dist)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {format_value(v)}" for k, v in self.params.items())
        return f"{self.name}({inner})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prior):
            return NotImplemented
        if self.name != other.name or self.params.keys() != other.params.keys():
            return False
        if self.dist is not other.dist:
            return False
        for key, value in self.params.items():
            theirs = other.params[key]
            if isinstance(value, Prior) or isinstance(theirs, Prior):
                if value != theirs:
                    return False
            elif not np.array_equal(np.asarray(value), np.asarray(theirs)):
                return False
        return True

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.params)))

    @property
    def has_hyperprior(self) -> bool:
        """Whether any parameter is itself a ``Prior``."""
        return any(isinstance(v, Prior) for v in self.params.values())


#: The correlations of group effects: LKJ with eta = 1, uniform over correlation matrices
#: (Lewandowski, Kurowicka and Joe 2009; brms's default).
DEFAULT_CORRELATION_PRIOR = Prior("LKJCorr", eta=1.0)


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


@dataclass(frozen=True)
class PriorSet:
    """All the priors of a model, in display order."""

    terms: tuple[TermPrior, ...]

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


# --- defaults --------------------------------------------------------------------------------

#: Links whose linear predictor is unit-free: default scale 1 (rstanarm's convention).
_UNIT_SCALE_LINKS = frozenset({"logit", "probit", "cloglog", "log"})


def _eta_scale(link: Link, stats: ResponseStats) -> float:
    """The scale ``S`` of the linear predictor (see the module docstring)."""
    if link.name == "identity":
        return stats.sd
    if link.name in _UNIT_SCALE_LINKS:
        return 1.0
    # Delta method: sd(g(y)) ~ |g'(mean y)| * sd(y).
    return float(abs(link.derivative(np.asarray(stats.mean))) * stats.sd)


def _eta_location(link: Link, stats: ResponseStats) -> float:
    mean = stats.mean
    if link.name in {"logit", "probit", "cloglog"}:
        mean = float(np.clip(mean, 0.01, 0.99))
    elif link.name in {"log", "inverse", "inverse_squared"}:
        mean = max(mean, 1e-3)
    return float(link.link(np.asarray(mean)))


def default_priors(design: Design, family: Family, link: Link, auto_scale: bool = True) -> PriorSet:
    """The default priors of a model, scaled from the data.

    Parameters
    ----------
    design : Design
        The encoded data.
    family : Family
        The response family; gives the auxiliary parameters' defaults.
    link : Link
        The link of the parent parameter.
    auto_scale : bool, default True
        Scale the priors from the data. If false, unit-scale priors are used, as if the
        response and predictors were standardised: ``S = 1``, ``sd(x) = 1`` and a zero
        intercept location.

    Returns
    -------
    PriorSet

    Raises
    ------
    DataError
        If the response is constant, so that no scale can be derived from it.
    """
    # Weighted by the observation weights: rows of weight 0 do not set the scales.
    weights = design.weights
    stats = design.response.stats(family.prior_scale, weights)
    if auto_scale:
        scale = _eta_scale(link, stats)
        if not np.isfinite(scale) or scale <= 0:
            values = design.response.values
            counted = values if weights is None else values[weights > 0]
            rows = "" if weights is None else " of the rows with weight > 0"
            raise DataError(
                f"The response {design.response.name!r} is constant (every value{rows} is "
                f"{counted[0]:g}); default priors cannot be scaled from it. Check the data, "
                "or pass auto_scale=False."
            )
        location = _eta_location(link, stats)
        if family.categories is not None:
            location = 0.0  # a multinomial logit's log odds against its reference category
        if design.offset is not None:  # eta = intercept + offset: centre the rest
            location -= float(np.average(design.offset.values, weights=weights))
    else:
        stats = ResponseStats(mean=0.0, sd=1.0)
        scale, location = 1.0, 0.0

    terms = _formula_priors(design, scale, location, auto_scale, None, weights)
    modelled = {d.param for d in design.distributional}
    for name in family.aux_params:
        if name not in modelled:
            terms.append(TermPrior(name, "auxiliary", family.aux_priors[name](stats)))
    from .links import get_link  # links does not import priors; kept local like the rest

    for part in design.distributional:
        scale, location = _distributional_scale(family, part.param, get_link(part.link), stats)
        terms += _formula_priors(part.design, scale, location, auto_scale, part.param, weights)
    return PriorSet(tuple(terms))


def _formula_priors(
    design: Design,
    scale: float,
    location: float,
    auto_scale: bool,
    param: str | None,
    weights: np.ndarray | None = None,
) -> list[TermPrior]:
    """The default priors of one formula's terms, for a linear predictor of scale ``scale``;
    predictors' sds weighted by the observation ``weights``."""
    column_sd = design.column_sd(weights) if auto_scale else np.ones(design.common.shape[1])
    terms: list[TermPrior] = []
    for term in design.common_terms:
        if term.is_intercept:
            prior = Prior("Normal", mu=location, sigma=DEFAULT_SCALE * scale)
            terms.append(TermPrior(term.name, "intercept", prior, param))
            continue
        sigma = DEFAULT_SCALE * scale / column_sd[term.start : term.stop]
        value = float(sigma[0]) if sigma.size == 1 else sigma
        terms.append(TermPrior(term.name, "common", Prior("Normal", mu=0.0, sigma=value), param))

    for group in design.group_terms:
        if group.values is None or not auto_scale:
            sd = np.ones(len(group.columns))
        else:
            sd = mean_sd(group.values, weights)[1]
            sd = np.where(sd > 0, sd, 1.0)
        sigma = DEFAULT_SCALE * scale / sd
        value = float(sigma[0]) if sigma.size == 1 else sigma
        prior = Prior("Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=value))
        terms.append(TermPrior(group.name, "group", prior, param))
    for block in design.blocks:
        terms.append(TermPrior(block.prior_name, "correlation", DEFAULT_CORRELATION_PRIOR, param))
    return terms


def _distributional_scale(
    family: Family, param: str, link: Link, stats: ResponseStats
) -> tuple[float, float]:
    """Scale and location of the linear predictor of a distributional formula.

    The intercept is centred at ``link(v)`` for a typical value ``v`` of the parameter: the
    response's sd for a parameter on the response's scale (its default prior grows with
    it, as sigma's does), else the mean of its default prior (20 for the t family's
    ``Gamma(2, 0.1)`` on ``nu``), else the middle of its range. The scale is 1 on unit-free
    links, as for the main formula.
    """
    if param not in family.aux_priors:  # a category's linear predictor (multinomial logit)
        return 1.0, 0.0
    default = family.aux_priors[param]
    on_response_scale = default(ResponseStats(stats.mean, 1.0)) != default(
        ResponseStats(stats.mean, 2.0)
    )
    if on_response_scale and stats.sd > 0:
        typical = stats.sd
    else:
        prior = default(stats)
        mean = _prior_mean(prior) if isinstance(prior, Prior) else None
        typical = (
            mean
            if mean is not None
            else {"positive": 1.0, "unit": 0.5, "real": 0.0}[family.aux_range(param)]
        )
    location = float(link.link(np.asarray(typical)))
    if not np.isfinite(location):
        location = 0.0
    if link.name in _UNIT_SCALE_LINKS:
        return 1.0, location
    return (stats.sd if on_response_scale else max(abs(typical), 1.0)), location


def _prior_mean(prior: Prior) -> float | None:
    """The mean of a prior with numbers for parameters, for the distributions whose mean has a
    closed form here; ``None`` otherwise."""
    p = {k: v for k, v in prior.params.items() if not isinstance(v, Prior | str)}
    if len(p) != len(prior.params) or any(np.ndim(v) for v in p.values()):
        return None
    means: dict[str, Callable[[], float]] = {
        "Gamma": lambda: p["mu"] if "mu" in p else p["alpha"] / p["beta"],
        "Beta": lambda: p["mu"] if "mu" in p else p["alpha"] / (p["alpha"] + p["beta"]),
        "Exponential": lambda: p["scale"] if "scale" in p else 1 / p["lam"],
        "HalfNormal": lambda: p["sigma"] * np.sqrt(2 / np.pi),
        "LogNormal": lambda: np.exp(p["mu"] + p["sigma"] ** 2 / 2),
        "InverseGamma": lambda: p["beta"] / (p["alpha"] - 1) if p["alpha"] > 1 else np.inf,
    }
    try:
        mean = float(means[prior.name]())
    except (KeyError, ZeroDivisionError):
        return None
    return mean if np.isfinite(mean) else None


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
                for term in defaults.of_kind(*by_kind[name]):
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
        _check_user_prior(term, value)
        merged.append(TermPrior(term.name, term.kind, value, term.param))
    return PriorSet(tuple(merged))


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
