"""Bad input at the public boundaries gets our own errors, naming the argument, the column
and the rows."""

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"y": rng.normal(size=20), "x": rng.normal(size=20), "g": list("abcd") * 5})


def test_an_infinite_predictor_is_named_with_its_rows(data):
    bad = data.copy()
    bad.loc[[3, 7], "x"] = [np.inf, -np.inf]
    with pytest.raises(
        bmm.DataError,
        match=r"data has infinite values in the column 'x': \[inf, -inf\] in 2 row\(s\), "
        r"index \[3, 7\]",
    ):
        bmm.Model("y ~ x + (1|g)", bad)


def test_duplicated_column_names_are_named(data):
    twice = pd.concat([data, data[["x"]]], axis=1)
    with pytest.raises(
        bmm.DataError, match=r"data must have unique column names; got the column\(s\) \['x'\]"
    ):
        bmm.Model("y ~ x + (1|g)", twice)


def test_text_in_a_numeric_column_at_prediction_is_named(data, stub_sampler):
    model = bmm.Model("y ~ x + (1|g)", data)
    fitted = model.fitted(model.fit(draws=10, chains=1, random_seed=1))
    new = pd.DataFrame({"x": [0.5, "high", 1.0, "?"], "g": ["a"] * 4})
    with pytest.raises(
        bmm.DataError,
        match=r"data's column 'x' must hold numbers, as it did at fit time; got \['high', '\?'\] "
        r"in 2 row\(s\), index \[1, 3\]",
    ):
        fitted.point(new)
    # Numbers written as text are numbers.
    as_text = pd.DataFrame({"x": ["0.5", "1"], "g": ["a", "b"]})
    np.testing.assert_allclose(
        fitted.point(as_text)["mean"],
        fitted.point(pd.DataFrame({"x": [0.5, 1.0], "g": ["a", "b"]}))["mean"],
    )
    with pytest.raises(bmm.DataError, match=r"data has infinite values in the column 'x'"):
        fitted.point(pd.DataFrame({"x": [np.inf], "g": ["a"]}))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"target_accept": 1.5}, r"target_accept must be a number strictly between 0 and 1 .*got 1.5"),
        ({"target_accept": "high"}, r"target_accept must be a number strictly between 0 and 1"),
        ({"random_seed": "abc"}, r"random_seed must be a non-negative integer or None; got str 'abc'"),
        ({"random_seed": -1}, r"random_seed must be a non-negative integer or None; got int -1"),
        ({"max_tree_depth": 0}, r"max_tree_depth must be an integer >= 1; got 0"),
        ({"cores": 1.5}, r"cores must be an integer >= 1; got 1.5"),
        ({"draws": "many"}, r"draws must be an integer >= 1; got 'many'"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("method", ["auto", "numpyro", "nutpie", "pymc"])
def test_sampler_options_are_checked_on_every_route(data, options, match, method):
    model = bmm.Model("y ~ x + (1|g)", data)
    with pytest.raises(bmm.DataError, match=match):
        model.fit(inference_method=method, progressbar=False, **options)
