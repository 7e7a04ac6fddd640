"""Residual autocorrelation within series, ``ar()`` and ``cosy()``: reading the call, the
checks of the times, the exact likelihood against a dense multivariate normal (and its
gradient), forecasts, joint draws and the non-factorised leave-one-out density, each
against its closed form. The posterior against statsmodels is in the ``_slow`` module."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.tsa.arima_process import arma_acovf

import bayesmm as bmm
from bayesmm.design.autocorrelation import SeriesTerm, durbin_levinson, read_series, series_rows
from bayesmm.predict.series import SeriesDraws, series_loo_density


def _panel(lengths=(6, 1, 4, 9), seed=0, start=(0, 3, 0, 10)):
    """Series of the given lengths (one of a single row), rows shuffled."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame({"g": f"s{i}", "t": np.arange(n) + t0, "x": rng.normal(size=n)})
        for i, (n, t0) in enumerate(zip(lengths, start, strict=True))
    ]
    data = pd.concat(frames, ignore_index=True)
    data["y"] = 1 + 0.5 * data["x"] + rng.normal(size=len(data))
    return data.sample(frac=1, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize(
    ("formula", "kept", "term"),
    [
        ("y ~ x + ar(time=t, gr=g)", "y ~ x", SeriesTerm("ar", "t", "g", 1)),
        ("y ~ ar(t, g, 2) + x", "y ~ x", SeriesTerm("ar", "t", "g", 2)),
        ("y ~ ar(time=t, p=3)", "y ~ 1", SeriesTerm("ar", "t", None, 3)),
        ("y ~ x + cosy(time = t, gr = g) + (1|h)", "y ~ x + (1|h)", SeriesTerm("cosy", "t", "g")),
    ],
)
def test_the_call_is_read_and_removed(formula, kept, term):
    assert read_series(formula) == (kept, term)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x + ma(time=t, gr=g)", r"ma\(time=t, gr=g\): bayesmm fits .* ar\(\) and cosy\(\)"),
        ("y ~ unstr(time=t, gr=g)", r"unstr\(\) is not available yet"),
        ("y ~ ar(time=t) + cosy(time=t)", "has 2 residual structures; a formula takes one"),
        ("y ~ ar(time=t + 1)", r"time= must be a column name"),
        ("y ~ ar(time=t, p=0)", "p= must be a whole number of at least 1"),
        ("y ~ ar(time=t, p=1.5)", "p= must be a whole number of at least 1"),
        ("y ~ ar(gr=g)", "name the column of the times"),
        ("y ~ ar(time=t, lag=2)", r"takes the arguments \['time', 'gr', 'p'\]"),
    ],
)
def test_a_malformed_call_is_refused(formula, message):
    with pytest.raises(bmm.FormulaError, match=message):
        bmm.Model(formula, _panel())


def test_the_layout_follows_each_series_in_time_whatever_the_row_order():
    data = _panel()
    _, rows = series_rows(SeriesTerm("ar", "t", "g", 2), data)
    for i in range(len(data)):
        series, time = data.loc[i, "g"], data.loc[i, "t"]
        earlier = data[(data.g == series) & (data.t < time)]
        assert rows.position[i] == len(earlier)
        for k in (1, 2):
            if len(earlier) >= k:
                assert data.loc[rows.lags[i, k - 1], "t"] == time - k
                assert data.loc[rows.lags[i, k - 1], "g"] == series


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns="g"), r"ar\(time=t, gr=g, p=1\) names the column 'g'"),
        (lambda d: d.assign(t=d.t + 0.5), r"times 't' of ar\(time=t, gr=g, p=1\) must be whole"),
        (lambda d: d.assign(t=d.t.astype(str) + "d"), r"times 't' .* must be whole numbers"),
        (lambda d: pd.concat([d, d.iloc[[0]]]), r"has the time \d+ twice"),
        (lambda d: d[~((d.g == "s0") & (d.t == 2))], r"series 's0' has the time 3 with a gap"),
    ],
)
def test_bad_times_are_refused_naming_the_term_and_the_column(change, message):
    with pytest.raises(bmm.DataError, match=message):
        bmm.Model("y ~ x + ar(time=t, gr=g)", change(_panel()))


def test_cosy_takes_gaps_but_not_a_time_twice():
    gapped = _panel()[lambda d: ~((d.g == "s0") & (d.t == 2))]
    bmm.Model("y ~ x + cosy(time=t, gr=g)", gapped)
    with pytest.raises(bmm.DataError, match="series 's0' has the time 1 twice"):
        bmm.Model("y ~ x + cosy(time=t, gr=g)", pd.concat([gapped, gapped[gapped.t == 1]]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family": "cumulative"}, r"with family 'cumulative' only ar\(\) is available"),
        ({"sigma": "x"}, "cannot take distributional formulas"),
    ],
)
def test_families_and_formulas_beyond_the_exact_likelihood_are_refused(kwargs, message):
    data = _panel().assign(y=lambda d: (d.y > 1).astype(int))
    formula = "y ~ x + ar(time=t, gr=g)"
    if "sigma" in kwargs:
        formula = bmm.Formula(formula, f"sigma ~ {kwargs.pop('sigma')}")
    with pytest.raises(bmm.FormulaError, match=message):
        bmm.Model(formula, data, **kwargs)


def _dense_logp(data, mu, sigma, kind, params):
    """Each series' multivariate normal log density, summed."""
    total = 0.0
    for _, rows in data.groupby("g"):
        rows = rows.sort_values("t")
        n = len(rows)
        if kind == "ar":
            coefs = np.r_[1, -np.asarray(params)]
            acov = arma_acovf(coefs, np.r_[1.0], nobs=n, sigma2=sigma**2)
            lags = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
            cov = acov[lags]
        else:
            cov = sigma**2 * ((1 - params[0]) * np.eye(n) + params[0])
        total += scipy.stats.multivariate_normal(np.full(n, mu), cov).logpdf(rows["y"])
    return total


def _partial_of(phi):
    """Partial autocorrelations of an AR(2) with coefficients ``phi``."""
    r2 = phi[1]
    return [phi[0] / (1 - r2), r2]


@pytest.mark.parametrize(
    ("call", "kind", "params"),
    [
        ("ar(time=t, gr=g)", "ar", [0.6]),
        ("ar(time=t, gr=g)", "ar", [-0.35]),
        ("ar(time=t, gr=g, p=2)", "ar", [0.5, 0.3]),
        ("cosy(time=t, gr=g)", "cosy", [0.4]),
    ],
)
def test_the_likelihood_is_each_series_multivariate_normal(call, kind, params):
    """The model's log-likelihood at a point against scipy's multivariate normal with the
    series' AR(p) autocovariances (statsmodels' ``arma_acovf``) or compound symmetry, and its
    gradient against central differences of the model's own log density."""
    data = _panel()
    model = bmm.Model(f"y ~ 1 + {call}", data).backend.model
    point = model.initial_point()
    mu, sigma = 1.2, 0.8
    point["Intercept"] = np.array(mu)
    point["sigma_log__"] = np.array(np.log(sigma))
    if kind == "ar" and len(params) == 2:
        partial = np.asarray(_partial_of(params))
        point["ar_partial_interval__"] = np.log((1 + partial) / (1 - partial))
    elif kind == "ar":
        point["ar_interval__"] = np.array(np.log((1 + params[0]) / (1 - params[0])))
    else:
        point["cosy_interval__"] = np.array(np.log(params[0] / (1 - params[0])))
    likelihood = model.compile_logp(vars=[model["y"]], sum=True)
    assert likelihood(point) == pytest.approx(_dense_logp(data, mu, sigma, kind, params), rel=1e-10)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    names = [v.name for v in model.value_vars]
    gradient = dict(
        zip(
            names,
            np.split(dlogp(point), np.cumsum([point[n].size for n in names])[:-1]),
            strict=True,
        )
    )
    for name in names:
        for i in range(point[name].size):
            step = 1e-6
            up, down = {**point}, {**point}
            up[name] = point[name].astype(float).copy().reshape(-1)
            down[name] = up[name].copy()
            up[name][i] += step
            down[name][i] -= step
            up[name] = up[name].reshape(point[name].shape)
            down[name] = down[name].reshape(point[name].shape)
            numeric = (logp(up) - logp(down)) / (2 * step)
            assert gradient[name][i] == pytest.approx(numeric, rel=1e-5, abs=1e-6), name


def test_the_durbin_levinson_table_gives_the_ar_coefficients_and_variances():
    """Row p of the table is the AR(p) itself; each order's prediction variance is the
    stationary variance times prod (1 - r_k^2) over the orders up to it."""
    phi = np.array([0.5, 0.3])
    table, scales = durbin_levinson(_partial_of(phi))
    np.testing.assert_allclose(table[2], phi, rtol=1e-12)
    acov = arma_acovf(np.r_[1, -phi], np.r_[1.0], nobs=3, sigma2=1.0)
    np.testing.assert_allclose(scales[0], acov[0], rtol=1e-12)
    # Order 1: the best linear predictor from one lag is acov[1] / acov[0].
    np.testing.assert_allclose(table[1, 0], acov[1] / acov[0], rtol=1e-12)
    np.testing.assert_allclose(scales[1], acov[0] - acov[1] ** 2 / acov[0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["ar1", "ar2", "cosy"])
def test_the_leave_one_out_density_is_the_dense_conditional(kind):
    """Each row given every other row of its series, from the banded precision, against
    the conditional normal of the dense covariance (two draws, to 1e-8)."""
    data = _panel()
    term = SeriesTerm(
        "cosy" if kind == "cosy" else "ar", "t", "g", {"ar1": 1, "ar2": 2}.get(kind, 0)
    )
    _, rows = series_rows(term, data)
    params = {"ar1": [[0.6], [-0.3]], "ar2": [[0.5, 0.3], [0.2, -0.4]], "cosy": [[0.4], [0.1]]}[
        kind
    ]
    partial = np.array([_partial_of(p) if len(p) == 2 else p for p in params])
    draws = SeriesDraws(term.kind, partial, np.zeros((2, 4, max(term.lags, 1))))
    sigma = np.array([[0.8], [1.3]])
    mu = np.array([[1.0], [0.7]])
    e = data["y"].to_numpy()[None, :] - mu
    got = series_loo_density(draws, rows, e, sigma)
    for s in range(2):
        for _, series in data.groupby("g"):
            series = series.sort_values("t")
            index, n = series.index.to_numpy(), len(series)
            if kind == "cosy":
                cov = sigma[s, 0] ** 2 * ((1 - params[s][0]) * np.eye(n) + params[s][0])
            else:
                acov = arma_acovf(
                    np.r_[1, -np.asarray(params[s])], np.r_[1.0], nobs=n, sigma2=sigma[s, 0] ** 2
                )
                cov = acov[np.abs(np.subtract.outer(np.arange(n), np.arange(n)))]
            precision = np.linalg.inv(cov)
            values = e[s, index]
            mean = values - precision @ values / np.diag(precision)
            expected = scipy.stats.norm(mean, np.diag(precision) ** -0.5).logpdf(values)
            np.testing.assert_allclose(got[s, index], expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    ("formula", "options", "taken"),
    [
        ("y ~ x + ar(time=t, gr=g)", {"weights": "w"}, "weights"),
        ("censored(y, status) ~ x + ar(time=t, gr=g)", {}, "censoring"),
        ("trunc(y, lb=-10) ~ x + cosy(time=t, gr=g)", {}, "truncation"),
        ("se(y, s) ~ x + ar(time=t, gr=g)", {}, r"se\(\)"),
    ],
)
def test_what_the_joint_density_does_not_take_is_refused(formula, options, taken):
    data = _panel().assign(w=1.0, status="none", s=0.5)
    with pytest.raises(bmm.FormulaError, match=f"joint density, which takes no {taken}"):
        bmm.Model(formula, data, **options)
