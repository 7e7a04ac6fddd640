"""Observation weights: ``Model(..., weights=...)`` multiplies each row's log-likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm
from bayesmm.design.weights import WEIGHTS_COLUMN
from bayesmm.io import read_header


@pytest.fixture
def data():
    rng = np.random.default_rng(8)
    n = 30
    return pd.DataFrame(
        {
            "y": rng.poisson(3, n),
            "x": rng.normal(size=n),
            "w": rng.integers(0, 4, n).astype(float),
            "g": rng.choice(list("abc"), n),
        }
    )


def _observed_logp(model, point):
    pymc_model = model.backend.model
    start = pymc_model.initial_point()
    start.update({k: np.asarray(v) for k, v in point.items()})
    return float(pymc_model.compile_logp(vars=[pymc_model.observed_RVs[0]])(start))


def test_built_model_logp_is_the_weighted_sum(data):
    model = bmm.Model("y ~ x", data, family="poisson", weights="w", center_predictors=False)
    logp = _observed_logp(model, {"Intercept": 1.1, "x": -0.2})
    mu = np.exp(1.1 - 0.2 * data["x"].to_numpy())
    expected = np.sum(data["w"] * stats.poisson.logpmf(data["y"], mu))
    assert logp == pytest.approx(expected, rel=1e-12)


def test_array_weights_equal_the_column(data):
    by_column = bmm.Model("y ~ x", data, family="poisson", weights="w")
    by_array = bmm.Model("y ~ x", data, family="poisson", weights=data["w"].to_numpy())
    assert by_array.design.weights_column == WEIGHTS_COLUMN
    point = {"Intercept_centered": 1.0, "x": 0.1}
    assert _observed_logp(by_column, point) == _observed_logp(by_array, point)


def test_unit_weights_leave_the_likelihood_unchanged(data):
    plain = bmm.Model("y ~ x + (1|g)", data, family="poisson")
    weighted = bmm.Model("y ~ x + (1|g)", data.assign(w=1.0), family="poisson", weights="w")
    point = {"Intercept_centered": 1.0, "x": 0.1}
    assert _observed_logp(weighted, point) == pytest.approx(_observed_logp(plain, point))


def test_series_weights_are_matched_by_index(data):
    reversed_weights = data["w"].iloc[::-1]  # same labels, other order
    model = bmm.Model("y ~ x", data, family="poisson", weights=reversed_weights)
    np.testing.assert_array_equal(model.design.weights, data["w"].to_numpy())
    # Labels beyond data's rows are not needed.
    longer = pd.concat([data["w"], pd.Series([5.0], index=[100])])
    model = bmm.Model("y ~ x", data, family="poisson", weights=longer)
    np.testing.assert_array_equal(model.design.weights, data["w"].to_numpy())


def test_array_and_list_weights_are_taken_in_row_order(data):
    shuffled = data.iloc[::-1]  # data's own index reversed: arrays follow the row order
    values = shuffled["w"].to_numpy()
    for weights in (values, list(values)):
        model = bmm.Model("y ~ x", shuffled, family="poisson", weights=weights)
        np.testing.assert_array_equal(model.design.weights, values)


def test_series_weights_missing_labels_of_data_are_an_error(data):
    short = data["w"].drop(index=[3, 4]).reset_index(drop=True)
    with pytest.raises(bmm.DataError, match=r"weights is a pandas Series.*lacks 2.*\[28, 29\]"):
        bmm.Model("y ~ x", data, family="poisson", weights=short)
    repeated = pd.Series(1.0, index=[0, 0, *range(1, 30)])
    with pytest.raises(bmm.DataError, match=r"each label once; got the labels \[0\]"):
        bmm.Model("y ~ x", data, family="poisson", weights=repeated)


def test_weights_and_rows_dropped_for_missing_values_stay_aligned(data):
    frame = data.assign(x=data["x"].where(data.index != 2))
    with pytest.warns(bmm.BayesmmWarning):
        model = bmm.Model("y ~ x", frame, family="poisson", weights="w", dropna=True)
    np.testing.assert_array_equal(model.design.weights, data["w"].drop(index=2).to_numpy())


@pytest.mark.parametrize(
    "weights, message",
    [
        ("weight", r"weights names 'weight', which is not a column of data. Columns are"),
        (np.ones(5), r"one number per row of data \(30 rows\); got an array of shape \(5,\)"),
        ("g", r"weights \(column 'g'\) must be numbers"),
    ],
)
def test_invalid_weights_name_the_argument(data, weights, message):
    with pytest.raises(bmm.DataError, match=message):
        bmm.Model("y ~ x", data, family="poisson", weights=weights)


@pytest.mark.parametrize("bad", [-1.0, np.inf])
def test_negative_or_infinite_weights_name_the_rows(data, bad):
    frame = data.assign(w=data["w"].where(data.index != 7, bad))
    with pytest.raises(bmm.DataError, match=r"finite numbers >= 0.*index \[7\]"):
        bmm.Model("y ~ x", frame, family="poisson", weights="w")


def test_missing_weights_are_missing_values(data):
    frame = data.assign(w=data["w"].where(data.index != 7))
    with pytest.raises(bmm.DataError, match=r"missing values.*'w': 1"):
        bmm.Model("y ~ x", frame, family="poisson", weights="w")


def test_all_zero_weights_are_an_error(data):
    with pytest.raises(bmm.DataError, match="all be zero"):
        bmm.Model("y ~ x", data.assign(w=0.0), family="poisson", weights="w")


def test_summary_names_the_weights(data):
    assert "Weights: w" in str(bmm.Model("y ~ x", data, family="poisson", weights="w"))


def test_weighted_model_round_trips_and_refits(data, stub_sampler, tmp_path):
    model = bmm.Model("y ~ x + (1|g)", data, family="poisson", weights="w")
    idata = model.fit(draws=20, chains=2, random_seed=3, progressbar=False)
    path = model.save(tmp_path / "weighted.nc", idata)
    spec = read_header(path)["spec"]
    assert spec["options"]["weights"] == "w" and spec["design"]["weights"] == "w"
    loaded = bmm.load(path)
    np.testing.assert_array_equal(loaded.design.weights, model.design.weights)
    new = pd.DataFrame({"x": [0.0, 1.0], "g": ["a", "b"]})  # no weights needed to predict
    np.testing.assert_array_equal(loaded.draws(new), model.fitted(idata).draws(new))
    refit = loaded.to_model(data, require_same_data=True)
    np.testing.assert_array_equal(refit.design.weights, model.design.weights)


def test_unweighted_spec_has_no_weights_entry(data):
    spec = bmm.Model("y ~ x", data, family="poisson").spec()
    assert "weights" not in spec.options and "weights" not in spec.design


def test_array_weights_refit_needs_the_weights_column(data, stub_sampler, tmp_path):
    model = bmm.Model("y ~ x", data, family="poisson", weights=data["w"].to_numpy())
    idata = model.fit(draws=5, chains=1, random_seed=3, progressbar=False)
    loaded = bmm.load(model.save(tmp_path / "array.nc", idata))
    with pytest.raises(bmm.DataError, match="fitted with weights given as an array"):
        loaded.to_model(data)
    refit = loaded.to_model(data.assign(**{WEIGHTS_COLUMN: data["w"]}))
    np.testing.assert_array_equal(refit.design.weights, data["w"].to_numpy())


@pytest.mark.slow
def test_integer_weights_give_the_posterior_of_duplicated_rows():
    rng = np.random.default_rng(4)
    n = 60
    frame = pd.DataFrame({"x": rng.normal(size=n), "w": rng.integers(1, 4, n)})
    frame["y"] = 1.0 + 0.5 * frame["x"] + rng.normal(0, 1.0, n)
    duplicated = frame.loc[frame.index.repeat(frame["w"])].reset_index(drop=True)
    priors = {  # the same priors: the defaults would be scaled from different data
        "Intercept": bmm.Prior("Normal", mu=0, sigma=10),
        "x": bmm.Prior("Normal", mu=0, sigma=10),
        "sigma": bmm.Prior("HalfNormal", sigma=5),
    }
    weighted = bmm.Model("y ~ x", frame, weights="w", priors=priors)
    copies = bmm.Model("y ~ x", duplicated, priors=priors)
    fits = [
        m.fit(draws=2000, chains=2, random_seed=9, progressbar=False).posterior
        for m in (weighted, copies)
    ]
    for name in ("Intercept", "x", "sigma"):
        a, b = (fit[name].to_numpy().ravel() for fit in fits)
        # Monte Carlo error of each mean is about sd / sqrt(ESS), ESS >= 1000 here: allow 4
        # combined standard errors.
        error = np.hypot(a.std(), b.std()) / np.sqrt(1000)
        assert abs(a.mean() - b.mean()) < 4 * error, (name, a.mean(), b.mean(), error)
        assert a.std() == pytest.approx(b.std(), rel=0.1)


def _numbers(prior):
    """The numbers of a prior and its hyperpriors, in order."""
    out = []
    for value in prior.params.values():
        out += _numbers(value) if isinstance(value, bmm.Prior) else [float(value)]
    return out


def _default_priors(model):
    return {t.name: _numbers(t.prior) for t in model.priors.terms if isinstance(t.prior, bmm.Prior)}


@pytest.fixture
def gaussian_data():
    rng = np.random.default_rng(11)
    n = 40
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "z": rng.normal(size=n), "g": rng.choice(list("abcd"), n)}
    )
    frame["y"] = 2.0 + frame["x"] + rng.normal(size=n)
    frame["w"] = np.where(np.arange(n) % 4 == 0, 0.0, 1.0)
    # Rows of weight 0 with extreme values: they must not scale the default priors.
    frame.loc[frame["w"] == 0, ["y", "x", "z"]] = [500.0, 80.0, -60.0]
    return frame


def test_rows_of_weight_zero_do_not_set_the_default_priors(gaussian_data):
    formula = bmm.Formula("y ~ x + (z|g)", "sigma ~ x")
    weighted = bmm.Model(formula, gaussian_data, weights="w")
    kept = gaussian_data[gaussian_data["w"] > 0]
    unweighted = bmm.Model(formula, kept)
    expected = _default_priors(unweighted)
    assert set(_default_priors(weighted)) == set(expected)
    for name, numbers in _default_priors(weighted).items():
        np.testing.assert_allclose(numbers, expected[name], rtol=1e-10, err_msg=name)


def test_default_priors_use_the_weighted_mean_and_sd_of_the_response(gaussian_data):
    frame = gaussian_data.assign(
        w=np.where(gaussian_data["w"] > 0, 1.0 + (gaussian_data["x"] > 0), 0)
    )
    model = bmm.Model("y ~ x", frame, weights="w")
    y, w = frame["y"].to_numpy(), frame["w"].to_numpy()
    mean = np.average(y, weights=w)
    n_eff = w.sum() ** 2 / np.sum(w**2)  # Kish's effective sample size
    sd = np.sqrt(np.average((y - mean) ** 2, weights=w) * n_eff / (n_eff - 1))
    intercept = model.priors["Intercept"]
    assert intercept.params["mu"] == pytest.approx(mean, rel=1e-12)
    assert intercept.params["sigma"] == pytest.approx(2.5 * sd, rel=1e-12)
    # Equal weights give the unweighted priors.
    equal = bmm.Model("y ~ x", frame.assign(w=3.0), weights="w")
    plain = bmm.Model("y ~ x", frame)
    for name, numbers in _default_priors(equal).items():
        np.testing.assert_allclose(numbers, _default_priors(plain)[name], rtol=1e-10)


def test_response_constant_where_weighted_is_an_error(gaussian_data):
    frame = gaussian_data.assign(y=np.where(gaussian_data["w"] > 0, 3.0, gaussian_data["y"]))
    with pytest.raises(bmm.DataError, match="every value of the rows with weight > 0 is 3"):
        bmm.Model("y ~ x", frame, weights="w")


def test_families_of_categories_refuse_weights():
    frame = pd.DataFrame({"y": [1, 2, 3, 1, 2, 3], "x": np.arange(6.0), "w": 1.0})
    with pytest.raises(bmm.DataError, match="weights are not supported with family 'cumulative'"):
        bmm.Model("y ~ x", frame, family="cumulative", weights="w")
