"""The built-in families: their default auxiliary priors, maximum-likelihood GLMs and the
records themselves (their support checks are in :mod:`bayesmm._support`, their numpy
samplers and log densities in :mod:`bayesmm._family_densities`).

:mod:`bayesmm.families` defines :class:`~bayesmm.families.Family` and registers the records
listed here in ``BUILTIN_FAMILIES``; this module only describes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from ._categories import Categories
from ._family_densities import (
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
)
from ._support import (
    ANGLES_TEXT,
    BINARY_TEXT,
    COUNTS_TEXT,
    NONNEGATIVE_TEXT,
    POSITIVE_TEXT,
    REAL_TEXT,
    SUCCESSES_TEXT,
    UNIT_OPEN_TEXT,
    angles,
    binary,
    counts,
    finite_numbers,
    nonnegative,
    positive,
    successes,
    unit_open,
)
from .families import FAMILIES, Family, Likelihood
from .priors import Prior, ResponseStats, format_value

# --- what the responses of families of categories must be --------------------------------

_CATEGORICAL_TEXT = (
    "categories, at least 3 (a factor, text or integers; the first is the reference)"
)
_MULTINOMIAL_TEXT = (
    "non-negative integer counts of at least 3 categories, one column each: c(a, b, c) ~ x "
    "(the first is the reference)"
)
_ORDINAL_TEXT = "ordered categories, at least 3 (an ordered factor, text or integers)"
# A response with categories is encoded as category codes 0, 1, ..., which ``counts`` checks;
# design.py checks the number of categories (at least Categories.min_levels) with their
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
    # Uniform on the probability of a zero (zi, hu), brms's default.
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
    # Overdispersed binomial: the quasi-binomial GLM of the proportions.
    "beta_binomial": "quasibinomial",
    # Models of categories have no GLM of this kind: only the default automatic priors.
    "cumulative": None,
    "sratio": None,
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


def _ordinal_family(name: str, categories: Categories) -> Family:
    """An ordinal family: PyMC's Categorical with probabilities from K - 1 thresholds."""
    return Family(
        name,
        Likelihood("Categorical", ("p", "threshold"), "p", draw=category_draw),
        "logit",
        ("logit", "probit", "cloglog"),
        {"threshold": _threshold_prior},
        counts,
        _ORDINAL_TEXT,
        categories=categories,
    )


def _records() -> list[Family]:
    gaussian = Family(
        "gaussian",
        Likelihood("Normal", ("mu", "sigma"), "mu", draw=normal_draw),
        "identity",
        ("identity", "log", "inverse"),
        {"sigma": _sigma_prior},
        finite_numbers,
        REAL_TEXT,
        aux_bounds={"sigma": _POSITIVE},
    )
    binomial = Family(
        "binomial",
        Likelihood(
            "Binomial", ("p",), "p", logit_kwarg="logit_p", trials_kwarg="n", draw=binomial_draw
        ),
        "logit",
        _BINARY_LINKS,
        support=successes,
        support_text=SUCCESSES_TEXT,
        trials=True,
    )
    poisson = Family(
        "poisson",
        Likelihood("Poisson", ("mu",), "mu", draw=poisson_draw),
        "log",
        ("log", "identity"),
        support=counts,
        support_text=COUNTS_TEXT,
    )
    negativebinomial = Family(
        "negativebinomial",
        Likelihood("NegativeBinomial", ("mu", "alpha"), "mu", draw=negbinomial_draw),
        "log",
        ("log", "identity"),
        {"alpha": _shape_prior},
        counts,
        COUNTS_TEXT,
        aux_bounds={"alpha": _POSITIVE},
    )
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
        ("inverse", "log", "identity"),
        {"alpha": _shape_prior},
        positive,
        POSITIVE_TEXT,
        aux_bounds={"alpha": _POSITIVE},
    )
    lognormal = Family(
        "lognormal",
        # mu and sigma are the mean and sd of log(y), as in brms and lme4-style software.
        Likelihood("LogNormal", ("mu", "sigma"), "mu", draw=lognormal_draw),
        "identity",
        ("identity",),
        {"sigma": _sigma_prior},
        positive,
        POSITIVE_TEXT,
        prior_scale=np.log,
        aux_bounds={"sigma": _POSITIVE},
    )
    return [
        gaussian,
        Family(
            "bernoulli",
            Likelihood("Bernoulli", ("p",), "p", logit_kwarg="logit_p", draw=bernoulli_draw),
            "logit",
            _BINARY_LINKS,
            support=binary,
            support_text=BINARY_TEXT,
            binary=True,
        ),
        binomial,
        poisson,
        negativebinomial,
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
            ("logit", "probit", "cloglog"),
            {"kappa": _shape_prior},
            unit_open,
            UNIT_OPEN_TEXT,
            aux_bounds={"kappa": _POSITIVE},
        ),
        Family(
            "t",
            Likelihood("StudentT", ("mu", "sigma", "nu"), "mu", draw=studentt_draw),
            "identity",
            ("identity", "log", "inverse"),
            {"sigma": _sigma_prior, "nu": _nu_prior},
            finite_numbers,
            REAL_TEXT,
            aux_bounds={"sigma": _POSITIVE, "nu": _POSITIVE},
        ),
        Family(
            "wald",
            Likelihood("Wald", ("mu", "lam"), "mu", draw=wald_draw),
            "inverse_squared",
            ("inverse_squared", "inverse", "log", "identity"),
            {"lam": _shape_prior},
            positive,
            POSITIVE_TEXT,
            aux_bounds={"lam": _POSITIVE},
        ),
        lognormal,
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
            support=positive,
            support_text=POSITIVE_TEXT,
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
            ("log", "identity", "inverse"),
            {"alpha": _shape_prior},
            positive,
            POSITIVE_TEXT,
            aux_bounds={"alpha": _POSITIVE},
        ),
        Family(
            "laplace",
            # Location mu (the median) and scale b; the sd is b * sqrt(2).
            Likelihood("Laplace", ("mu", "b"), "mu", draw=laplace_draw),
            "identity",
            ("identity", "log", "inverse"),
            {"b": _sigma_prior},
            finite_numbers,
            REAL_TEXT,
            aux_bounds={"b": _POSITIVE},
        ),
        _with_zeros("zero_inflated_poisson", poisson, "ZeroInflatedPoisson", "zi"),
        _with_zeros(
            "zero_inflated_negativebinomial", negativebinomial, "ZeroInflatedNegativeBinomial", "zi"
        ),
        _with_zeros("zero_inflated_binomial", binomial, "ZeroInflatedBinomial", "zi"),
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
            _with_zeros("hurdle_gamma", gamma, "HurdleGamma", "hu", gamma_draw),
            link="log",
            links=("log", "inverse", "identity"),
            prior_scale=_nonzero,
            support=nonnegative,
            support_text=NONNEGATIVE_TEXT,
        ),
        replace(
            _with_zeros("hurdle_lognormal", lognormal, "HurdleLogNormal", "hu", lognormal_draw),
            prior_scale=_log_nonzero,
            support=nonnegative,
            support_text=NONNEGATIVE_TEXT,
        ),
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
            ("identity", "log", "inverse"),
            {"b": _sigma_prior, "q": _median_quantile},
            finite_numbers,
            REAL_TEXT,
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
            ("tan_half", "identity"),
            {"kappa": _kappa_vonmises_prior},
            angles,
            ANGLES_TEXT,
            aux_bounds={"kappa": _POSITIVE},
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
            ("logit", "probit", "cloglog"),
            {"kappa": _shape_prior},
            successes,
            SUCCESSES_TEXT,
            trials=True,
            aux_bounds={"kappa": _POSITIVE},
        ),
        _ordinal_family("cumulative", Categories("cumulative", ordered=True)),
        # A stopping-ratio threshold is a property of its own step (a conditional
        # probability), so no order among them is implied: they are sampled unordered.
        _ordinal_family("sratio", Categories("sratio", ordered=False)),
        Family(
            "categorical",
            # One linear predictor per category but the reference, through the softmax (which
            # is named by the logit link it generalises).
            Likelihood("Categorical", ("p",), "p", draw=category_draw),
            "logit",
            ("logit",),
            support=counts,
            support_text=_CATEGORICAL_TEXT,
            categories=Categories("categorical", ordered=False),
        ),
        Family(
            "multinomial",
            # The multinomial logit of counts: as categorical, with each row's number of
            # trials the sum of its counts.
            Likelihood("Multinomial", ("p",), "p", draw=multinomial_draw),
            "logit",
            ("logit",),
            support=counts,
            support_text=_MULTINOMIAL_TEXT,
            trials=True,
            categories=Categories("categorical", ordered=False, counts=True),
        ),
    ]


#: The built-in families, each with its numpy log density and ML GLM filled in.
BUILTIN_FAMILIES: list[Family] = [
    replace(
        family,
        likelihood=replace(family.likelihood, logpdf=LOGPDF[family.name]),
        glm_variance=GLM_VARIANCE[family.name],
    )
    for family in _records()
]


# --- the family table of docs/families.md ---------------------------------------------------


def family_table(families: Mapping[str, Family] | None = None) -> str:
    """The markdown table of the registered families, as ``docs/families.md`` shows it.

    Generated from the registry (``tests/test_families.py`` checks that the page holds
    exactly this), so that the page cannot go stale; ``python docs/family_table.py`` rewrites it.
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
