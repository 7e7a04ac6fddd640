"""Monotonic effects of ordered predictors: ``mo(x)``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from _recovery import interval_misses
from _served import assert_served_without_pymc

EFFECTS = np.array([0.0, 1.0, 1.5, 1.6, 3.0])  # of x = 0 .. 4: b = 0.75 per step
INCOME = ["low", "mid", "high", "top"]


def _simulate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, n)
    z = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "z": z, "y": 2.0 + EFFECTS[x] + 0.5 * z + rng.normal(0, 0.5, n)})
    codes = rng.integers(0, 4, n)
    frame["income"] = pd.Categorical(np.array(INCOME)[codes], categories=INCOME, ordered=True)
    return frame


@pytest.fixture(scope="module")
def data():
    return _simulate(120, 2)


def test_codes_and_steps_of_numbers_and_ordered_factors(data):
    model = bmm.Model("y ~ mo(x) + mo(income) + z", data)
    terms = {t.name: t for t in model.design.common_terms}
    assert terms["mo(x)"].steps == ("1", "2", "3", "4")
    assert terms["mo(income)"].steps == ("mid", "high", "top")
    codes = model.design.common[:, terms["mo(income)"].start]
    expected = data["income"].cat.codes.to_numpy()
    np.testing.assert_array_equal(codes, expected)
    pymc_model = model.backend.model
    assert list(pymc_model.coords["mo(income)_simplex_dim"]) == ["mid", "high", "top"]


def test_numpy_log_likelihood_matches_pymcs(data, stub_sampler):
    """The backend's b * D * cumsum(zeta)[code] and prediction's are one effect."""
    import pymc as pm

    model = bmm.Model("y ~ mo(x) + mo(income) + z", data, center_predictors=False)
    idata = model.fit(draws=10, chains=2, random_seed=4, progressbar=False)
    import arviz as az

    with model.backend.model:
        posterior = az.InferenceData(posterior=idata.posterior)
        theirs = pm.compute_log_likelihood(posterior, progressbar=False)
    ours = model.fitted(idata).log_likelihood(data, data["y"].to_numpy())
    expected = theirs.log_likelihood["y"].to_numpy().reshape(20, -1)
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("frame", "formula", "error", "match"),
    [
        (
            lambda d: d.assign(x=d["x"] + 0.5),
            "y ~ mo(x)",
            bmm.DataError,
            r"whole numbers.*fractions",
        ),
        (
            lambda d: d.assign(income=d["income"].astype(str)),
            "y ~ mo(income)",
            bmm.DataError,
            r"mo\(income\) needs an ordered factor or whole numbers.*ordered pandas Categorical",
        ),
        (
            lambda d: d.assign(income=d["income"].cat.as_unordered()),
            "y ~ mo(income)",
            bmm.DataError,
            r"Categorical without an order",
        ),
        (lambda d: d.assign(x=d["x"] > 2), "y ~ mo(x)", bmm.DataError, r"holds bool values"),
        (lambda d: d.assign(x=1), "y ~ mo(x)", bmm.DataError, r"at least two distinct values"),
        (lambda d: d, "y ~ mo(x):z", bmm.FormulaError, r"interacts a monotonic effect"),
        (lambda d: d, "y ~ z + (mo(x)|income)", bmm.FormulaError, r"common terms only"),
        (lambda d: d, "y ~ np.exp(mo(x))", bmm.FormulaError, r"not a monotonic effect of one"),
    ],
)
def test_bad_monotonic_terms_are_named(data, frame, formula, error, match):
    with pytest.raises(error, match=match):
        bmm.Model(formula, frame(data))


def test_unseen_values_of_new_rows_are_an_error(data, stub_sampler):
    model = bmm.Model("y ~ mo(x)", data)
    fitted = model.fitted(model.fit(draws=10, chains=2, random_seed=1, progressbar=False))
    with pytest.raises(bmm.DataError, match=r"mo\(\) got value\(s\) \['7'\].*\['0', '1'"):
        fitted.draws(pd.DataFrame({"x": [7]}))


def test_saved_model_predicts_and_serves_without_pymc(data, stub_sampler, tmp_path):
    model = bmm.Model("y ~ mo(x) + mo(income) + z", data)
    idata = model.fit(draws=20, chains=2, random_seed=3, progressbar=False)
    path = model.save(tmp_path / "mo.nc", idata)
    rows = [{"x": 0, "income": "low", "z": 0.0}, {"x": 4, "income": "top", "z": 1.0}]
    assert_served_without_pymc(model.fitted(idata), path, rows, tmp_path)


@pytest.fixture(scope="module")
def fits():
    data = _simulate(500, 9)
    options = {"draws": 500, "tune": 500, "chains": 2, "random_seed": 3, "progressbar": False}
    monotonic = bmm.Model("y ~ mo(x) + z", data).fit(**options)
    dummies = bmm.Model("y ~ C(x) + z", data).fit(**options)
    return data, monotonic, dummies


@pytest.mark.slow
def test_monotonic_effect_recovers_its_steps(fits):
    """Seven 90% intervals (b, the four shares, the intercept, z): two or more misses by
    chance has probability 15%, three or more 2.6%, so at most two may miss (fixed seed);
    every 99% interval must cover."""
    _, monotonic, _ = fits
    shares = np.diff(EFFECTS) / EFFECTS[-1]
    posterior = monotonic.posterior
    truth = {"Intercept": 2.0, "z": 0.5, "mo(x)": EFFECTS[-1] / 4}
    misses = interval_misses(posterior, truth)
    simplex = posterior["mo(x)_simplex"].to_numpy().reshape(-1, 4)
    for j, share in enumerate(shares):
        low, high = np.quantile(simplex[:, j], [0.005, 0.995])
        assert low < share < high, (j, share, low, high)
        low, high = np.quantile(simplex[:, j], [0.05, 0.95])
        misses += [] if low < share < high else [f"simplex[{j}]"]
    assert len(misses) <= 2, misses


@pytest.mark.slow
def test_monotonic_effect_agrees_with_dummy_coding_where_monotonicity_holds(fits):
    """Where the truth is monotonic (steps of 0.1 to 1.4, each many SEs wide) the order
    constraint never binds, so both fits estimate the same five means; they differ by their
    priors only (Dirichlet(1) against independent normals), a small fraction of a posterior
    SD with 100 rows per value. Each level's posterior mean agrees within 0.5 SD."""
    data, monotonic, dummies = fits
    grid = pd.DataFrame({"x": np.arange(5), "z": 0.0})
    ours = bmm.Model("y ~ mo(x) + z", data).fitted(monotonic).draws(grid)
    theirs = bmm.Model("y ~ C(x) + z", data).fitted(dummies).draws(grid)
    gap = np.abs(ours.mean(axis=0) - theirs.mean(axis=0))
    assert np.all(gap < 0.5 * theirs.std(axis=0)), (gap, theirs.std(axis=0))
    # And both recover the truth at each value (99% intervals).
    low, high = np.quantile(ours, [0.005, 0.995], axis=0)
    assert np.all((low < 2.0 + EFFECTS) & (high > 2.0 + EFFECTS))


def test_grids_take_whole_values_and_slopes_are_refused(data, stub_sampler):
    model = bmm.Model("y ~ mo(x) + z", data)
    fitted = model.fitted(model.fit(draws=10, chains=2, random_seed=1, progressbar=False))
    grid = bmm.interpret.data_grid(fitted, "x")
    assert list(grid["x"]) == [0, 1, 2, 3, 4]
    assert len(bmm.interpret.predictions(fitted, "x")) == 5
    with pytest.raises(
        bmm.DataError,
        match=r"enters the model as mo\(x\).*no slope; use comparisons\(\.\.\., contrast=",
    ):
        bmm.interpret.slopes(fitted, "x")


def test_a_numeric_range_of_too_many_steps_is_refused(data):
    with pytest.raises(bmm.DataError, match=r"300000 steps, more than 200"):
        bmm.Model("y ~ mo(x)", data.assign(x=data["x"] * 75_000))
