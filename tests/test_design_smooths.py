"""Penalised smooths ``s(x, k=...)`` and ``s(x, k=..., by=g)``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.interpolate import BSpline

import bayesmm as bmm
from _served import assert_served_without_pymc
from bayesmm.design.smooths import Smooth, _knots


def _wave(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 10, n))
    frame = pd.DataFrame({"x": x, "y": np.sin(x) + 0.3 * x + rng.normal(0, 0.4, n)})
    frame["g"] = np.where(rng.random(n) < 0.5, "a", "b")
    return frame


@pytest.fixture(scope="module")
def data():
    return _wave(150, 1)


def test_the_rewritten_basis_turns_the_penalty_into_a_sum_of_squares(data):
    """For any coefficients, the integral of the curve's squared second derivative (on x
    scaled to [0, 1]) is the sum of squares of the penalised ones times the scale squared,
    whatever the trend's; the curve sums to zero over the training rows; the trend is the
    centred, standardised x."""
    smooth = Smooth()
    columns = smooth(data["x"].to_numpy(), k=8)
    rewriting, scale = np.asarray(smooth.rewritings[0]), smooth.scales[0]
    assert columns.shape == (len(data), 7)
    np.testing.assert_allclose(columns.mean(axis=0), 0.0, atol=1e-12)
    x = data["x"].to_numpy()
    np.testing.assert_allclose(columns[:, 0], (x - x.mean()) / x.std(), atol=1e-10)
    rng = np.random.default_rng(3)
    for _ in range(3):
        a = rng.normal(size=7)
        second = BSpline(_knots(8), rewriting @ a, 3).derivative(2)
        value, _ = integrate.quad(lambda u, f=second: f(u) ** 2, 0, 1, limit=200)
        assert value == pytest.approx(np.sum(a[1:] ** 2) * scale**2, rel=1e-8)


def test_priors_posterior_names_and_print(data):
    model = bmm.Model("y ~ s(x, k=8)", data)
    text = repr(model)
    assert "s(x, k=8) ~ Normal(mu: 0.0" in text and "s(x, k=8)_sigma ~ HalfStudentT(nu: 3" in text
    custom = bmm.Model(
        "y ~ s(x, k=8)", data, priors={"s(x, k=8)_sigma": bmm.Prior("HalfNormal", sigma=1)}
    )
    assert custom.priors["s(x, k=8)_sigma"] == bmm.Prior("HalfNormal", sigma=1)
    pymc_model = custom.backend.model
    assert list(pymc_model.coords["s(x, k=8)_dim"]) == ["trend", *map(str, range(1, 7))]


def test_by_gives_each_level_its_own_smooth_and_sd(data, stub_sampler):
    model = bmm.Model("y ~ g + s(x, k=6, by=g)", data)
    term = model.design.common_terms[-1]
    assert term.penalised == ((1, 5), (6, 10))
    assert term.levels[:2] == ("a:trend", "a:1") and term.levels[5] == "b:trend"
    idata = model.fit(draws=10, chains=2, random_seed=1, progressbar=False)
    assert list(idata.posterior["s(x, k=6, by=g)_sigma"].coords.values())[-1].values.tolist() == [
        "a",
        "b",
    ]
    # A level's columns are zero on the other level's rows, and sum to zero on its own.
    columns = model.design.common[:, term.start : term.stop]
    a = (data["g"] == "a").to_numpy()
    assert np.all(columns[~a, :5] == 0) and np.allclose(columns[a, :5].mean(axis=0), 0)


@pytest.mark.parametrize(
    ("formula", "frame", "error", "match"),
    [
        ("y ~ s(g)", None, bmm.DataError, r"s\(g\) needs a numeric predictor; 'g' holds"),
        ("y ~ s(x, k=3)", None, bmm.DataError, r"k must be a whole number >= 4; got 3"),
        ("y ~ s(x, k=12)", "few", bmm.DataError, r"k=12 basis functions need at least 12 "),
        ("y ~ s(x, m=2)", None, bmm.FormulaError, r"unknown argument\(s\) \['m'\]"),
        ("y ~ s(x):g", None, bmm.FormulaError, r"interacts a smooth; write s\(x, by=g\)"),
        ("y ~ x + (s(x)|g)", None, bmm.FormulaError, r"smooths are common terms"),
        ("y ~ s(x, by=x)", None, bmm.DataError, r"by='x' must be a factor"),
    ],
)
def test_bad_smooths_are_named(data, formula, frame, error, match):
    rows = data.assign(x=np.round(data["x"])) if frame == "few" else data
    with pytest.raises(error, match=match):
        bmm.Model(formula, rows)


def test_new_rows_outside_the_range_or_levels_are_refused(data, stub_sampler):
    model = bmm.Model("y ~ g + s(x, k=6, by=g)", data)
    fitted = model.fitted(model.fit(draws=10, chains=2, random_seed=1, progressbar=False))
    known = r"s\(\) is known on \[0\.05.*, 9\.96.*\].*10% of that range.*got \[11\.0\] further"
    with pytest.raises(bmm.DataError, match=known):
        fitted.draws(pd.DataFrame({"x": [11.0], "g": ["a"]}))
    with pytest.raises(bmm.DataError, match=r"not seen at fit time"):
        fitted.draws(pd.DataFrame({"x": [5.0], "g": ["c"]}))


def test_saved_smooth_predicts_and_serves_without_pymc(data, stub_sampler, tmp_path):
    model = bmm.Model("y ~ g + s(x, k=6, by=g)", data)
    idata = model.fit(draws=20, chains=2, random_seed=3, progressbar=False)
    path = model.save(tmp_path / "smooth.nc", idata)
    rows = [{"x": 1.0, "g": "a"}, {"x": 5.0, "g": "b"}]
    assert_served_without_pymc(model.fitted(idata), path, rows, tmp_path)


@pytest.fixture(scope="module")
def wave_fit():
    data = _wave(300, 7)
    model = bmm.Model("y ~ s(x, k=20)", data)
    idata = model.fit(draws=1000, tune=1000, chains=2, random_seed=2, progressbar=False)
    return data, model, idata


@pytest.mark.slow
def test_smooth_agrees_with_scipys_smoothing_spline_at_the_posteriors_penalty(wave_fit):
    """scipy's ``make_smoothing_spline`` minimises RSS + lam * integral(f''^2). Given sigma
    and the smooth's sd, the posterior mode of the curve minimises the same with
    ``lam = sigma^2 w^3 / (scale^2 s^2)`` (``smooth_penalty_scale``). At the posterior
    medians of both, the posterior mean curve is within 0.5 posterior SD of scipy's at every
    grid point (with k = 20 the regression spline is close to the smoothing spline)."""
    from scipy.interpolate import make_smoothing_spline

    from bayesmm.design.smooths import smooth_penalty_scale

    data, model, idata = wave_fit
    term = list(model.design.state.common_matrix.terms.values())[1]
    lower, upper, scales = smooth_penalty_scale(term)
    sigma = float(idata.posterior["sigma"].median())
    sd = float(idata.posterior["s(x, k=20)_sigma"].median())
    lam = sigma**2 * (upper - lower) ** 3 / (scales[0] ** 2 * sd**2)
    reference = make_smoothing_spline(data["x"].to_numpy(), data["y"].to_numpy(), lam=lam)
    grid = np.linspace(lower, upper, 40)
    draws = model.fitted(idata).draws(pd.DataFrame({"x": grid}))
    gap = np.abs(draws.mean(axis=0) - reference(grid)) / draws.std(axis=0)
    assert gap.max() < 0.5, gap.max()


@pytest.mark.slow
def test_smooth_recovers_the_curve(wave_fit):
    """Pointwise intervals of a penalised smooth cover at about their nominal rate averaged
    over the curve (Nychka 1988), not at every point: the smoothing bias puts the misses at
    the peaks. So the true curve must lie in the 99% band at 95% of 40 grid points and in the
    90% band at 70% of them (0.78 and 1.0 at this seed), and sigma's 99% interval covers."""
    data, model, idata = wave_fit
    assert int(idata.sample_stats["diverging"].sum()) == 0
    grid = np.linspace(data["x"].min(), data["x"].max(), 40)
    truth = np.sin(grid) + 0.3 * grid
    draws = model.fitted(idata).draws(pd.DataFrame({"x": grid}))
    low, high = np.quantile(draws, [0.005, 0.995], axis=0)
    assert np.mean((low < truth) & (truth < high)) >= 0.95
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    assert np.mean((low < truth) & (truth < high)) >= 0.7
    low, high = np.quantile(idata.posterior["sigma"], [0.005, 0.995])
    assert low < 0.4 < high


def test_the_mle_rules_leave_a_smooths_trend_its_own_prior(data):
    model = bmm.Model("y ~ g + s(x, k=6, by=g)", data, automatic_priors="mle")
    trend = model.priors["s(x, k=6, by=g)"]
    assert np.shape(trend.params["sigma"]) == (2,)  # one per level's trend


def test_by_levels_are_checked_and_read_as_labels(data, stub_sampler):
    few = data.assign(x=np.where(data["g"] == "b", np.round(data["x"]), data["x"]))
    with pytest.raises(bmm.DataError, match=r"k=12 .* in each level of 'g'.*\['b'\]"):
        bmm.Model("y ~ g + s(x, k=12, by=g)", few)
    numbered = data.assign(h=np.where(data["g"] == "a", 1, 2))
    model = bmm.Model("y ~ h + s(x, k=5, by=h)", numbered)
    fitted = model.fitted(model.fit(draws=10, chains=2, random_seed=1, progressbar=False))
    # Levels given as floats (a grid's quartiles) are the same levels.
    fitted.draws(pd.DataFrame({"x": [2.0, 3.0], "h": [1.0, 2.0]}))


def test_interpretation_works_at_the_ends_of_the_range(data, stub_sampler):
    model = bmm.Model("y ~ s(x, k=6)", data)
    fitted = model.fitted(model.fit(draws=10, chains=2, random_seed=1, progressbar=False))
    slopes = bmm.interpret.slopes(fitted, "x")
    assert np.isfinite(slopes["estimate"]).all()
