"""Truncated responses recovered by NUTS and checked against scipy's maximum likelihood.

The likelihood is checked where the two must agree: at the mode. The Laplace fit is centred
on the posterior mode; with weak priors and a thousand rows the prior (and the log transform
of sigma) move it by O(1 / n) posterior SDs from the maximum-likelihood estimate, and the
median of 4,000 normal draws has a Monte-Carlo error of 0.02 SD: the tolerance, 0.1 SD, is
five of those. (The posterior mean is not the reference: near a bound the posterior is
skewed, and its mean sat 0.3 SD from the MLE in this gaussian example.) NUTS then checks the
recovery of the simulated values, each model fitted once.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import bayesmm as bmm
from _recovery import interval_misses

pytestmark = pytest.mark.slow

GAUSSIAN = {"Intercept": 1.0, "x": 0.8, "sigma": 1.0}
POISSON = {"Intercept": 0.3, "x": 0.5}


def _agrees_at_the_mode(model, mle):
    """The Laplace fit's centre (its draws' median) is the MLE, within 0.1 posterior SD."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k-hat is not under test here
        idata = model.fit(inference_method="laplace", draws=2000, chains=2, random_seed=1)
    for name, value in mle.items():
        draws = idata.posterior[name].to_numpy()
        assert abs(np.median(draws) - value) < 0.1 * draws.std(), (name, np.median(draws), value)


def _mle(negative_log_likelihood, start):
    result = optimize.minimize(
        negative_log_likelihood,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20_000},
    )
    assert result.success, result.message
    return result.x


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(21)
    n = 1500
    x = rng.normal(size=n)
    y = GAUSSIAN["Intercept"] + GAUSSIAN["x"] * x + rng.normal(0, GAUSSIAN["sigma"], n)
    frame = pd.DataFrame({"y": y, "x": x, "hi": rng.uniform(2.5, 3.5, n)})
    frame = frame[(frame["y"] >= 0) & (frame["y"] <= frame["hi"])].reset_index(drop=True)
    model = bmm.Model("trunc(y, lb=0, ub=hi) ~ x", frame)
    idata = model.fit(draws=1000, chains=2, random_seed=4, progressbar=False)
    assert idata.attrs["inference_method"] == "numpyro"  # the JAX route, with its erfcx
    return frame, model, idata


def test_gaussian_agrees_with_scipys_truncated_normal_mle(gaussian):
    frame, model, idata = gaussian
    y, x, high = (frame[c].to_numpy() for c in ("y", "x", "hi"))

    def nll(theta):
        mu, sigma = theta[0] + theta[1] * x, np.exp(theta[2])
        return -stats.truncnorm.logpdf(y, -mu / sigma, (high - mu) / sigma, mu, sigma).sum()

    intercept, slope, log_sigma = _mle(nll, [0.5, 0.5, 0.0])
    _agrees_at_the_mode(model, {"Intercept": intercept, "x": slope, "sigma": np.exp(log_sigma)})
    # Three 90% intervals: two or more misses by chance has probability 2.8%.
    assert len(interval_misses(idata.posterior, GAUSSIAN)) <= 1


def test_gaussian_predictions_stay_within_the_rows_bounds(gaussian):
    frame, model, idata = gaussian
    draws = model.fitted(idata).draws(frame.head(200), "response", random_seed=2)
    assert draws.min() >= 0 and np.all(draws <= frame["hi"].to_numpy()[:200])
    # The predictive mean of the training rows matches their mean (within 3 standard errors).
    mean = model.fitted(idata).draws(frame, "response", random_seed=3).mean()
    assert abs(mean - frame["y"].mean()) < 3 * frame["y"].std() / np.sqrt(len(frame))


def test_zero_truncated_poisson_agrees_with_scipys_mle():
    rng = np.random.default_rng(8)
    n = 1200
    x = rng.normal(size=n)
    y = rng.poisson(np.exp(POISSON["Intercept"] + POISSON["x"] * x))
    frame = pd.DataFrame({"y": y, "x": x})[y >= 1].reset_index(drop=True)
    model = bmm.Model("trunc(y, lb=1) ~ x", frame, family="poisson")
    posterior = model.fit(draws=1000, chains=2, random_seed=6, progressbar=False).posterior
    counts, xs = frame["y"].to_numpy(), frame["x"].to_numpy()

    def nll(theta):
        mu = np.exp(theta[0] + theta[1] * xs)
        return -(stats.poisson.logpmf(counts, mu) - stats.poisson.logsf(0, mu)).sum()

    _agrees_at_the_mode(model, dict(zip(("Intercept", "x"), _mle(nll, [0.0, 0.0]), strict=True)))
    # Two 90% intervals: both missing by chance has probability 1%.
    assert len(interval_misses(posterior, POISSON)) <= 1
    ignored = bmm.Model("y ~ x", frame, family="poisson").fit(
        draws=300, chains=2, random_seed=6, progressbar=False
    )
    # Ignoring the truncation overstates the intercept (no zeros): far outside its 99% interval.
    assert float(np.quantile(ignored.posterior["Intercept"], 0.005)) > POISSON["Intercept"]


def _exact_means(y, x, prior_sd):
    """Posterior means of (Intercept, x, sigma) by quadrature: scipy's truncated normal
    likelihood (bound 0, none above) and the test's Normal(0, prior_sd) / HalfNormal priors,
    on a 41^3 grid over 7 SDs of the Laplace approximation either side of the mode."""

    def log_post(a, b, log_s):
        s = np.exp(log_s)
        mu = a[..., None] + b[..., None] * x
        like = stats.truncnorm.logpdf(y, -mu / s[..., None], np.inf, mu, s[..., None]).sum(-1)
        prior = stats.norm.logpdf(a, 0, prior_sd) + stats.norm.logpdf(b, 0, prior_sd)
        # HalfNormal on sigma, and the Jacobian of sigma = exp(log_s).
        return like + prior + stats.halfnorm.logpdf(s, scale=prior_sd) + log_s

    found = optimize.minimize(
        lambda t: -log_post(*map(np.asarray, t)),
        [0.1, 0.1, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10},
    )
    mode = found.x
    h = 1e-4
    hessian = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            e_i, e_j = np.eye(3)[i] * h, np.eye(3)[j] * h
            signs = ((1, 1), (1, -1), (-1, 1), (-1, -1))
            f = [log_post(*map(np.asarray, mode + si * e_i + sj * e_j)) for si, sj in signs]
            hessian[i, j] = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h)
    sd = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    axes = [np.linspace(m - 7 * s, m + 7 * s, 41) for m, s in zip(mode, sd, strict=True)]
    a, b, log_s = np.meshgrid(*axes, indexing="ij")
    logp = np.concatenate([log_post(a[i], b[i], log_s[i]).ravel() for i in range(41)])
    weights = np.exp(logp - logp.max())
    weights /= weights.sum()
    points = np.stack([a.ravel(), b.ravel(), np.exp(log_s.ravel())])
    means = points @ weights
    sds = np.sqrt(((points - means[:, None]) ** 2) @ weights)
    return dict(zip(("Intercept", "x", "sigma"), means, strict=True)), dict(
        zip(("Intercept", "x", "sigma"), sds, strict=True)
    )


def test_one_sided_truncation_matches_the_exact_posterior_by_quadrature():
    """``trunc(y, lb=0)``, the spelling users write most, on the default route: a third of
    the rows cut off. Before the log CDF was made stable, its gradient was NaN everywhere,
    every draw diverged and the chains never moved from their start. Each mean must be
    within 0.25 exact posterior SDs plus 3 Monte-Carlo standard errors."""
    import arviz as az

    rng = np.random.default_rng(11)
    x = rng.normal(size=900)
    x = x - x.mean()  # centred, so the Intercept's prior is the same with or without centring
    y = 0.2 + 0.6 * x + rng.normal(size=900)
    keep = y >= 0
    assert 0.3 < 1 - keep.mean() < 0.5
    frame = pd.DataFrame({"y": y[keep], "x": x[keep]})
    prior_sd = 5.0
    priors = {
        "Intercept": bmm.Prior("Normal", mu=0, sigma=prior_sd),
        "x": bmm.Prior("Normal", mu=0, sigma=prior_sd),
        "sigma": bmm.Prior("HalfNormal", sigma=prior_sd),
    }
    model = bmm.Model("trunc(y, lb=0) ~ x", frame, priors=priors)
    idata = model.fit(draws=1000, chains=2, random_seed=3, progressbar=False)
    assert idata.attrs["sampling_ok"] == 1 and idata.attrs["sampling_divergences"] == 0
    means, sds = _exact_means(frame["y"].to_numpy(), frame["x"].to_numpy(), prior_sd)
    mcse = az.mcse(idata, method="mean")
    for name, exact in means.items():
        got = float(idata.posterior[name].mean())
        limit = 0.25 * sds[name] + 3 * float(mcse[name])
        assert abs(got - exact) < limit, (name, got, exact, limit)
