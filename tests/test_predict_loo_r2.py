"""The LOO-adjusted R² (``FittedModel.r2(loo=True)``, brms's ``loo_R2``).

Reference: for a gaussian linear regression with weakly informative priors the posterior mean
is close to least squares, and each row's leave-one-out prediction to least squares' own
(the PRESS residuals ``e_i / (1 - h_ii)``, statsmodels' ``resid_press``): the LOO R² is then
``1 - var(PRESS residuals) / var(y)``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm


def test_with_the_same_mean_in_every_draw_it_is_one_minus_the_residual_share():
    """Draws that agree make every row's PSIS-weighted mean its mean, whatever the weights:
    the LOO R² is then 1 - var(y - mu) / var(y), up to the Bayesian bootstrap's ratio bias,
    of order 1/n (below 0.005 for 1,000 rows)."""
    from bayesmm.predict.loo import loo_r2

    rng = np.random.default_rng(5)
    y = rng.normal(size=1000)
    mu = np.tile(y + rng.normal(0, 0.5, 1000), (200, 1))
    log_lik = rng.normal(-1.0, 0.1, (200, 1000))
    out = loo_r2(y, mu, log_lik, reff=1.0)
    expected = 1 - np.var(y - mu[0]) / np.var(y)
    assert out["r2"] == pytest.approx(expected, abs=0.005)
    assert 0 < out["r2_std"] < 0.05


def test_r2_takes_loo(stub_sampler):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=60)})
    frame["y"] = 1 + 2 * frame["x"] + rng.normal(size=60)
    model = bmm.Model("y ~ x", frame)
    fitted = model.fitted(model.fit(draws=200, chains=2, random_seed=1))
    assert list(fitted.r2(loo=True).index) == ["r2", "r2_std"]


@pytest.mark.slow
def test_the_loo_r2_matches_least_squares_press_residuals():
    import statsmodels.api as sm

    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(size=100)})
    frame["y"] = 1 + 0.8 * frame["x"] + rng.normal(size=100)
    model = bmm.Model("y ~ x", frame)
    fitted = model.fitted(model.fit(draws=1000, chains=2, random_seed=2, progressbar=False))
    loo = fitted.r2(loo=True)
    press = sm.OLS(frame["y"], sm.add_constant(frame["x"])).fit().get_influence().resid_press
    expected = 1 - np.var(press) / np.var(frame["y"])
    # Well inside its own uncertainty (the Bayesian bootstrap's sd, about 0.05 here): the
    # differences, posterior mean against least squares and PSIS against exact leave-one-out,
    # are each below 0.01 for 100 rows and two coefficients.
    assert abs(loo["r2"] - expected) < 0.5 * loo["r2_std"]
    assert loo["r2"] < fitted.r2()["r2"]
