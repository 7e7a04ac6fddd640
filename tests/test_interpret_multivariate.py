"""bayesmm.interpret on a multivariate model, one response at a time (``response=``), against
its predictions by hand from MvFittedModel's own draws (prior draws: the stub sampler)."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from _multivariate import frame
from bayesmm._errors import DataError
from bayesmm.interpret import (
    comparisons,
    data_grid,
    hypothesis,
    plot_comparisons,
    plot_group_effects,
    plot_predictions,
    plot_slopes,
    predictions,
    slopes,
)

matplotlib.use("Agg")

import matplotlib.pyplot as plt

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture(scope="module")
def fit():
    from conftest import prior_draws_everywhere

    model = bmm.Model(
        bmm.Formula("y1 ~ x + (1|g)") + bmm.Formula("y2 ~ w + (1|g)", "sigma ~ x"), frame()
    )
    with prior_draws_everywhere():
        idata = model.fit(
            draws=100, chains=2, inference_method="pymc", random_seed=3, progressbar=False
        )
    return model, idata, model.fitted(idata)


def test_predictions_of_one_response_are_its_point_predictions(fit):
    _, _, fitted = fit
    table = predictions(fitted, conditional={"x": [-1.0, 0.0, 2.0]}, response="y1")
    grid = data_grid(fitted, {"x": [-1.0, 0.0, 2.0]}, response="y1")
    assert list(grid.columns) == ["x", "g"]
    by_hand = fitted.point(grid, response="y1")["mean"].to_numpy()
    np.testing.assert_allclose(table["estimate"], by_hand, rtol=1e-12)
    by_interval = fitted.interval(grid, kind="response_params", response="y1")
    np.testing.assert_allclose(table["lower"], by_interval["lower"], rtol=1e-12)


def test_a_model_and_its_fit_or_a_positional_grid_give_the_same_table(fit):
    model, idata, fitted = fit
    one = predictions(fitted, "w", response="y2")
    two = predictions(model, idata, conditional="w", response="y2")
    pd.testing.assert_frame_equal(one, two)
    assert len(one) == 50 and {"w", "g", "x"} <= set(one.columns)


def test_a_comparison_is_the_difference_of_two_point_predictions(fit):
    _, _, fitted = fit
    table = comparisons(fitted, contrast={"w": [-1, 1]}, conditional="g", response="y2")
    grid = data_grid(fitted, "g", response="y2")
    hi = fitted.point(grid.assign(w=1.0), response="y2")["mean"].to_numpy()
    lo = fitted.point(grid.assign(w=-1.0), response="y2")["mean"].to_numpy()
    assert list(table["g"]) == list("abcd")
    np.testing.assert_allclose(table["estimate"], hi - lo, rtol=1e-10)


def test_a_comparison_of_a_distributional_parameter_uses_that_responses_formula(fit):
    _, _, fitted = fit
    table = comparisons(
        fitted, contrast={"x": [0, 1]}, average_by=True, target="sigma", response="y2"
    )
    rows = frame()
    hi = fitted.parameters(rows.assign(x=1.0), response="y2")["y2"]["sigma"]
    lo = fitted.parameters(rows.assign(x=0.0), response="y2")["y2"]["sigma"]
    np.testing.assert_allclose(table["estimate"], (hi - lo).mean(), rtol=1e-10)


def test_the_average_slope_of_a_linear_term_is_its_coefficient(fit):
    _, idata, fitted = fit
    table = slopes(fitted, wrt="x", average_by=True, response="y1")
    expected = idata.posterior["y1_x"].mean().item()
    np.testing.assert_allclose(table["estimate"], expected, rtol=1e-6)


def test_a_hypothesis_names_the_responses_parameters_as_a_model_of_it_alone(fit):
    _, idata, fitted = fit
    table = hypothesis(fitted, "x > 0", response="y1")
    expected = (idata.posterior["y1_x"] > 0).mean().item()
    assert table["probability"].item() == pytest.approx(expected)


def test_the_plots_take_the_response(fit):
    _, _, fitted = fit
    _, ax = plot_predictions(fitted, "x", response="y1")
    assert ax.get_ylabel() == "mu of y1"
    plot_comparisons(fitted, contrast={"w": [0, 1]}, conditional="g", response="y2")
    plot_slopes(fitted, wrt="x", conditional="g", response="y1")
    _, ax = plot_group_effects(fitted, "1|g", response="y2")
    assert [t.get_text() for t in ax.get_yticklabels()] != []
    plt.close("all")


@pytest.mark.parametrize(
    "call",
    [
        lambda f: predictions(f, "x"),
        lambda f: comparisons(f, "x"),
        lambda f: slopes(f, "x"),
        lambda f: data_grid(f, "x"),
        lambda f: plot_predictions(f, "x"),
        lambda f: plot_group_effects(f, "1|g"),
        lambda f: hypothesis(f, "x > 0"),
    ],
)
def test_without_response_the_message_lists_the_responses(fit, call):
    _, _, fitted = fit
    with pytest.raises(DataError, match=r"several responses, \['y1', 'y2'\]: pass response="):
        call(fitted)


def test_an_unknown_response_is_named_with_the_choices(fit):
    model, idata, fitted = fit
    with pytest.raises(DataError, match=r"response must be one of \['y1', 'y2'\]; got 'y3'"):
        predictions(fitted, "x", response="y3")
    with pytest.raises(DataError, match=r"response must be one of .*; got 'Y1'"):
        slopes(model, idata, wrt="x", response="Y1")
    with pytest.raises(DataError, match=r"got 'y1' there and conditional='x'"):
        predictions(fitted, "y1", "x")


def test_a_variable_of_another_response_is_not_a_predictor_of_this_one(fit):
    _, _, fitted = fit
    with pytest.raises(DataError, match=r"'w', which is not a predictor of the model"):
        comparisons(fitted, contrast={"w": [0, 1]}, response="y1")


def test_a_univariate_model_takes_its_own_response_name_only(stub_sampler):
    data = frame()
    model = bmm.Model("y1 ~ x", data)
    fitted = model.fitted(model.fit(draws=20, chains=1, inference_method="pymc", random_seed=1))
    same = predictions(fitted, "x", response="y1")
    pd.testing.assert_frame_equal(same, predictions(fitted, "x"))
    with pytest.raises(DataError, match=r"response names 'y2', but this model has the one"):
        predictions(fitted, "x", response="y2")
