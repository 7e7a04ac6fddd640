"""A multivariate model's pointwise log-likelihood and PSIS-LOO (leave one row out, all its
responses), against scipy's densities and az.loo of values computed by hand from the
posterior (prior draws: the stub sampler)."""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import bayesmm as bmm
from _multivariate import frame
from bayesmm._errors import DataError
from bayesmm.predict.joint_density import joint_log_density

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _fit(formula, data, **kwargs):
    from conftest import prior_draws_everywhere

    model = bmm.Model(formula, data, **kwargs)
    with prior_draws_everywhere():
        idata = model.fit(
            draws=60, chains=2, inference_method="pymc", random_seed=4, progressbar=False
        )
    return model, idata


@pytest.fixture(scope="module")
def correlated():
    formula = bmm.Formula("y1 ~ x + (1|g)") + bmm.Formula("y2 ~ w", "sigma ~ x")
    # Priors narrow enough that every prior draw's covariance is well conditioned for scipy.
    priors = {
        "rescor": bmm.Prior("LKJCorr", eta=4.0),
        "y2_sigma_Intercept": bmm.Prior("Normal", mu=0, sigma=0.5),
        "y2_sigma_x": bmm.Prior("Normal", mu=0, sigma=0.3),
        "y1_sigma": bmm.Prior("HalfNormal", sigma=1.0),
    }
    return _fit(formula, frame(n=24), priors=priors)


def _stacked(idata, name):
    post = idata.posterior.stack(s=("chain", "draw"))
    return post[name].transpose("s", ...).to_numpy()


def _by_hand_correlated(idata, data):
    """Each draw's and row's joint log density, with scipy's multivariate normal."""
    codes = pd.Categorical(data["g"], categories=list("abcd")).codes
    mu1 = (
        _stacked(idata, "y1_Intercept")[:, None]
        + _stacked(idata, "y1_x")[:, None] * data["x"].to_numpy()
        + _stacked(idata, "y1_1|g")[:, codes]
    )
    mu2 = (
        _stacked(idata, "y2_Intercept")[:, None]
        + _stacked(idata, "y2_w")[:, None] * data["w"].to_numpy()
    )
    sd1 = np.broadcast_to(_stacked(idata, "y1_sigma")[:, None], mu1.shape)
    sd2 = np.exp(
        _stacked(idata, "y2_sigma_Intercept")[:, None]
        + _stacked(idata, "y2_sigma_x")[:, None] * data["x"].to_numpy()
    )
    r = _stacked(idata, "y1:y2_rescor")
    y = data[["y1", "y2"]].to_numpy()
    out = np.empty(mu1.shape)
    for s in range(mu1.shape[0]):
        for i in range(mu1.shape[1]):
            c = r[s] * sd1[s, i] * sd2[s, i]
            cov = [[sd1[s, i] ** 2, c], [c, sd2[s, i] ** 2]]
            out[s, i] = stats.multivariate_normal([mu1[s, i], mu2[s, i]], cov).logpdf(y[i])
    return out


def _az_loo(idata, pointwise):
    chains, draws = idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    values = pointwise.reshape(chains, draws, -1)
    by_hand = az.InferenceData(
        posterior=idata.posterior,
        log_likelihood=xr.Dataset({"rows": (("chain", "draw", "row"), values)}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto k of prior draws
        return az.loo(by_hand, pointwise=True)


def _assert_same_loo(found, expected):
    for key in ("elpd_loo", "se", "p_loo", "n_data_points", "n_samples"):
        assert found[key] == pytest.approx(expected[key], rel=1e-9), key
    np.testing.assert_allclose(found["loo_i"], expected["loo_i"], rtol=1e-9)
    np.testing.assert_allclose(found["pareto_k"], expected["pareto_k"], rtol=1e-9)


def test_the_joint_log_likelihood_is_scipys_multivariate_normal_and_pymcs(correlated):
    model, idata = correlated
    found = model.fitted(idata).log_likelihood()
    by_hand = _by_hand_correlated(idata, frame(n=24))
    np.testing.assert_allclose(found, by_hand, rtol=1e-9)
    stored = idata.log_likelihood["y1:y2"].stack(s=("chain", "draw")).transpose("s", ...)
    np.testing.assert_allclose(found, stored.to_numpy(), rtol=1e-6)


def test_loo_with_correlated_residuals_is_az_loo_of_the_joint_rows(correlated):
    model, idata = correlated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = model.fitted(idata).loo(chunk_rows=7)
    expected = _az_loo(idata, _by_hand_correlated(idata, frame(n=24)))
    _assert_same_loo(found, expected)
    assert found["n_data_points"] == 24


def test_loo_without_correlated_residuals_sums_the_responses_of_each_row():
    data = frame(n=24)
    model, idata = _fit(
        "mvbind(y1, b) ~ x", data, family={"y1": "gaussian", "b": "bernoulli"}, rescor=False
    )
    mu = (
        _stacked(idata, "y1_Intercept")[:, None]
        + _stacked(idata, "y1_x")[:, None] * data["x"].to_numpy()
    )
    gaussian = stats.norm.logpdf(data["y1"].to_numpy(), mu, _stacked(idata, "y1_sigma")[:, None])
    eta = (
        _stacked(idata, "b_Intercept")[:, None]
        + _stacked(idata, "b_x")[:, None] * data["x"].to_numpy()
    )
    bernoulli = stats.bernoulli.logpmf(data["b"].to_numpy(), 1 / (1 + np.exp(-eta)))
    fitted = model.fitted(idata)
    np.testing.assert_allclose(fitted.log_likelihood(), gaussian + bernoulli, rtol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = fitted.loo()
    _assert_same_loo(found, _az_loo(idata, gaussian + bernoulli))


def test_the_log_likelihood_of_new_rows_reads_their_responses(correlated):
    model, idata = correlated
    fitted = model.fitted(idata)
    data = frame(n=24)
    new = data.iloc[[2, 5]].reset_index(drop=True)
    expected = fitted.log_likelihood()[:, [2, 5]]
    np.testing.assert_allclose(fitted.log_likelihood(new), expected, rtol=1e-9)
    given = {"y1": new["y1"].to_numpy(), "y2": new["y2"].to_numpy()}
    np.testing.assert_allclose(
        fitted.log_likelihood(new.drop(columns=["y1", "y2"]), given), expected, rtol=1e-9
    )
    with pytest.raises(DataError, match=r"y must hold every response's .* missing \['y2'\]"):
        fitted.log_likelihood(new, {"y1": [0.0, 1.0]})
    with pytest.raises(DataError, match=r"y is for new rows"):
        fitted.log_likelihood(None, given)


def test_the_joint_t_density_is_scipys_multivariate_t():
    rng = np.random.default_rng(0)
    s, n, k = 3, 4, 3
    y = rng.normal(size=(n, k))
    mu = rng.normal(size=(s, n, k))
    sigma = rng.uniform(0.5, 2.0, size=(s, n, k))
    a = rng.normal(size=(s, k, k))
    cov = a @ a.transpose(0, 2, 1) + np.eye(k)
    sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    corr = cov / (sd[:, :, None] * sd[:, None, :])
    chol = np.linalg.cholesky(corr)
    nu = rng.uniform(2, 10, size=(s, 1))
    found = joint_log_density(y, mu, sigma, chol, nu)
    normal = joint_log_density(y, mu, sigma, chol)
    for d in range(s):
        for i in range(n):
            shape = np.diag(sigma[d, i]) @ corr[d] @ np.diag(sigma[d, i])
            t = stats.multivariate_t(mu[d, i], shape, df=nu[d, 0]).logpdf(y[i])
            gauss = stats.multivariate_normal(mu[d, i], shape).logpdf(y[i])
            assert found[d, i] == pytest.approx(t, rel=1e-10)
            assert normal[d, i] == pytest.approx(gauss, rel=1e-10)
