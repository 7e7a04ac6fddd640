"""bayesmm.interpret against direct numpy computation on the posterior draws (stub sampler:
prior draws stand in for a posterior, which is all that a computation check needs), plots,
bad input, and a loaded model without pymc. The comparison with marginaleffects, on real
posteriors, is in test_interpret_slow.py."""

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import bayesmm as bmm
from bayesmm import interpret

matplotlib.use("Agg")

import matplotlib.pyplot as plt

FIT = {"draws": 100, "tune": 0, "chains": 2, "random_seed": 1}


@pytest.fixture
def sleep(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    return model, model.fitted(model.fit(**FIT))


@pytest.fixture
def bacteria_fit(bacteria, stub_sampler):
    model = bmm.Model("y['y'] ~ trt + week + (1|ID)", bacteria, family="bernoulli")
    return model, model.fitted(model.fit(**FIT))


def _draws(fitted, name):
    return fitted.idata.posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...)


def _by_hand(fitted, days, subject):
    """mu of sleepstudy's model for (days, subject), one value per draw."""
    a, b = _draws(fitted, "Intercept").values, _draws(fitted, "Days").values
    u = _draws(fitted, "1|Subject").sel(Subject__factor_dim=subject).values
    v = _draws(fitted, "Days|Subject").sel(Subject__factor_dim=subject).values
    return a + u + (b + v) * days


def test_predictions_on_a_grid_are_the_posterior_of_the_linear_predictor(sleep):
    model, fitted = sleep
    table, draws = interpret.predictions(
        fitted, {"Days": [0, 4.5], "Subject": ["308", "372"]}, prob=0.8, return_draws=True
    )
    assert list(table.columns) == ["Days", "Subject", "group_effects", "estimate", "lower", "upper"]
    for i, row in table.iterrows():
        expected = _by_hand(fitted, row["Days"], row["Subject"])
        np.testing.assert_allclose(draws[:, i], expected, rtol=1e-12)
        assert row["estimate"] == pytest.approx(expected.mean(), rel=1e-12)
    assert (table["group_effects"] == "fitted levels").all()
    assert (table["lower"] < table["estimate"]).all() and (table["estimate"] < table["upper"]).all()
    # The same through the Model and its InferenceData, and through a data grid of defaults.
    again = interpret.predictions(
        model, fitted.idata, {"Days": [0, 4.5], "Subject": ["308", "372"]}, prob=0.8
    )
    pd.testing.assert_frame_equal(table, again)
    grid = interpret.data_grid(fitted, "Days")
    assert len(grid) == 50 and grid["Days"].min() == 0 and grid["Days"].max() == 9
    assert grid["Subject"].nunique() == 1  # the most common level stands for the others


def test_group_effects_follow_the_prediction_policies(sleep):
    _model, fitted = sleep
    rows = {"Days": [3], "Subject": ["new"]}
    population = interpret.predictions(fitted, rows, include_group_specific=False)
    a, b = _draws(fitted, "Intercept").values, _draws(fitted, "Days").values
    assert population["estimate"][0] == pytest.approx((a + 3 * b).mean())
    assert population["group_effects"][0] == "population"
    with pytest.raises(bmm.DataError, match=r"not seen at fit time. Pass sample_new_groups="):
        interpret.predictions(fitted, rows)
    gaussian = interpret.predictions(fitted, rows, sample_new_groups="gaussian", random_seed=4)
    direct = fitted.draws(pd.DataFrame(rows), sample_new_groups="gaussian", random_seed=4)
    assert gaussian["estimate"][0] == pytest.approx(direct.mean())
    assert gaussian["group_effects"][0] == "new levels (gaussian)"


def test_averages_over_the_observed_rows_within_groups(sleep, sleepstudy):
    _model, fitted = sleep
    table = interpret.predictions(fitted, average_by="Subject")
    mu = fitted.draws()
    subjects = sleepstudy["Subject"].astype(str).to_numpy()
    for _, row in table.iterrows():
        expected = mu[:, subjects == str(row["Subject"])].mean(axis=1)
        assert row["estimate"] == pytest.approx(expected.mean())
    overall = interpret.predictions(fitted, average_by=True)
    assert overall["estimate"][0] == pytest.approx(mu.mean())


def test_comparisons_and_slopes_by_hand(sleep):
    _model, fitted = sleep
    b = _draws(fitted, "Days").values
    v = _draws(fitted, "Days|Subject").values  # (draws, subjects)
    average_slope = (b[:, None] + v).mean(axis=1)
    # Observed rows are 10 per subject, so the average of per-row slopes is this.
    step = interpret.comparisons(fitted, {"Days": 1}, average_by=True)
    assert step["term"][0] == "Days" and step["contrast"][0] == "+1"
    assert step["estimate"][0] == pytest.approx(average_slope.mean(), rel=1e-9)
    slope = interpret.slopes(fitted, "Days", average_by=True)
    assert slope["estimate"][0] == pytest.approx(average_slope.mean(), rel=1e-6)
    # Two values on a grid: the difference of the two predictions, draw by draw.
    _table, draws = interpret.comparisons(
        fitted, {"Days": [2, 7]}, conditional={"Subject": ["309"]}, return_draws=True
    )
    expected = _by_hand(fitted, 7, "309") - _by_hand(fitted, 2, "309")
    np.testing.assert_allclose(draws[:, 0], expected, rtol=1e-9)
    ratio = interpret.comparisons(
        fitted, {"Days": [2, 7]}, conditional={"Subject": ["309"]}, comparison="ratio"
    )
    assert ratio["estimate"][0] == pytest.approx(
        (_by_hand(fitted, 7, "309") / _by_hand(fitted, 2, "309")).mean()
    )
    # An elasticity: dy/dx * x / y at x = 5.
    eyex = interpret.slopes(
        fitted, "Days", conditional={"Days": [5], "Subject": ["309"]}, slope="eyex"
    )
    y = _by_hand(fitted, 5, "309")
    slope_309 = b + _draws(fitted, "Days|Subject").sel(Subject__factor_dim="309").values
    assert eyex["estimate"][0] == pytest.approx((slope_309 * 5 / y).mean(), rel=1e-5)


def test_a_logistic_models_comparisons_are_on_the_probability_scale(bacteria_fit, bacteria):
    model, fitted = bacteria_fit
    table = interpret.comparisons(fitted, "trt", average_by=True)
    assert list(table["contrast"]) == ["drug - placebo", "drug+ - placebo"]
    eta = fitted.linear_predictors()["p"]
    names = {t.name: t for t in model.design.common_terms}
    drug = _draws(fitted, "trt").sel(trt_dim="drug").values
    # The design's own treatment columns: moving every row to placebo removes them.
    x = model.design.common[:, names["trt"].start : names["trt"].stop]
    columns = list(
        model.design.common_terms[[t.name for t in model.design.common_terms].index("trt")].levels
    )
    coef = np.stack([_draws(fitted, "trt").sel(trt_dim=c).values for c in columns], axis=1)
    placebo = eta - coef @ x.T
    expected = (expit(placebo + drug[:, None]) - expit(placebo)).mean(axis=1)
    assert table["estimate"][0] == pytest.approx(expected.mean(), rel=1e-9)
    log_odds = interpret.predictions(fitted, average_by=True, scale="link")
    assert log_odds["estimate"][0] == pytest.approx(eta.mean(axis=1).mean())


def test_hypotheses_give_the_share_of_draws(sleep):
    _model, fitted = sleep
    days = _draws(fitted, "Days").values
    table = interpret.hypothesis(
        fitted, ["Days > 5", "Intercept + 3 * Days > 280", "`1|Subject_sigma` < 40"]
    )
    assert table["probability"][0] == pytest.approx((days > 5).mean())
    p = (_draws(fitted, "Intercept").values + 3 * days > 280).mean()
    assert table["probability"][1] == pytest.approx(p)
    assert table["evidence_ratio"][1] == pytest.approx(p / (1 - p))
    assert table["estimate"][0] == pytest.approx(days.mean() - 5)
    element = interpret.hypothesis(fitted, "`1|Subject`[308] > 0")
    u = _draws(fitted, "1|Subject").sel(Subject__factor_dim="308").values
    assert element["probability"][0] == pytest.approx((u > 0).mean())
    # Over the rows of a table of predictions.
    rows = interpret.predictions(fitted, {"Days": [0, 9], "Subject": ["308"]}, return_draws=True)
    on_rows = interpret.hypothesis(rows, "b2 - b1 > 50")
    assert on_rows["probability"][0] == pytest.approx((rows[1][:, 1] - rows[1][:, 0] > 50).mean())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda f: interpret.predictions(f, "Dayz"),
            r"conditional names 'Dayz', which is not a predictor.*Did you mean 'Days'",
        ),
        (
            lambda f: interpret.slopes(f, "Subject"),
            r"wrt must be the name of a numeric predictor; got 'Subject', which is categorical",
        ),
        (
            lambda f: interpret.slopes(f, "Weeks"),
            r"wrt must be the name of a numeric predictor of the model, one of \['Days', 'Subject'\]; got 'Weeks'",
        ),
        (
            lambda f: interpret.comparisons(f, {"Days": "pairwise"}),
            r"contrast\['Days'\] is 'pairwise', but 'Days' is numeric: give two or more values",
        ),
        (
            lambda f: interpret.comparisons(f, "Days", comparison="quotient"),
            r"comparison must be one of",
        ),
        (
            lambda f: interpret.predictions(f, target="nu"),
            r"target must be one of \['mean', 'mu', 'sigma'\]; got 'nu'",
        ),
        (lambda f: interpret.hypothesis(f, "Days >> 5"), r"'Days >> 5'|is not an expression"),
        (lambda f: interpret.hypothesis(f, "Days"), r"must compare two expressions with one of"),
        (
            lambda f: interpret.hypothesis(f, "__import__('os') > 0"),
            r"is not allowed; expressions may use names",
        ),
        (
            lambda f: interpret.hypothesis(f, "Dais > 5"),
            r"names 'Dais', which is not a variable of the posterior.*Did you mean 'Days'",
        ),
        (
            lambda f: interpret.predictions(f, "Days", average_by=True),
            r"give conditional .* or average_by .* not both",
        ),
        (lambda f: interpret.predictions(f, average_by="Weeks"), r"average_by names \['Weeks'\]"),
        (
            lambda f: interpret.plot_group_effects(f, "1|Subjekt"),
            r"term must be a group term of the model",
        ),
    ],
)
def test_bad_input_names_the_argument(sleep, call, match):
    with pytest.raises(bmm.DataError, match=match):
        call(sleep[1])


def test_a_contrast_outside_the_levels_is_named(bacteria_fit):
    with pytest.raises(bmm.DataError, match=r"contrast\['trt'\] has the value\(s\) \['aspirin'\]"):
        interpret.comparisons(bacteria_fit[1], {"trt": ["placebo", "aspirin"]})


def test_a_numeric_x_is_a_line_with_its_interval_as_a_ribbon(sleep):
    _model, fitted = sleep
    fig, ax = interpret.plot_predictions(fitted, ["Days", "Subject"], show_data=True)
    table = interpret.predictions(fitted, ["Days", "Subject"])
    subjects = table["Subject"].nunique()
    assert len(ax.get_lines()) == subjects
    assert ax.get_xlabel() == "Days" and ax.get_ylabel() == "mu of Reaction"
    assert ax.get_legend().get_title().get_text() == "Subject"
    # The first ribbon spans the first subject's interval.
    first = table[table["Subject"] == table["Subject"].iloc[0]].sort_values("Days")
    ribbon = ax.collections[0].get_paths()[0].vertices
    assert ribbon[:, 1].min() == pytest.approx(first["lower"].min())
    assert ribbon[:, 1].max() == pytest.approx(first["upper"].max())
    # A ribbon and the observed points of each subject, in its colour.
    assert len(ax.collections) == 2 * subjects
    assert len(ax.collections[1].get_offsets()) == 10
    plt.close(fig)


def test_a_categorical_x_is_points_with_bars_in_panels(bacteria_fit):
    model, fitted = bacteria_fit
    fig, axes = interpret.plot_predictions(
        fitted, {"trt": None, "week": [0, 11], "ID": ["X01", "X02"]}
    )
    assert len(axes) == 2  # one panel per ID
    assert [a.get_title() for a in axes] == ["ID = X01", "ID = X02"]
    first = axes[0]
    assert [t.get_text() for t in first.get_xticklabels()] == ["placebo", "drug", "drug+"]
    containers = first.containers  # one errorbar series per week, 3 points each
    assert len(containers) == 2 and all(len(c.lines[0].get_xdata()) == 3 for c in containers)
    assert first.get_ylabel() == "p of y"
    plt.close(fig)
    fig, ax = interpret.plot_comparisons(fitted, "trt", conditional="week")
    assert len(ax.get_lines()) == 2  # one line per contrast, in colour
    plt.close(fig)
    fig, ax = interpret.plot_slopes(fitted, "week", conditional="trt")
    assert ax.get_ylabel().startswith("dydx by week")
    plt.close(fig)
    fig, ax = interpret.plot_group_effects(fitted, "1|ID")
    assert len(ax.get_yticklabels()) == len(model.design.group_terms[0].levels)
    plt.close(fig)


def test_a_family_of_categories_gets_one_row_per_category(stub_sampler):
    model = bmm.Model("rating ~ temp + contact", bmm.load_data("wine"), family="cumulative")
    fitted = model.fitted(model.fit(**FIT))
    table = interpret.predictions(fitted, "temp")
    assert list(table["category"].unique()) == ["1", "2", "3", "4", "5"]
    sums = table.groupby("temp", observed=True)["estimate"].sum()
    np.testing.assert_allclose(sums, 1.0)


def _counts_data(n=60):
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"x": rng.normal(size=n), "n": rng.integers(5, 20, n)})
    data["t"] = rng.uniform(1, 5, n)
    data["y"] = rng.binomial(data["n"], 0.4)
    data["c"] = rng.poisson(data["t"])
    return data


def test_a_binomial_grid_carries_its_trials_for_predictive_draws(stub_sampler):
    data = _counts_data()
    model = bmm.Model("p(y, n) ~ x", data, family="binomial")
    fitted = model.fitted(model.fit(**FIT))
    grid = interpret.data_grid(fitted, {"x": [0, 1]})
    assert list(grid.columns) == ["x", "n"] and (grid["n"] == round(data["n"].mean())).all()
    table, draws = interpret.predictions(
        fitted, {"x": [0.5], "n": [10]}, kind="response", return_draws=True, random_seed=3
    )
    assert table["n"][0] == 10 and draws.min() >= 0 and draws.max() <= 10
    p = expit(_draws(fitted, "Intercept").values + 0.5 * _draws(fitted, "x").values)
    # Predictive counts average n * p; their mean's Monte-Carlo sd is below sqrt(n * 0.25 / S).
    mcse = np.sqrt(10 * 0.25 / draws.shape[0] + 100 * p.var() / draws.shape[0])
    assert abs(draws.mean() - 10 * p.mean()) < 4.5 * mcse
    mean = interpret.predictions(fitted, {"x": [0.5]})  # the mean is the probability
    assert mean["estimate"][0] == pytest.approx(p.mean(), rel=1e-12)


def test_an_offset_scales_the_prediction_on_the_grid(stub_sampler):
    model = bmm.Model("c ~ x + offset(np.log(t))", _counts_data(), family="poisson")
    fitted = model.fitted(model.fit(**FIT))
    _, draws = interpret.predictions(fitted, {"x": [1], "t": [1, 2]}, return_draws=True)
    by_hand = np.exp(_draws(fitted, "Intercept").values + _draws(fitted, "x").values)
    np.testing.assert_allclose(draws[:, 0], by_hand, rtol=1e-12)
    np.testing.assert_allclose(draws[:, 1], 2 * by_hand, rtol=1e-12)


def test_interpretation_works_on_a_loaded_model_without_pymc(sleep, tmp_path):
    _model, fitted = sleep
    path = fitted.save(tmp_path / "m.nc")
    code = f"""
import sys, matplotlib
matplotlib.use("Agg")
import bayesmm as bmm
from bayesmm import interpret
fitted = bmm.load({str(path)!r})
interpret.predictions(fitted, "Days")
interpret.comparisons(fitted, {{"Days": 1}}, average_by=True)
interpret.slopes(fitted, "Days", average_by="Subject")
interpret.hypothesis(fitted, "Days > 0")
interpret.plot_predictions(fitted, "Days")
print(sorted(m for m in ("pymc", "pytensor") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_distributional_models_grid_has_every_formulas_predictors(stub_sampler):
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"x": rng.normal(size=60), "z": rng.normal(size=60)})
    data["y"] = data["x"] + rng.normal(size=60) * np.exp(0.3 * data["z"])
    model = bmm.Model(bmm.Formula("y ~ x", "sigma ~ z"), data)
    fitted = model.fitted(model.fit(**FIT))
    grid = interpret.predictions(fitted, "x")
    assert {"x", "z"} <= set(grid.columns)
    sigma = interpret.comparisons(fitted, {"z": 1}, average_by=True, target="sigma")
    draws = fitted.parameters()["sigma"]
    assert sigma["term"][0] == "z" and np.isfinite(sigma["estimate"][0])
    assert draws.shape[1] == 60


def test_bools_and_integer_grouping_factors_are_categories(stub_sampler):
    rng = np.random.default_rng(4)
    data = pd.DataFrame(
        {
            "flag": rng.uniform(size=80) < 0.5,
            "g": np.repeat(np.arange(8), 10),
            "x": rng.normal(size=80),
        }
    )
    data["y"] = (rng.uniform(size=80) < 0.5).astype(int)
    model = bmm.Model("y ~ flag + x + (1|g)", data, family="bernoulli")
    fitted = model.fitted(model.fit(**FIT))
    table = interpret.comparisons(fitted, "flag", average_by=True)
    assert table["contrast"][0] == "True - False"
    grid = interpret.data_grid(fitted, ["x", "g"])
    assert sorted(grid["g"].unique().tolist()) == list(range(8))  # levels, not a range


def test_averages_keep_a_bad_row_to_its_own_group():
    from bayesmm.interpret.effects import averaged

    values = np.array([[1.0, np.inf, 3.0, 5.0], [2.0, 4.0, np.nan, 6.0]])
    rows = pd.DataFrame({"g": ["a", "a", "b", "c"]})
    means, groups = averaged(values, rows, "g")
    assert groups["g"].tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(means[:, 2], [5.0, 6.0])
    assert np.isinf(means[0, 0]) and means[1, 0] == 3.0


def test_slopes_of_predictive_draws_are_refused(sleep):
    with pytest.raises(bmm.DataError, match=r"slopes take kind='response_params'"):
        interpret.slopes(sleep[1], "Days", kind="response")


def test_statements_use_equals_and_brackets_and_need_a_variable(sleep):
    _, fitted = sleep
    table = interpret.hypothesis(fitted, ["`1|Subject`[308] == 0", "Days = 10"])
    assert np.isnan(table["probability"]).all()
    assert table["estimate"][1] == pytest.approx(_draws(fitted, "Days").values.mean() - 10)
    with pytest.raises(bmm.DataError, match=r"names no variable: it is about numbers alone"):
        interpret.hypothesis(fitted, "1 > 0")


def test_observed_points_sit_at_their_levels_on_a_categorical_axis(bacteria_fit):
    _, fitted = bacteria_fit
    fig, ax = interpret.plot_predictions(
        fitted, "trt", include_group_specific=False, show_data=True
    )
    levels = [t.get_text() for t in ax.get_xticklabels()]
    from matplotlib.collections import PathCollection

    (scatter,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    points = scatter.get_offsets()
    rows = fitted.training_rows
    expected = sorted(levels.index(str(v)) for v in rows["trt"])
    assert sorted(points[:, 0].tolist()) == expected
    plt.close(fig)


def test_a_loaded_model_without_rows_makes_the_same_grid(sleep, tmp_path):
    _, fitted = sleep
    loaded = bmm.load(fitted.save(tmp_path / "m.nc", posterior_only=True))
    for conditional in ("Days", ["Subject", "Days"]):
        pd.testing.assert_frame_equal(
            interpret.data_grid(loaded, conditional), interpret.data_grid(fitted, conditional)
        )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda f: bmm.interpret.hypothesis(f, 5),
            r"hypotheses must be a statement or a list of them, e\.g\. 'Days > 5' .*; got int 5\.",
        ),
        (
            lambda f: bmm.interpret.data_grid(f, 123),
            r"conditional must be a column name, a list of names, or a dict .*; got 123\.",
        ),
        (
            lambda f: bmm.interpret.comparisons(f, ["trt"]),
            r"contrast must be a variable's name or a dict of one variable .*; got \['trt'\]\.",
        ),
        (
            lambda f: bmm.interpret.comparisons(f, "trt", "week"),
            r"comparisons\(\) takes a FittedModel without idata, so its second argument is "
            r"contrast; got 'trt' there and contrast='week' as well\. Pass each by name",
        ),
        (
            lambda f: bmm.interpret.slopes(f, 0.5),
            r"wrt must be the name of a numeric predictor of the model, .*; got 0\.5\.",
        ),
        (
            lambda f: bmm.interpret.predictions(f, "week", return_draws="yes"),
            r"return_draws must be True or False; got 'yes'",
        ),
        (
            lambda f: bmm.interpret.predictions(f, "week", method=np.array(["hdi", "eti"])),
            r"method must be one of \['eti', 'hdi'\]; got array",
        ),
    ],
)
def test_a_wrong_argument_is_named_as_the_user_passed_it(bacteria_fit, call, match):
    _, fitted = bacteria_fit
    with pytest.raises(bmm.DataError, match=match):
        call(fitted)
