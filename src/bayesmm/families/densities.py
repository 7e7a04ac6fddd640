"""numpy samplers and log densities of the built-in families, in each family's own
parameters; each record of :mod:`bayesmm.families.builtin` names its own (``draw=`` and
``logpdf=``). Where those parameters are PyMC's own, :mod:`bayesmm.families.known` lists the
same functions for the distribution of that name.

Each sampler is ``draw(values, rng)`` and each log density ``logpdf(y, values)``, where
``values`` maps the family's parameters (and ``"trials"``) to arrays that broadcast together;
``tests/test_predict_rows.py`` checks the samplers and ``tests/test_families_registry.py``
the log densities against PyMC. scipy is imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

Values = dict[str, np.ndarray]


def _shape(values: Values) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(v) for v in values.values()))


def scipy_stats() -> Any:
    from scipy import stats  # imported on first use: it adds a third to `import bayesmm`

    return stats


def _special_gamma(x: Any) -> Any:
    """The gamma function of pytensor tensors (for ``to_dist``), else of numpy values."""
    if type(x).__module__.startswith("pytensor"):
        # x is pytensor's own, so pytensor is loaded (the backend is building a PyMC model);
        # this module never imports it otherwise (docs/architecture.md).
        return importlib.import_module("pytensor.tensor").gamma(x)
    from scipy.special import gamma

    return gamma(x)


def weibull_scale(v: dict[str, Any]) -> Any:
    # Mean parameterisation, as brms: mean mu, shape alpha, scale mu / Gamma(1 + 1 / alpha).
    return v["mu"] / _special_gamma(1 + 1 / v["alpha"])


def scipy_nbinom(v: Values) -> Any:
    """scipy's negative binomial of mean mu and variance mu + mu^2 / alpha."""
    return scipy_stats().nbinom(v["alpha"], v["alpha"] / (v["alpha"] + v["mu"]))


def scipy_poisson(v: Values) -> Any:
    """scipy's Poisson of mean mu."""
    return scipy_stats().poisson(v["mu"])


# --- in PyMC's parameters: shared with the distributions of ``known`` ----------------------


def normal_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    shape = np.broadcast_shapes(np.shape(v["mu"]), np.shape(v["sigma"]))
    if not shape:
        return v["mu"] + v["sigma"] * rng.standard_normal(shape)
    mu, sigma = (np.broadcast_to(v[name], shape) for name in ("mu", "sigma"))
    draws = np.empty(shape)
    # mu + sigma * z (faster than rng.normal with broadcasting), a block of the first axis
    # at a time, so that z is scaled while in cache. The blocks take the generator's stream
    # in order, as one call would (it fills in C order), and products and sums commute in
    # IEEE arithmetic: the same numbers as mu + sigma * rng.standard_normal(shape).
    size = max(1, BLOCK_VALUES // max(1, int(np.prod(shape[1:]))))
    for start in range(0, shape[0], size):
        block = draws[start : start + size]
        rng.standard_normal(out=block)
        block *= sigma[start : start + size]
        block += mu[start : start + size]
    return draws


#: About how many values :func:`normal_draw` draws and scales at a time (1 MiB of them).
BLOCK_VALUES = 2**17


def normal_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().norm.logpdf(y, v["mu"], v["sigma"])


def studentt_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    shape = np.broadcast_shapes(*(np.shape(v[k]) for k in ("mu", "sigma", "nu")))
    return v["mu"] + v["sigma"] * rng.standard_t(v["nu"], shape)


def studentt_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().t.logpdf(y, v["nu"], v["mu"], v["sigma"])


def laplace_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.laplace(v["mu"], v["b"])


def laplace_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().laplace.logpdf(y, v["mu"], v["b"])


def wald_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.wald(v["mu"], v["lam"])


def wald_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    # Wald(mu, lam) is scipy's invgauss(mu / lam, scale=lam).
    return scipy_stats().invgauss.logpdf(y, v["mu"] / v["lam"], scale=v["lam"])


def bernoulli_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.binomial(1, v["p"])


def bernoulli_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    from scipy.special import xlog1py, xlogy

    return xlogy(y, v["p"]) + xlog1py(1 - y, -v["p"])


def binomial_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.binomial(np.asarray(v["trials"]).astype(np.int64), v["p"])


def binomial_logpmf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().binom.logpmf(y, v["trials"], v["p"])


def poisson_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.poisson(v["mu"])


def poisson_logpmf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().poisson.logpmf(y, v["mu"])


def negbinomial_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    # Variance mu + mu^2 / alpha (PyMC's (mu, alpha)): numpy's (n, p) form with n = alpha.
    return rng.negative_binomial(v["alpha"], v["alpha"] / (v["alpha"] + v["mu"]))


def negbinomial_logpmf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_nbinom(v).logpmf(y)


def lognormal_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    # mu and sigma are the mean and sd of log(y).
    return np.exp(normal_draw(v, rng))


def lognormal_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().lognorm.logpdf(y, v["sigma"], scale=np.exp(v["mu"]))


# --- samplers in the families' own parameters ----------------------------------------------


def gamma_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    return rng.gamma(v["alpha"], v["mu"] / v["alpha"])


def with_zeros(draw: Callable[..., np.ndarray], zero: str) -> Callable[..., np.ndarray]:
    """A sampler that gives a zero with probability ``values[zero]``, else ``draw``: a
    structural zero (``zi``) or the hurdle (``hu``, with ``draw`` never zero)."""

    def zeros_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
        drawn = np.broadcast_to(draw(v, rng), _shape(v))
        return np.where(rng.random(_shape(v)) < v[zero], 0, drawn)

    return zeros_draw


def positive_count_draw(distribution: Callable[[Values], Any]) -> Callable:
    """Draws of a count distribution truncated to 1, 2, ... by inverting its survival
    function: for ``u`` uniform on (0, 1], ``isf(u * sf(0))`` is at least 1."""

    def draw(v: Values, rng: np.random.Generator) -> np.ndarray:
        frozen = distribution(v)
        u = 1 - rng.random(_shape(v))  # (0, 1]: u = 0 would give isf(0) = inf
        return np.maximum(frozen.isf(u * frozen.sf(0)), 1).astype(np.int64)

    return draw


def _quantile_kappa(q: Any) -> Any:
    # The asymmetry of PyMC's AsymmetricLaplace that makes mu its q-quantile.
    return (q / (1 - q)) ** 0.5


def asym_laplace_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    # The difference of two exponentials (rates kappa / b and 1 / (kappa b)).
    kappa, shape = _quantile_kappa(v["q"]), _shape(v)
    return v["mu"] + v["b"] * (
        rng.standard_exponential(shape) / kappa - kappa * rng.standard_exponential(shape)
    )


def zoib_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    """Zero-one-inflated beta: 0 or 1 with probability ``zoi`` (1 with probability ``coi``
    then), else a beta draw of mean ``mu`` and precision ``kappa``."""
    shape = _shape(v)
    inflated = rng.random(shape) < v["zoi"]
    ones = (rng.random(shape) < v["coi"]).astype(float)
    beta = rng.beta(v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"], shape)
    return np.where(inflated, ones, beta)


def zoib_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    zoi, coi = v["zoi"], v["coi"]
    inside = np.where((y > 0) & (y < 1), y, 0.5)  # the beta's density only where it applies
    beta = scipy_stats().beta.logpdf(inside, v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"])
    with np.errstate(divide="ignore"):
        return np.where(
            y == 0,
            np.log(zoi) + np.log1p(-coi),
            np.where(y == 1, np.log(zoi) + np.log(coi), np.log1p(-zoi) + beta),
        )


def beta_binomial_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    p = rng.beta(v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"], _shape(v))
    return rng.binomial(v["trials"].astype(np.int64), p)


def category_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    """Category codes ``0 .. K - 1`` drawn from the probabilities ``p`` of shape ``(..., K)``,
    by inverting the cumulative probabilities at one uniform number per row."""
    p = v["p"]
    u = rng.random((*p.shape[:-1], 1))
    codes = (np.cumsum(p, axis=-1) < u).sum(axis=-1)
    return np.minimum(codes, p.shape[-1] - 1)  # rounding can leave the total just below 1


def multinomial_draw(v: Values, rng: np.random.Generator) -> np.ndarray:
    """Counts of each category, shape ``(..., K)``, for ``trials`` draws with probabilities
    ``p`` of shape ``(..., K)``."""
    p = v["p"]
    trials = np.broadcast_to(v["trials"], p.shape[:-1]).astype(np.int64)
    # numpy checks that the probabilities sum to at most 1; rounding may exceed it.
    return rng.multinomial(trials, p / p.sum(axis=-1, keepdims=True))


def multinomial_logpmf(y: np.ndarray, v: Values) -> np.ndarray:
    """The log probability of counts ``y`` of shape ``(..., K)``."""
    from scipy.special import gammaln, xlogy

    y = np.asarray(y, dtype=float)
    trials = y.sum(axis=-1)
    return gammaln(trials + 1) - gammaln(y + 1).sum(axis=-1) + xlogy(y, v["p"]).sum(axis=-1)


# --- numpy log densities -------------------------------------------------------------------


def zero_inflated_logpdf(logpmf: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``zi + (1 - zi) f(0)`` at zero, ``(1 - zi) f(y)`` elsewhere, on the log scale."""

    def logpdf(y: np.ndarray, v: Values) -> np.ndarray:
        with np.errstate(divide="ignore"):  # zi = 0 or 1 give log(0) = -inf, as they should
            log_zi, log_not_zi = np.log(v["zi"]), np.log1p(-v["zi"])
        counts = log_not_zi + logpmf(y, v)
        return np.where(y == 0, np.logaddexp(log_zi, counts), counts)

    return logpdf


def hurdle_logpdf(
    logpdf_positive: Callable[..., np.ndarray],
    log_prob_positive: Callable[[Values], np.ndarray] | None = None,
) -> Callable[..., np.ndarray]:
    """``hu`` at zero, ``(1 - hu) f(y) / P(Y > 0)`` elsewhere, on the log scale. A count
    distribution gives ``log P(Y > 0)``; a continuous one has no mass at zero."""

    def logpdf(y: np.ndarray, v: Values) -> np.ndarray:
        safe = np.where(y == 0, 1, y)  # f is only needed away from zero
        positive = logpdf_positive(safe, v)
        if log_prob_positive is not None:
            positive = positive - log_prob_positive(v)
        with np.errstate(divide="ignore"):
            log_hu, log_not_hu = np.log(v["hu"]), np.log1p(-v["hu"])
        return np.where(y == 0, log_hu, log_not_hu + positive)

    return logpdf


def gamma_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().gamma.logpdf(y, v["alpha"], scale=v["mu"] / v["alpha"])


def category_logpmf(y: np.ndarray, v: Values) -> np.ndarray:
    """``log p[y]`` for category codes ``y`` and probabilities ``p`` of shape ``(..., K)``."""
    p = v["p"]
    codes = np.broadcast_to(np.asarray(y, dtype=np.int64), p.shape[:-1])
    with np.errstate(divide="ignore"):
        return np.log(np.take_along_axis(p, codes[..., None], axis=-1)[..., 0])


def beta_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().beta.logpdf(y, v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"])


def exponential_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().expon.logpdf(y, scale=v["mu"])


def weibull_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().weibull_min.logpdf(y, v["alpha"], scale=weibull_scale(v))


def poisson_log_positive(v: Values) -> np.ndarray:
    """``log P(Y > 0)`` of a Poisson of mean mu (the hurdle's positive part)."""
    return scipy_stats().poisson.logsf(0, v["mu"])


def negbinomial_log_positive(v: Values) -> np.ndarray:
    """``log P(Y > 0)`` of a negative binomial of mean mu (the hurdle's positive part)."""
    return scipy_nbinom(v).logsf(0)


def asym_laplace_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    # scipy's laplace_asymmetric(kappa, loc, scale) is PyMC's AsymmetricLaplace(b=1 / scale).
    return scipy_stats().laplace_asymmetric.logpdf(y, _quantile_kappa(v["q"]), v["mu"], v["b"])


def vonmises_logpdf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().vonmises.logpdf(y, v["kappa"], loc=v["mu"])


def beta_binomial_logpmf(y: np.ndarray, v: Values) -> np.ndarray:
    return scipy_stats().betabinom.logpmf(
        y, v["trials"], v["mu"] * v["kappa"], (1 - v["mu"]) * v["kappa"]
    )


# A file holding a family derived from a built-in one names its log density where it was
# defined before these functions were public (``bayesmm.families.densities:_gamma_logpdf``).
_category_logpmf = category_logpmf
_gamma_logpdf = gamma_logpdf
_multinomial_logpmf = multinomial_logpmf
_zoib_logpdf = zoib_logpdf
