"""The built-in families: their default auxiliary priors, maximum-likelihood GLMs and the
records themselves, written with keywords (their supports are in
:mod:`bayesmm.families.support`, their numpy samplers and log densities in
:mod:`bayesmm.families.densities`).

:mod:`bayesmm.families` registers the records listed here in ``BUILTIN_FAMILIES``; this
module only describes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..priors import Prior, ResponseStats
from .categories import Categories
from .densities import (
    LOGPDF,
    asym_laplace_draw,
    bernoulli_draw,
    beta_binomial_draw,
    binomial_draw,
    category_draw,
    gamma_draw,
    laplace_draw,
    lognormal_draw,
    multinomial_draw,
    negbinomial_draw,
    normal_draw,
    poisson_draw,
    positive_count_draw,
    scipy_nbinom,
    scipy_poisson,
    studentt_draw,
    wald_draw,
    weibull_scale,
    with_zeros,
    zoib_draw,
)
from .family import Family
from .likelihood import Likelihood
from .support import (
    ANGLES,
    BINARY,
    COUNTS,
    NONNEGATIVE,
    POSITIVE,
    REAL,
    SUCCESSES,
    UNIT_CLOSED,
    UNIT_OPEN,
    Support,
    counts,
)

__all__ = ["BUILTIN_FAMILIES", "GLM_VARIANCE", "SCALE_TEXT", "PRIOR_TEXT"]

# --- what the responses of families of categories must be --------------------------------

_CATEGORICAL = Support(
    counts, "categories, at least 3 (a factor, text or integers; the first is the reference)"
)
_MULTINOMIAL = Support(
    counts,
    "non-negative integer counts of at least 3 categories, one column each: c(a, b, c) ~ x "
    "(the first is the reference)",
)
_ORDINAL = Support(counts, "ordered categories, at least 3 (an ordered factor, text or integers)")
# A response with categories is encoded as category codes 0, 1, ..., which ``counts`` checks;
# the design checks the number of categories (at least Categories.min_levels) with their
# labels, where it knows them.

# --- the scale default priors are taken from (Family.prior_scale) ----------------------------


def _nonzero(y: np.ndarray) -> np.ndarray:
    """The positive responses: what a hurdle family's parent describes."""
    above = y[y > 0]
    return above if above.size > 1 else y


def _log_nonzero(y: np.ndarray) -> np.ndarray:
    """``log`` of the positive responses (hurdle lognormal: ``mu`` is their log-scale mean)."""
    above = y[y > 0]
    return np.log(above) if above.size > 1 else np.zeros(2)


#: How each prior scale reads in the family table of the docs.
SCALE_TEXT: dict[Callable[[np.ndarray], np.ndarray], str] = {
    np.log: "log(y)",
    _nonzero: "y[y > 0]",
    _log_nonzero: "log(y[y > 0])",
}

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


def _zero_prior(stats: ResponseStats) -> Prior:
    # Uniform on the probability of a zero (zi, hu), brms's default; also on zoib's zoi, coi.
    return Prior("Beta", alpha=1, beta=1)


def _kappa_vonmises_prior(stats: ResponseStats) -> Prior:
    # brms's default for the von Mises concentration: mean 200, mostly above 20, so it
    # leaves room for concentrated angles without piling mass on kappa near 0 (uniform).
    return Prior("Gamma", alpha=2, beta=0.01)


def _threshold_prior(stats: ResponseStats) -> Prior:
    # Student-t(3, 0, 2.5) on the link scale for each threshold, brms's default for ordinal
    # intercepts: weakly informative, logits of +-5 cover probabilities 0.007 to 0.993.
    return Prior("StudentT", nu=3, mu=0, sigma=2.5)


def _median_quantile(stats: ResponseStats) -> float:
    # Quantile regression fixes the quantile; the median unless priors={"q": ...} says not.
    return 0.5


#: How each default auxiliary prior reads in the docs ("{sd}" is the response's sd).
PRIOR_TEXT: dict[Callable[[ResponseStats], Prior | float], str] = {
    _sigma_prior: "HalfStudentT(4, {sd})",
    _shape_prior: "Gamma(0.01, 0.01)",
    _nu_prior: "Gamma(2, 0.1)",
    _zero_prior: "Beta(1, 1)",
    _kappa_vonmises_prior: "Gamma(2, 0.01)",
    _threshold_prior: "StudentT(3, 0, 2.5)",
}

_POSITIVE = (0.0, np.inf)
_OPEN_UNIT = (0.0, 1.0)

#: The ML GLM behind ``automatic_priors="mle"``: negative binomial and beta use the
#: quasi-likelihoods of the same mean-variance family, t uses the Gaussian. Zero-inflated and
#: hurdle families have no GLM of that kind (their mean is not the parent), nor does the
#: circular von Mises: they support only the default automatic priors.
GLM_VARIANCE: dict[str, str | None] = {
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
    "zero_inflated_poisson": None,
    "zero_inflated_negativebinomial": None,
    "zero_inflated_binomial": None,
    "hurdle_poisson": None,
    "hurdle_negativebinomial": None,
    "hurdle_gamma": None,
    "hurdle_lognormal": None,
    # A location model like laplace's: the Gaussian GLM scales the slopes.
    "asym_laplace": "gaussian",
    "vonmises": None,
    # Its mean is not mu (zeros and ones are modelled apart): no GLM of this kind.
    "zoib": None,
    # Overdispersed binomial: the quasi-binomial GLM of the proportions.
    "beta_binomial": "quasibinomial",
    # Models of categories have no GLM of this kind: only the default automatic priors.
    "cumulative": None,
    "sratio": None,
    "cratio": None,
    "acat": None,
    "categorical": None,
    "multinomial": None,
}

_BINARY_LINKS = ("logit", "probit", "cloglog", "identity")


def _with_zeros(
    name: str, base: Family, pymc_name: str, zero: str, draw: Callable | None = None
) -> Family:
    """``base`` with an auxiliary probability of a zero, named as brms does: ``zi``, a
    structural zero beside the zeros of ``base`` (zero-inflated), or ``hu``, a zero whose
    non-zero responses are draws of ``base`` restricted to positive values, ``draw`` (hurdle).
    PyMC takes ``psi = 1 - zero``, the probability of the ``base`` process."""
    likelihood = base.likelihood
    to_base = likelihood.dist_kwargs
    return replace(
        base,
        name=name,
        likelihood=replace(
            likelihood,
            name=pymc_name,
            params=(*likelihood.params, zero),
            to_dist=lambda v: {
                "psi": 1 - v[zero],
                **to_base({k: x for k, x in v.items() if k != zero}),
            },
            # PyMC's zero-inflated binomial takes p only.
            logit_kwarg=None,
            draw=with_zeros(draw or likelihood.draw, zero),  # type: ignore[arg-type]
        ),
        aux_priors={**base.aux_priors, zero: _zero_prior},
        aux_bounds={**base.aux_bounds, zero: _OPEN_UNIT},
    )


def _inside_unit(y: np.ndarray) -> np.ndarray:
    """The responses strictly between 0 and 1 (all of them if there are none)."""
    inside = y[(y > 0) & (y < 1)]
    return inside if inside.size else y


def _ordinal_family(name: str, categories: Categories) -> Family:
    """An ordinal family: PyMC's Categorical with probabilities from K - 1 thresholds."""
    return Family(
        name,
        Likelihood("Categorical", ("p", "threshold"), "p", draw=category_draw),
        "logit",
        links=("logit", "probit", "cloglog"),
        aux_priors={"threshold": _threshold_prior},
        support=_ORDINAL,
        categories=categories,
    )


def _location_family(
    name: str, likelihood: Likelihood, scale: str, **shape: Callable[[ResponseStats], Prior]
) -> Family:
    """A family of real responses with a location ``mu``, a scale on the response's scale,
    and any ``shape`` parameters (positive, with their default priors)."""
    return Family(
        name,
        likelihood,
        "identity",
        links=("identity", "log", "inverse"),
        aux_priors={scale: _sigma_prior, **shape},
        support=REAL,
        aux_bounds={scale: _POSITIVE, **dict.fromkeys(shape, _POSITIVE)},
    )


def _continuous() -> list[Family]:
    """Families of real or positive responses."""
    gamma = Family(
        "gamma",
        # Mean-shape parameterisation: mean mu, shape alpha, rate alpha / mu.
        Likelihood(
            "Gamma",
            ("mu", "alpha"),
            "mu",
            lambda v: {"alpha": v["alpha"], "beta": v["alpha"] / v["mu"]},
            draw=gamma_draw,
        ),
        "inverse",
        links=("inverse", "log", "identity"),
        aux_priors={"alpha": _shape_prior},
        support=POSITIVE,
        aux_bounds={"alpha": _POSITIVE},
    )
    return [
        _location_family(
            "gaussian", Likelihood("Normal", ("mu", "sigma"), "mu", draw=normal_draw), "sigma"
        ),
        gamma,
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
            links=("logit", "probit", "cloglog"),
            aux_priors={"kappa": _shape_prior},
            support=UNIT_OPEN,
            aux_bounds={"kappa": _POSITIVE},
        ),
        _location_family(
            "t",
            Likelihood("StudentT", ("mu", "sigma", "nu"), "mu", draw=studentt_draw),
            "sigma",
            nu=_nu_prior,
        ),
        Family(
            "wald",
            Likelihood("Wald", ("mu", "lam"), "mu", draw=wald_draw),
            "inverse_squared",
            links=("inverse_squared", "inverse", "log", "identity"),
            aux_priors={"lam": _shape_prior},
            support=POSITIVE,
            aux_bounds={"lam": _POSITIVE},
        ),
        _lognormal(),
        *_rates(),
        # Location mu (the median) and scale b; the sd is b * sqrt(2).
        _location_family(
            "laplace", Likelihood("Laplace", ("mu", "b"), "mu", draw=laplace_draw), "b"
        ),
    ]


def _rates() -> list[Family]:
    """Families of positive responses in the mean parameterisation of a rate: exponential
    and Weibull (survival times)."""
    return [
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
            links=("log", "identity", "inverse"),
            support=POSITIVE,
        ),
        Family(
            "weibull",
            Likelihood(
                "Weibull",
                ("mu", "alpha"),
                "mu",
                lambda v: {"alpha": v["alpha"], "beta": weibull_scale(v)},
                draw=lambda v, rng: weibull_scale(v) * rng.weibull(v["alpha"]),
            ),
            "log",
            links=("log", "identity", "inverse"),
            aux_priors={"alpha": _shape_prior},
            support=POSITIVE,
            aux_bounds={"alpha": _POSITIVE},
        ),
    ]


def _lognormal() -> Family:
    # mu and sigma are the mean and sd of log(y), as in brms and lme4-style software.
    return Family(
        "lognormal",
        Likelihood("LogNormal", ("mu", "sigma"), "mu", draw=lognormal_draw),
        "identity",
        aux_priors={"sigma": _sigma_prior},
        support=POSITIVE,
        prior_scale=np.log,
        aux_bounds={"sigma": _POSITIVE},
    )


def _discrete() -> list[Family]:
    """Families of binary responses, successes and counts."""
    return [
        Family(
            "bernoulli",
            Likelihood("Bernoulli", ("p",), "p", logit_kwarg="logit_p", draw=bernoulli_draw),
            "logit",
            links=_BINARY_LINKS,
            support=BINARY,
            binary=True,
        ),
        Family(
            "binomial",
            Likelihood(
                "Binomial", ("p",), "p", logit_kwarg="logit_p", trials_kwarg="n", draw=binomial_draw
            ),
            "logit",
            links=_BINARY_LINKS,
            support=SUCCESSES,
            trials=True,
        ),
        Family(
            "poisson",
            Likelihood("Poisson", ("mu",), "mu", draw=poisson_draw),
            "log",
            links=("log", "identity"),
            support=COUNTS,
        ),
        Family(
            "negativebinomial",
            Likelihood("NegativeBinomial", ("mu", "alpha"), "mu", draw=negbinomial_draw),
            "log",
            links=("log", "identity"),
            aux_priors={"alpha": _shape_prior},
            support=COUNTS,
            aux_bounds={"alpha": _POSITIVE},
        ),
    ]


def _zeros(base: dict[str, Family]) -> list[Family]:
    """The zero-inflated (``zi``) and hurdle (``hu``) variants of the base families."""
    poisson, negativebinomial = base["poisson"], base["negativebinomial"]
    return [
        _with_zeros("zero_inflated_poisson", poisson, "ZeroInflatedPoisson", "zi"),
        _with_zeros(
            "zero_inflated_negativebinomial", negativebinomial, "ZeroInflatedNegativeBinomial", "zi"
        ),
        _with_zeros("zero_inflated_binomial", base["binomial"], "ZeroInflatedBinomial", "zi"),
        # mu of a hurdle count family is the mean of the count distribution before it is
        # restricted to positive values, as in brms.
        replace(
            _with_zeros(
                "hurdle_poisson", poisson, "HurdlePoisson", "hu", positive_count_draw(scipy_poisson)
            ),
            prior_scale=_nonzero,
        ),
        replace(
            _with_zeros(
                "hurdle_negativebinomial",
                negativebinomial,
                "HurdleNegativeBinomial",
                "hu",
                positive_count_draw(scipy_nbinom),
            ),
            prior_scale=_nonzero,
        ),
        # The log link by default (brms's): the inverse link of gamma is a GLM convention.
        replace(
            _with_zeros("hurdle_gamma", base["gamma"], "HurdleGamma", "hu", gamma_draw),
            link="log",
            links=("log", "inverse", "identity"),
            prior_scale=_nonzero,
            support=NONNEGATIVE,
        ),
        replace(
            _with_zeros(
                "hurdle_lognormal", base["lognormal"], "HurdleLogNormal", "hu", lognormal_draw
            ),
            prior_scale=_log_nonzero,
            support=NONNEGATIVE,
        ),
    ]


def _special() -> list[Family]:
    """Quantile, circular and overdispersed-binomial families."""
    return [
        Family(
            "asym_laplace",
            # mu is the q-quantile and b a scale: b is 1 / PyMC's b (an inverse scale), so at
            # q = 0.5 this is the laplace family.
            Likelihood(
                "AsymmetricLaplace",
                ("mu", "b", "q"),
                "mu",
                lambda v: {"mu": v["mu"], "b": 1 / v["b"], "q": v["q"]},
                draw=asym_laplace_draw,
            ),
            "identity",
            links=("identity", "log", "inverse"),
            aux_priors={"b": _sigma_prior, "q": _median_quantile},
            support=REAL,
            aux_bounds={"b": _POSITIVE, "q": _OPEN_UNIT},
        ),
        Family(
            "vonmises",
            Likelihood(
                "VonMises",
                ("mu", "kappa"),
                "mu",
                draw=lambda v, rng: rng.vonmises(v["mu"], v["kappa"]),
            ),
            "tan_half",
            links=("tan_half", "identity"),
            aux_priors={"kappa": _kappa_vonmises_prior},
            support=ANGLES,
            aux_bounds={"kappa": _POSITIVE},
        ),
        Family(
            "zoib",
            # Zero-one-inflated beta (brms's zero_one_inflated_beta): a beta of mean mu and
            # precision kappa, with probability zoi of a 0 or 1, of which coi are ones.
            Likelihood(
                "ZeroOneInflatedBeta",
                ("mu", "kappa", "zoi", "coi"),
                "mu",
                lambda v: {
                    "alpha": v["mu"] * v["kappa"],
                    "beta": (1 - v["mu"]) * v["kappa"],
                    "zoi": v["zoi"],
                    "coi": v["coi"],
                },
                draw=zoib_draw,
            ),
            "logit",
            links=("logit", "probit", "cloglog"),
            aux_priors={"kappa": _shape_prior, "zoi": _zero_prior, "coi": _zero_prior},
            support=UNIT_CLOSED,
            aux_bounds={"kappa": _POSITIVE, "zoi": _OPEN_UNIT, "coi": _OPEN_UNIT},
            # mu is the mean of the responses inside (0, 1): the intercept's prior too.
            prior_scale=_inside_unit,
        ),
        Family(
            "beta_binomial",
            # Mean-precision parameterisation of the success probability, as for beta.
            Likelihood(
                "BetaBinomial",
                ("mu", "kappa"),
                "mu",
                lambda v: {"alpha": v["mu"] * v["kappa"], "beta": (1 - v["mu"]) * v["kappa"]},
                trials_kwarg="n",
                draw=beta_binomial_draw,
            ),
            "logit",
            links=("logit", "probit", "cloglog"),
            aux_priors={"kappa": _shape_prior},
            support=SUCCESSES,
            trials=True,
            aux_bounds={"kappa": _POSITIVE},
        ),
    ]


def _with_categories() -> list[Family]:
    """Families of responses with categories: ordinal and the multinomial logit."""
    return [
        _ordinal_family("cumulative", Categories("cumulative", ordered=True)),
        # A stopping-ratio threshold is a property of its own step (a conditional
        # probability), so no order among them is implied: they are sampled unordered.
        _ordinal_family("sratio", Categories("sratio", ordered=False)),
        # So are those of the continuation ratio and of adjacent categories (as brms).
        _ordinal_family("cratio", Categories("cratio", ordered=False)),
        _ordinal_family("acat", Categories("acat", ordered=False)),
        Family(
            "categorical",
            # One linear predictor per category but the reference, through the softmax (which
            # is named by the logit link it generalises).
            Likelihood("Categorical", ("p",), "p", draw=category_draw),
            "logit",
            links=("logit",),
            support=_CATEGORICAL,
            categories=Categories("categorical", ordered=False),
        ),
        Family(
            "multinomial",
            # The multinomial logit of counts: as categorical, with each row's number of
            # trials the sum of its counts.
            Likelihood("Multinomial", ("p",), "p", draw=multinomial_draw),
            "logit",
            links=("logit",),
            support=_MULTINOMIAL,
            trials=True,
            categories=Categories("categorical", ordered=False, counts=True),
        ),
    ]


#: The order of the registry (and of the docs' family table).
_ORDER = (
    "gaussian", "bernoulli", "binomial", "poisson", "negativebinomial", "gamma", "beta", "t",
    "wald", "lognormal", "exponential", "weibull", "laplace",
)  # fmt: skip


def _records() -> list[Family]:
    base = {f.name: f for f in [*_continuous(), *_discrete()]}
    ordered = [base[name] for name in _ORDER]
    return [*ordered, *_zeros(base), *_special(), *_with_categories()]


#: The built-in families, each with its numpy log density and ML GLM filled in.
BUILTIN_FAMILIES: list[Family] = [
    replace(
        family,
        likelihood=replace(family.likelihood, logpdf=LOGPDF[family.name]),
        glm_variance=GLM_VARIANCE[family.name],
    )
    for family in _records()
]
