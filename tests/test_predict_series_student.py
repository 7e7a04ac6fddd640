"""ar() and cosy() with a t (student) response: each series is one multivariate t, exact.
The graph's density against scipy's multivariate t, its gradient against finite
differences; prediction's conditionals (training rows, forecasts given observed rows, new
series, leave-one-out) against dense multivariate t conditionals; joint draws' covariance.
The draws are the stub sampler's (prior draws), so every draw is a different value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.tsa.arima_process import arma_acovf

import bayesmm as bmm

KINDS = ["ar(time=t, gr=g)", "ar(time=t, gr=g, p=2)", "cosy(time=t, gr=g)"]


def _panel(seed=1, lengths=(5, 6, 7, 8)):
    rng = np.random.default_rng(seed)
    rows = [(f"s{g}", t, rng.normal()) for g, n in enumerate(lengths) for t in range(n)]
    data = pd.DataFrame(rows, columns=["g", "t", "x"])
    data["y"] = 0.3 * data["x"] + rng.standard_t(5, len(data))
    return data.sample(frac=1, random_state=2).reset_index(drop=True)


def _correlation(kind, structure, n):
    """The series' correlation structure (the shape matrix over sigma^2)."""
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    if kind.startswith("cosy"):
        return np.where(lag == 0, 1.0, float(structure))
    phi = np.atleast_1d(structure)
    return arma_acovf(np.r_[1, -phi], [1], nobs=n)[lag]


def _joint_logpdf(data, kind, b0, b1, sigma, nu, structure):
    total = 0.0
    for _, part in data.groupby("g"):
        part = part.sort_values("t")
        e = part["y"].to_numpy() - b0 - b1 * part["x"].to_numpy()
        shape = sigma**2 * _correlation(kind, structure, len(e))
        total += scipy.stats.multivariate_t(np.zeros(len(e)), shape, df=nu).logpdf(e)
    return total


@pytest.mark.parametrize("kind", KINDS)
def test_the_graph_is_each_series_multivariate_t_and_its_gradient_is_right(kind):
    data = _panel()
    model = bmm.Model(f"y ~ x + {kind}", data, family="t").backend.model
    point = model.initial_point()
    point.update({"Intercept_centered": 0.1, "x": 0.3, "sigma_log__": 0.26, "nu_log__": 1.4})
    name = next(k for k in point if k.startswith(("ar", "cosy")))
    point[name] = np.full_like(point[name], 0.2 if kind.startswith("ar") else -1.0)
    names = ["Intercept", "x", "sigma", "nu", "ar" if kind.startswith("ar") else "cosy"]
    values = model.compile_fn(
        model.replace_rvs_by_values([model[n] for n in names]), inputs=model.value_vars
    )(point)
    logp = model.compile_logp(vars=[model["y"]])
    assert logp(point) == pytest.approx(_joint_logpdf(data, kind, *values), rel=1e-10)
    # The gradient against central differences (step 1e-6: error about 1e-9 relative).
    grad = model.compile_dlogp()(point)
    flat = np.concatenate([np.atleast_1d(point[v.name]).ravel() for v in model.value_vars])
    joint = model.compile_logp()
    sizes = [np.size(point[v.name]) for v in model.value_vars]

    def at(x):
        out, start = dict(point), 0
        for v, size in zip(model.value_vars, sizes, strict=True):
            out[v.name] = x[start : start + size].reshape(np.shape(point[v.name]))
            start += size
        return joint(out)

    for i in range(len(flat)):
        step = np.zeros_like(flat)
        step[i] = 1e-6
        numeric = (at(flat + step) - at(flat - step)) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


@pytest.fixture(scope="module", params=KINDS, ids=["ar1", "ar2", "cosy"])
def fitted(request):
    from conftest import prior_draws_everywhere

    model = bmm.Model(f"y ~ x + {request.param}", _panel(), family="t")
    with prior_draws_everywhere():
        idata = model.fit(draws=50, chains=2, random_seed=3, progressbar=False)
    return request.param, model.fitted(idata)


def _values(fitted, kind):
    posterior = fitted.idata.posterior.stack(s=("chain", "draw"))
    name = "ar" if kind.startswith("ar") else "cosy"
    structure = posterior[name].transpose("s", ...).to_numpy()
    return (
        posterior["Intercept"].to_numpy(),
        posterior["x"].to_numpy(),
        posterior["sigma"].to_numpy(),
        posterior["nu"].to_numpy(),
        structure,
    )


def test_training_rows_given_their_past_sum_to_the_joint_density(fitted):
    kind, fit = fitted
    data = fit.training_rows
    params = fit.parameters()
    y = data["y"].to_numpy()
    pointwise = scipy.stats.t.logpdf(y, params["nu"], params["mu"], params["sigma"])
    b0, b1, sigma, nu, structure = _values(fit, kind)
    for s in range(0, len(b0), 13):
        expected = _joint_logpdf(data, kind, b0[s], b1[s], sigma[s], nu[s], structure[s])
        assert pointwise[s].sum() == pytest.approx(expected, rel=1e-9)


def _conditional_t(e_past, shape, nu, past, future):
    """The multivariate t of ``future`` given ``past`` residuals (Kotz and Nadarajah)."""
    s11 = shape[np.ix_(past, past)]
    s21 = shape[np.ix_(future, past)]
    mean = s21 @ np.linalg.solve(s11, e_past)
    d = e_past @ np.linalg.solve(s11, e_past)
    given = shape[np.ix_(future, future)] - s21 @ np.linalg.solve(s11, s21.T)
    dof = nu + len(past)
    return mean, given * (nu + d) / dof, dof


def test_forecasts_given_observed_new_rows_sum_to_the_conditional_t(fitted):
    kind, fit = fitted
    data = fit.training_rows
    past = data[data["g"] == "s1"].sort_values("t")  # times 0..5
    new = pd.DataFrame({"g": ["s1", "s1", "zz", "zz"], "t": [6, 7, 0, 1], "x": [0.5, -1, 0, 2]})
    y = np.array([0.4, -0.7, 1.1, 0.2])
    got = fit.log_likelihood(new, y)
    b0, b1, sigma, nu, structure = _values(fit, kind)
    n = len(past)
    for s in range(0, len(b0), 17):
        e_past = past["y"].to_numpy() - b0[s] - b1[s] * past["x"].to_numpy()
        e_new = y - b0[s] - b1[s] * new["x"].to_numpy()
        shape = sigma[s] ** 2 * _correlation(kind, structure[s], n + 2)
        mean, scale, dof = _conditional_t(e_past, shape, nu[s], np.arange(n), [n, n + 1])
        expected = scipy.stats.multivariate_t(mean, scale, df=dof).logpdf(e_new[:2])
        assert got[s, :2].sum() == pytest.approx(expected, rel=1e-9)
        stationary = scipy.stats.multivariate_t(np.zeros(2), shape[:2, :2], df=nu[s])
        assert got[s, 2:].sum() == pytest.approx(stationary.logpdf(e_new[2:]), rel=1e-9)


def test_loo_is_each_row_given_the_rest_of_its_series(fitted):
    from bayesmm.predict.series import series_loo_density

    kind, fit = fitted
    rows = fit.training_rows
    draws = fit.posterior_draws
    e = rows["y"].to_numpy()[None, :] - fit.linear_predictors(rows)["mu"]
    density = series_loo_density(draws.series, fit.design.series, e, draws.aux["sigma"])
    _, _, sigma, nu, structure = _values(fit, kind)
    for s in range(0, e.shape[0], 29):
        for g in ("s0", "s3"):
            idx = np.flatnonzero(rows["g"].to_numpy() == g)
            idx = idx[np.argsort(rows["t"].to_numpy()[idx])]
            shape = sigma[s] ** 2 * _correlation(kind, structure[s], len(idx))
            for i in (0, len(idx) // 2, len(idx) - 1):
                others = [j for j in range(len(idx)) if j != i]
                mean, scale, dof = _conditional_t(e[s, idx[others]], shape, nu[s], others, [i])
                expected = scipy.stats.t.logpdf(e[s, idx[i]], dof, mean[0], np.sqrt(scale[0, 0]))
                assert density[s, idx[i]] == pytest.approx(expected, rel=1e-9)


def test_forecast_paths_are_multivariate_t():
    """Constant draws: the two-step forecast's draws have the conditional t's covariance,
    scale * dof / (dof - 2); 200,000 paths of a t with dof 9 put the sample covariance
    within about 1% (its sd), and 5% is five of them."""
    from bayesmm.design.autocorrelation import SeriesState, SeriesTerm
    from bayesmm.predict.series import SeriesDraws, series_params, series_response_draws

    n, phi, sigma, nu, distance, length = 200_000, 0.6, 1.5, 4.0, 7.0, 5
    term = SeriesTerm("ar", "t", "g", 1)
    state = SeriesState(term, ("a",), np.array([0]), np.array([length - 1]), np.array([length]))
    draws = SeriesDraws(
        "ar",
        np.full((n, 1), phi),
        np.full((n, 1, 1), 0.8),
        np.full((n, 1), nu),
        np.full((n, 1), distance),
    )
    from bayesmm.design.autocorrelation import NewSeries

    series = NewSeries(np.array([0, 0]), np.array(["a", "a"]), np.array([length, length + 1]))
    mu = np.zeros((n, 2))
    sig = np.full((n, 1), sigma)
    mean, sd, dof = series_params(draws, state, series, mu, sig)
    paths = series_response_draws(draws, state, series, mean, sig, np.random.default_rng(0))
    gaussian = sigma**2 * np.array([[1, phi], [phi, 1 + phi**2]])
    scale = gaussian * (nu + distance) / (nu + length)
    expected = scale * (nu + length) / (nu + length - 2)
    np.testing.assert_allclose(np.cov(paths.T), expected, rtol=0.05)
    np.testing.assert_allclose(paths.mean(axis=0), [0.8 * phi, 0.8 * phi**2], atol=0.02)
    np.testing.assert_allclose(dof[0], nu + length)
    np.testing.assert_allclose(sd[0], np.sqrt(np.diag(scale)), rtol=1e-12)


def test_the_file_keeps_what_t_forecasts_need(fitted, tmp_path):
    _, fit = fitted
    new = pd.DataFrame({"g": ["s0", "s0", "zz"], "t": [5, 6, 3], "x": [0.0, 1.0, 2.0]})
    fit.save(tmp_path / "t.nc", posterior_only=True)
    loaded = bmm.load(tmp_path / "t.nc")
    for what in ("response_params", "response"):
        np.testing.assert_array_equal(
            loaded.draws(new, kind=what, random_seed=4), fit.draws(new, kind=what, random_seed=4)
        )
    np.testing.assert_array_equal(loaded.parameters(new)["nu"], fit.parameters(new)["nu"])
