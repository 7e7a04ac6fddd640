"""The multinomial logit of counts (family="multinomial"): c(a, b, c) ~ x.

Recovery of simulated coefficients with real NUTS is in ``tests/test_families_categorical_slow.py``.
"""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import bayesmm as bmm
from _categories import simulate_counts
from bayesmm.families import get_family

FORMULA = "c(a, b, c) ~ x + (1|g)"


@pytest.fixture(scope="module")
def data():
    return simulate_counts(np.random.default_rng(5))


def test_the_response_is_the_counts_and_their_sum_the_trials(data):
    model = bmm.Model(FORMULA, data, family="multinomial")
    response = model.design.response
    np.testing.assert_array_equal(response.values, data[["a", "b", "c"]].to_numpy())
    np.testing.assert_array_equal(response.trials, data[["a", "b", "c"]].sum(axis=1))
    assert response.levels == ("a", "b", "c")
    assert model.priors.names()[:3] == ["mub_Intercept", "mub_x", "mub_1|g"]
    assert "Categories: a, b, c (a column of counts each); a is the reference" in str(model)


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        ("a ~ x", r"needs the response as the columns of counts .* got 'a'"),
        ("c(a, b) ~ x", r"at least 3 columns of counts .* got 2.*p\(a, a \+ b\)"),
    ],
)
def test_a_response_that_is_not_three_columns_of_counts_is_a_data_error(data, formula, match):
    with pytest.raises(bmm.DataError, match=match):
        bmm.Model(formula, data, family="multinomial")


def test_negative_or_fractional_counts_name_the_column_and_rows(data):
    bad = data.assign(b=data["b"].astype(float))
    bad.loc[3, "b"] = 1.5
    with pytest.raises(bmm.DataError, match=r"'c\(a, b, c\): b' must be .*rows \[3\]"):
        bmm.Model(FORMULA, bad, family="multinomial")


def test_numpy_draws_and_density_follow_pymc():
    """The draws' counts of each category against PyMC's Multinomial (chi-square homogeneity
    of the totals, at level 0.001) and the log density against PyMC's logp."""
    family = get_family("multinomial")
    p = np.array([0.2, 0.5, 0.3])
    n = 5_000
    ours = family.likelihood.draw(
        {"p": np.broadcast_to(p, (n, 3)), "trials": np.full(n, 7)}, np.random.default_rng(1)
    )
    theirs = pm.draw(pm.Multinomial.dist(n=7, p=p), draws=n, random_seed=2)
    assert (ours.sum(axis=1) == 7).all()
    assert stats.chi2_contingency(np.array([ours.sum(0), theirs.sum(0)])).pvalue > 0.001
    y = np.array([[1, 4, 2], [0, 7, 0], [3, 3, 1]])
    ours = family.likelihood.logpdf(y, {"p": p})
    np.testing.assert_allclose(ours, stats.multinomial.logpmf(y, 7, p), rtol=1e-12)
    # pm.logp evaluated on its own differs from scipy in the 7th digit (its factorials);
    # within a compiled model the two agree to 1e-10 (the log-likelihood test below).
    theirs = pm.logp(pm.Multinomial.dist(n=7, p=p), y).eval()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.fixture
def stub_fit(data, stub_sampler):
    model = bmm.Model(FORMULA, data, family="multinomial")
    return model, model.fit(draws=50, chains=2, random_seed=4)


def test_the_backend_and_prediction_give_the_same_log_likelihood(stub_fit, data):
    model, idata = stub_fit
    counts = data[["a", "b", "c"]].to_numpy()
    ours = model.fitted(idata).log_likelihood(data, counts)
    theirs = idata.log_likelihood["c(a, b, c)"].to_numpy().reshape(100, -1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert idata.observed_data["c(a, b, c)"].dims == ("__obs__", "__category__")


def test_predictions_are_probabilities_and_counts_that_sum_to_the_trials(stub_fit, data):
    model, idata = stub_fit
    fitted = model.fitted(idata)
    p = fitted.draws(data.head(4))
    assert p.shape == (100, 4, 3)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    counts = fitted.draws(data.head(4), "response", random_seed=1)
    assert counts.shape == (100, 4, 3)
    np.testing.assert_array_equal(
        counts.sum(axis=-1), np.broadcast_to(data.head(4)[["a", "b", "c"]].sum(axis=1), (100, 4))
    )
    with pytest.raises(bmm.DataError, match=r"y must hold a count of each of the 3 categories"):
        fitted.log_likelihood(data.head(4), np.ones(4))


def test_a_multinomial_model_saves_and_loads(stub_fit, data, tmp_path):
    model, idata = stub_fit
    loaded = bmm.load(model.save(tmp_path / "multinomial.nc", idata))
    new = data.head(3).assign(g=["g0", "g1", "new"])
    for kind in ("response_params", "response"):
        expected = model.fitted(idata).draws(new, kind, sample_new_groups=True, random_seed=2)
        got = loaded.draws(new, kind, sample_new_groups=True, random_seed=2)
        np.testing.assert_array_equal(got, expected)
