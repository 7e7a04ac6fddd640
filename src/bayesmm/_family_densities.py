"""numpy samplers and log densities of the built-in families, in each family's own
parameters.

Each sampler is ``draw(values, rng)`` and each log density ``logpdf(y, values)``, where
``values`` maps the family's parameters (and ``"trials"``) to arrays that broadcast together;
``tests/test_predict.py`` checks the samplers and ``tests/test_families.py`` the log densities
against PyMC. scipy is imported on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

# --- samplers ----------------------------------------------------------------------------


def _shape(values: dict[str, np.ndarray]) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(v) for v in values.values()))


def normal_draw(values: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
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


def weibull_scale(v: dict[str, Any]) -> Any:
    # Mean parameterisation, as brms: mean mu, shape alpha, scale mu / Gamma(1 + 1 / alpha).
    return v["mu"] / _special_gamma(1 + 1 / v["alpha"])


def scipy_stats() -> Any:
    from scipy import stats  # imported on first use: it adds a third to `import bayesmm`

    return stats


def scipy_nbinom(v: dict[str, np.ndarray]) -> Any:
    """scipy's negative binomial of mean mu and variance mu + mu^2 / alpha."""
    return scipy_stats().nbinom(v["alpha"], v["alpha"] / (v["alpha"] + v["mu"]))


def scipy_poisson(v: dict[str, np.ndarray]) -> Any:
    """scipy's Poisson of mean mu."""
    return scipy_stats().poisson(v["mu"])


def poisson_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(v["mu"])


def negbinomial_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    # Variance mu + mu^2 / alpha: numpy's (n, p) form with n = alpha.
    return rng.negative_binomial(v["alpha"], v["alpha"] / (v["alpha"] + v["mu"]))


def binomial_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    return rng.binomial(v["trials"].astype(np.int64), v["p"])


def gamma_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    return rng.gamma(v["alpha"], v["mu"] / v["alpha"])


def lognormal_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    return np.exp(normal_draw(v, rng))


def with_zero_inflation(draw: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """A sampler that gives a structural zero with probability ``zi``, else ``draw``."""

    def zero_inflated_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        counts = np.broadcast_to(draw(v, rng), _shape(v))
        return np.where(rng.random(_shape(v)) < v["zi"], 0, counts)

    return zero_inflated_draw


def with_hurdle(draw: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """A sampler that gives a zero with probability ``hu``, else ``draw`` (never zero)."""

    def hurdle_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        positive = np.broadcast_to(draw(v, rng), _shape(v))
        return np.where(rng.random(_shape(v)) < v["hu"], 0, positive)

    return hurdle_draw


def positive_count_draw(distribution: Callable[[dict[str, np.ndarray]], Any]) -> Callable:
    """Draws of a count distribution truncated to 1, 2, ... by inverting its survival
    function: for ``u`` uniform on (0, 1], ``isf(u * sf(0))`` is at least 1."""

    def draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
        frozen = distribution(v)
        u = 1 - rng.random(_shape(v))  # (0, 1]: u = 0 would give isf(0) = inf
        return np.maximum(frozen.isf(u * frozen.sf(0)), 1).astype(np.int64)

    return draw


def _quantile_kappa(q: Any) -> Any:
    # The asymmetry of PyMC's AsymmetricLaplace that makes mu its q-quantile.
    return (q / (1 - q)) ** 0.5


def asym_laplace_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    # The difference of two exponentials (rates kappa / b and 1 / (kappa b)).
    kappa, shape = _quantile_kappa(v["q"]), _shape(v)
    return v["mu"] + v["b"] * (
        rng.standard_exponential(shape) / kappa - kappa * rng.standard_exponential(shape)
    )


def beta_binomial_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    p = rng.beta(v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"], _shape(v))
    return rng.binomial(v["trials"].astype(np.int64), p)


def category_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Category codes ``0 .. K - 1`` drawn from the probabilities ``p`` of shape ``(..., K)``,
    by inverting the cumulative probabilities at one uniform number per row."""
    p = v["p"]
    u = rng.random((*p.shape[:-1], 1))
    codes = (np.cumsum(p, axis=-1) < u).sum(axis=-1)
    return np.minimum(codes, p.shape[-1] - 1)  # rounding can leave the total just below 1


def multinomial_draw(v: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Counts of each category, shape ``(..., K)``, for ``trials`` draws with probabilities
    ``p`` of shape ``(..., K)``."""
    p = v["p"]
    trials = np.broadcast_to(v["trials"], p.shape[:-1]).astype(np.int64)
    # numpy checks that the probabilities sum to at most 1; rounding may exceed it.
    return rng.multinomial(trials, p / p.sum(axis=-1, keepdims=True))


def _multinomial_logpmf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    """The log probability of counts ``y`` of shape ``(..., K)``."""
    from scipy.special import gammaln, xlogy

    y = np.asarray(y, dtype=float)
    trials = y.sum(axis=-1)
    return gammaln(trials + 1) - gammaln(y + 1).sum(axis=-1) + xlogy(y, v["p"]).sum(axis=-1)


# --- numpy log densities -------------------------------------------------------------------


def _bernoulli_logpdf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    from scipy.special import xlog1py, xlogy

    return xlogy(y, v["p"]) + xlog1py(1 - y, -v["p"])


def _zero_inflated_logpdf(logpmf: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``zi + (1 - zi) f(0)`` at zero, ``(1 - zi) f(y)`` elsewhere, on the log scale."""

    def logpdf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
        with np.errstate(divide="ignore"):  # zi = 0 or 1 give log(0) = -inf, as they should
            log_zi, log_not_zi = np.log(v["zi"]), np.log1p(-v["zi"])
        counts = log_not_zi + logpmf(y, v)
        return np.where(y == 0, np.logaddexp(log_zi, counts), counts)

    return logpdf


def _hurdle_logpdf(
    logpdf_positive: Callable[..., np.ndarray],
    log_prob_positive: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
) -> Callable[..., np.ndarray]:
    """``hu`` at zero, ``(1 - hu) f(y) / P(Y > 0)`` elsewhere, on the log scale. A count
    distribution gives ``log P(Y > 0)``; a continuous one has no mass at zero."""

    def logpdf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
        safe = np.where(y == 0, 1, y)  # f is only needed away from zero
        positive = logpdf_positive(safe, v)
        if log_prob_positive is not None:
            positive = positive - log_prob_positive(v)
        with np.errstate(divide="ignore"):
            log_hu, log_not_hu = np.log(v["hu"]), np.log1p(-v["hu"])
        return np.where(y == 0, log_hu, log_not_hu + positive)

    return logpdf


def _poisson_logpmf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    return scipy_stats().poisson.logpmf(y, v["mu"])


def _negbinomial_logpmf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    return scipy_nbinom(v).logpmf(y)


def _binomial_logpmf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    return scipy_stats().binom.logpmf(y, v["trials"], v["p"])


def _gamma_logpdf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    return scipy_stats().gamma.logpdf(y, v["alpha"], scale=v["mu"] / v["alpha"])


def _lognormal_logpdf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    return scipy_stats().lognorm.logpdf(y, v["sigma"], scale=np.exp(v["mu"]))


def _category_logpmf(y: np.ndarray, v: dict[str, np.ndarray]) -> np.ndarray:
    """``log p[y]`` for category codes ``y`` and probabilities ``p`` of shape ``(..., K)``."""
    p = v["p"]
    codes = np.broadcast_to(np.asarray(y, dtype=np.int64), p.shape[:-1])
    with np.errstate(divide="ignore"):
        return np.log(np.take_along_axis(p, codes[..., None], axis=-1)[..., 0])


# Each log density is written in the family's own parameters; tests/test_families.py checks
# every one against PyMC's logp.
LOGPDF: dict[str, Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray]] = {
    "gaussian": lambda y, v: scipy_stats().norm.logpdf(y, v["mu"], v["sigma"]),
    "bernoulli": _bernoulli_logpdf,
    "binomial": _binomial_logpmf,
    "poisson": _poisson_logpmf,
    "negativebinomial": _negbinomial_logpmf,
    "gamma": _gamma_logpdf,
    "beta": lambda y, v: scipy_stats().beta.logpdf(
        y, v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"]
    ),
    "t": lambda y, v: scipy_stats().t.logpdf(y, v["nu"], v["mu"], v["sigma"]),
    # Wald(mu, lam) is scipy's invgauss(mu / lam, scale=lam).
    "wald": lambda y, v: scipy_stats().invgauss.logpdf(y, v["mu"] / v["lam"], scale=v["lam"]),
    "lognormal": _lognormal_logpdf,
    "exponential": lambda y, v: scipy_stats().expon.logpdf(y, scale=v["mu"]),
    "weibull": lambda y, v: scipy_stats().weibull_min.logpdf(y, v["alpha"], scale=weibull_scale(v)),
    "laplace": lambda y, v: scipy_stats().laplace.logpdf(y, v["mu"], v["b"]),
    "zero_inflated_poisson": _zero_inflated_logpdf(_poisson_logpmf),
    "zero_inflated_negativebinomial": _zero_inflated_logpdf(_negbinomial_logpmf),
    "zero_inflated_binomial": _zero_inflated_logpdf(_binomial_logpmf),
    "hurdle_poisson": _hurdle_logpdf(
        _poisson_logpmf, lambda v: scipy_stats().poisson.logsf(0, v["mu"])
    ),
    "hurdle_negativebinomial": _hurdle_logpdf(
        _negbinomial_logpmf, lambda v: scipy_nbinom(v).logsf(0)
    ),
    "hurdle_gamma": _hurdle_logpdf(_gamma_logpdf),
    "hurdle_lognormal": _hurdle_logpdf(_lognormal_logpdf),
    # scipy's laplace_asymmetric(kappa, loc, scale) is PyMC's AsymmetricLaplace(b=1 / scale).
    "asym_laplace": lambda y, v: scipy_stats().laplace_asymmetric.logpdf(
        y, _quantile_kappa(v["q"]), v["mu"], v["b"]
    ),
    "vonmises": lambda y, v: scipy_stats().vonmises.logpdf(y, v["kappa"], loc=v["mu"]),
    "cumulative": _category_logpmf,
    "sratio": _category_logpmf,
    "categorical": _category_logpmf,
    "multinomial": _multinomial_logpmf,
    "beta_binomial": lambda y, v: scipy_stats().betabinom.logpmf(
        y, v["trials"], v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"]
    ),
}
