"""Responses with known standard errors, ``se(yi, sei) ~ ...`` (meta-analysis): how the call
is read, the likelihood's density and gradient, the priors, prediction with and without the
new rows' standard errors, files, the server's schema and bad input. The posterior on the
bundled BCG trials is checked against statsmodels in ``test_design_known_sd_slow.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from fastapi.testclient import TestClient

import bayesmm as bmm


@pytest.fixture(scope="module")
def bcg():
    """The BCG trials as log risk ratios and their standard errors."""
    data = bmm.load_data("bcg")
    yi = np.log(data["tpos"] / (data["tpos"] + data["tneg"])) - np.log(
        data["cpos"] / (data["cpos"] + data["cneg"])
    )
    vi = 1 / data["tpos"] - 1 / (data["tpos"] + data["tneg"]) + 1 / data["cpos"]
    vi = vi - 1 / (data["cpos"] + data["cneg"])
    return data.assign(yi=yi, sei=np.sqrt(vi), trial=data["trial"].astype(str))


def test_the_bundled_trials_are_colditz_table_1(bcg):
    assert bcg.shape == (13, 11)
    assert bcg["tpos"].sum() == 1065 and bcg["cpos"].sum() == 1510
    # metafor's escalc(measure="RR") of the first trial: yi -0.8893, vi 0.3256.
    assert bcg["yi"][0] == pytest.approx(-0.8893, abs=1e-4)
    assert bcg["sei"][0] ** 2 == pytest.approx(0.3256, abs=1e-4)


def test_the_call_is_read_and_the_response_is_the_estimates(bcg):
    model = bmm.Model("se(yi, sei) ~ 1 + (1|trial)", bcg)
    response = model.design.response
    assert response.name == "yi"
    np.testing.assert_array_equal(response.values, bcg["yi"])
    np.testing.assert_array_equal(response.known_sd.values, bcg["sei"])
    assert response.kinds == ("se",)
    assert "sigma" not in model.priors.names()
    assert "Known SDs: sei (no residual sigma)" in str(model)
    with_sigma = bmm.Model("se(yi, sei, sigma=True) ~ 1", bcg)
    assert "sigma" in with_sigma.priors.names()
    assert "sei, plus a residual sigma" in str(with_sigma)


@pytest.mark.parametrize("sigma", [False, True])
def test_the_likelihood_is_normal_with_the_known_spread(bcg, sigma):
    """The model's log density at a point, and its gradient in the intercept, against
    scipy's normal with sd sei (or sqrt(sigma^2 + sei^2))."""
    call = "se(yi, sei, sigma=True)" if sigma else "se(yi, sei)"
    model = bmm.Model(f"{call} ~ 1", bcg).backend.model
    point = model.initial_point()
    point["Intercept"] = np.array(-0.5)
    s = 0.3
    if sigma:
        point["sigma_log__"] = np.array(np.log(s))
    spread = np.sqrt(s**2 + bcg["sei"] ** 2) if sigma else bcg["sei"]
    likelihood = model.compile_logp(vars=[model["yi"]], sum=True)
    expected = scipy.stats.norm(-0.5, spread).logpdf(bcg["yi"]).sum()
    assert likelihood(point) == pytest.approx(expected, rel=1e-12)
    gradient = model.compile_dlogp(vars=[model["Intercept"]])(point)[0]
    # d/dmu of sum log N(y | mu, s_i) is sum (y - mu) / s_i^2, plus the prior's term.
    intercept_prior = bmm.Model(f"{call} ~ 1", bcg).priors["Intercept"]
    mu0, sd0 = intercept_prior.params["mu"], intercept_prior.params["sigma"]
    expected_gradient = np.sum((bcg["yi"] + 0.5) / spread**2) - (-0.5 - mu0) / sd0**2
    assert gradient == pytest.approx(expected_gradient, rel=1e-9)


def test_sufficient_statistics_say_why_they_do_not_apply(bcg, stub_sampler):
    model = bmm.Model("se(yi, sei) ~ 1 + (1|trial)", bcg)
    with pytest.raises(bmm.DataError, match="se\\(\\) gives each row its own known standard"):
        model.fit(draws=5, chains=1, sufficient_statistics=True)


def test_prediction_needs_the_standard_errors_for_draws_only(bcg, stub_sampler, tmp_path):
    model = bmm.Model("se(yi, sei) ~ ablat + (1|trial)", bcg)
    idata = model.fit(draws=50, chains=2, random_seed=3)
    fitted = model.fitted(idata)
    new = pd.DataFrame({"ablat": [20.0, 50.0], "trial": ["1", "new"]})
    mu = fitted.draws(new, sample_new_groups="population")
    post = idata.posterior.stack(s=("chain", "draw"))
    expected = post["Intercept"].to_numpy()[:, None] + np.outer(
        post["ablat"].to_numpy(), new["ablat"]
    )
    expected[:, 0] += post["1|trial"].sel(trial__factor_dim="1").to_numpy()
    np.testing.assert_allclose(mu, expected, rtol=1e-10)
    with pytest.raises(bmm.DataError, match=r"need each row's standard error.*'sei'"):
        fitted.draws(new, kind="response", sample_new_groups="population")
    rows = new.assign(sei=[0.5, 1e-6])
    draws = fitted.draws(rows, kind="response", sample_new_groups="population", random_seed=1)
    # The second row's spread is 1e-6: its draws are its means.
    np.testing.assert_allclose(draws[:, 1], mu[:, 1], atol=1e-4)
    spread = (draws[:, 0] - mu[:, 0]).std()
    # An sd's relative standard error is about 1 / sqrt(2 n): four of them.
    assert spread == pytest.approx(0.5, rel=4 / np.sqrt(2 * len(mu)))

    path = tmp_path / "meta.nc"
    model.save(path, idata)
    loaded = bmm.load(path)
    assert loaded.design.state.known_sd.column == "sei"
    np.testing.assert_allclose(loaded.draws(new, sample_new_groups="population"), mu)
    np.testing.assert_allclose(
        loaded.log_likelihood(rows, [0.1, -0.2], sample_new_groups="population"),
        fitted.log_likelihood(rows, [0.1, -0.2], sample_new_groups="population"),
    )

    from bayesmm.serve import create_app

    client = TestClient(create_app(loaded))
    schema = str(client.get("/openapi.json").json()["components"]["schemas"])
    assert "Known standard error 'sei'" in schema
    body = {"rows": [{"ablat": 20.0, "trial": "1"}], "kind": "response_params"}
    assert client.post("/v1/predict/point", json=body).status_code == 200
    body = {**body, "kind": "response"}
    assert client.post("/v1/predict/point", json=body).status_code == 422
    body["rows"][0]["sei"] = 0.2
    assert client.post("/v1/predict/point", json=body).status_code == 200


@pytest.mark.parametrize(
    ("formula", "kwargs", "error", "match"),
    [
        ("se(yi, sei) ~ 1", {"family": "bernoulli"}, bmm.FormulaError, "family 'bernoulli'"),
        ("yi ~ se(x, sei)", {}, bmm.FormulaError, "must be the whole response"),
        ("se(yi) ~ 1", {}, bmm.FormulaError, "takes two column names"),
        ("se(yi, np.sqrt(vi)) ~ 1", {}, bmm.FormulaError, "takes two column names"),
        ("se(yi, sei, sigma=1) ~ 1", {}, bmm.FormulaError, "sigma=True or sigma=False"),
        ("se(yi, se_missing) ~ 1", {}, bmm.FormulaError, "'se_missing'"),
    ],
)
def test_bad_calls_name_what_was_expected(bcg, formula, kwargs, error, match):
    with pytest.raises(error, match=match):
        bmm.Model(formula, bcg, **kwargs)


def test_standard_errors_must_be_positive_numbers(bcg):
    bad = bcg.assign(sei=bcg["sei"].where(bcg.index != 4, 0.0))
    with pytest.raises(bmm.DataError, match=r"'sei'.*greater than 0; rows \[4\] hold"):
        bmm.Model("se(yi, sei) ~ 1", bad)
    with pytest.raises(bmm.FormulaError, match="cannot take distributional formulas"):
        bmm.Model(bmm.Formula("se(yi, sei) ~ 1", "sigma ~ ablat"), bcg)


def test_a_refit_on_other_data_has_the_same_structure(bcg):
    """The standard errors enter the graph as data, so a model of other trials (other
    estimates and errors, the same shapes) reuses the compiled sampler."""
    from bayesmm.backend.programs import structure_key

    other = bcg.assign(yi=bcg["yi"] * 0.5, sei=bcg["sei"] * 2)
    first = bmm.Model("se(yi, sei) ~ ablat + (1|trial)", bcg).backend.model
    second = bmm.Model("se(yi, sei) ~ ablat + (1|trial)", other).backend.model
    assert structure_key(first) == structure_key(second)
