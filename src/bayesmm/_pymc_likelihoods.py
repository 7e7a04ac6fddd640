"""What bayesmm knows of some PyMC distributions, for likelihoods given only by name.

``Likelihood("Bernoulli", parent="p")`` takes its parameters, numpy sampler and log density
from this table, and a family built on it takes its response check. The table is written
out, so that nothing here imports PyMC (only the backend may).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import describe_values

__all__ = ["KnownLikelihood", "KNOWN_LIKELIHOODS", "finite_numbers", "FINITE_TEXT"]

Values = dict[str, np.ndarray]

#: How an unknown distribution's responses are checked: any finite number.
FINITE_TEXT = "finite numbers"


def _outside(y: np.ndarray, bad: np.ndarray) -> str | None:
    if not bad.any():
        return None
    rows = np.flatnonzero(bad)
    values = describe_values(np.unique(y[bad]))
    return f"got {len(rows)} value(s) outside it, e.g. {values} (rows {describe_values(rows)})."


def finite_numbers(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    """The response check of a family whose distribution is not in the table."""
    return _outside(y, ~np.isfinite(y))


def _positive(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return _outside(y, ~(np.isfinite(y) & (y > 0)))


def _counts(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return _outside(y, ~(np.isfinite(y) & (y >= 0) & (np.mod(y, 1) == 0)))


def _binary(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return _outside(y, ~np.isin(y, (0, 1)))


def _successes(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    if trials is None:
        return "got a single column; write the response as p(successes, trials)."
    bad_trials = ~(np.isfinite(trials) & (trials > 0) & (np.mod(trials, 1) == 0))
    if bad_trials.any():
        return "trials must be positive integers; " + str(_outside(trials, bad_trials))
    return _outside(y, ~(np.isfinite(y) & (y >= 0) & (y <= trials) & (np.mod(y, 1) == 0)))


def _stats() -> Any:
    from scipy import stats  # on first use: it adds a third to `import bayesmm`

    return stats


# numpy samplers and log densities in PyMC's own parameters (tests/test_families_custom.py
# checks each log density against PyMC's logp).


def _normal_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(v["mu"], v["sigma"])


def _normal_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().norm.logpdf(y, v["mu"], v["sigma"])


def _studentt_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    shape = np.broadcast_shapes(*(np.shape(v[k]) for k in ("mu", "sigma", "nu")))
    return v["mu"] + v["sigma"] * rng.standard_t(v["nu"], shape)


def _studentt_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().t.logpdf(y, v["nu"], v["mu"], v["sigma"])


def _laplace_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.laplace(v["mu"], v["b"])


def _laplace_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().laplace.logpdf(y, v["mu"], v["b"])


def _logistic_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.logistic(v["mu"], v["s"])


def _logistic_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().logistic.logpdf(y, v["mu"], v["s"])


def _bernoulli_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.binomial(1, v["p"])


def _bernoulli_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    from scipy.special import xlog1py, xlogy

    return xlogy(y, v["p"]) + xlog1py(1 - y, -v["p"])


def _binomial_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.binomial(np.asarray(v["trials"]).astype(np.int64), v["p"])


def _binomial_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().binom.logpmf(y, v["trials"], v["p"])


def _poisson_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(v["mu"])


def _poisson_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().poisson.logpmf(y, v["mu"])


def _negbinomial_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    # PyMC's (mu, alpha): variance mu + mu^2 / alpha, numpy's (n, p) with n = alpha.
    return rng.negative_binomial(v["alpha"], v["alpha"] / (v["alpha"] + v["mu"]))


def _negbinomial_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().nbinom.logpmf(y, v["alpha"], v["alpha"] / (v["alpha"] + v["mu"]))


def _gamma_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    # PyMC's (mu, sigma): shape mu^2 / sigma^2, scale sigma^2 / mu.
    return rng.gamma(v["mu"] ** 2 / v["sigma"] ** 2, v["sigma"] ** 2 / v["mu"])


def _gamma_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    shape, scale = v["mu"] ** 2 / v["sigma"] ** 2, v["sigma"] ** 2 / v["mu"]
    return _stats().gamma.logpdf(y, shape, scale=scale)


def _lognormal_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.lognormal(v["mu"], v["sigma"])


def _lognormal_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().lognorm.logpdf(y, v["sigma"], scale=np.exp(v["mu"]))


def _wald_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.wald(v["mu"], v["lam"])


def _wald_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().invgauss.logpdf(y, v["mu"] / v["lam"], scale=v["lam"])


def _exponential_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.exponential(1 / v["lam"])


def _exponential_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return _stats().expon.logpdf(y, scale=1 / v["lam"])


@dataclass(frozen=True)
class KnownLikelihood:
    """A PyMC distribution's parameters (in PyMC's order), usual parent and support."""

    params: tuple[str, ...]
    parent: str
    support: Callable[[np.ndarray, np.ndarray | None], str | None]
    support_text: str
    draw: Callable[[Values, np.random.Generator], np.ndarray]
    logpdf: Callable[[np.ndarray, Values], np.ndarray]
    binary: bool = False
    trials_kwarg: str | None = None


_REAL_TEXT = "finite real numbers"
_POSITIVE_TEXT = "positive numbers"
_COUNTS_TEXT = "non-negative integer counts"

#: PyMC distributions a likelihood may name without ``params``.
KNOWN_LIKELIHOODS: dict[str, KnownLikelihood] = {
    "Normal": KnownLikelihood(
        ("mu", "sigma"), "mu", finite_numbers, _REAL_TEXT, _normal_draw, _normal_logpdf
    ),
    "StudentT": KnownLikelihood(
        ("nu", "mu", "sigma"), "mu", finite_numbers, _REAL_TEXT, _studentt_draw, _studentt_logpdf
    ),
    "Laplace": KnownLikelihood(
        ("mu", "b"), "mu", finite_numbers, _REAL_TEXT, _laplace_draw, _laplace_logpdf
    ),
    "Logistic": KnownLikelihood(
        ("mu", "s"), "mu", finite_numbers, _REAL_TEXT, _logistic_draw, _logistic_logpdf
    ),
    "Bernoulli": KnownLikelihood(
        ("p",),
        "p",
        _binary,
        "binary (0/1, True/False, or a two-level category)",
        _bernoulli_draw,
        _bernoulli_logpdf,
        binary=True,
    ),
    "Binomial": KnownLikelihood(
        ("p",),
        "p",
        _successes,
        "integer successes between 0 and the number of trials",
        _binomial_draw,
        _binomial_logpdf,
        trials_kwarg="n",
    ),
    "Poisson": KnownLikelihood(
        ("mu",), "mu", _counts, _COUNTS_TEXT, _poisson_draw, _poisson_logpdf
    ),
    "NegativeBinomial": KnownLikelihood(
        ("mu", "alpha"), "mu", _counts, _COUNTS_TEXT, _negbinomial_draw, _negbinomial_logpdf
    ),
    "Gamma": KnownLikelihood(
        ("mu", "sigma"), "mu", _positive, _POSITIVE_TEXT, _gamma_draw, _gamma_logpdf
    ),
    "LogNormal": KnownLikelihood(
        ("mu", "sigma"), "mu", _positive, _POSITIVE_TEXT, _lognormal_draw, _lognormal_logpdf
    ),
    "Wald": KnownLikelihood(
        ("mu", "lam"), "mu", _positive, _POSITIVE_TEXT, _wald_draw, _wald_logpdf
    ),
    "Exponential": KnownLikelihood(
        ("lam",), "lam", _positive, _POSITIVE_TEXT, _exponential_draw, _exponential_logpdf
    ),
}
