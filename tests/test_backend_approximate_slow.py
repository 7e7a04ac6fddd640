"""ADVI (``fit(inference_method="vi")``), checked by Pareto k-hat: a warning on a posterior a
mean-field normal cannot follow (a ridge of correlated slopes), none on a simple one, and a fit that
predicts, saves and loads like a NUTS fit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm

pytestmark = pytest.mark.slow


def _vi(model):
    return model.fit(
        inference_method="vi", draws=500, chains=2, random_seed=1, steps=10_000, progressbar=False
    )


@pytest.fixture(scope="module")
def simple():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"x": rng.normal(size=200)})
    data["y"] = 1 + 0.5 * data["x"] + rng.normal(size=200)
    model = bmm.Model("y ~ x", data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", bmm.BayesmmWarning)  # no k-hat warning
        idata = _vi(model)
    return model, idata, data


def test_a_simple_posterior_is_approximated_and_says_so(simple):
    _, idata, data = simple
    assert idata.attrs["inference_method"] == "vi"
    assert idata.attrs["vi_method"] == "meanfield" and idata.attrs["vi_steps"] == 10_000
    assert idata.attrs["pareto_k"] < 0.5
    # Against the least-squares fit: the posterior mean of the slope within 3 of its SDs.
    X = np.column_stack([np.ones(200), data["x"]])
    beta = np.linalg.lstsq(X, data["y"], rcond=None)[0]
    slope = idata.posterior["x"]
    assert abs(float(slope.mean()) - beta[1]) < 3 * float(slope.std())
    assert idata.log_likelihood["y"].shape == (2, 500, 200)


def test_an_approximate_fit_predicts_saves_and_loads(simple, tmp_path):
    model, idata, data = simple
    path = model.save(tmp_path / "vi.nc", idata)
    loaded = bmm.load(path)
    rows = data.head(3)
    pd.testing.assert_frame_equal(loaded.point(rows), model.fitted(idata).point(rows))


@pytest.fixture(scope="module")
def funnel():
    """Eight groups of two rows and a small group sd, centred: a funnel."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(8), 2)
    data = pd.DataFrame({"g": g.astype(str), "y": rng.normal(0, 0.1, 8)[g] + rng.normal(size=16)})
    return bmm.Model("y ~ 1 + (1|g)", data, noncentered=False)


@pytest.fixture(scope="module")
def collinear():
    """Two predictors correlated at 0.995: slopes whose posterior is a narrow ridge."""
    rng = np.random.default_rng(2)
    x1 = rng.normal(size=50)
    x2 = x1 + 0.1 * rng.normal(size=50)
    data = pd.DataFrame({"x1": x1, "x2": x2, "y": 1 + x1 + x2 + rng.normal(size=50)})
    return bmm.Model("y ~ x1 + x2", data)


def test_a_posterior_mean_field_cannot_follow_gets_the_k_hat_warning(collinear):
    # A mean-field normal has no correlations: on the ridge its SDs are those of the ridge's
    # width, far too narrow along it, and the importance ratios have a heavy tail.
    with pytest.warns(bmm.BayesmmWarning, match=r"not trustworthy here: Pareto k-hat .* Use NUTS"):
        idata = _vi(collinear)
    assert idata.attrs["pareto_k"] > 0.7


def test_vi_options_are_checked(simple):
    model, _, _ = simple
    with pytest.raises(
        bmm.DataError, match=r"'vi' does not take the option\(s\) \['target_accept'\]"
    ):
        model.fit(inference_method="vi", target_accept=0.9)
    with pytest.raises(
        bmm.DataError, match=r"vi_method must be one of \['fullrank', 'meanfield'\]"
    ):
        model.fit(inference_method="vi", vi_method="svgd", progressbar=False)


def _matches_least_squares(idata, data, sd_rel):
    """The slope's posterior mean within a tenth of its standard error plus 3 Monte-Carlo
    SEs (1,000 draws) of least squares, and its SD within ``sd_rel`` of the standard
    error."""
    X = np.column_stack([np.ones(200), data["x"]])
    beta, residual, *_ = np.linalg.lstsq(X, data["y"], rcond=None)
    se = np.sqrt(residual[0] / 198 * np.linalg.inv(X.T @ X)[1, 1])
    slope = idata.posterior["x"]
    assert abs(float(slope.mean()) - beta[1]) < 0.1 * se + 3 * se / np.sqrt(1000)
    assert float(slope.std()) == pytest.approx(se, rel=sd_rel)


def test_a_laplace_fit_of_a_regression_matches_least_squares_and_is_trusted(simple):
    model, _, data = simple
    with warnings.catch_warnings():
        warnings.simplefilter("error", bmm.BayesmmWarning)
        idata = model.fit(inference_method="laplace", draws=500, chains=2, random_seed=2)
    assert idata.attrs["inference_method"] == "laplace" and idata.attrs["laplace_converged"]
    assert idata.attrs["pareto_k"] < 0.5
    # With flat-ish default priors, the mode is near least squares, and the approximate
    # posterior SD of the slope near its standard error (0.07 here): within 10%.
    _matches_least_squares(idata, data, sd_rel=0.1)


def test_a_laplace_fit_of_a_funnel_warns(funnel):
    with pytest.warns(bmm.BayesmmWarning, match=r"The Laplace approximation is not trustworthy"):
        funnel.fit(inference_method="laplace", draws=500, chains=2, random_seed=2)


def test_a_pathfinder_fit_of_a_regression_matches_least_squares_and_is_trusted(simple):
    model, _, data = simple
    with warnings.catch_warnings():
        warnings.simplefilter("error", bmm.BayesmmWarning)
        idata = model.fit(
            inference_method="pathfinder", draws=500, chains=2, random_seed=3, progressbar=False
        )
    assert idata.attrs["inference_method"] == "pathfinder"
    assert idata.attrs["pathfinder_paths"] == 4 == idata.attrs["pathfinder_paths_succeeded"]
    assert idata.attrs["pareto_k"] < 0.7
    assert idata.posterior["x"].shape == (2, 500)
    # The slope's posterior is normal here; its SD within 15% of the standard error (about
    # 3 SEs of an SD estimated from 1,000 draws of a few distinct paths).
    _matches_least_squares(idata, data, sd_rel=0.15)
    rows = data.head(3)
    assert np.isfinite(model.fitted(idata).point(rows).to_numpy(dtype=float)).all()


def test_pathfinder_options_are_checked(simple):
    model, _, _ = simple
    with pytest.raises(bmm.DataError, match=r"num_paths must be an integer >= 1; got 0"):
        model.fit(inference_method="pathfinder", num_paths=0, progressbar=False)
    with pytest.raises(
        bmm.DataError, match=r"'pathfinder' does not take the option\(s\) \['steps'\]"
    ):
        model.fit(inference_method="pathfinder", steps=10)


@pytest.fixture(scope="module")
def logistic():
    """20,000 rows of a logistic regression, and its maximum-likelihood fit (statsmodels)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    data = pd.DataFrame({"x": rng.normal(size=20_000)})
    data["y"] = (rng.random(20_000) < 1 / (1 + np.exp(-(-0.3 + 0.6 * data["x"])))).astype(int)
    mle = sm.Logit(data["y"], sm.add_constant(data["x"])).fit(disp=0)
    return bmm.Model("y ~ x", data, family="bernoulli"), mle, data


def test_minibatch_advi_matches_maximum_likelihood_on_a_large_logistic_regression(logistic):
    model, mle, _ = logistic
    fit = lambda seed: model.fit(  # noqa: E731
        inference_method="vi",
        batch_size=1_000,
        steps=10_000,
        draws=500,
        chains=2,
        random_seed=seed,
        progressbar=False,
    )
    idata = fit(4)
    assert idata.attrs["vi_batch_size"] == 1_000 and idata.attrs["vi_learning_rate"] == 0.01
    # The draws are checked against all the rows: a normal posterior, a trusted k-hat.
    assert idata.attrs["pareto_k"] < 0.7
    # With 20,000 rows and weak priors the posterior is the likelihood's normal: the slope's
    # mean within half a standard error of the MLE (the averaged iterates of the stochastic
    # optimiser settle within a small fraction of it; the Monte-Carlo error of the mean of
    # 1,000 draws is 0.03 SE), its SD within 20% of the standard error.
    slope, se = idata.posterior["x"], float(mle.bse["x"])
    assert abs(float(slope.mean()) - float(mle.params["x"])) < 0.5 * se
    assert float(slope.std()) == pytest.approx(se, rel=0.2)
    # Reproducible: the minibatches follow the seed.
    again = fit(4)
    np.testing.assert_array_equal(again.posterior["x"].values, slope.values)


def test_minibatches_need_plain_rows(logistic):
    model, _, data = logistic
    weighted = bmm.Model("y ~ x", data.assign(w=1.0), family="bernoulli", weights="w")
    with pytest.raises(bmm.DataError, match=r"batch_size \(minibatch ADVI\) needs a response"):
        weighted.fit(inference_method="vi", batch_size=100, progressbar=False)
    with pytest.raises(bmm.DataError, match=r"learning_rate must be a positive number; got -1"):
        model.fit(inference_method="vi", learning_rate=-1, progressbar=False)


@pytest.mark.parametrize("method", ["vi", "pathfinder", "laplace"])
def test_every_approximation_saves_loads_and_serves(simple, method, tmp_path):
    from fastapi.testclient import TestClient

    from bayesmm.serve import create_app

    model, idata, data = simple
    if method != "vi":
        idata = model.fit(
            inference_method=method, draws=100, chains=2, random_seed=6, progressbar=False
        )
    path = model.save(tmp_path / f"{method}.nc", idata)
    loaded = bmm.load(path)
    assert loaded.idata.attrs["inference_method"] == method
    rows = data.head(3)
    expected = model.fitted(idata).point(rows)
    pd.testing.assert_frame_equal(loaded.point(rows), expected)
    body = {"rows": rows[["x"]].to_dict(orient="records"), "kind": "response_params"}
    got = TestClient(create_app(path)).post("/v1/predict/point", json=body)
    assert got.status_code == 200, got.text
    served = [r["value"] for r in got.json()["results"]]
    np.testing.assert_allclose(served, expected["mean"].to_numpy(), rtol=1e-12)
    # LOO of the training rows, in chunks, from the loaded file (its log-likelihood too).
    assert np.isfinite(loaded.loo(chunk_rows=64).elpd_loo)
