"""The multinomial logit (family="categorical"): one linear predictor per category but the first.

Its numpy sampler and log density are checked against PyMC with the ordinal families in
``tests/test_families_ordinal.py``; recovery of simulated coefficients with real NUTS is in
``tests/test_families_categorical_slow.py``.
"""

import numpy as np
import pytest
from scipy.special import softmax

import bayesmm as bmm
from _categories import simulate
from bayesmm.families import get_family


@pytest.fixture(scope="module")
def data():
    return simulate(np.random.default_rng(3))


def test_probabilities_are_the_softmax_with_the_reference_at_zero():
    categories = get_family("categorical").categories
    z = np.random.default_rng(0).normal(size=(4, 6, 3))
    p = categories.probabilities(z, lambda x: x, np)
    expected = softmax(np.concatenate([np.zeros((4, 6, 1)), z], axis=-1), axis=-1)
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    # Stable for large linear predictors, where a plain exp overflows.
    big = categories.probabilities(np.array([[800.0, -800.0]]), lambda x: x, np)
    np.testing.assert_allclose(big, [[0.0, 1.0, 0.0]], atol=1e-300)


def test_each_category_but_the_reference_has_the_formula_with_its_prefix(data):
    model = bmm.Model("y ~ x + (1|g)", data, family="categorical")
    assert model.priors.names() == [
        "mub_Intercept",
        "mub_x",
        "mub_1|g",
        "muc_Intercept",
        "muc_x",
        "muc_1|g",
    ]
    # Log odds against the reference: centred at 0, unit scale (the logit's).
    assert model.priors["mub_Intercept"] == bmm.Prior("Normal", mu=0.0, sigma=2.5)
    text = str(model)
    assert "Categories: a, b, c (codes 0-2); a is the reference" in text
    assert "    target = mub\n" in text and "    target = muc\n" in text


def test_the_category_order_sets_the_reference(data):
    flipped = data.assign(y=data["y"].cat.reorder_categories(["c", "b", "a"]))
    model = bmm.Model("y ~ x", flipped, family="categorical")
    assert model.priors.names() == ["mub_Intercept", "mub_x", "mua_Intercept", "mua_x"]


def test_two_categories_are_a_data_error_that_suggests_bernoulli(data):
    two = data[data["y"] != "c"].assign(y=lambda d: d["y"].astype(str))
    with pytest.raises(bmm.DataError, match=r"at least 3 categories .* got 2.*'bernoulli'"):
        bmm.Model("y ~ x", two, family="categorical")


@pytest.fixture
def stub_fit(data, stub_sampler):
    model = bmm.Model("y ~ x + (1|g)", data, family="categorical")
    return model, model.fit(draws=50, chains=2, random_seed=4)


def test_the_backend_and_prediction_give_the_same_log_likelihood(stub_fit, data):
    """PyMC's pointwise log-likelihood (computed from the graph) equals the numpy one of
    prediction (from the stacked draws), so the two implementations of the softmax agree."""
    model, idata = stub_fit
    ours = model.fitted(idata).log_likelihood(data, data["y"])
    theirs = idata.log_likelihood["y"].to_numpy().reshape(100, -1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)  # log p near 0: absolute


def test_predictions_are_probabilities_and_codes(stub_fit, data):
    model, idata = stub_fit
    fitted = model.fitted(idata)
    p = fitted.draws(data.head(5))
    assert p.shape == (100, 5, 3)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    codes = fitted.draws(data.head(5), "response", random_seed=1)
    assert set(np.unique(codes)) <= {0.0, 1.0, 2.0}
    assert list(fitted.point(data.head(2)).columns) == ["mean[a]", "mean[b]", "mean[c]"]


def test_a_categorical_model_saves_loads_and_rebuilds(stub_fit, data, tmp_path):
    model, idata = stub_fit
    loaded = bmm.load(model.save(tmp_path / "categorical.nc", idata))
    new = data.head(3).assign(g=["g0", "g1", "new"])
    expected = model.fitted(idata).draws(new, sample_new_groups=True, random_seed=2)
    np.testing.assert_array_equal(
        loaded.draws(new, sample_new_groups=True, random_seed=2), expected
    )
    rebuilt = loaded.to_model(data)
    assert rebuilt.priors == model.priors and str(rebuilt) == str(model)
