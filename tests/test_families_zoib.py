"""The zero-one-inflated beta family ``zoib`` (brms's ``zero_one_inflated_beta``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm
from _recovery import interval_misses

TRUTH = {"Intercept": 0.3, "x": 0.7, "kappa": 8.0, "zoi": 0.2, "coi": 0.6}


def _simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    family = bmm.get_family("zoib")
    values = {k: np.full(n, TRUTH[k]) for k in ("kappa", "zoi", "coi")}
    values["mu"] = family.resolve_link(None).linkinv(TRUTH["Intercept"] + TRUTH["x"] * x)
    return pd.DataFrame({"x": x, "y": family.likelihood.draw(values, rng)})


@pytest.fixture(scope="module")
def data():
    return _simulate(300, 1)


def test_numpy_draws_have_the_inflation_and_the_beta():
    """Binomial tests of the shares of zeros and ones, and Kolmogorov-Smirnov of the values
    inside, each at a 0.1% false-alarm rate (seeded)."""
    n = 20_000
    values = {
        "mu": np.full(n, 0.3),
        "kappa": np.full(n, 5.0),
        "zoi": np.full(n, 0.25),
        "coi": np.full(n, 0.4),
    }
    y = bmm.get_family("zoib").likelihood.draw(values, np.random.default_rng(3))
    inflated = (y == 0) | (y == 1)
    assert stats.binomtest(int(inflated.sum()), n, 0.25).pvalue > 1e-3
    assert stats.binomtest(int((y == 1).sum()), int(inflated.sum()), 0.4).pvalue > 1e-3
    assert stats.kstest(y[~inflated], stats.beta(1.5, 3.5).cdf).pvalue > 1e-3


def test_pymc_prior_draws_have_the_inflation():
    import pymc as pm

    from bayesmm.backend.graph.distributions import ZeroOneInflatedBeta

    dist = ZeroOneInflatedBeta.dist(alpha=1.5, beta=3.5, zoi=0.25, coi=0.4, size=20_000)
    y = pm.draw(dist, random_seed=4)
    inflated = (y == 0) | (y == 1)
    assert stats.binomtest(int(inflated.sum()), y.size, 0.25).pvalue > 1e-3
    assert stats.binomtest(int((y == 1).sum()), int(inflated.sum()), 0.4).pvalue > 1e-3


def test_model_log_density_at_zeros_and_ones_has_finite_gradients(data):
    model = bmm.Model("y ~ x", data, family="zoib")
    pymc_model = model.backend.model
    point = pymc_model.initial_point()
    gradient = pymc_model.compile_dlogp()(point)
    assert np.all(np.isfinite(gradient))
    assert {0.0, 1.0} <= set(np.unique(data["y"]))


def test_a_response_outside_zero_and_one_is_named(data):
    with pytest.raises(bmm.DataError, match=r"between 0 and 1, both included.*1\.5"):
        bmm.Model("y ~ x", data.assign(y=data["y"].where(data.index != 3, 1.5)), family="zoib")


def test_zoi_and_coi_take_formulas_with_the_logit_link(data):
    model = bmm.Model(bmm.Formula("y ~ x", "zoi ~ x", "coi ~ 1"), data, family="zoib")
    assert model.design.distributional[0].link == "logit"
    assert {"zoi_Intercept", "zoi_x", "coi_Intercept"} <= set(model.backend.model.named_vars)


def test_saved_zoib_predicts_the_same(data, stub_sampler, tmp_path):
    model = bmm.Model("y ~ x", data, family="zoib")
    idata = model.fit(draws=30, chains=2, random_seed=3, progressbar=False)
    loaded = bmm.load(model.save(tmp_path / "zoib.nc", idata))
    new = pd.DataFrame({"x": [-1.0, 0.0, 2.0]})
    fitted = model.fitted(idata)
    np.testing.assert_array_equal(
        loaded.draws(new, "response", random_seed=2), fitted.draws(new, "response", random_seed=2)
    )
    y = np.array([0.0, 0.4, 1.0])
    np.testing.assert_allclose(loaded.log_likelihood(new, y), fitted.log_likelihood(new, y))


@pytest.mark.slow
def test_zoib_recovers_the_truth():
    """Five 90% intervals: two or more misses by chance has probability 8%, three or more
    0.9%; so at most two may miss (fixed seeds). Every 99% interval must cover."""
    data = _simulate(800, 7)
    idata = bmm.Model("y ~ x", data, family="zoib").fit(
        draws=500, tune=500, chains=2, random_seed=5, progressbar=False
    )
    assert int(idata.sample_stats["diverging"].sum()) == 0
    assert len(interval_misses(idata.posterior, TRUTH)) <= 2


def test_the_intercept_prior_is_centred_on_the_values_inside(data):
    model = bmm.Model("y ~ x", data, family="zoib")
    inside = data["y"][(data["y"] > 0) & (data["y"] < 1)]
    mean = inside.mean()
    assert model.priors["Intercept"].params["mu"] == pytest.approx(
        np.log(mean / (1 - mean)), rel=1e-6
    )
