"""A multivariate model end to end on prior draws (the stub sampler): Model's dispatch, the
fit's names, predictions per response, and joint response draws that keep the residual
correlation."""

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from _multivariate import frame
from bayesmm._errors import DataError, FamilyError
from bayesmm.mv import MvModel
from bayesmm.predict.multiresponse import joint_residuals, univariate_name

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_model_returns_a_multivariate_model_for_a_multivariate_formula():
    data = frame()
    assert isinstance(bmm.Model("mvbind(y1, y2) ~ x", data), MvModel)
    model = bmm.Model(
        bmm.Formula("y1 ~ x") + bmm.Formula("b ~ x"),
        data,
        family={"y1": "gaussian", "b": "bernoulli"},
    )
    assert isinstance(model, MvModel) and not model.rescor
    assert isinstance(bmm.Model("y1 ~ x", data), bmm.Model)
    with pytest.raises(FamilyError, match=r"response 'b' has family 'bernoulli'"):
        bmm.Model(
            "mvbind(y1, b) ~ x", data, family={"y1": "gaussian", "b": "bernoulli"}, rescor=True
        )
    with pytest.raises(FamilyError, match=r"no family for the response\(s\) \['b'\]"):
        bmm.Model("mvbind(y1, b) ~ x", data, family={"y1": "gaussian"})
    with pytest.raises(FamilyError, match=r"\['z'\], which are not responses"):
        bmm.Model("mvbind(y1, y2) ~ x", data, family={"y1": "gaussian", "y2": "gaussian", "z": "t"})


@pytest.fixture(scope="module")
def fit_rescor():
    from conftest import prior_draws_everywhere

    model = bmm.Model(
        bmm.Formula("y1 ~ x + (1|g)") + bmm.Formula("y2 ~ w + (1|g)", "sigma ~ x"),
        frame(),
        priors={"rescor": bmm.Prior("LKJCorr", eta=1.0)},
    )
    with prior_draws_everywhere():
        idata = model.fit(
            draws=200, chains=2, inference_method="pymc", random_seed=1, progressbar=False
        )
    return model, idata


def test_the_fit_names_each_responses_parts_and_the_residual_correlation(fit_rescor):
    _, idata = fit_rescor
    names = set(idata.posterior.data_vars)
    assert {"y1_Intercept", "y1_x", "y1_1|g", "y1_1|g_sigma", "y1_sigma", "y2_w"} <= names
    assert {"y2_sigma_Intercept", "y2_sigma_x", "y1:y2_rescor"} <= names
    assert "rescor_cpc" not in names and "y2_sigma" not in names
    assert list(idata.observed_data.data_vars) == ["y1:y2"]
    assert idata.observed_data["y1:y2"].dims == ("__obs__", "__response__")
    assert idata.log_likelihood["y1:y2"].shape == (2, 200, 40)
    assert idata.attrs["family"] == "y1: gaussian, y2: gaussian"


def test_sufficient_statistics_true_says_why_not(fit_rescor):
    model, _ = fit_rescor
    with pytest.raises(DataError, match="several responses"):
        model.fit(draws=10, tune=10, chains=1, sufficient_statistics=True, progressbar=False)


def test_predictions_per_response_with_new_rows(fit_rescor):
    model, idata = fit_rescor
    fitted = model.fitted(idata)
    new = pd.DataFrame({"x": [0.0, 1.0], "w": [1.0, -1.0], "g": ["a", "b"]})
    mu = fitted.draws(new)
    assert set(mu) == {"y1", "y2"} and mu["y1"].shape == (400, 2)
    post = idata.posterior.stack(s=("chain", "draw"))
    expected = post["y1_Intercept"] + post["y1_x"] * 1.0 + post["y1_1|g"].sel(g__factor_dim="b")
    np.testing.assert_allclose(mu["y1"][:, 1], expected.to_numpy(), rtol=1e-10)
    table = fitted.interval(new, prob=0.8, random_seed=3)
    assert list(table.columns) == ["__response__", "lower", "upper"] and len(table) == 4
    one = fitted.point(new, response="y2")
    assert list(one["__response__"]) == ["y2", "y2"]
    assert fitted.quantiles(new, random_seed=1).shape == (4, 6)
    assert fitted.density(new, random_seed=1).shape == (4, 3)
    with pytest.raises(DataError, match="response must be one of"):
        fitted.point(new, response="y3")


def test_joint_response_draws_keep_each_draws_residual_correlation(fit_rescor):
    model, idata = fit_rescor
    fitted = model.fitted(idata)
    new = pd.DataFrame({"x": [0.0] * 4000, "w": [0.0] * 4000, "g": ["a"] * 4000})
    y = fitted.draws(new, kind="response", n_samples=3, random_seed=7)
    mu = fitted.draws(new, n_samples=3)
    rho = idata.posterior["y1:y2_rescor"].stack(s=("chain", "draw")).to_numpy()
    keep = np.round(np.linspace(0, rho.size - 1, 3)).astype(int)
    for s in range(3):
        r1, r2 = y["y1"][s] - mu["y1"][s], y["y2"][s] - mu["y2"][s]
        # 4000 rows: the sample correlation's sd is at most 1/sqrt(4000) = 0.016; 5 sds.
        assert np.corrcoef(r1, r2)[0, 1] == pytest.approx(rho[keep[s]], abs=0.08)
    array = fitted.draws_array(new.iloc[:5], random_seed=1)
    assert array.dims == ("draw", "__obs__", "__response__")
    assert list(array["__response__"].values) == ["y1", "y2"]


def test_joint_t_residuals_have_the_multivariate_t_scale():
    rng = np.random.default_rng(0)
    chol = np.linalg.cholesky(np.array([[[1.0, 0.6], [0.6, 1.0]]]))
    e = joint_residuals(chol, 200_000, rng, nu=np.array([[5.0]]))
    # A multivariate t's covariance is nu / (nu - 2) times the scale's; the correlation stays.
    assert np.var(e[0, :, 0]) == pytest.approx(5 / 3, rel=0.05)
    assert np.corrcoef(e[0, :, 0], e[0, :, 1])[0, 1] == pytest.approx(0.6, abs=0.01)


def test_univariate_names_strip_the_response_in_each_part():
    assert univariate_name("y1_1|g:y1_x|g_corr", "y1") == "1|g:x|g_corr"
    assert univariate_name("y1_sigma_x", "y1") == "sigma_x"


def test_mixed_families_predict_each_with_its_own_likelihood():
    from conftest import prior_draws_everywhere

    data = frame()
    model = bmm.Model("mvbind(y1, b) ~ x", data, family={"y1": "gaussian", "b": "bernoulli"})
    with prior_draws_everywhere():
        idata = model.fit(
            draws=50, chains=1, inference_method="pymc", random_seed=2, progressbar=False
        )
    assert set(idata.observed_data.data_vars) == {"y1", "b"}
    y = model.fitted(idata).draws(kind="response", random_seed=1)
    assert set(np.unique(y["b"])) <= {0, 1} and y["y1"].shape == (50, 40)
