"""Ordinal families (cumulative, sratio, cratio, acat): encoding, thresholds, errors, numpy densities
against PyMC, predictions and files. Real NUTS fits are in test_families_ordinal_slow.py."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

import bayesmm as bmm
from bayesmm.families import get_family

ORDINAL = ("cumulative", "sratio", "cratio", "acat")
CATEGORY_FAMILIES = (*ORDINAL, "categorical")
LINKS = ("logit", "probit", "cloglog")


@pytest.fixture(scope="module")
def wine():
    return bmm.load_data("wine")


def _frame(y, n=None):
    n = len(y) if n is None else n
    rng = np.random.default_rng(0)
    return pd.DataFrame({"y": y, "x": rng.normal(size=n), "g": np.repeat(["a", "b"], n // 2)})


# --- encoding ------------------------------------------------------------------------------


def test_ordered_categorical_keeps_its_order():
    y = pd.Categorical(
        ["low", "high", "mid", "low", "mid", "high"],
        categories=["low", "mid", "high"],
        ordered=True,
    )
    model = bmm.Model("y ~ x", _frame(y), family="cumulative")
    assert model.design.response.levels == ("low", "mid", "high")
    np.testing.assert_array_equal(model.design.response.values, [0, 2, 1, 0, 1, 2])


def test_unordered_categorical_keeps_its_category_order():
    y = pd.Categorical(["b", "c", "a", "b", "c", "a"], categories=["c", "a", "b"])
    model = bmm.Model("y ~ x", _frame(y), family="cumulative")
    assert model.design.response.levels == ("c", "a", "b")


def test_text_and_integers_are_sorted():
    text = bmm.Model("y ~ x", _frame(["b", "c", "a", "b", "c", "a"]), family="sratio")
    assert text.design.response.levels == ("a", "b", "c")
    numbers = bmm.Model("y ~ x", _frame([10, 2, 5, 2, 10, 5]), family="cumulative")
    assert numbers.design.response.levels == (2, 5, 10)
    np.testing.assert_array_equal(numbers.design.response.values, [2, 0, 1, 0, 2, 1])


def test_intercept_is_dropped_and_factors_keep_treatment_coding(wine):
    model = bmm.Model("rating ~ temp + contact + (1|judge)", wine, family="cumulative")
    design = model.design
    assert [t.name for t in design.common_terms] == ["temp", "contact"]
    assert design.common.shape == (72, 2)  # one column each: reduced rank, as with an intercept
    np.testing.assert_array_equal(design.common[:, 0], (wine["temp"] == "warm").astype(float))
    assert "Intercept" not in model.priors.names()
    text = str(model)
    assert "Thresholds: 1|2, 2|3, 3|4, 4|5, in place of the intercept" in text
    assert "threshold ~ StudentT(nu: 3, mu: 0, sigma: 2.5)" in text


def test_new_rows_are_encoded_without_the_intercept(wine):
    model = bmm.Model("rating ~ temp + contact", wine, family="cumulative")
    rows = model.design.state.encode(pd.DataFrame({"temp": ["warm"], "contact": ["no"]}))
    np.testing.assert_array_equal(rows.common, [[1.0, 0.0]])


# --- errors ----------------------------------------------------------------------------------


def test_two_categories_are_an_error_naming_the_response():
    with pytest.raises(
        bmm.DataError,
        match=r"The response 'y' must have at least 3 categories for family 'cumulative'; "
        r"got 2: \['a', 'b'\].*bernoulli",
    ):
        bmm.Model("y ~ x", _frame(["a", "b", "a", "b"]), family="cumulative")


def test_a_formula_without_intercept_is_an_error(wine):
    with pytest.raises(bmm.FormulaError, match=r"has no intercept, but family 'sratio' needs"):
        bmm.Model("rating ~ 0 + temp", wine, family="sratio")


def test_a_response_that_is_not_a_column_is_an_error(wine):
    with pytest.raises(bmm.DataError, match=r"needs the response to be a column of data"):
        bmm.Model("np.log(response) ~ temp", wine, family="cumulative")


def test_mixed_numbers_and_text_are_an_error():
    y = pd.Series([1, "a", 2, "b", 1, "a"], dtype=object)
    with pytest.raises(bmm.DataError, match=r"mixes numbers and text"):
        bmm.Model("y ~ x", _frame(y), family="cumulative")


def test_fixing_the_thresholds_is_an_error(wine):
    model = bmm.Model("rating ~ temp", wine, family="cumulative", priors={"threshold": 0.5})
    with pytest.raises(bmm.PriorError, match=r"priors\['threshold'\] must be a Prior"):
        model.build()


# --- the PyMC model --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ORDINAL)
def test_thresholds_are_a_labelled_vector(wine, name):
    model = bmm.Model("rating ~ temp + (1|judge)", wine, family=name)
    pm_model = model.backend.model
    assert list(pm_model.coords["threshold__dim"]) == ["1|2", "2|3", "3|4", "4|5"]
    threshold = pm_model["threshold"]
    transform = pm_model.rvs_to_transforms[threshold]
    # cumulative: ordered; sratio: each threshold is a step of its own, unordered.
    assert (type(transform).__name__ == "Ordered") == (name == "cumulative")
    assert np.isfinite(pm_model.compile_logp()(pm_model.initial_point()))


def test_prior_draws_of_ordered_thresholds_are_sorted(wine):
    model = bmm.Model("rating ~ temp", wine, family="cumulative")
    prior = model.prior_predictive(draws=200, random_seed=1).prior["threshold"].to_numpy()
    assert (np.diff(prior, axis=-1) > 0).all()


@pytest.mark.parametrize("name", ORDINAL)
@pytest.mark.parametrize("link", LINKS)
def test_model_log_likelihood_is_the_categorical_of_the_probabilities(wine, name, link):
    """PyMC's model log density at a point equals the numpy probabilities' log, plus priors."""
    model = bmm.Model("rating ~ temp + contact", wine, family=name, link=link)
    pm_model = model.backend.model
    point = {"temp": 1.2, "contact": -0.4, "threshold": np.array([-1.0, 0.3, 1.5, 2.0])}
    loglik = pm_model.compile_fn(pm_model.logp(vars=pm_model.observed_RVs, sum=False)[0])
    values = {k: v for k, v in point.items()}
    ordered = pm_model.rvs_to_transforms.get(pm_model["threshold"])
    if ordered is not None:
        values["threshold_ordered__"] = ordered.forward(point["threshold"]).eval()
        del values["threshold"]
    ours = loglik(values)
    family = get_family(name)
    eta = model.design.common @ np.array([1.2, -0.4])
    p = family.categories.probabilities(
        point["threshold"][None, :] - eta[:, None], model.link.linkinv, np
    )
    expected = np.log(p[np.arange(72), model.design.response.values.astype(int)])
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


# --- numpy densities against PyMC --------------------------------------------------------------


@pytest.mark.parametrize("name", ORDINAL)
@pytest.mark.parametrize("link", LINKS)
def test_probabilities_sum_to_one_and_higher_eta_moves_mass_up(name, link):
    family = get_family(name)
    cdf = bmm.LINKS[link].linkinv
    tau = np.array([-1.0, 0.5, 2.0])
    eta = np.array([-1.0, 0.0, 1.0])
    p = family.categories.probabilities(tau[None, :] - eta[:, None], cdf, np)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert (p > 0).all()
    mean_category = p @ np.arange(4)
    assert (np.diff(mean_category) > 0).all()


def test_sratio_is_the_stopping_ratio():
    family = get_family("sratio")
    cdf = bmm.LINKS["logit"].linkinv
    tau, eta = np.array([-0.5, 0.2, 1.0]), 0.3
    p = family.categories.probabilities(tau - eta, cdf, np)
    at_least = 1 - np.concatenate([[0.0], np.cumsum(p)[:-1]])
    np.testing.assert_allclose(p[:3] / at_least[:3], cdf(tau - eta))


@pytest.mark.parametrize("link", LINKS)
def test_cratio_is_the_continuation_ratio(link):
    """P(y > k | y >= k) = F(eta - threshold_k), from the category probabilities."""
    cdf = bmm.LINKS[link].linkinv
    tau, eta = np.array([-0.5, 0.2, 1.0]), 0.3
    p = get_family("cratio").categories.probabilities(tau - eta, cdf, np)
    at_least = 1 - np.concatenate([[0.0], np.cumsum(p)[:-1]])
    beyond = 1 - np.cumsum(p)
    np.testing.assert_allclose(beyond[:3] / at_least[:3], cdf(eta - tau), rtol=1e-12)


def test_cratio_equals_sratio_under_a_symmetric_link_only():
    tau, eta = np.array([-0.5, 0.2, 1.0]), 0.3
    same = {}
    for link in LINKS:
        cdf = bmm.LINKS[link].linkinv
        c, s = (
            get_family(n).categories.probabilities(tau - eta, cdf, np) for n in ("cratio", "sratio")
        )
        same[link] = np.allclose(c, s, rtol=1e-12)
    assert same == {"logit": True, "probit": True, "cloglog": False}


def test_acat_with_the_logit_link_is_the_adjacent_category_logit():
    """log P(y = k + 1) / P(y = k) = eta - threshold_k (Agresti's adjacent-category logit),
    which a softmax of the cumulative sums gives independently."""
    cdf = bmm.LINKS["logit"].linkinv
    tau, eta = np.array([-0.5, 0.2, 1.0]), 0.3
    p = get_family("acat").categories.probabilities(tau - eta, cdf, np)
    np.testing.assert_allclose(np.diff(np.log(p)), eta - tau, rtol=1e-12)
    scores = np.concatenate([[0.0], np.cumsum(eta - tau)])
    np.testing.assert_allclose(p, np.exp(scores) / np.exp(scores).sum(), rtol=1e-12)


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_acat_with_another_link_uses_its_odds(link):
    """P(y = k + 1) / P(y = k) = q_k / (1 - q_k), q_k = F(eta - threshold_k) (brms)."""
    cdf = bmm.LINKS[link].linkinv
    tau, eta = np.array([-0.5, 0.2, 1.0]), 0.3
    p = get_family("acat").categories.probabilities(tau - eta, cdf, np)
    q = cdf(eta - tau)
    np.testing.assert_allclose(p[1:] / p[:-1], q / (1 - q), rtol=1e-12)


@pytest.mark.parametrize("name", ["cratio", "acat"])
def test_the_pytensor_probabilities_equal_numpy(name):
    import pytensor.tensor as pt

    from bayesmm.backend.graph.variables import PYTENSOR_OPS
    from bayesmm.links import get_link

    tau, eta = np.array([-0.5, 0.2, 1.0]), np.array([[-1.0], [0.3], [2.0]])
    categories = get_family(name).categories
    for link in LINKS:
        inverse = functools.partial(get_link(link).backend_inverse, ops=PYTENSOR_OPS)
        theirs = categories.probabilities(pt.as_tensor(tau - eta), inverse, pt).eval()
        ours = categories.probabilities(tau - eta, bmm.LINKS[link].linkinv, np)
        np.testing.assert_allclose(theirs, ours, rtol=1e-9)


@pytest.mark.parametrize("name", CATEGORY_FAMILIES)
def test_numpy_log_density_equals_pymc_logp(name):
    family = get_family(name)
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.4, 0.1], [0.7, 0.1, 0.1, 0.1]])
    y = np.array([3, 0, 2])
    ours = family.likelihood.logpdf(y, {"p": p})
    theirs = pm.logp(pm.Categorical.dist(p=p), y).eval()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name", CATEGORY_FAMILIES)
def test_numpy_draws_follow_pymc(name):
    """Chi-square test of numpy's draws against PyMC's Categorical, at level 0.001."""
    family = get_family(name)
    p = np.array([0.1, 0.25, 0.05, 0.4, 0.2])
    n = 20_000
    ours = family.likelihood.draw({"p": np.broadcast_to(p, (n, 5))}, np.random.default_rng(1))
    theirs = pm.draw(pm.Categorical.dist(p=p), draws=n, random_seed=2)
    table = np.array([np.bincount(ours, minlength=5), np.bincount(theirs, minlength=5)])
    # Homogeneity of the two samples' counts (4 degrees of freedom): a false alarm at this
    # seed has probability 0.001; and each against the probabilities themselves.
    assert stats.chi2_contingency(table).pvalue > 0.001
    assert stats.chisquare(table[0], n * p).pvalue > 0.001


# --- predictions and files (stub sampler) -------------------------------------------------


@pytest.fixture
def wine_fit(stub_sampler, wine):
    model = bmm.Model("rating ~ temp + contact + (1|judge)", wine, family="cumulative")
    idata = model.fit(draws=30, chains=2, random_seed=1)
    return model, idata


def test_response_params_are_category_probabilities(wine_fit, wine):
    model, idata = wine_fit
    fitted = model.fitted(idata)
    p = fitted.draws(wine.head(4))
    assert p.shape == (60, 4, 5)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    thresholds = idata.posterior["threshold"].to_numpy().reshape(60, 4)
    assert (np.diff(thresholds, axis=1) > 0).all()


def test_response_draws_are_category_codes(wine_fit, wine):
    fitted = wine_fit[0].fitted(wine_fit[1])
    draws = fitted.draws(wine.head(4), kind="response", random_seed=1)
    assert draws.shape == (60, 4)
    assert set(np.unique(draws)) <= set(range(5))


def test_summaries_have_a_column_per_category(wine_fit, wine):
    fitted = wine_fit[0].fitted(wine_fit[1])
    point = fitted.point(wine.head(3))
    assert list(point.columns) == [f"mean[{k}]" for k in range(1, 6)]
    np.testing.assert_allclose(point.sum(axis=1), 1.0)
    bounds = fitted.interval(wine.head(3), kind="response_params")
    assert list(bounds.columns[:2]) == ["lower[1]", "upper[1]"] and bounds.shape == (3, 10)
    assert fitted.quantiles(wine.head(3), probs=[0.5], kind="response_params").shape == (3, 5)
    assert fitted.interval(wine.head(3)).shape == (3, 2)  # kind="response": codes
    with pytest.raises(bmm.DataError, match=r"predicts a probability for each category"):
        fitted.density(wine.head(3), kind="response_params")
    with pytest.raises(bmm.FamilyError, match=r"r2\(\) compares fitted means"):
        fitted.r2()


def test_point_of_predictive_draws_gives_each_category_share_not_a_mean_of_codes(wine_fit, wine):
    fitted = wine_fit[0].fitted(wine_fit[1])
    rows = wine.head(3)
    point = fitted.point(rows, kind="response", random_seed=2)
    assert list(point.columns) == [f"mean[{k}]" for k in range(1, 6)]
    codes = fitted.draws(rows, kind="response", random_seed=2)
    shares = np.stack([(codes == k).mean(axis=0) for k in range(5)], axis=1)
    np.testing.assert_array_equal(point.to_numpy(), shares)
    np.testing.assert_allclose(point.sum(axis=1), 1.0)
    with pytest.raises(
        bmm.DataError,
        match=r"stat must be 'mean' for kind='response' with family 'cumulative': .*got "
        r"'median'\. Use kind='response_params'",
    ):
        fitted.point(rows, stat="median", kind="response")


def test_predict_adds_a_category_dimension(wine_fit, wine):
    model, idata = wine_fit
    predictions = model.predict(idata, wine.head(3)).predictions["p"]
    assert predictions.dims == ("chain", "draw", "__obs__", "__category__")
    assert list(predictions["__category__"].to_numpy()) == ["1", "2", "3", "4", "5"]
    ppc = model.predict(idata, kind="response").posterior_predictive["rating"]
    assert ppc.shape == (2, 30, 72)


def test_log_likelihood_takes_the_categories(wine_fit, wine):
    fitted = wine_fit[0].fitted(wine_fit[1])
    rows = wine.head(4)
    ll = fitted.log_likelihood(rows, rows["rating"])
    p = fitted.draws(rows)
    codes = rows["rating"].cat.codes.to_numpy()
    np.testing.assert_allclose(ll, np.log(p[:, np.arange(4), codes]))
    np.testing.assert_allclose(fitted.log_likelihood(rows, ["2", "3", "3", "4"]), ll)
    with pytest.raises(bmm.DataError, match=r"y must hold categories of the response 'rating'"):
        fitted.log_likelihood(rows, [2, 3, 3, 7])


@pytest.mark.parametrize("posterior_only", [False, True])
def test_save_and_load_keep_the_categories(wine_fit, wine, tmp_path, posterior_only):
    model, idata = wine_fit
    fitted = model.fitted(idata)
    path = fitted.save(tmp_path / "wine.nc", posterior_only=posterior_only)
    loaded = bmm.load(path)
    assert loaded.design.response.levels == (1, 2, 3, 4, 5)
    assert loaded.family.categories is not None
    np.testing.assert_allclose(loaded.draws(wine.head(5)), fitted.draws(wine.head(5)))
    if not posterior_only:
        np.testing.assert_array_equal(loaded.design.response.values, model.design.response.values)
        assert loaded.draws().shape == (60, 72, 5)


def test_save_and_load_keep_the_order_of_text_categories(stub_sampler, tmp_path):
    y = pd.Categorical(
        ["low", "high", "mid", "low", "mid", "high"] * 3, categories=["low", "mid", "high"]
    )
    model = bmm.Model("y ~ x", _frame(y), family="sratio", link="probit")
    idata = model.fit(draws=10, chains=2, random_seed=1)
    loaded = bmm.load(model.fitted(idata).save(tmp_path / "m.nc"))
    assert loaded.design.response.levels == ("low", "mid", "high")
    assert loaded.link.name == "probit"


def test_a_continuous_response_is_not_categories():
    data = pd.DataFrame({"y": [0.5, 1.25, 2.0, 3.0, 1.0, 2.0], "x": [1.0, 2, 3, 4, 5, 6]})
    with pytest.raises(bmm.DataError, match=r"must be categories .* got numbers with fractions"):
        bmm.Model("y ~ x", data, family="cumulative")
