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
        (
            {"target_accept": 1.5},
            r"target_accept must be a number strictly between 0 and 1 .*got 1.5",
        ),
        ({"target_accept": "high"}, r"target_accept must be a number strictly between 0 and 1"),
        (
            {"random_seed": "abc"},
            r"random_seed must be a non-negative integer or None; got str 'abc'",
        ),
        ({"random_seed": -1}, r"random_seed must be a non-negative integer or None; got int -1"),
        ({"max_tree_depth": 0}, r"max_tree_depth must be an integer >= 1; got 0"),
        ({"cores": 1.5}, r"cores must be an integer >= 1; got 1.5"),
        ({"draws": "many"}, r"draws must be an integer >= 1; got 'many'"),
    ],
)
@pytest.mark.parametrize("method", ["auto", "numpyro", "nutpie", "pymc"])
def test_sampler_options_are_checked_on_every_route(data, options, match, method):
    model = bmm.Model("y ~ x + (1|g)", data)
    with pytest.raises(bmm.DataError, match=match):
        model.fit(inference_method=method, progressbar=False, **options)


@pytest.mark.parametrize("method", ["auto", "numpyro", "nutpie", "pymc"])
def test_unknown_sampler_options_are_listed_against_the_known_ones(data, method):
    model = bmm.Model("y ~ x + (1|g)", data)
    # "auto" refuses an option that no route it may pick takes, before choosing one.
    route = r"inference_method='auto'" if method == "auto" else method
    where = r" on any route it may pick here \[.*\]" if method == "auto" else ""
    with pytest.raises(
        bmm.DataError,
        match=rf"{route}'? does not take the option\(s\) \['target_acept'\]{where}\. Did you "
        r"mean 'target_accept'\? (It takes|They take) \[.*'max_tree_depth'.*'target_accept'",
    ):
        model.fit(inference_method=method, target_acept=0.9, progressbar=False)


def test_fit_many_checks_sampler_options_before_any_fit(data):
    models = [bmm.Model("y ~ x + (1|g)", data)] * 2
    with pytest.raises(bmm.DataError, match=r"'nutpie' does not take the option\(s\) \['foo'\]"):
        bmm.fit_many(models, inference_method="nutpie", foo=1)


@pytest.mark.parametrize(
    ("method", "name"),
    [("numpyro", "max_tree_depth"), ("nutpie", "maxdepth"), ("pymc", "max_treedepth")],
)
def test_the_common_options_are_translated_to_each_samplers_own_names(method, name):
    from bayesmm.backend.samplers import sampler_options, translate_options

    translated = translate_options(method, {"max_tree_depth": 7, "target_accept": 0.9, "cores": 1})
    assert translated[name] == 7 and translated["target_accept"] == 0.9
    # The sampler's own name is one it takes (read from its signature).
    assert name in sampler_options(method)


def test_summary_arguments_are_checked_before_drawing(data, stub_sampler, monkeypatch):
    model = bmm.Model("y ~ x + (1|g)", data)
    fitted = model.fitted(model.fit(draws=10, chains=1, random_seed=1))
    monkeypatch.setattr(type(fitted), "draws", lambda *a, **k: pytest.fail("drew"))
    cases = [
        (lambda: fitted.interval(data, prob=[0.5]), r"prob must be a probability .*got \[0.5\]"),
        (lambda: fitted.interval(data, method="hpd"), r"method must be one of \['eti', 'hdi'\]"),
        (lambda: fitted.quantiles(data, probs="median"), r"probs must be a probability or a "),
        (lambda: fitted.quantiles(data, probs=[[0.1]]), r"non-empty list .*got \[\[0.1\]\]"),
        (lambda: fitted.quantiles(data, probs=[0.5, np.nan]), r"strictly between 0 and 1; got nan"),
        (lambda: fitted.density(data, bins=10**9), r"bins must be an integer from 1 to 10000"),
        (
            lambda: fitted.density(data, bins=[0, np.inf]),
            r"2 to 10001 finite numbers; got \[0, inf\]",
        ),
    ]
    for call, match in cases:
        with pytest.raises(bmm.DataError, match=match):
            call()


def test_save_and_load_paths_must_be_paths(data, stub_sampler, tmp_path):
    model = bmm.Model("y ~ x + (1|g)", data)
    idata = model.fit(draws=10, chains=1, random_seed=1)
    with pytest.raises(bmm.DataError, match=r"path must be a file's path or URL .*got int 3"):
        model.save(3, idata)
    with pytest.raises(bmm.DataError, match=r"path must be .*got NoneType None"):
        bmm.load(None)
    with pytest.raises(bmm.DataError, match=r"path must be .*got str ''"):
        bmm.load("")
    with pytest.raises(bmm.DataError, match=r"path must be a file name; .* is a directory"):
        model.save(tmp_path, idata)
    with pytest.raises(bmm.ModelFileError, match=r"is not a bayesmm model file: .*file is empty"):
        bmm.load((tmp_path / "empty.nc").touch() or tmp_path / "empty.nc")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"n": [np.inf] + [10] * 19},
            r"column 'n' of the response 'p\(k, n\)' must hold whole numbers >= 0; got \[inf\] in 1 row\(s\), index \[0\]",
        ),
        ({"n": ["ten"] + [10] * 19}, r"column 'n' .* got \['ten'\]"),
        ({"k": [1.5] + [1] * 19}, r"column 'k' .* whole numbers >= 0; got \[1.5\]"),
        (
            {"k": [11] + [1] * 19},
            r"successes 'k' of the response 'p\(k, n\)' must be at most its trials 'n'; got more in 1 row\(s\), index \[0\]",
        ),
    ],
)
def test_binomial_trials_are_checked_with_their_rows(data, change, match):
    counts = data.assign(k=1, n=10).assign(**change)
    with pytest.raises(bmm.DataError, match=match):
        bmm.Model("p(k, n) ~ x", counts, family="binomial")


def test_offsets_and_censoring_bounds_are_checked(data):
    with pytest.raises(bmm.DataError, match=r"infinite values in the column 'exposure'"):
        bmm.Model("y ~ x + offset(exposure)", data.assign(exposure=[np.inf] + [1.0] * 19))
    with pytest.raises(
        bmm.DataError, match=r"column 'upper' of the censored response .* must hold numbers"
    ):
        bmm.Model(
            "censored(y, upper, status) ~ x",
            data.assign(upper="high", status="interval"),
        )


@pytest.mark.parametrize(
    ("method", "options", "match"),
    [
        (
            "vi",
            {"importance_resampling": "no"},
            r"importance_resampling must be True or False; got 'no'",
        ),
        (
            "laplace",
            {"importance_resampling": 1},
            r"importance_resampling must be True or False; got 1",
        ),
        (
            "pathfinder",
            {"importance_resampling": "no"},
            r"importance_resampling must be True or False",
        ),
        (
            "vi",
            {"vi_method": "mean_field"},
            r"vi_method must be one of \['fullrank', 'meanfield'\]; got 'mean_field'\. Did you mean 'meanfield'\?",
        ),
        ("vi", {"steps": 1.5}, r"steps must be an integer >= 1; got 1.5"),
        ("vi", {"learning_rate": "fast"}, r"learning_rate must be a positive number; got 'fast'"),
        ("vi", {"batch_size": 0}, r"batch_size must be an integer >= 1; got 0"),
        ("pathfinder", {"num_paths": "4"}, r"num_paths must be an integer >= 1; got '4'"),
        ("pathfinder", {"refine": "yes"}, r"refine must be True or False; got 'yes'"),
    ],
)
def test_each_approximation_checks_its_options_before_any_work(
    data, monkeypatch, method, options, match
):
    model = bmm.Model("y ~ x + (1|g)", data)
    monkeypatch.setattr(type(model), "build", lambda self: pytest.fail("nothing may be built"))
    with pytest.raises(bmm.DataError, match=match):
        model.fit(inference_method=method, progressbar=False, **options)


def test_the_approximations_check_their_options_when_called_directly(data):
    from bayesmm.backend.samplers import approximate

    built = bmm.Model("y ~ x + (1|g)", data).backend.model
    settings = {"draws": 5, "chains": 1, "random_seed": 1, "progressbar": False}
    for sample in (approximate.sample_vi, approximate.sample_laplace):
        with pytest.raises(bmm.DataError, match=r"importance_resampling must be True or False"):
            sample(built, importance_resampling="no", **settings)


def test_a_batch_larger_than_the_rows_is_refused(data, stub_sampler):
    model = bmm.Model("y ~ x + (1|g)", data)
    with pytest.raises(
        bmm.DataError,
        match=r"batch_size must be at most the model's number of rows, 20; got 10000 \(a "
        r"minibatch draws its rows from them with replacement\)",
    ):
        model.fit(inference_method="vi", batch_size=10_000, progressbar=False)


@pytest.mark.parametrize("fit", ["model", "fit_many"])
def test_sufficient_statistics_with_a_minibatch_says_why_it_cannot(data, stub_sampler, fit):
    model = bmm.Model("y ~ x + (1|g)", data)
    options = {"sufficient_statistics": True, "inference_method": "vi", "batch_size": 10}
    with pytest.raises(
        bmm.DataError,
        match=r"sufficient_statistics=True sums the rows before the fit, but batch_size "
        r"\(minibatch ADVI\) reads batches of the rows themselves: pass one or the other",
    ):
        if fit == "model":
            model.fit(progressbar=False, **options)
        else:
            bmm.fit_many([model], progressbar=False, **options)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda m: m.fit(random_seed=-1),
            r"random_seed must be a non-negative integer or None; got int -1",
        ),
        (
            lambda m: m.prior_predictive(random_seed=-1),
            r"random_seed must be a non-negative integer or None; got int -1",
        ),
        (
            lambda m: bmm.fit_many([m], random_seed=-1),
            r"random_seed must be a non-negative integer, a numpy.random.SeedSequence or None; got int -1",
        ),
        (
            lambda m: m.fitted(m.fit(draws=5, chains=1)).draws(random_seed=-1),
            r"random_seed must be a non-negative integer, a numpy.random.Generator or None; got int -1",
        ),
    ],
)
def test_every_seed_is_checked_by_one_function(data, stub_sampler, call, match):
    with pytest.raises(bmm.DataError, match=match):
        call(bmm.Model("y ~ x + (1|g)", data))
