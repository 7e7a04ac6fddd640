"""Imputed predictors: ``bmm.Formula("y ~ mi(x) + z", "x ~ z")``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm
from _recovery import interval_misses
from _served import assert_served_without_pymc

FORMULA = bmm.Formula("y ~ mi(x) + z", "x ~ z")
TRUTH = {
    "Intercept": 1.0,
    "mi(x)": 0.7,
    "z": 0.3,
    "sigma": 0.5,
    "x_Intercept": 0.5,
    "x_z": 0.8,
    "x_sigma": 0.3,
}


def _simulate(n: int, seed: int, share: float = 0.3) -> tuple[pd.DataFrame, np.ndarray]:
    """x missing at random (the chance of a row lacking it does not depend on x itself)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    x = TRUTH["x_Intercept"] + TRUTH["x_z"] * z + rng.normal(0, TRUTH["x_sigma"], n)
    y = TRUTH["Intercept"] + TRUTH["mi(x)"] * x + TRUTH["z"] * z + rng.normal(0, 0.5, n)
    observed = np.where(rng.random(n) < share, np.nan, x)
    return pd.DataFrame({"y": y, "x": observed, "z": z}), x


@pytest.fixture(scope="module")
def data():
    return _simulate(80, 1)[0]


def test_imputation_formulas_are_told_apart_from_distributional_ones():
    formula = bmm.Formula("y ~ mi(x) + z", "x ~ z", "sigma ~ z")
    assert formula.missing == ("x",)
    assert formula.imputation == {"x": "z"} and formula.distributional == {"sigma": "z"}
    with pytest.raises(bmm.FormulaError, match=r"mi\(x\) needs a model of 'x'.*'x ~ 1'"):
        _ = bmm.Formula("y ~ mi(x)").imputation
    with pytest.raises(bmm.FormulaError, match=r"'y' is the response"):
        _ = bmm.Formula("y ~ mi(y)", "y ~ 1").imputation


def test_rows_without_x_stay_and_hold_a_placeholder(data):
    model = bmm.Model(FORMULA, data)
    missing = data["x"].isna().to_numpy()
    assert model.design.n_obs == len(data)
    imputed = model.design.imputed[0]
    np.testing.assert_array_equal(imputed.missing, missing)
    column = model.design.common[:, 1]
    np.testing.assert_allclose(column[missing], data["x"].mean())
    assert [t.name for t in imputed.design.common_terms] == ["x_Intercept", "x_z"]
    text = repr(model)
    assert "target = x (imputed)" in text and "x_sigma ~ HalfStudentT(nu: 4" in text
    pymc_model = model.backend.model
    assert pymc_model["x_missing"].eval().shape == (missing.sum(),)


def test_the_model_density_is_both_regressions(data):
    """log p(y | x_full, z) + log p(x_observed | z) + log p(x_missing | z), with x_full the
    observed x and the imputed values, checked against scipy at one point."""
    model = bmm.Model(FORMULA, data, center_predictors=False)
    pymc_model = model.backend.model
    missing = data["x"].isna().to_numpy()
    x_missing = np.linspace(-1, 1, missing.sum())
    point = {
        "Intercept": 0.9,
        "mi(x)": 0.6,
        "z": 0.2,
        "sigma_log__": np.log(0.7),
        "x_Intercept": 0.4,
        "x_z": 0.9,
        "x_sigma_log__": np.log(0.5),
        "x_missing": x_missing,
    }
    start = pymc_model.initial_point()
    start.update({k: np.asarray(v) for k, v in point.items()})
    observed = pymc_model.compile_logp(vars=pymc_model.observed_RVs)(start)
    imputed = pymc_model.compile_logp(vars=[pymc_model["x_missing"]], jacobian=False)(start)
    x = data["x"].to_numpy().copy()
    x[missing] = x_missing
    z, y = data["z"].to_numpy(), data["y"].to_numpy()
    expected = stats.norm.logpdf(y, 0.9 + 0.6 * x + 0.2 * z, 0.7).sum()
    expected += stats.norm.logpdf(x, 0.4 + 0.9 * z, 0.5).sum()
    assert observed + imputed == pytest.approx(expected, rel=1e-10)


def test_predictions_use_the_imputed_values_and_impute_new_rows(data, stub_sampler):
    model = bmm.Model(FORMULA, data)
    idata = model.fit(draws=200, chains=2, random_seed=3, progressbar=False)
    fitted = model.fitted(idata)
    post = idata.posterior.stack(s=("chain", "draw"))
    x = np.tile(data["x"].to_numpy()[:, None], (1, 400))
    x[data["x"].isna().to_numpy()] = post["x_missing"].to_numpy()
    mu = post["Intercept"].to_numpy() + post["mi(x)"].to_numpy() * x
    mu += post["z"].to_numpy() * data["z"].to_numpy()[:, None]
    np.testing.assert_allclose(fitted.draws(), mu.T, rtol=1e-10)
    # New rows: x given, x null, x left out; a missing x adds its model's spread.
    new = pd.DataFrame({"x": [0.5, np.nan], "z": [0.0, 0.0]})
    draws = fitted.draws(new, random_seed=1)
    spread = post["mi(x)"].to_numpy() ** 2 * post["x_sigma"].to_numpy() ** 2
    assert draws[:, 1].var() > draws[:, 0].var() + 0.5 * spread.mean()
    np.testing.assert_array_equal(
        fitted.draws(new[["z"]].iloc[1:], random_seed=1), fitted.draws(new.iloc[1:], random_seed=1)
    )


def test_missing_values_elsewhere_are_still_errors(data):
    with pytest.raises(
        bmm.DataError, match=r"missing values in the columns the formula uses: \{'z'"
    ):
        bmm.Model(FORMULA, data.assign(z=data["z"].where(data.index != 2)))
    with pytest.raises(bmm.DataError, match=r"mi\(x\) imputes numbers.*'x' holds"):
        bmm.Model(FORMULA, data.assign(x=data["x"].astype(str)))
    with pytest.raises(bmm.FormulaError, match=r"not mi\(x\) of one column on its own"):
        bmm.Model(bmm.Formula("y ~ mi(x):z", "x ~ z"), data)


def test_saved_model_imputes_and_serves_without_pymc(data, stub_sampler, tmp_path):
    model = bmm.Model(FORMULA, data)
    idata = model.fit(draws=20, chains=2, random_seed=3, progressbar=False)
    fitted = model.fitted(idata)
    rows = [{"x": 0.5, "z": 0.0}, {"x": None, "z": 1.0}, {"z": 2.0}]  # x null, x left out
    for name, options in (("mi.nc", {}), ("slim.nc", {"posterior_only": True})):
        path = fitted.save(tmp_path / name, **options)
        assert_served_without_pymc(fitted, path, rows, tmp_path, floats=("x",))


@pytest.mark.slow
def test_imputation_recovers_the_slope_more_precisely_than_complete_cases():
    """30% of x missing at random, 400 rows. Seven 90% intervals: two or more misses by
    chance has probability 15%, three or more 2.6%, so at most two may miss; every 99%
    interval must cover (fixed seeds). The imputed fit uses the rows without x too, so its
    slope of x is narrower than the complete-case fit's: with x well predicted by z
    (x_sigma = 0.3 against a spread of 0.8 from z), those rows carry most of their
    information; the sds of 1,000 draws each have a Monte-Carlo error under 3%, and the
    posterior sd must be at least 5% smaller."""
    data, truth_x = _simulate(400, 11)
    options = {"draws": 500, "tune": 500, "chains": 2, "random_seed": 5, "progressbar": False}
    idata = bmm.Model(FORMULA, data).fit(**options)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    assert len(interval_misses(idata.posterior, TRUTH)) <= 2
    complete = bmm.Model("y ~ x + z", data.dropna()).fit(**options)
    imputed_sd = float(idata.posterior["mi(x)"].std())
    assert imputed_sd < 0.95 * float(complete.posterior["x"].std())
    # The imputed values track the truth: most of the hidden x in their 90% intervals.
    draws = idata.posterior["x_missing"].stack(s=("chain", "draw")).to_numpy()
    low, high = np.quantile(draws, [0.05, 0.95], axis=1)
    hidden = truth_x[data["x"].isna().to_numpy()]
    assert np.mean((low < hidden) & (hidden < high)) > 0.8


@pytest.mark.parametrize(
    ("formula", "error", "match"),
    [
        (bmm.Formula("y ~ mi(x) + z", "x ~ x + z"), bmm.FormulaError, r"uses 'x' itself"),
        (
            bmm.Formula("y ~ mi(x)", "x ~ z", "sigma ~ mi(x)"),
            bmm.FormulaError,
            r"mi\(\) is for the main formula",
        ),
        (
            bmm.Formula("y ~ mi(x) + np.log(x ** 2)", "x ~ z"),
            bmm.DataError,
            r"'np.log\(x \*\* 2\)' uses a column with missing values \('x'\)",
        ),
    ],
)
def test_misplaced_imputation_is_named(data, formula, error, match):
    with pytest.raises(error, match=match):
        bmm.Model(formula, data)


def test_mi_takes_a_column_name():
    with pytest.raises(bmm.FormulaError, match=r"mi\(\) takes one column name"):
        bmm.Formula("y ~ mi(np.log(x))", "x ~ z")


def test_imputation_models_may_have_group_terms_and_rebuild(data, stub_sampler):
    frame = data.assign(g=np.tile(["a", "b", "c", "d"], len(data) // 4))
    model = bmm.Model(bmm.Formula("y ~ mi(x) + z", "x ~ z + (1|g)"), frame)
    idata = model.fit(draws=10, chains=2, random_seed=1, progressbar=False)
    assert "x_1|g" in idata.posterior and "x_1|g_sigma" in idata.posterior
    fitted = model.fitted(idata)
    rebuilt = bmm.Model.from_fitted(fitted, frame)
    assert rebuilt.formula.imputation == {"x": "z + (1|g)"}
    with pytest.raises(bmm.DataError, match=r"batch_size .* fit this model without batch_size"):
        model.backend.batched(batch_size=20)


def test_interpretation_holds_the_imputed_values_fixed(data, stub_sampler):
    model = bmm.Model(FORMULA, data)
    fitted = model.fitted(model.fit(draws=30, chains=2, random_seed=1, progressbar=False))
    grid = bmm.interpret.data_grid(fitted, "z")
    assert np.isfinite(grid["x"]).all()
    # y is linear in z with x held: the +1 comparison over the observed rows is z's slope.
    table = bmm.interpret.comparisons(fitted, "z")
    slope = fitted.idata.posterior["z"].to_numpy().mean()
    assert table["estimate"].iloc[0] == pytest.approx(slope, rel=1e-8)
