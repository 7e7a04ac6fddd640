"""Savage–Dickey evidence ratios of point hypotheses (``interpret.hypothesis`` with ``=``):
the posterior density at the point over the prior's. Unit tests use the stub sampler; the
slow test checks the ratio against the closed-form Bayes factor of a normal mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

import bayesmm as bmm
from bayesmm.interpret import hypothesis


@pytest.fixture
def rows():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x": rng.normal(size=40), "g": rng.integers(0, 4, 40).astype(str)})
    frame["y"] = 0.3 + 0.5 * frame["x"] + rng.normal(size=40)
    return frame


def test_one_parameter_against_a_number_uses_its_priors_density(rows, stub_sampler):
    model = bmm.Model("y ~ x + (1|g)", rows, priors={"x": bmm.Prior("Normal", mu=0, sigma=2)})
    fitted = model.fitted(model.fit(draws=500, chains=2, random_seed=1))
    table = hypothesis(fitted, ["x = 0.2", "`1|g_sigma` = 0.5"])
    x = fitted.idata.posterior["x"].to_numpy().ravel()
    expected = scipy.stats.gaussian_kde(x - 0.2)(0.0)[0] / scipy.stats.norm(0, 2).pdf(0.2)
    assert table["evidence_ratio"][0] == pytest.approx(expected, rel=1e-9)
    sd = model.priors["1|g"].params["sigma"]
    s = fitted.idata.posterior["1|g_sigma"].to_numpy().ravel()
    half = scipy.stats.halfnorm(scale=sd.params["sigma"]).pdf(0.5)
    assert table["evidence_ratio"][1] == pytest.approx(
        scipy.stats.gaussian_kde(s - 0.5)(0.0)[0] / half, rel=1e-9
    )


def test_a_combination_uses_draws_of_the_priors(rows, stub_sampler):
    model = bmm.Model("y ~ x + (1|g)", rows)
    fitted = model.fitted(model.fit(draws=500, chains=2, random_seed=2))
    ratio = hypothesis(fitted, "x - sigma = 0")["evidence_ratio"][0]
    assert np.isfinite(ratio) and ratio > 0


def test_no_proper_prior_gives_nan_and_says_why(rows, stub_sampler):
    model = bmm.Model("y ~ mo(k) + x", rows.assign(k=rows["g"].astype(int)))
    fitted = model.fitted(model.fit(draws=100, chains=1, random_seed=3))
    with pytest.warns(bmm.BayesmmWarning, match="centred predictors, and 'mo\\(k\\)' is not a"):
        assert np.isnan(hypothesis(fitted, "Intercept = 0")["evidence_ratio"][0])
    table = (pd.DataFrame({"estimate": [1.0]}), np.zeros((100, 1)))
    with pytest.warns(bmm.BayesmmWarning, match="the rows of a table have no prior"):
        assert np.isnan(hypothesis(table, "b1 = 0")["evidence_ratio"][0])


def test_the_intercept_of_centred_predictors_has_its_implied_prior(rows, stub_sampler):
    """The reported Intercept is b0_c - mean(x) b: with normal priors on both, its prior is
    normal with mean mu0 - mean(x) mu_x and variance s0^2 + mean(x)^2 s_x^2. The KDE of
    20,000 prior draws at a point of moderate density is within a few percent of it."""
    priors = {
        "Intercept": bmm.Prior("Normal", mu=0.2, sigma=1.0),
        "x": bmm.Prior("Normal", mu=0.5, sigma=0.5),
    }
    shifted = rows.assign(x=rows["x"] + 2.0)  # mean(x) far from 0
    model = bmm.Model("y ~ x", shifted, priors=priors)
    fitted = model.fitted(model.fit(draws=500, chains=2, random_seed=4))
    m = shifted["x"].mean()
    implied = scipy.stats.norm(0.2 - m * 0.5, np.sqrt(1.0 + m**2 * 0.25))
    b0 = fitted.idata.posterior["Intercept"].to_numpy().ravel()
    expected = scipy.stats.gaussian_kde(b0 + 0.3)(0.0)[0] / implied.pdf(-0.3)
    ratio = hypothesis(fitted, "Intercept = -0.3")["evidence_ratio"][0]
    assert ratio == pytest.approx(expected, rel=0.05)


def test_a_hierarchical_prior_is_drawn(rows, stub_sampler):
    """A group effect's prior, whose sd has a prior, has no closed density: the KDE of its
    draws (the sd drawn first) stands in."""
    model = bmm.Model("y ~ x + (1|g)", rows)
    fitted = model.fitted(model.fit(draws=500, chains=2, random_seed=4))
    assert np.isfinite(hypothesis(fitted, "`1|g`[0] = 0.1")["evidence_ratio"][0])


@pytest.mark.slow
def test_the_ratio_is_the_closed_form_bayes_factor_of_a_normal_mean():
    """y_i ~ N(mu, 1), mu ~ N(0, 1), 20 rows: the posterior is N(m, v) with v = 1/(1 + n) and
    m = v n ybar, and the Bayes factor of mu = 0 is N(0 | m, v) / N(0 | 0, 1). With 16,000
    draws the KDE's error at a point of moderate density is a few percent: within 10%."""
    rng = np.random.default_rng(11)
    y = rng.normal(0.3, 1.0, 20)
    model = bmm.Model(
        "y ~ 1",
        pd.DataFrame({"y": y}),
        priors={"Intercept": bmm.Prior("Normal", mu=0, sigma=1), "sigma": 1.0},
    )
    idata = model.fit(draws=4000, chains=4, random_seed=5, progressbar=False)
    ratio = hypothesis(model.fitted(idata), "Intercept = 0")["evidence_ratio"][0]
    v = 1 / (1 + len(y))
    m = v * len(y) * y.mean()
    exact = scipy.stats.norm(m, np.sqrt(v)).pdf(0) / scipy.stats.norm(0, 1).pdf(0)
    assert ratio == pytest.approx(exact, rel=0.10)


def test_draws_all_alike_have_no_density_and_say_so(rows, stub_sampler):
    model = bmm.Model("y ~ x", rows, priors={"x": bmm.Prior("Normal", mu=0, sigma=1)})
    idata = model.fit(draws=100, chains=1, random_seed=3)
    idata.posterior["x"] = idata.posterior["x"] * 0 + 0.5  # a posterior of one value
    with pytest.warns(bmm.BayesmmWarning, match="posterior draws are all alike"):
        assert np.isnan(hypothesis(model.fitted(idata), "x = 0.5")["evidence_ratio"][0])
