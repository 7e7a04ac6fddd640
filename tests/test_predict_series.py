"""Prediction of ``ar()`` and ``cosy()`` models from posterior draws: forecasts of seen
series continue from their stored residuals, new series are stationary, draws are joint
within a series, and a series' pointwise log-likelihoods sum to its joint density. Each
check is against a closed form or a dense multivariate normal; the draws are the stub
sampler's (prior draws), so every draw is a different parameter value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from fastapi.testclient import TestClient
from statsmodels.tsa.arima_process import arma_acovf

import bayesmm as bmm
from bayesmm.backend.graph import build_model
from bayesmm.design.autocorrelation import SeriesState, SeriesTerm, durbin_levinson
from bayesmm.predict.series import SeriesDraws, series_params, series_response_draws
from bayesmm.serve import create_app
from bayesmm.workflow.folds import DEFAULT_K


def _panel(seed=0, series=4, length=8):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "g": np.repeat([f"s{i}" for i in range(series)], length),
            "t": np.tile(np.arange(length), series),
            "x": rng.normal(size=series * length),
        }
    )
    data["y"] = 1 + 0.5 * data["x"] + rng.normal(size=len(data))
    return data.sample(frac=1, random_state=seed).reset_index(drop=True)


@pytest.fixture
def ar1(stub_sampler):
    model = bmm.Model("y ~ x + ar(time=t, gr=g)", _panel())
    return model.fitted(model.fit(draws=100, chains=2, random_seed=2))


def _draws(fitted, name):
    return fitted.idata.posterior[name].stack(s=("chain", "draw")).transpose("s", ...).to_numpy()


def test_an_h_step_forecast_mean_is_the_mean_plus_ar_to_the_h_times_the_last_residual(ar1):
    """For every draw: x'b + ar^h e_T, to 1e-8; and the sd of an AR(1) h steps on,
    sigma sqrt((1 - ar^(2h)) / (1 - ar^2))."""
    new = pd.DataFrame({"g": ["s1"] * 3, "t": [8, 9, 12], "x": [0.3, -1.0, 2.0]})
    params = ar1.parameters(new)
    linear = ar1.linear_predictors(new)["mu"]
    phi, sigma = _draws(ar1, "ar"), _draws(ar1, "sigma")
    last = _draws(ar1, "series_residuals")[:, 1, 0]  # s1, lag 1
    for column, h in enumerate([1, 2, 5]):
        expected = linear[:, column] + phi**h * last
        np.testing.assert_allclose(params["mu"][:, column], expected, rtol=0, atol=1e-8)
        sd = sigma * np.sqrt((1 - phi ** (2 * h)) / (1 - phi**2))
        np.testing.assert_allclose(params["sigma"][:, column], sd, rtol=1e-10)


def test_the_stored_residuals_are_those_of_each_series_last_row(ar1):
    rows = ar1.training_rows
    mu = ar1.linear_predictors(rows)["mu"]
    last = (rows.t == 7).to_numpy()
    stored = _draws(ar1, "series_residuals")[:, :, 0]
    order = [f"s{i}" for i in range(4)]
    residuals = rows["y"].to_numpy()[last] - mu[:, last]
    by_series = residuals[:, np.argsort(rows.g[last].to_numpy())]
    assert list(ar1.design.state.series.labels) == order
    np.testing.assert_allclose(stored, by_series, rtol=1e-10)


def test_a_new_series_and_rows_without_the_times_are_stationary(ar1):
    phi, sigma = _draws(ar1, "ar"), _draws(ar1, "sigma")
    new = pd.DataFrame({"g": ["new", "new"], "t": [0, 1], "x": [0.0, 1.0]})
    params = ar1.parameters(new)
    stationary = sigma / np.sqrt(1 - phi**2)
    np.testing.assert_allclose(params["sigma"], np.c_[stationary, stationary], rtol=1e-10)
    np.testing.assert_allclose(params["mu"], ar1.linear_predictors(new)["mu"], rtol=1e-12)
    bare = ar1.parameters(pd.DataFrame({"x": [0.0]}))
    np.testing.assert_allclose(bare["sigma"][:, 0], stationary, rtol=1e-10)


def test_forecasts_inside_the_training_span_or_twice_are_refused(ar1):
    with pytest.raises(
        bmm.DataError, match=r"series 's0' was observed until time 7; .* got time 3"
    ):
        ar1.draws(pd.DataFrame({"g": ["s0"], "t": [3], "x": [0.0]}))
    with pytest.raises(bmm.DataError, match=r"series 's2' has a time twice .*\(\[9, 9\]\)"):
        ar1.draws(pd.DataFrame({"g": ["s2", "s2"], "t": [9, 9], "x": [0.0, 0.0]}))


def _constant_draws(kind, partial, n=40_000, residuals=(0.7, -0.2)):
    partial = np.broadcast_to(np.asarray(partial, dtype=float), (n, len(partial))).copy()
    stored = np.broadcast_to(np.asarray(residuals, dtype=float), (n, 1, len(residuals)))
    return SeriesDraws(kind, partial, stored.copy())


@pytest.mark.parametrize(
    ("kind", "partial", "lags"),
    [("ar", [0.6], 1), ("ar", [0.5 / 0.7, 0.3], 2), ("cosy", [0.4], 1)],
)
def test_draws_are_joint_within_a_series(kind, partial, lags):
    """Draws of a seen series' next three times (with a skipped time) and of a new series'
    two rows: their covariance against the dense conditional covariance, each entry within
    4 Monte-Carlo standard errors (sqrt((s_ii s_jj + s_ij^2) / n)); 10 entries, so a false
    alarm is about 6e-4."""
    sigma, n = 0.9, 40_000
    history = (0.7, -0.2)[:lags] if kind == "ar" else (1.1,)
    term = SeriesTerm(kind, "t", "g", lags if kind == "ar" else 0)
    length = 5
    state = SeriesState(term, ("a",), np.array([0]), np.array([4]), np.array([length]))
    draws = _constant_draws(kind, partial, n, history)
    from bayesmm.design.autocorrelation import NewSeries

    series = NewSeries(
        np.array([0, 0, 0, -1, -1]),
        np.array(["a", "a", "a", "b", "b"], dtype=object),
        np.array([5, 6, 8, 0, 1]),
    )
    mu = np.zeros((n, 5))
    sd_in = np.full((n, 1), sigma)
    mean, sd, _ = series_params(draws, state, series, mu, sd_in)
    got = series_response_draws(draws, state, series, mean, sd_in, np.random.default_rng(1))
    expected = _dense_conditional(kind, partial, sigma, history, length)
    emp = np.cov(got.T)
    for block, cov in ((slice(0, 3), expected[0]), (slice(3, 5), expected[1])):
        sub = emp[block, block]
        se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
        assert np.all(np.abs(sub - cov) < 4 * se), (sub, cov)
        np.testing.assert_allclose(sd[0, block] ** 2, np.diag(cov), rtol=1e-10)
    assert abs(emp[0, 3]) < 4 * np.sqrt(expected[0][0, 0] * expected[1][0, 0] / n)


def _joint_cov(kind, partial, sigma, n):
    if kind == "cosy":
        return sigma**2 * ((1 - partial[0]) * np.eye(n) + partial[0])
    table, _ = durbin_levinson(list(np.asarray(partial)))
    phi = table[-1]
    acov = arma_acovf(np.r_[1, -phi], np.r_[1.0], nobs=n, sigma2=sigma**2)
    return acov[np.abs(np.subtract.outer(np.arange(n), np.arange(n)))]


def _dense_conditional(kind, partial, sigma, history, length):
    """The covariance of a seen series' rows at times 5, 6 and 8 given its 5 training
    values (the last residuals ``history``; for cosy, their sum), and of a new series' two
    consecutive rows."""
    cov = _joint_cov(kind, partial, sigma, length + 4)
    seen, future = np.arange(length), np.array([5, 6, 8])
    if kind == "ar":  # only the last p values matter: condition on those
        seen = np.arange(length - len(history), length)
    elif kind == "cosy":  # only the sum matters: condition on it
        ones = np.ones(length)
        a = ones @ cov[:length, :length] @ ones
        b = cov[future][:, :length] @ ones
        return cov[np.ix_(future, future)] - np.outer(b, b) / a, _joint_cov(kind, partial, sigma, 2)
    s11 = cov[np.ix_(seen, seen)]
    s21 = cov[np.ix_(future, seen)]
    given = cov[np.ix_(future, future)] - s21 @ np.linalg.solve(s11, s21.T)
    return given, _joint_cov(kind, partial, sigma, 2)


def test_a_series_log_likelihoods_sum_to_its_joint_density(ar1):
    """A new series' rows and a seen series' forecasts: the sum of the rows' pointwise
    log-likelihood equals the multivariate normal log density of the rows (new: stationary;
    seen: given the last residual), for every draw."""
    new = pd.DataFrame(
        {"g": ["s3", "s3", "s3", "b", "b"], "t": [8, 9, 11, 4, 5], "x": [0.1, 0.2, -0.3, 1, 0]}
    )
    y = np.array([1.3, 0.2, 2.0, -0.5, 0.8])
    got = ar1.log_likelihood(new, y)
    linear = ar1.linear_predictors(new)["mu"]
    phi, sigma = _draws(ar1, "ar"), _draws(ar1, "sigma")
    last = _draws(ar1, "series_residuals")[:, 3, 0]
    for s in range(0, len(phi), 37):
        cov = _joint_cov("ar", [phi[s]], sigma[s], 12)
        # s3: times 8, 9, 11 after the last training time 7 (index 0 here), given e_7.
        idx = np.array([1, 2, 4])
        mean = phi[s] ** idx * last[s]
        given = cov[np.ix_(idx, idx)] - np.outer(cov[idx, 0], cov[0, idx]) / cov[0, 0]
        e = y[:3] - linear[s, :3]
        expected = scipy.stats.multivariate_normal(mean, given).logpdf(e)
        assert got[s, :3].sum() == pytest.approx(expected, rel=1e-9)
        e_new = y[3:] - linear[s, 3:]
        expected_new = scipy.stats.multivariate_normal(np.zeros(2), cov[:2, :2]).logpdf(e_new)
        assert got[s, 3:].sum() == pytest.approx(expected_new, rel=1e-9)


def test_the_file_keeps_the_series_so_forecasts_need_no_rows(ar1, tmp_path):
    new = pd.DataFrame({"g": ["s0", "s0", "zz"], "t": [8, 10, 3], "x": [0.0, 1.0, 2.0]})
    path = tmp_path / "ar.nc"
    ar1.save(path, posterior_only=True)
    loaded = bmm.load(path)
    assert loaded.design.state.series.labels == ar1.design.state.series.labels
    for kind in ("response_params", "response"):
        np.testing.assert_array_equal(
            loaded.draws(new, kind=kind, random_seed=4), ar1.draws(new, kind=kind, random_seed=4)
        )
    with pytest.raises(bmm.DataError, match="without its training rows"):
        loaded.loo()


def test_loo_scores_each_row_given_the_rest_of_its_series(ar1):
    """loo() is PSIS of each row's density given the rest of its series, in the rows' own
    order, however the chunks cut the series (7 rows a chunk, series of 8)."""
    import arviz as az
    from scipy.special import logsumexp

    from bayesmm.predict.loo import relative_efficiency
    from bayesmm.predict.series import series_loo_density

    rows = ar1.training_rows
    draws = ar1.posterior_draws
    e = rows["y"].to_numpy()[None, :] - ar1.linear_predictors(rows)["mu"]
    density = series_loo_density(draws.series, ar1.design.series, e, draws.aux["sigma"])
    log_weights, k = az.psislw(-density.T.copy(), relative_efficiency(ar1.idata.posterior))
    expected = logsumexp(log_weights + density.T, axis=1)
    result = ar1.loo(chunk_rows=7)
    np.testing.assert_allclose(result["loo_i"].values, expected, rtol=1e-10)
    np.testing.assert_allclose(result["pareto_k"].values, k, rtol=1e-10)
    assert result.n_data_points == 32


def test_sufficient_statistics_say_why_they_do_not_apply(stub_sampler):
    model = bmm.Model("y ~ x + ar(time=t, gr=g)", _panel())
    with pytest.raises(bmm.DataError, match=r"ar\(time=t, gr=g, p=1\) makes a series' rows depend"):
        model.fit(draws=5, chains=1, sufficient_statistics=True)
    with pytest.raises(bmm.DataError, match=r"batch_size .* makes a series' rows depend"):
        build_model(model.design, model.family, model.link, model.priors, batch_size=10)


def test_kfold_leaves_whole_series_out_by_default(stub_sampler):
    model = bmm.Model("y ~ x + cosy(time=t, gr=g)", _panel(series=12, length=4))
    result = bmm.kfold(model, random_seed=1, draws=20, chains=1)
    rows = model.fitted(result.fits.full.idata).training_rows
    by_series = pd.Series(result.folds).groupby(rows.g.to_numpy()).nunique()
    assert (by_series == 1).all() and len(np.unique(result.folds)) == min(DEFAULT_K, 12)
    one = bmm.Model("y ~ x + ar(time=t)", _panel(series=1, length=10))
    with pytest.raises(bmm.DataError, match="kfold leaves whole series .* this model has one"):
        bmm.kfold(one, random_seed=1, draws=20, chains=1)


def test_the_server_forecasts_the_example_row(ar1, tmp_path):
    path = tmp_path / "ar.nc"
    ar1.save(path)
    client = TestClient(create_app(str(path)))
    schema = client.get("/openapi.json").json()
    text = str(schema)
    assert "'t': 8" in text and "'g': 's0'" in text
    row = {"x": 0.5, "g": "s0", "t": 9}
    answer = client.post("/v1/predict/point", json={"rows": [row]})
    assert answer.status_code == 200, answer.text
    expected = ar1.point(pd.DataFrame([row]))
    assert answer.json()["results"][0]["value"] == pytest.approx(float(np.ravel(expected)[0]))
    inside = client.post("/v1/predict/point", json={"rows": [{**row, "t": 2}]})
    assert inside.status_code == 422 and "observed until time 7" in inside.text


def test_a_refit_on_other_series_has_the_same_structure():
    """The layout of the series (lags, positions, the rows' order) enters the graph as data,
    so a model of other rows of the same shape, in another order, reuses the compiled
    sampler."""
    from bayesmm.backend.programs import structure_key

    for call in ("ar(time=t, gr=g, p=2)", "cosy(time=t, gr=g)"):
        first = bmm.Model(f"y ~ x + {call}", _panel(seed=1)).backend.model
        second = bmm.Model(f"y ~ x + {call}", _panel(seed=2)).backend.model
        assert structure_key(first) == structure_key(second)


def test_interpret_predicts_over_a_grid_without_the_series(ar1):
    """A data grid has no times or series: its rows are predicted from the stationary
    distribution, whose mean is the linear predictor's."""
    table = bmm.interpret.predictions(ar1, conditional="x")
    grid = pd.DataFrame({"x": table["x"].to_numpy()})
    expected = ar1.linear_predictors(grid)["mu"].mean(axis=0)
    np.testing.assert_allclose(table["estimate"].to_numpy(), expected, rtol=1e-10)
