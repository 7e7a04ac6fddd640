"""Prediction: agreement with PyMC, new data, new-group policies, summaries, errors.

These tests use prior draws in place of NUTS (the ``stub_sampler`` fixture): what is under
test is the computation from draws to predictions, which must hold for any draws.
"""

from __future__ import annotations

import arviz as az
import matplotlib
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

import bayesmm as bmm
from bayesmm.families import FAMILIES
from bayesmm.predict import density, interval, point_estimate, quantiles
from conftest import samplers_running

matplotlib.use("Agg")


@pytest.fixture
def capture_raw(stub_sampler):
    """Stub sampler that also keeps the untidied draws (with the internal variables)."""
    raw = {}

    def sampler(model, settings, **options):
        raw["idata"] = stub_sampler(model, settings, **options)
        return raw["idata"].copy()

    with samplers_running(lambda name: sampler):
        yield raw


def _pymc_parent(model, raw_idata):
    """The parent parameter as PyMC computes it from the same draws (a Deterministic)."""
    pm_model = model.backend.model
    observed = pm_model[model.design.response.name]
    # Inputs of the observed variable: rng, size, then the distribution's parameters.
    position = {"Normal": 2, "Binomial": 3, "Bernoulli": 2, "Poisson": 2}[
        model.family.likelihood.name
    ]
    with pm_model:
        pm.Deterministic("parent_check", observed.owner.inputs[position], dims="__obs__")
    out = pm.sample_posterior_predictive(
        raw_idata, model=pm_model, var_names=["parent_check"], progressbar=False
    )
    values = out.posterior_predictive["parent_check"]
    return values.to_numpy().reshape(-1, values.shape[-1])


@pytest.mark.parametrize(
    ("dataset", "formula", "family"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian"),
        ("cbpp", "p(incidence, size) ~ period + (1|herd)", "binomial"),
    ],
)
def test_response_params_equal_pymc_for_the_same_draws(capture_raw, dataset, formula, family):
    data = bmm.load_data(dataset)
    model = bmm.Model(formula, data, family=family)
    idata = model.fit(draws=100, chains=2, random_seed=3)
    ours = model.fitted(idata).draws()
    theirs = _pymc_parent(model, capture_raw["idata"])
    assert ours.shape == (200, len(data))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9 * np.abs(theirs).max())
    # New data that copy the training rows give the in-sample predictions.
    np.testing.assert_allclose(model.fitted(idata).draws(data), ours, rtol=1e-12)
    shuffled = data.sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(
        model.fitted(idata).draws(shuffled), ours[:, shuffled.index.to_numpy()], rtol=1e-12
    )


@pytest.fixture
def sleep_fit(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    idata = model.fit(draws=200, chains=2, random_seed=5)
    return model, idata


def test_predict_returns_a_new_inferencedata_in_arviz_groups(sleep_fit):
    model, idata = sleep_fit
    before = {g: set(idata[g].data_vars) for g in idata.groups()}

    means = model.predict(idata)
    assert means.posterior["mu"].dims == ("chain", "draw", "__obs__")
    assert means.posterior["mu"].shape == (2, 200, 180)

    ppc = model.predict(idata, kind="response", random_seed=1)
    assert ppc.posterior_predictive["Reaction"].shape == (2, 200, 180)
    assert "mu" not in ppc.posterior

    new = pd.DataFrame({"Days": [0, 9], "Subject": ["308", "372"]})
    out = model.predict(idata, new, kind="response", random_seed=1)
    assert out.predictions["Reaction"].shape == (2, 200, 2)
    assert list(out.predictions_constant_data["Subject"].values) == ["308", "372"]
    assert out.attrs["formula"] == idata.attrs["formula"]

    assert {g: set(idata[g].data_vars) for g in idata.groups()} == before
    assert "posterior_predictive" not in idata.groups()


def test_plot_ppc_works_in_one_line(sleep_fit, tmp_path):
    model, idata = sleep_fit
    axes = az.plot_ppc(model.predict(idata, kind="response", random_seed=1), num_pp_samples=20)
    figure = np.ravel(axes)[0].figure
    figure.savefig(tmp_path / "ppc.png")
    assert (tmp_path / "ppc.png").stat().st_size > 0


def test_response_draws_are_seeded(sleep_fit):
    model, idata = sleep_fit
    fitted = model.fitted(idata)
    a = fitted.draws(kind="response", random_seed=7)
    b = fitted.draws(kind="response", random_seed=7)
    c = fitted.draws(kind="response", random_seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


NEW = pd.DataFrame({"Days": [0, 4, 9], "Subject": ["new", "new", "308"]})


def test_unseen_group_is_an_error_by_default_naming_factor_and_levels(sleep_fit):
    model, idata = sleep_fit
    with pytest.raises(
        bmm.DataError, match=r"factor 'Subject' has level\(s\) \['new'\].*sample_new_groups="
    ):
        model.predict(idata, NEW)


def test_population_policy_equals_the_common_effects_prediction(sleep_fit):
    fitted = sleep_fit[0].fitted(sleep_fit[1])
    population = fitted.draws(NEW, sample_new_groups="population")
    common = fitted.draws(NEW, include_group_specific=False)
    np.testing.assert_allclose(population[:, :2], common[:, :2], rtol=1e-12)
    # The fitted subject keeps its own effects.
    assert not np.allclose(population[:, 2], common[:, 2])


def test_old_levels_policy_borrows_one_fitted_level_for_all_draws(sleep_fit, sleepstudy):
    fitted = sleep_fit[0].fitted(sleep_fit[1])
    new = fitted.draws(NEW.iloc[:2], sample_new_groups="old_levels", random_seed=2)
    subjects = sleepstudy["Subject"].cat.categories
    grid = pd.DataFrame({"Days": np.tile([0, 4], len(subjects)), "Subject": np.repeat(subjects, 2)})
    fitted_draws = fitted.draws(grid).reshape(new.shape[0], len(subjects), 2)
    same = [np.allclose(fitted_draws[:, j, :], new) for j in range(len(subjects))]
    # One fitted subject gives every draw of both rows: its intercept and slope together.
    assert sum(same) == 1


def test_uncertainty_policy_borrows_a_fitted_level_per_draw(sleep_fit, sleepstudy):
    fitted = sleep_fit[0].fitted(sleep_fit[1])
    new = fitted.draws(NEW.iloc[:2], sample_new_groups=True, random_seed=2)
    np.testing.assert_array_equal(
        new, fitted.draws(NEW.iloc[:2], sample_new_groups="uncertainty", random_seed=2)
    )
    subjects = sleepstudy["Subject"].cat.categories
    grid = pd.DataFrame({"Days": np.tile([0, 4], len(subjects)), "Subject": np.repeat(subjects, 2)})
    fitted_draws = fitted.draws(grid).reshape(new.shape[0], len(subjects), 2)
    match = np.isclose(fitted_draws, new[:, None, :]).all(axis=2)
    # Each draw equals some fitted subject's draw, and not always the same subject.
    assert match.any(axis=1).all()
    assert len(set(match.argmax(axis=1))) > 5


def test_gaussian_policy_draws_from_the_population_distribution(sleep_fit):
    model, idata = sleep_fit
    fitted = model.fitted(idata)
    draws = fitted.draws(NEW.iloc[:1], sample_new_groups="gaussian", random_seed=3)[:, 0]
    common = fitted.draws(NEW.iloc[:1], include_group_specific=False)[:, 0]
    sigma = idata.posterior["1|Subject_sigma"].to_numpy().ravel()
    z = (draws - common) / sigma
    # Standardised by each draw's sigma, the new intercepts are standard normal.
    assert stats.kstest(z, "norm").pvalue > 0.001


def test_new_interaction_level_of_nested_groups(stub_sampler):
    data = bmm.load_data("cbpp")
    model = bmm.Model("p(incidence, size) ~ period + (1|herd/period)", data, family="binomial")
    idata = model.fit(draws=50, chains=2, random_seed=1)
    fitted = model.fitted(idata)
    # A herd and a period that were both fitted, in a combination that was not observed.
    observed = set(zip(data["herd"].astype(str), data["period"].astype(str), strict=True))
    herd, period = next(
        (h, p)
        for h in data["herd"].cat.categories.astype(str)
        for p in "1234"
        if (h, p) not in observed
    )
    new = pd.DataFrame({"herd": [herd], "period": [period], "size": [10]})
    with pytest.raises(bmm.DataError, match=rf"'herd:period' has level\(s\) \['{herd}:{period}'\]"):
        fitted.draws(new)
    assert fitted.draws(new, sample_new_groups="population").shape == (100, 1)


def test_unseen_level_of_a_categorical_predictor_names_column_and_levels(stub_sampler, cbpp):
    model = bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial")
    idata = model.fit(draws=20, chains=2, random_seed=1)
    new = pd.DataFrame({"period": ["5"], "herd": ["1"], "size": [10]})
    with pytest.raises(
        bmm.DataError, match=r"predictor 'period' has level\(s\) \['5'\].*levels are \[1, 2, 3, 4\]"
    ):
        model.predict(idata, new, sample_new_groups=True)


def test_levels_given_as_text_match_numeric_training_levels(stub_sampler, cbpp):
    model = bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial")
    idata = model.fit(draws=20, chains=2, random_seed=1)
    fitted = model.fitted(idata)
    as_text = pd.DataFrame({"period": ["2"], "herd": ["3"], "size": [10]})
    as_numbers = pd.DataFrame({"period": [2], "herd": [3], "size": [10]})
    np.testing.assert_array_equal(fitted.draws(as_text), fitted.draws(as_numbers))


def test_binomial_response_needs_trials(stub_sampler, cbpp):
    model = bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial")
    fitted = model.fitted(model.fit(draws=20, chains=2, random_seed=1))
    new = pd.DataFrame({"period": [2], "herd": [3]})
    assert fitted.draws(new).shape == (40, 1)  # the probability needs no trials
    with pytest.raises(bmm.DataError, match="needs the number of trials"):
        fitted.draws(new, kind="response")
    drawn = fitted.draws(new.assign(size=12), kind="response", random_seed=1)
    assert ((drawn >= 0) & (drawn <= 12) & (drawn == np.round(drawn))).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "mean"}, r"kind must be one of \['response', 'response_params'\]; got 'mean'"),
        ({"sample_new_groups": "random"}, r"sample_new_groups must be one of .*got 'random'"),
    ],
)
def test_bad_prediction_options(sleep_fit, kwargs, message):
    model, idata = sleep_fit
    with pytest.raises(bmm.DataError, match=message):
        model.predict(idata, **kwargs)


def test_bad_new_data(sleep_fit):
    model, idata = sleep_fit
    with pytest.raises(bmm.DataError, match=r"must have the column\(s\) \['Days'\]"):
        model.predict(idata, pd.DataFrame({"Subject": ["308"]}))
    with pytest.raises(bmm.DataError, match=r"missing values in \{'Days': 1\}"):
        model.predict(idata, pd.DataFrame({"Days": [np.nan], "Subject": ["308"]}))
    with pytest.raises(bmm.DataError, match="must be a pandas.DataFrame"):
        model.predict(idata, {"Days": [1], "Subject": ["308"]})
    with pytest.raises(bmm.NotFittedError, match="idata must be the arviz.InferenceData"):
        model.predict(None)


def test_summaries_agree_with_numpy_on_the_same_draws(sleep_fit):
    fitted = sleep_fit[0].fitted(sleep_fit[1])
    rows = NEW.iloc[2:].copy()
    options = {"kind": "response", "random_seed": 11}
    draws = fitted.draws(rows, **options)

    np.testing.assert_allclose(fitted.point(rows, **options)["mean"], draws.mean(axis=0))
    np.testing.assert_allclose(
        fitted.point(rows, stat="median", **options)["median"], np.median(draws, axis=0)
    )
    eti = fitted.interval(rows, prob=0.8, method="eti", **options)
    np.testing.assert_allclose(eti.to_numpy()[0], np.quantile(draws[:, 0], [0.1, 0.9]))
    hdi = fitted.interval(rows, prob=0.8, **options).to_numpy()[0]
    np.testing.assert_allclose(hdi, _shortest_interval(draws[:, 0], 0.8))
    q = fitted.quantiles(rows, probs=[0.1, 0.5], **options)
    assert list(q.columns) == ["q0.1", "q0.5"]
    np.testing.assert_allclose(q.to_numpy()[0], np.quantile(draws[:, 0], [0.1, 0.5]))

    table = fitted.density(rows, bins=15, **options)
    heights, edges = np.histogram(draws[:, 0], bins=15, density=True)
    np.testing.assert_allclose(table["edges"].iloc[0], edges)
    np.testing.assert_allclose(table["density"].iloc[0], heights)
    assert table.index.equals(rows.index)


def _shortest_interval(x, prob):
    """The narrowest window holding ceil(prob * n) of the sorted draws (the HDI of a sample)."""
    x = np.sort(x)
    k = int(np.floor(prob * len(x)))
    widths = x[k:] - x[: len(x) - k]
    i = int(np.argmin(widths))
    return x[i], x[i + k]


def test_density_integrates_to_one():
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.normal(size=4000), rng.gamma(2.0, size=4000), np.full(4000, 3.0)])
    edges, heights = density(values, bins=25)
    np.testing.assert_allclose((heights * np.diff(edges, axis=1)).sum(axis=1), 1.0)
    # Shared edges covering every draw also integrate to one.
    edges, heights = density(values, bins=np.linspace(-10, 40, 51))
    np.testing.assert_allclose((heights * np.diff(edges, axis=1)).sum(axis=1), 1.0)
    for column in range(3):
        expected, _ = np.histogram(values[:, column], bins=np.linspace(-10, 40, 51), density=True)
        np.testing.assert_allclose(heights[column], expected)


def test_summary_functions_check_their_arguments():
    values = np.zeros((10, 2))
    with pytest.raises(
        bmm.DataError, match=r"prob must be a probability strictly between 0 and 1; got 1.5"
    ):
        interval(values, 1.5)
    with pytest.raises(bmm.DataError, match=r"method must be one of \['eti', 'hdi'\]; got 'hpd'"):
        interval(values, 0.9, "hpd")
    with pytest.raises(
        bmm.DataError, match=r"stat must be one of \['mean', 'median'\]; got 'mode'"
    ):
        point_estimate(values, "mode")
    with pytest.raises(bmm.DataError, match="bins must be an integer from 1 to 10000"):
        density(values, 0)
    with pytest.raises(bmm.DataError, match="probs must be a probability strictly between"):
        quantiles(values, [0.5, 2])


def test_bayesian_r2_is_the_variance_ratio_of_each_draw(sleep_fit, sleepstudy):
    fitted = sleep_fit[0].fitted(sleep_fit[1])
    mu = fitted.draws()
    y = sleepstudy["Reaction"].to_numpy()
    ratio = mu.var(axis=1, ddof=1) / (mu.var(axis=1, ddof=1) + (y - mu).var(axis=1, ddof=1))
    r2 = fitted.r2()
    assert r2["r2"] == pytest.approx(ratio.mean())
    assert r2["r2_std"] == pytest.approx(ratio.std(), rel=0.01)


# Families of categories take probability vectors: tests/test_families_ordinal.py checks their draws.
@pytest.mark.parametrize("name", sorted(n for n, f in FAMILIES.items() if f.categories is None))
def test_numpy_draws_of_each_family_follow_pymc(name):
    """The numpy draws used for predictions follow the PyMC likelihood the model is fit with."""
    from bayesmm.backend.graph.distributions import likelihood_distribution

    family = FAMILIES[name]
    values = {
        "mu": np.array(2.5),
        "p": np.array(0.3),
        "sigma": np.array(1.5),
        "alpha": np.array(3.0),
        "kappa": np.array(8.0),
        "nu": np.array(5.0),
        "lam": np.array(4.0),
        "b": np.array(1.2),
        "zi": np.array(0.3),
        "hu": np.array(0.4),
        "q": np.array(0.8),  # an asymmetric case; 0.5 is the laplace family
        "zoi": np.array(0.25),
        "coi": np.array(0.4),
    }
    if name in ("beta", "beta_binomial", "zoib"):
        values["mu"] = np.array(0.3)
    params = {k: values[k] for k in family.likelihood.params}
    dist_kwargs = family.likelihood.dist_kwargs(dict(params))
    if family.trials:
        params["trials"] = np.array(20.0)
        dist_kwargs[family.likelihood.trials_kwarg] = 20
    n = 4000
    ours = family.likelihood.draw(
        {k: np.full(n, v) for k, v in params.items()}, np.random.default_rng(1)
    )
    theirs = pm.draw(
        likelihood_distribution(family.likelihood.name).dist(**dist_kwargs),
        draws=n,
        random_seed=2,
    )
    # Two-sample KS test; at this seed a false alarm has probability 0.001.
    assert stats.ks_2samp(ours, theirs).pvalue > 0.001


def test_draws_are_writable_and_numpy_integers_are_bins(sleep_fit):
    fitted = sleep_fit[0].fitted(sleep_fit[1])
    draws = fitted.draws(NEW.iloc[2:], kind="response", random_seed=1)
    draws[draws < 0] = 0.0  # users clip and edit draws in place
    edges, _ = density(draws, np.int64(5))
    assert edges.shape == (1, 6)


def test_a_posterior_of_another_model_is_a_clear_error(sleep_fit, sleepstudy, stub_sampler):
    fewer = sleepstudy[sleepstudy["Subject"].astype(str).isin(["308", "309", "310"])].copy()
    fewer["Subject"] = fewer["Subject"].cat.remove_unused_categories()
    small = bmm.Model("Reaction ~ Days + (Days | Subject)", fewer)
    other = small.fit(draws=20, chains=2, random_seed=1)
    with pytest.raises(
        bmm.DataError, match=r"'1\|Subject' has 3 value\(s\) per draw, but this model has 18"
    ):
        sleep_fit[0].predict(other)


def test_density_of_equal_draws_far_from_zero_has_a_valid_range():
    """Found by fuzzing the service: +-0.5 vanishes to rounding at 2.5e15."""
    values = np.full((3, 2), [1.0, 2.5e15])
    edges, heights = density(values, 4)
    assert np.all(np.isfinite(edges)) and np.all(edges[:, 1:] > edges[:, :-1])
    np.testing.assert_allclose((heights * np.diff(edges, axis=1)).sum(axis=1), 1.0)
    np.testing.assert_array_equal(edges[0], np.histogram(values[:, 0], 4)[1])


@pytest.mark.parametrize(
    ("dataset", "formula", "family", "response"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian", "Reaction"),
        ("cbpp", "p(incidence, size) ~ period + (1|herd)", "binomial", "incidence"),
        ("sleepstudy", "Reaction ~ Days + (1 | Subject)", "t", "Reaction"),
        ("epilepsy", "y ~ lbase + trt + (1|subject)", "poisson", "y"),
    ],
)
def test_log_likelihood_of_new_rows_equals_pymc_on_the_training_rows(
    stub_sampler, dataset, formula, family, response
):
    data = bmm.load_data(dataset)
    model = bmm.Model(formula, data, family=family)
    idata = model.fit(draws=50, chains=2, random_seed=3)
    ours = model.fitted(idata).log_likelihood(data, data[response])
    theirs = idata.log_likelihood[model.design.response.name].to_numpy().reshape(100, -1)
    # PyMC's binomial takes logit(p); ours goes through p = expit(eta), which loses a few
    # digits where p is within 1e-50 of 0 or 1 (log-likelihoods below -100).
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)


def test_log_likelihood_checks_y(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ Days", sleepstudy)
    fitted = model.fitted(model.fit(draws=10, chains=1, random_seed=0))
    with pytest.raises(
        bmm.DataError, match=r"y must have one value per row of data \(180\); got 3"
    ):
        fitted.log_likelihood(sleepstudy, [1.0, 2.0, 3.0])
    poisson = bmm.Model("y ~ lbase", bmm.load_data("epilepsy"), family="poisson")
    fitted = poisson.fitted(poisson.fit(draws=10, chains=1, random_seed=0))
    with pytest.raises(
        bmm.DataError, match=r"The response 'y' must be non-negative integer counts"
    ):
        fitted.log_likelihood(bmm.load_data("epilepsy").iloc[:2], [1.5, 2.0])
