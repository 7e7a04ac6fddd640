"""The family registry: declarative records mapping GLM families to PyMC likelihoods.

A :class:`Family` says which PyMC distribution the response follows, which of its parameters
the linear predictor models (the *parent*), the links it allows, the default priors of its
auxiliary parameters, and which responses are in its support. Family-specific branches live
here and nowhere else.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from ._errors import DataError, FamilyError
from ._glm import GLM_VARIANCES
from ._validation import choice_message, describe_values
from .links import LINKS, Link, get_link
from .priors import Prior, ResponseStats

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
        default :class:`~bayesmm.Prior`.
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
    """

    name: str
    likelihood: Likelihood
    link: str
    links: tuple[str, ...]
    aux_priors: Mapping[str, Callable[[ResponseStats], Prior]] = field(default_factory=dict)
    support: SupportCheck = field(default=lambda y, trials: None)
    support_text: str = "real numbers"
    trials: bool = False
    binary: bool = False
    glm_variance: str | None = None
    prior_scale: Callable[[np.ndarray], np.ndarray] | None = None

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

    def check_response(self, y: np.ndarray, trials: np.ndarray | None, name: str) -> None:
        """Raise :class:`DataError` if the response is outside the family's support."""
        problem = self.support(y, trials)
        if problem is not None:
            raise DataError(
                f"The response {name!r} must be {self.support_text} for family "
                f"{self.name!r}; {problem}"
            )


# --- support checks ------------------------------------------------------------------------


def _offending(y: np.ndarray, bad: np.ndarray) -> str:
    rows = np.flatnonzero(bad)
    values = describe_values(np.unique(y[bad]))
    return f"got {len(rows)} value(s) outside it, e.g. {values} (rows {describe_values(rows)})."


def _real(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~np.isfinite(y)
    return _offending(y, bad) if bad.any() else None


def _positive(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~(np.isfinite(y) & (y > 0))
    return _offending(y, bad) if bad.any() else None


def _unit_open(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~((y > 0) & (y < 1))
    return _offending(y, bad) if bad.any() else None


def _counts(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~(np.isfinite(y) & (y >= 0) & (np.mod(y, 1) == 0))
    return _offending(y, bad) if bad.any() else None


def _binary(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~np.isin(y, (0, 1))
    return _offending(y, bad) if bad.any() else None


def _successes(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    if trials is None:
        return "got a single column; write the response as p(successes, trials)."
    bad_trials = ~(np.isfinite(trials) & (trials > 0) & (np.mod(trials, 1) == 0))
    if bad_trials.any():
        return "trials must be positive integers; " + _offending(trials, bad_trials)
    bad = ~(np.isfinite(y) & (y >= 0) & (y <= trials) & (np.mod(y, 1) == 0))
    return _offending(y, bad) if bad.any() else None


# --- default auxiliary priors --------------------------------------------------------------


def _sigma_prior(stats: ResponseStats) -> Prior:
    # Half-Student-t(4) on the response scale: weakly informative (Gelman 2006; rstanarm).
    return Prior("HalfStudentT", nu=4, sigma=stats.sd)


def _shape_prior(stats: ResponseStats) -> Prior:
    # brms's default for shape and precision parameters.
    return Prior("Gamma", alpha=0.01, beta=0.01)


def _nu_prior(stats: ResponseStats) -> Prior:
    # Juarez & Steel (2010), also brms's default for Student-t degrees of freedom.
    return Prior("Gamma", alpha=2, beta=0.1)


def _normal_draw(values: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    mu, sigma = values["mu"], values["sigma"]
    shape = np.broadcast_shapes(np.shape(mu), np.shape(sigma))
    return mu + sigma * rng.standard_normal(shape)  # faster than rng.normal with broadcasting


def _special_gamma(x: Any) -> Any:
    """The gamma function of numpy values or of pytensor tensors (for ``to_dist``)."""
    if isinstance(x, np.ndarray | float | int | np.floating):
        from scipy.special import gamma

        return gamma(x)
    # A tensor: the backend is building a PyMC model, so pytensor is loaded; this module
    # never imports it itself (docs/architecture.md).
    return sys.modules["pytensor.tensor"].gamma(x)


def _weibull_scale(v: dict[str, Any]) -> Any:
    # Mean parameterisation, as brms: mean mu, shape alpha, scale mu / Gamma(1 + 1 / alpha).
    return v["mu"] / _special_gamma(1 + 1 / v["alpha"])


def _stats() -> Any:
    from scipy import stats  # imported on first use: it adds a third to `import bayesmm`

    return stats


def _bernoulli_logpdf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    from scipy.special import xlog1py, xlogy

    return xlogy(y, v["p"]) + xlog1py(1 - y, -v["p"])


# Each log density is written in the family's own parameters; tests/test_families.py checks
# every one against PyMC's logp.
_LOGPDF: dict[str, Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray]] = {
    "gaussian": lambda y, v: _stats().norm.logpdf(y, v["mu"], v["sigma"]),
    "bernoulli": _bernoulli_logpdf,
    "binomial": lambda y, v: _stats().binom.logpmf(y, v["trials"], v["p"]),
    "poisson": lambda y, v: _stats().poisson.logpmf(y, v["mu"]),
    "negativebinomial": lambda y, v: _stats().nbinom.logpmf(
        y, v["alpha"], v["alpha"] / (v["alpha"] + v["mu"])
    ),
    "gamma": lambda y, v: _stats().gamma.logpdf(y, v["alpha"], scale=v["mu"] / v["alpha"]),
    "beta": lambda y, v: _stats().beta.logpdf(y, v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"]),
    "t": lambda y, v: _stats().t.logpdf(y, v["nu"], v["mu"], v["sigma"]),
    # Wald(mu, lam) is scipy's invgauss(mu / lam, scale=lam).
    "wald": lambda y, v: _stats().invgauss.logpdf(y, v["mu"] / v["lam"], scale=v["lam"]),
    "lognormal": lambda y, v: _stats().lognorm.logpdf(y, v["sigma"], scale=np.exp(v["mu"])),
    "exponential": lambda y, v: _stats().expon.logpdf(y, scale=v["mu"]),
    "weibull": lambda y, v: _stats().weibull_min.logpdf(y, v["alpha"], scale=_weibull_scale(v)),
    "laplace": lambda y, v: _stats().laplace.logpdf(y, v["mu"], v["b"]),
}

_BINARY_LINKS = ("logit", "probit", "cloglog", "identity")

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


#: The ML GLM behind ``automatic_priors="mle"``: negative binomial and beta use the
#: quasi-likelihoods of the same mean-variance family, t uses the Gaussian.
_GLM_VARIANCE: dict[str, str | None] = {
    "gaussian": "gaussian",
    "bernoulli": "binomial",
    "binomial": "binomial",
    "poisson": "poisson",
    "negativebinomial": "quasipoisson",
    "gamma": "gamma",
    "beta": "quasibinomial",
    "t": "gaussian",
    "wald": "inverse_gaussian",
    # lognormal: a Gaussian GLM of log(y) would be the one; not wired in, so "default" only.
    "lognormal": None,
    # The mean model of exponential and Weibull responses: the gamma GLM's (quasi-likelihood).
    "exponential": "gamma",
    "weibull": "gamma",
    "laplace": "gaussian",
}

for _family in [
    Family(
        "gaussian",
        Likelihood("Normal", ("mu", "sigma"), "mu", draw=_normal_draw),
        "identity",
        ("identity", "log", "inverse"),
        {"sigma": _sigma_prior},
        _real,
        "finite real numbers",
    ),
    Family(
        "bernoulli",
        Likelihood(
            "Bernoulli",
            ("p",),
            "p",
            logit_kwarg="logit_p",
            draw=lambda v, rng: rng.binomial(1, v["p"]),
        ),
        "logit",
        _BINARY_LINKS,
        support=_binary,
        support_text="binary (0/1, True/False, or a two-level category)",
        binary=True,
    ),
    Family(
        "binomial",
        Likelihood(
            "Binomial",
            ("p",),
            "p",
            logit_kwarg="logit_p",
            trials_kwarg="n",
            draw=lambda v, rng: rng.binomial(v["trials"].astype(np.int64), v["p"]),
        ),
        "logit",
        _BINARY_LINKS,
        support=_successes,
        support_text="integer successes between 0 and the number of trials",
        trials=True,
    ),
    Family(
        "poisson",
        Likelihood("Poisson", ("mu",), "mu", draw=lambda v, rng: rng.poisson(v["mu"])),
        "log",
        ("log", "identity"),
        support=_counts,
        support_text="non-negative integer counts",
    ),
    Family(
        "negativebinomial",
        Likelihood(
            "NegativeBinomial",
            ("mu", "alpha"),
            "mu",
            # Variance mu + mu^2 / alpha: numpy's (n, p) form with n = alpha.
            draw=lambda v, rng: rng.negative_binomial(
                v["alpha"], v["alpha"] / (v["alpha"] + v["mu"])
            ),
        ),
        "log",
        ("log", "identity"),
        {"alpha": _shape_prior},
        _counts,
        "non-negative integer counts",
    ),
    Family(
        "gamma",
        # Mean-shape parameterisation: mean mu, shape alpha, rate alpha / mu.
        Likelihood(
            "Gamma",
            ("mu", "alpha"),
            "mu",
            lambda v: {"alpha": v["alpha"], "beta": v["alpha"] / v["mu"]},
            draw=lambda v, rng: rng.gamma(v["alpha"], v["mu"] / v["alpha"]),
        ),
        "inverse",
        ("inverse", "log", "identity"),
        {"alpha": _shape_prior},
        _positive,
        "positive numbers",
    ),
    Family(
        "beta",
        # Mean-precision parameterisation (Ferrari & Cribari-Neto 2004).
        Likelihood(
            "Beta",
            ("mu", "kappa"),
            "mu",
            lambda v: {"alpha": v["mu"] * v["kappa"], "beta": (1 - v["mu"]) * v["kappa"]},
            draw=lambda v, rng: rng.beta(v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"]),
        ),
        "logit",
        ("logit", "probit", "cloglog"),
        {"kappa": _shape_prior},
        _unit_open,
        "strictly between 0 and 1",
    ),
    Family(
        "t",
        Likelihood(
            "StudentT",
            ("mu", "sigma", "nu"),
            "mu",
            draw=lambda v, rng: v["mu"] + v["sigma"] * rng.standard_t(v["nu"], np.shape(v["mu"])),
        ),
        "identity",
        ("identity", "log", "inverse"),
        {"sigma": _sigma_prior, "nu": _nu_prior},
        _real,
        "finite real numbers",
    ),
    Family(
        "wald",
        Likelihood("Wald", ("mu", "lam"), "mu", draw=lambda v, rng: rng.wald(v["mu"], v["lam"])),
        "inverse_squared",
        ("inverse_squared", "inverse", "log", "identity"),
        {"lam": _shape_prior},
        _positive,
        "positive numbers",
    ),
    Family(
        "lognormal",
        # mu and sigma are the mean and sd of log(y), as in brms and lme4-style software.
        Likelihood(
            "LogNormal",
            ("mu", "sigma"),
            "mu",
            draw=lambda v, rng: np.exp(_normal_draw(v, rng)),
        ),
        "identity",
        ("identity",),
        {"sigma": _sigma_prior},
        _positive,
        "positive numbers",
        prior_scale=np.log,
    ),
    Family(
        "exponential",
        # Mean parameterisation: mean mu, rate 1 / mu.
        Likelihood(
            "Exponential",
            ("mu",),
            "mu",
            lambda v: {"scale": v["mu"]},
            draw=lambda v, rng: rng.exponential(v["mu"]),
        ),
        "log",
        ("log", "identity", "inverse"),
        support=_positive,
        support_text="positive numbers",
    ),
    Family(
        "weibull",
        Likelihood(
            "Weibull",
            ("mu", "alpha"),
            "mu",
            lambda v: {"alpha": v["alpha"], "beta": _weibull_scale(v)},
            draw=lambda v, rng: _weibull_scale(v) * rng.weibull(v["alpha"]),
        ),
        "log",
        ("log", "identity", "inverse"),
        {"alpha": _shape_prior},
        _positive,
        "positive numbers",
    ),
    Family(
        "laplace",
        # Location mu (the median) and scale b; the sd is b * sqrt(2).
        Likelihood(
            "Laplace",
            ("mu", "b"),
            "mu",
            draw=lambda v, rng: rng.laplace(v["mu"], v["b"]),
        ),
        "identity",
        ("identity", "log", "inverse"),
        {"b": _sigma_prior},
        _real,
        "finite real numbers",
    ),
]:
    likelihood = replace(_family.likelihood, logpdf=_LOGPDF[_family.name])
    register_family(
        replace(_family, likelihood=likelihood, glm_variance=_GLM_VARIANCE[_family.name])
    )


# --- the family table of docs/families.md ---------------------------------------------------

#: How each default auxiliary prior reads in the docs ("S" is the response's sd).
_PRIOR_TEXT: dict[Callable[[ResponseStats], Prior], str] = {
    _sigma_prior: "HalfStudentT(4, {sd})",
    _shape_prior: "Gamma(0.01, 0.01)",
    _nu_prior: "Gamma(2, 0.1)",
}


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
        sd = "sd(y)" if scale is None else f"sd({getattr(scale, '__name__', 'f')}(y))"
        aux = []
        for name in family.aux_params:
            function = family.aux_priors[name]
            text = _PRIOR_TEXT.get(function)
            prior = text.format(sd=sd) if text else str(function(ResponseStats(0.0, 1.0)))
            aux.append(f"`{name} ~ {prior}`")
        params = ", ".join(f"`{p}`" for p in family.likelihood.params)
        rows.append(
            f"| `{family.name}` | `{family.likelihood.name}` | {params} | `{family.link}` | "
            f"{', '.join(family.links)} | {', '.join(aux) or 'none'} | {family.support_text} |"
        )
    return "\n".join(rows) + "\n"
