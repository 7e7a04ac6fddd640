"""The posterior of ``se()`` models on the bundled BCG trials against statsmodels' frequentist
meta-analysis (real NUTS, slow). Tolerances are the issue's: the random-effects pooled log
risk ratio's posterior median within 0.05 of DerSimonian-Laird's and Paule-Mandel's (the
posterior sd is about 0.19 and the median's Monte-Carlo error about 0.01), their tau inside
the 90% interval; the meta-regression's slope within 0.5 posterior sd of weighted least
squares at the method-of-moments residual heterogeneity."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmm as bmm


@pytest.fixture(scope="module")
def bcg():
    data = bmm.load_data("bcg")
    yi = np.log(data["tpos"] / (data["tpos"] + data["tneg"])) - np.log(
        data["cpos"] / (data["cpos"] + data["cneg"])
    )
    vi = 1 / data["tpos"] - 1 / (data["tpos"] + data["tneg"]) + 1 / data["cpos"]
    vi = vi - 1 / (data["cpos"] + data["cneg"])
    return data.assign(yi=yi, vi=vi, sei=np.sqrt(vi), trial=data["trial"].astype(str))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["auto", "nutpie"])  # "auto": NumPyro, where installed
def test_the_pooled_effect_matches_dersimonian_laird_and_paule_mandel(bcg, method):
    from statsmodels.stats.meta_analysis import combine_effects

    model = bmm.Model("se(yi, sei) ~ 1 + (1|trial)", bcg)
    options = {"draws": 1000, "chains": 2, "random_seed": 7, "progressbar": False}
    idata = model.fit(inference_method=method, **options)
    post = idata.posterior
    median = float(post["Intercept"].median())
    low, high = np.quantile(post["1|trial_sigma"], [0.05, 0.95])
    for method in ("chi2", "iterated"):  # DerSimonian-Laird, Paule-Mandel
        result = combine_effects(bcg["yi"].to_numpy(), bcg["vi"].to_numpy(), method_re=method)
        assert abs(median - result.mean_effect_re) < 0.05, method
        assert low < np.sqrt(result.tau2) < high, method


def _moments_tau2(y: np.ndarray, v: np.ndarray, X: np.ndarray) -> float:
    """The method-of-moments residual heterogeneity of a meta-regression (DerSimonian and
    Laird's estimator with predictors; Raudenbush 2009, eq. 16.43)."""
    w = 1 / v
    XtW = X.T * w
    beta = np.linalg.solve(XtW @ X, XtW @ y)
    q = float(np.sum(w * (y - X @ beta) ** 2))
    k, p = X.shape
    trace = np.sum(w) - np.trace(np.linalg.solve(XtW @ X, (X.T * w**2) @ X))
    return max(0.0, (q - (k - p)) / trace)


@pytest.mark.slow
def test_the_meta_regression_slope_matches_weighted_least_squares(bcg):
    import statsmodels.api as sm

    model = bmm.Model("se(yi, sei) ~ ablat + (1|trial)", bcg)
    idata = model.fit(draws=1000, chains=2, random_seed=8, progressbar=False)
    slope = idata.posterior["ablat"]
    X = sm.add_constant(bcg["ablat"].to_numpy(dtype=float))
    tau2 = _moments_tau2(bcg["yi"].to_numpy(), bcg["vi"].to_numpy(), X)
    wls = sm.WLS(bcg["yi"].to_numpy(), X, weights=1 / (bcg["vi"].to_numpy() + tau2)).fit()
    assert abs(float(slope.median()) - wls.params[1]) < 0.5 * float(slope.std())
    assert -0.045 < float(slope.median()) < -0.015  # metafor's REML slope: about -0.029
