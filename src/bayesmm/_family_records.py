"""The built-in families: their support checks, default auxiliary priors, maximum-likelihood
GLMs and the records themselves (their numpy samplers and log densities are in
:mod:`bayesmm._family_densities`).

:mod:`bayesmm.families` defines :class:`~bayesmm.families.Family` and registers the records
listed here in ``BUILTIN_FAMILIES``; this module only describes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ._family_densities import (
    LOGPDF,
    asym_laplace_draw,
    beta_binomial_draw,
    binomial_draw,
    category_draw,
    gamma_draw,
    lognormal_draw,
    multinomial_draw,
    negbinomial_draw,
    normal_draw,
    poisson_draw,
    positive_count_draw,
    scipy_nbinom,
    scipy_poisson,
    weibull_scale,
    with_hurdle,
    with_zero_inflation,
)
from ._validation import describe_values
from .families import Categories, Family, Likelihood
from .priors import Prior, ResponseStats

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


def _nonnegative(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~(np.isfinite(y) & (y >= 0))
    return _offending(y, bad) if bad.any() else None


def _unit_open(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~((y > 0) & (y < 1))
    return _offending(y, bad) if bad.any() else None


def _angles(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~((y >= -np.pi) & (y <= np.pi))
    if not bad.any():
        return None
    return _offending(y, bad) + " Wrap angles into [-pi, pi], e.g. np.angle(np.exp(1j * y))."


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


def _category_codes(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    # The response is encoded as category codes; design.py checks the number of categories
    # (at least Categories.min_levels) with their labels, where it knows them.
    bad = ~(np.isfinite(y) & (y >= 0) & (np.mod(y, 1) == 0))
    return _offending(y, bad) if bad.any() else None


_CATEGORICAL_TEXT = (
    "categories, at least 3 (a factor, text or integers; the first is the reference)"
)
_MULTINOMIAL_TEXT = (
    "non-negative integer counts of at least 3 categories, one column each: c(a, b, c) ~ x "
    "(the first is the reference)"
)
_ORDINAL_TEXT = "ordered categories, at least 3 (an ordered factor, text or integers)"
_COUNTS_TEXT = "non-negative integer counts"
_SUCCESSES_TEXT = "integer successes between 0 and the number of trials"
_NONNEGATIVE_TEXT = "non-negative numbers (zeros and positive values)"

# --- the scale default priors are taken from (Family.prior_scale) ----------------------------


def _nonzero(y: np.ndarray) -> np.ndarray:
    """The positive responses: what a hurdle family's parent describes."""
    positive = y[y > 0]
    return positive if positive.size > 1 else y


def _log_nonzero(y: np.ndarray) -> np.ndarray:
    """``log`` of the positive responses (hurdle lognormal: ``mu`` is their log-scale mean)."""
    positive = y[y > 0]
    return np.log(positive) if positive.size > 1 else np.zeros(2)


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


def _zero_inflated_family(name: str, base: Family, pymc_name: str) -> Family:
    """A family with structural zeros: ``base`` with an auxiliary ``zi`` (brms's convention),
    which PyMC takes as ``psi = 1 - zi``, the probability of the ``base`` process."""
    likelihood = base.likelihood
    to_base = likelihood.dist_kwargs
    return replace(
        base,
        name=name,
        likelihood=replace(
            likelihood,
            name=pymc_name,
            params=(*likelihood.params, "zi"),
            to_dist=lambda v: {
                "psi": 1 - v["zi"],
                **to_base({k: x for k, x in v.items() if k != "zi"}),
            },
            # PyMC's zero-inflated binomial takes p only.
            logit_kwarg=None,
            draw=with_zero_inflation(likelihood.draw),  # type: ignore[arg-type]
        ),
        aux_priors={**base.aux_priors, "zi": _zero_prior},
        aux_bounds={**base.aux_bounds, "zi": _OPEN_UNIT},
    )


def _hurdle_family(name: str, base: Family, pymc_name: str, positive_draw: Callable) -> Family:
    """A family whose zeros come from their own process: a zero with probability ``hu``
    (brms's convention), else a draw of ``base`` restricted to positive values; PyMC takes
    ``psi = 1 - hu``, the probability of a non-zero response."""
    likelihood = base.likelihood
    to_base = likelihood.dist_kwargs
    return replace(
        base,
        name=name,
        likelihood=replace(
            likelihood,
            name=pymc_name,
            params=(*likelihood.params, "hu"),
            to_dist=lambda v: {
                "psi": 1 - v["hu"],
                **to_base({k: x for k, x in v.items() if k != "hu"}),
            },
            draw=with_hurdle(positive_draw),
        ),
        aux_priors={**base.aux_priors, "hu": _zero_prior},
        aux_bounds={**base.aux_bounds, "hu": _OPEN_UNIT},
    )


def _ordinal_family(name: str, categories: Categories) -> Family:
    """An ordinal family: PyMC's Categorical with probabilities from K - 1 thresholds."""
    return Family(
        name,
        Likelihood("Categorical", ("p", "threshold"), "p", draw=category_draw),
        "logit",
        ("logit", "probit", "cloglog"),
        {"threshold": _threshold_prior},
        _category_codes,
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
        _real,
        "finite real numbers",
        aux_bounds={"sigma": _POSITIVE},
    )
    binomial = Family(
        "binomial",
        Likelihood(
            "Binomial", ("p",), "p", logit_kwarg="logit_p", trials_kwarg="n", draw=binomial_draw
        ),
        "logit",
        _BINARY_LINKS,
        support=_successes,
        support_text=_SUCCESSES_TEXT,
        trials=True,
    )
    poisson = Family(
        "poisson",
        Likelihood("Poisson", ("mu",), "mu", draw=poisson_draw),
        "log",
        ("log", "identity"),
        support=_counts,
        support_text=_COUNTS_TEXT,
    )
    negativebinomial = Family(
        "negativebinomial",
        Likelihood("NegativeBinomial", ("mu", "alpha"), "mu", draw=negbinomial_draw),
        "log",
        ("log", "identity"),
        {"alpha": _shape_prior},
        _counts,
        _COUNTS_TEXT,
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
        _positive,
        "positive numbers",
        aux_bounds={"alpha": _POSITIVE},
    )
    lognormal = Family(
        "lognormal",
        # mu and sigma are the mean and sd of log(y), as in brms and lme4-style software.
        Likelihood("LogNormal", ("mu", "sigma"), "mu", draw=lognormal_draw),
        "identity",
        ("identity",),
        {"sigma": _sigma_prior},
        _positive,
        "positive numbers",
        prior_scale=np.log,
        aux_bounds={"sigma": _POSITIVE},
    )
    return [
        gaussian,
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
            _unit_open,
            "strictly between 0 and 1",
            aux_bounds={"kappa": _POSITIVE},
        ),
        Family(
            "t",
            Likelihood(
                "StudentT",
                ("mu", "sigma", "nu"),
                "mu",
                draw=lambda v, rng: (
                    v["mu"] + v["sigma"] * rng.standard_t(v["nu"], np.shape(v["mu"]))
                ),
            ),
            "identity",
            ("identity", "log", "inverse"),
            {"sigma": _sigma_prior, "nu": _nu_prior},
            _real,
            "finite real numbers",
            aux_bounds={"sigma": _POSITIVE, "nu": _POSITIVE},
        ),
        Family(
            "wald",
            Likelihood(
                "Wald", ("mu", "lam"), "mu", draw=lambda v, rng: rng.wald(v["mu"], v["lam"])
            ),
            "inverse_squared",
            ("inverse_squared", "inverse", "log", "identity"),
            {"lam": _shape_prior},
            _positive,
            "positive numbers",
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
            support=_positive,
            support_text="positive numbers",
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
            _positive,
            "positive numbers",
            aux_bounds={"alpha": _POSITIVE},
        ),
        Family(
            "laplace",
            # Location mu (the median) and scale b; the sd is b * sqrt(2).
            Likelihood(
                "Laplace", ("mu", "b"), "mu", draw=lambda v, rng: rng.laplace(v["mu"], v["b"])
            ),
            "identity",
            ("identity", "log", "inverse"),
            {"b": _sigma_prior},
            _real,
            "finite real numbers",
            aux_bounds={"b": _POSITIVE},
        ),
        _zero_inflated_family("zero_inflated_poisson", poisson, "ZeroInflatedPoisson"),
        _zero_inflated_family(
            "zero_inflated_negativebinomial", negativebinomial, "ZeroInflatedNegativeBinomial"
        ),
        _zero_inflated_family("zero_inflated_binomial", binomial, "ZeroInflatedBinomial"),
        # mu of a hurdle count family is the mean of the count distribution before it is
        # restricted to positive values, as in brms.
        replace(
            _hurdle_family(
                "hurdle_poisson",
                poisson,
                "HurdlePoisson",
                positive_count_draw(scipy_poisson),
            ),
            prior_scale=_nonzero,
        ),
        replace(
            _hurdle_family(
                "hurdle_negativebinomial",
                negativebinomial,
                "HurdleNegativeBinomial",
                positive_count_draw(scipy_nbinom),
            ),
            prior_scale=_nonzero,
        ),
        # The log link by default (brms's): the inverse link of gamma is a GLM convention.
        replace(
            _hurdle_family("hurdle_gamma", gamma, "HurdleGamma", gamma_draw),
            link="log",
            links=("log", "inverse", "identity"),
            prior_scale=_nonzero,
            support=_nonnegative,
            support_text=_NONNEGATIVE_TEXT,
        ),
        replace(
            _hurdle_family("hurdle_lognormal", lognormal, "HurdleLogNormal", lognormal_draw),
            prior_scale=_log_nonzero,
            support=_nonnegative,
            support_text=_NONNEGATIVE_TEXT,
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
            _real,
            "finite real numbers",
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
            _angles,
            "angles in radians between -pi and pi",
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
            _successes,
            _SUCCESSES_TEXT,
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
            support=_category_codes,
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
            support=_counts,
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
