"""The built-in families, each written once with keywords: its numpy log density
(``Likelihood(logpdf=...)``) and the variance of its maximum-likelihood GLM
(``glm_variance=...``) are set where it is declared. Their default priors and the makers of
families of one kind are in :mod:`bayesmm.families.builtin_parts`, their supports in
:mod:`bayesmm.families.support`, their samplers and log densities in
:mod:`bayesmm.families.densities`.

:mod:`bayesmm.families` registers the records listed here in ``BUILTIN_FAMILIES``; this
module only describes them.
"""

from __future__ import annotations

import numpy as np

from .builtin_parts import (
    ABOVE_ZERO,
    OPEN_UNIT,
    PRIOR_TEXT,
    SCALE_TEXT,
    inside_unit,
    kappa_vonmises_prior,
    location_family,
    log_nonzero,
    median_quantile,
    nonzero,
    nu_prior,
    ordinal_family,
    shape_prior,
    sigma_prior,
    threshold_prior,
    zero_prior,
    zeros_family,
)
from .categories import Categories
from .densities import (
    asym_laplace_draw,
    asym_laplace_logpdf,
    bernoulli_draw,
    bernoulli_logpdf,
    beta_binomial_draw,
    beta_binomial_logpmf,
    beta_logpdf,
    binomial_draw,
    binomial_logpmf,
    category_draw,
    category_logpmf,
    exponential_logpdf,
    gamma_draw,
    gamma_logpdf,
    hurdle_logpdf,
    laplace_draw,
    laplace_logpdf,
    lognormal_draw,
    lognormal_logpdf,
    multinomial_draw,
    multinomial_logpmf,
    negbinomial_draw,
    negbinomial_log_positive,
    negbinomial_logpmf,
    normal_draw,
    normal_logpdf,
    poisson_draw,
    poisson_log_positive,
    poisson_logpmf,
    positive_count_draw,
    scipy_nbinom,
    scipy_poisson,
    studentt_draw,
    studentt_logpdf,
    vonmises_logpdf,
    wald_draw,
    wald_logpdf,
    weibull_logpdf,
    weibull_scale,
    zero_inflated_logpdf,
    zoib_draw,
    zoib_logpdf,
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

__all__ = ["BUILTIN_FAMILIES", "SCALE_TEXT", "PRIOR_TEXT"]

# --- what the responses of families of categories must be --------------------------------

_CATEGORICAL = Support(
    counts, "categories, at least 3 (a factor, text or integers; the first is the reference)"
)
_MULTINOMIAL = Support(
    counts,
    "non-negative integer counts of at least 3 categories, one column each: c(a, b, c) ~ x "
    "(the first is the reference)",
)

# The ML GLM behind ``automatic_priors="mle"`` (``glm_variance``): negative binomial and beta
# use the quasi-likelihoods of the same mean-variance family, t uses the Gaussian. Zero-inflated
# and hurdle families have no GLM of that kind (their mean is not the parent), nor does the
# circular von Mises: they support only the default automatic priors.

_BINARY_LINKS = ("logit", "probit", "cloglog", "identity")


# A file holding a family derived from a built-in one names its default priors and prior
# scales where they were defined before (``bayesmm.families.builtin:_sigma_prior``).
_inside_unit = inside_unit
_kappa_vonmises_prior = kappa_vonmises_prior
_log_nonzero = log_nonzero
_median_quantile = median_quantile
_nonzero = nonzero
_nu_prior = nu_prior
_shape_prior = shape_prior
_sigma_prior = sigma_prior
_threshold_prior = threshold_prior
_zero_prior = zero_prior


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
            logpdf=gamma_logpdf,
        ),
        "inverse",
        links=("inverse", "log", "identity"),
        aux_priors={"alpha": shape_prior},
        support=POSITIVE,
        glm_variance="gamma",
        aux_bounds={"alpha": ABOVE_ZERO},
    )
    return [
        location_family(
            "gaussian",
            Likelihood("Normal", ("mu", "sigma"), "mu", draw=normal_draw, logpdf=normal_logpdf),
            "sigma",
            glm_variance="gaussian",
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
                logpdf=beta_logpdf,
            ),
            "logit",
            links=("logit", "probit", "cloglog"),
            aux_priors={"kappa": shape_prior},
            support=UNIT_OPEN,
            # The quasi-binomial GLM: the same mean-variance family.
            glm_variance="quasibinomial",
            aux_bounds={"kappa": ABOVE_ZERO},
        ),
        location_family(
            "t",
            Likelihood(
                "StudentT", ("mu", "sigma", "nu"), "mu", draw=studentt_draw, logpdf=studentt_logpdf
            ),
            "sigma",
            glm_variance="gaussian",
            nu=nu_prior,
        ),
        Family(
            "wald",
            Likelihood("Wald", ("mu", "lam"), "mu", draw=wald_draw, logpdf=wald_logpdf),
            "inverse_squared",
            links=("inverse_squared", "inverse", "log", "identity"),
            aux_priors={"lam": shape_prior},
            support=POSITIVE,
            glm_variance="inverse_gaussian",
            aux_bounds={"lam": ABOVE_ZERO},
        ),
        _lognormal(),
        *_rates(),
        # Location mu (the median) and scale b; the sd is b * sqrt(2).
        location_family(
            "laplace",
            Likelihood("Laplace", ("mu", "b"), "mu", draw=laplace_draw, logpdf=laplace_logpdf),
            "b",
            glm_variance="gaussian",
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
                logpdf=exponential_logpdf,
            ),
            "log",
            links=("log", "identity", "inverse"),
            support=POSITIVE,
            # The mean model of exponential and Weibull responses: the gamma GLM's
            # (quasi-likelihood).
            glm_variance="gamma",
        ),
        Family(
            "weibull",
            Likelihood(
                "Weibull",
                ("mu", "alpha"),
                "mu",
                lambda v: {"alpha": v["alpha"], "beta": weibull_scale(v)},
                draw=lambda v, rng: weibull_scale(v) * rng.weibull(v["alpha"]),
                logpdf=weibull_logpdf,
            ),
            "log",
            links=("log", "identity", "inverse"),
            aux_priors={"alpha": shape_prior},
            support=POSITIVE,
            glm_variance="gamma",
            aux_bounds={"alpha": ABOVE_ZERO},
        ),
    ]


def _lognormal() -> Family:
    # mu and sigma are the mean and sd of log(y), as in brms and lme4-style software.
    return Family(
        "lognormal",
        Likelihood(
            "LogNormal", ("mu", "sigma"), "mu", draw=lognormal_draw, logpdf=lognormal_logpdf
        ),
        "identity",
        aux_priors={"sigma": sigma_prior},
        support=POSITIVE,
        # A Gaussian GLM of log(y) would be the one; not wired in, so "default" priors only.
        glm_variance=None,
        prior_scale=np.log,
        aux_bounds={"sigma": ABOVE_ZERO},
    )


def _discrete() -> list[Family]:
    """Families of binary responses, successes and counts."""
    return [
        Family(
            "bernoulli",
            Likelihood(
                "Bernoulli",
                ("p",),
                "p",
                logit_kwarg="logit_p",
                draw=bernoulli_draw,
                logpdf=bernoulli_logpdf,
            ),
            "logit",
            links=_BINARY_LINKS,
            support=BINARY,
            binary=True,
            glm_variance="binomial",
        ),
        Family(
            "binomial",
            Likelihood(
                "Binomial",
                ("p",),
                "p",
                logit_kwarg="logit_p",
                trials_kwarg="n",
                draw=binomial_draw,
                logpdf=binomial_logpmf,
            ),
            "logit",
            links=_BINARY_LINKS,
            support=SUCCESSES,
            trials=True,
            glm_variance="binomial",
        ),
        Family(
            "poisson",
            Likelihood("Poisson", ("mu",), "mu", draw=poisson_draw, logpdf=poisson_logpmf),
            "log",
            links=("log", "identity"),
            support=COUNTS,
            glm_variance="poisson",
        ),
        Family(
            "negativebinomial",
            Likelihood(
                "NegativeBinomial",
                ("mu", "alpha"),
                "mu",
                draw=negbinomial_draw,
                logpdf=negbinomial_logpmf,
            ),
            "log",
            links=("log", "identity"),
            aux_priors={"alpha": shape_prior},
            support=COUNTS,
            # The quasi-Poisson GLM: the same mean-variance family.
            glm_variance="quasipoisson",
            aux_bounds={"alpha": ABOVE_ZERO},
        ),
    ]


def _zeros(base: dict[str, Family]) -> list[Family]:
    """The zero-inflated (``zi``) and hurdle (``hu``) variants of the base families."""
    poisson, negativebinomial = base["poisson"], base["negativebinomial"]
    return [
        zeros_family(
            "zero_inflated_poisson",
            poisson,
            "ZeroInflatedPoisson",
            "zi",
            logpdf=zero_inflated_logpdf(poisson_logpmf),
        ),
        zeros_family(
            "zero_inflated_negativebinomial",
            negativebinomial,
            "ZeroInflatedNegativeBinomial",
            "zi",
            logpdf=zero_inflated_logpdf(negbinomial_logpmf),
        ),
        zeros_family(
            "zero_inflated_binomial",
            base["binomial"],
            "ZeroInflatedBinomial",
            "zi",
            logpdf=zero_inflated_logpdf(binomial_logpmf),
        ),
        # mu of a hurdle count family is the mean of the count distribution before it is
        # restricted to positive values, as in brms.
        zeros_family(
            "hurdle_poisson",
            poisson,
            "HurdlePoisson",
            "hu",
            logpdf=hurdle_logpdf(poisson_logpmf, poisson_log_positive),
            draw=positive_count_draw(scipy_poisson),
            prior_scale=nonzero,
        ),
        zeros_family(
            "hurdle_negativebinomial",
            negativebinomial,
            "HurdleNegativeBinomial",
            "hu",
            logpdf=hurdle_logpdf(negbinomial_logpmf, negbinomial_log_positive),
            draw=positive_count_draw(scipy_nbinom),
            prior_scale=nonzero,
        ),
        # The log link by default (brms's): the inverse link of gamma is a GLM convention.
        zeros_family(
            "hurdle_gamma",
            base["gamma"],
            "HurdleGamma",
            "hu",
            logpdf=hurdle_logpdf(gamma_logpdf),
            draw=gamma_draw,
            link="log",
            links=("log", "inverse", "identity"),
            prior_scale=nonzero,
            support=NONNEGATIVE,
        ),
        zeros_family(
            "hurdle_lognormal",
            base["lognormal"],
            "HurdleLogNormal",
            "hu",
            logpdf=hurdle_logpdf(lognormal_logpdf),
            draw=lognormal_draw,
            prior_scale=log_nonzero,
            support=NONNEGATIVE,
        ),
    ]


def _quantile_and_circular() -> list[Family]:
    """Families of a quantile (asymmetric Laplace) and of angles (von Mises)."""
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
                logpdf=asym_laplace_logpdf,
            ),
            "identity",
            links=("identity", "log", "inverse"),
            aux_priors={"b": sigma_prior, "q": median_quantile},
            support=REAL,
            # A location model like laplace's: the Gaussian GLM scales the slopes.
            glm_variance="gaussian",
            aux_bounds={"b": ABOVE_ZERO, "q": OPEN_UNIT},
        ),
        Family(
            "vonmises",
            Likelihood(
                "VonMises",
                ("mu", "kappa"),
                "mu",
                draw=lambda v, rng: rng.vonmises(v["mu"], v["kappa"]),
                logpdf=vonmises_logpdf,
            ),
            "tan_half",
            links=("tan_half", "identity"),
            aux_priors={"kappa": kappa_vonmises_prior},
            support=ANGLES,
            glm_variance=None,
            aux_bounds={"kappa": ABOVE_ZERO},
        ),
    ]


def _beta_based() -> list[Family]:
    """Families built on a beta of mean ``mu`` and precision ``kappa``: the zero-one-inflated
    beta and the overdispersed binomial."""
    return [
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
                logpdf=zoib_logpdf,
            ),
            "logit",
            links=("logit", "probit", "cloglog"),
            aux_priors={"kappa": shape_prior, "zoi": zero_prior, "coi": zero_prior},
            support=UNIT_CLOSED,
            # Its mean is not mu (zeros and ones are modelled apart): no GLM of this kind.
            glm_variance=None,
            aux_bounds={"kappa": ABOVE_ZERO, "zoi": OPEN_UNIT, "coi": OPEN_UNIT},
            # mu is the mean of the responses inside (0, 1): the intercept's prior too.
            prior_scale=inside_unit,
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
                logpdf=beta_binomial_logpmf,
            ),
            "logit",
            links=("logit", "probit", "cloglog"),
            aux_priors={"kappa": shape_prior},
            support=SUCCESSES,
            trials=True,
            # Overdispersed binomial: the quasi-binomial GLM of the proportions.
            glm_variance="quasibinomial",
            aux_bounds={"kappa": ABOVE_ZERO},
        ),
    ]


def _with_categories() -> list[Family]:
    """Families of responses with categories: ordinal and the multinomial logit."""
    return [
        ordinal_family("cumulative", Categories("cumulative", ordered=True)),
        # A stopping-ratio threshold is a property of its own step (a conditional
        # probability), so no order among them is implied: they are sampled unordered.
        ordinal_family("sratio", Categories("sratio", ordered=False)),
        # So are those of the continuation ratio and of adjacent categories (as brms).
        ordinal_family("cratio", Categories("cratio", ordered=False)),
        ordinal_family("acat", Categories("acat", ordered=False)),
        Family(
            "categorical",
            # One linear predictor per category but the reference, through the softmax (which
            # is named by the logit link it generalises).
            Likelihood("Categorical", ("p",), "p", draw=category_draw, logpdf=category_logpmf),
            "logit",
            links=("logit",),
            support=_CATEGORICAL,
            glm_variance=None,
            categories=Categories("categorical", ordered=False),
        ),
        Family(
            "multinomial",
            # The multinomial logit of counts: as categorical, with each row's number of
            # trials the sum of its counts.
            Likelihood(
                "Multinomial", ("p",), "p", draw=multinomial_draw, logpdf=multinomial_logpmf
            ),
            "logit",
            links=("logit",),
            support=_MULTINOMIAL,
            trials=True,
            glm_variance=None,
            categories=Categories("categorical", ordered=False, counts=True),
        ),
    ]


#: The order of the registry (and of the docs' family table).
_ORDER = (
    "gaussian",
    "bernoulli",
    "binomial",
    "poisson",
    "negativebinomial",
    "gamma",
    "beta",
    "t",
    "wald",
    "lognormal",
    "exponential",
    "weibull",
    "laplace",
)


def _records() -> list[Family]:
    base = {f.name: f for f in [*_continuous(), *_discrete()]}
    ordered = [base[name] for name in _ORDER]
    return [*ordered, *_zeros(base), *_quantile_and_circular(), *_beta_based(), *_with_categories()]


#: The built-in families, each written once: its log density and ML GLM are in its record.
BUILTIN_FAMILIES: list[Family] = _records()
