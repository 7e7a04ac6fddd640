"""The posterior of ``ar()`` and ``cosy()`` models against statsmodels (real NUTS, slow).

Tolerances, as the issue states them:

- ``ar(p=1)`` on one long series with a regressor: ``ar`` and the slope within 0.3
  posterior sd plus 3 Monte-Carlo standard errors of statsmodels' exact-likelihood
  ``ARIMA(y, exog=x, order=(1, 0, 0))``. With flat priors on a 400-row series the
  posterior mean and the maximum likelihood differ by far less than 0.3 sd; the MCSE term
  covers the chains' own error.
- ``cosy``: its posterior mean within 0.5 posterior sd of the intra-class correlation
  ``tau^2 / (tau^2 + sigma^2)`` of statsmodels' REML ``MixedLM`` of the same rows.
- The coverage of ``ar`` over repeated fits: 40 simulated panels fitted with ``fit_many``,
  90% intervals; a correct model covers at least 31 times with probability 0.995
  (binomial, n = 40, p = 0.9), so a false alarm is about 0.5%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import bayesmm as bmm


def _series(n: int, phi: float, seed: int, groups: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for g in range(groups):
        e = np.empty(n)
        e[0] = rng.normal(0, 1 / np.sqrt(1 - phi**2))
        for t in range(1, n):
            e[t] = phi * e[t - 1] + rng.normal()
        x = rng.normal(size=n)
        frames.append(pd.DataFrame({"g": f"s{g}", "t": np.arange(n), "x": x, "y": 2 + 0.7 * x + e}))
    return pd.concat(frames, ignore_index=True).sample(frac=1, random_state=seed)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["auto", "nutpie"])  # "auto": NumPyro, where installed
def test_ar1_matches_statsmodels_arima(method):
    from statsmodels.tsa.arima.model import ARIMA

    data = _series(400, 0.6, seed=11)
    model = bmm.Model("y ~ x + ar(time=t)", data)
    options = {"draws": 1000, "chains": 2, "random_seed": 3, "progressbar": False}
    idata = model.fit(inference_method=method, **options)
    ordered = data.sort_values("t")
    reference = ARIMA(ordered["y"].to_numpy(), exog=ordered[["x"]].to_numpy(), order=(1, 0, 0))
    fitted = reference.fit()
    names = dict(zip(reference.param_names, fitted.params, strict=True))
    import arviz as az

    for ours, theirs in (("ar", "ar.L1"), ("x", "x1")):
        draws = idata.posterior[ours]
        sd, mcse = float(draws.std()), float(az.mcse(draws).to_array().item())
        assert abs(float(draws.mean()) - names[theirs]) < 0.3 * sd + 3 * mcse, ours
    # sigma is the innovations' sd, as statsmodels' sigma2 is their variance.
    sigma = idata.posterior["sigma"]
    assert abs(float(sigma.mean()) ** 2 - names["sigma2"]) < 3 * 2 * float(sigma.std())


@pytest.mark.slow
def test_cosy_is_the_intra_class_correlation_of_a_random_intercept_model():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    groups, size, tau, sigma = 40, 6, 0.8, 1.0
    g = np.repeat(np.arange(groups), size)
    data = pd.DataFrame({"g": g.astype(str), "t": np.tile(np.arange(size), groups)})
    data["x"] = rng.normal(size=len(data))
    data["y"] = 1 + 0.5 * data["x"] + rng.normal(0, tau, groups)[g] + rng.normal(0, sigma, len(g))
    model = bmm.Model("y ~ x + cosy(time=t, gr=g)", data)
    idata = model.fit(draws=1000, chains=2, random_seed=2, progressbar=False)
    mixed = smf.mixedlm("y ~ x", data, groups=data["g"]).fit(reml=True)
    tau2, sigma2 = float(mixed.cov_re.iloc[0, 0]), float(mixed.scale)
    icc = tau2 / (tau2 + sigma2)
    cosy = idata.posterior["cosy"]
    assert abs(float(cosy.mean()) - icc) < 0.5 * float(cosy.std())


@pytest.mark.slow
def test_the_coverage_of_ar_over_repeated_panels_is_within_its_binomial_band():
    phi, fits = 0.5, 40
    models = [
        bmm.Model("y ~ x + ar(time=t, gr=g)", _series(12, phi, seed=100 + i, groups=8))
        for i in range(fits)
    ]
    results = bmm.fit_many(models, draws=500, chains=2, random_seed=9, progressbar=False)
    covered = 0
    for idata in results:
        low, high = np.quantile(idata.posterior["ar"], [0.05, 0.95])
        covered += low < phi < high
    low_count = scipy.stats.binom.ppf(0.007, fits, 0.9)
    assert low_count <= covered <= fits, covered


def test_a_t_response_with_ar1_recovers_the_truth():
    """Series that are each one multivariate t (an AR(1) path over sqrt(w), w ~ Gamma(nu/2,
    rate nu/2)): ar, the slope and sigma each inside its central interval at 1 - 0.05/3
    (Bonferroni: all three with probability 0.95)."""
    rng = np.random.default_rng(20261208)
    truth = {"ar": 0.6, "x": 0.5, "sigma": 1.0}
    nu, n_series, length = 5.0, 12, 25
    frames = []
    for g in range(n_series):
        e = np.zeros(length)
        e[0] = rng.normal(0, truth["sigma"] / np.sqrt(1 - truth["ar"] ** 2))
        for t in range(1, length):
            e[t] = truth["ar"] * e[t - 1] + rng.normal(0, truth["sigma"])
        e /= np.sqrt(rng.gamma(nu / 2, 2 / nu))
        x = rng.normal(size=length)
        frames.append(pd.DataFrame({"g": f"s{g}", "t": np.arange(length), "x": x}))
        frames[-1]["y"] = 1 + truth["x"] * x + e
    data = pd.concat(frames, ignore_index=True)
    model = bmm.Model("y ~ x + ar(time=t, gr=g)", data, family="t")
    idata = model.fit(draws=400, tune=400, chains=2, random_seed=4, progressbar=False)
    tail = 0.05 / len(truth) / 2
    for name, value in truth.items():
        low, high = np.quantile(idata.posterior[name].to_numpy().ravel(), [tail, 1 - tail])
        assert low <= value <= high, (name, low, high, value)


def test_a_poisson_response_with_a_latent_ar1_recovers_the_truth():
    """Counts over a latent AR(1) residual on the log scale: ar, sderr and the slope each
    inside its central interval at 1 - 0.05/3 (Bonferroni, 5% family-wise)."""
    rng = np.random.default_rng(20261209)
    truth = {"ar": 0.7, "sderr": 0.5, "x": 0.3}
    frames = []
    for g in range(24):
        length = 20
        e = np.zeros(length)
        e[0] = rng.normal(0, truth["sderr"] / np.sqrt(1 - truth["ar"] ** 2))
        for t in range(1, length):
            e[t] = truth["ar"] * e[t - 1] + rng.normal(0, truth["sderr"])
        x = rng.normal(size=length)
        y = rng.poisson(np.exp(1 + truth["x"] * x + e))
        frames.append(pd.DataFrame({"g": f"s{g}", "t": np.arange(length), "x": x, "y": y}))
    data = pd.concat(frames, ignore_index=True)
    model = bmm.Model("y ~ x + ar(time=t, gr=g)", data, family="poisson")
    idata = model.fit(draws=400, tune=400, chains=2, random_seed=5, progressbar=False)
    tail = 0.05 / len(truth) / 2
    for name, value in truth.items():
        low, high = np.quantile(idata.posterior[name].to_numpy().ravel(), [tail, 1 - tail])
        assert low <= value <= high, (name, low, high, value)
