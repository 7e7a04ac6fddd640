"""Truncated responses: ``trunc(y, lb=..., ub=...)`` (and Bambi's ``truncated(...)``)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import bayesmm as bmm
from _served import logp_at
from bayesmm.families.truncated import TRUNCATABLE, frozen, log_mass, truncated_draws


@pytest.fixture
def data():
    rng = np.random.default_rng(4)
    n = 400
    x = rng.normal(size=n)
    y = 0.5 + 0.8 * x + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "x": x, "hi": 2.0 + rng.uniform(size=n)})
    return frame[(frame["y"] > 0) & (frame["y"] < frame["hi"])].reset_index(drop=True)


def test_gaussian_log_density_is_scipys_truncated_normal(data):
    model = bmm.Model("trunc(y, lb=0, ub=hi) ~ x", data, center_predictors=False)
    logp = logp_at(model, {"Intercept": 0.4, "x": 0.7, "sigma_log__": np.log(1.2)})
    mu = 0.4 + 0.7 * data["x"].to_numpy()
    a, b = (0 - mu) / 1.2, (data["hi"].to_numpy() - mu) / 1.2
    expected = stats.truncnorm.logpdf(data["y"], a, b, mu, 1.2).sum()
    # PyMC and scipy compute the normal log CDF by different approximations.
    assert logp == pytest.approx(expected, rel=1e-8)


def test_zero_truncated_poisson_includes_the_lower_bound():
    rng = np.random.default_rng(1)
    counts = rng.poisson(2.0, 200)
    frame = pd.DataFrame({"y": counts[counts >= 1]})
    model = bmm.Model("trunc(y, lb=1) ~ 1", frame, family="poisson")
    logp = logp_at(model, {"Intercept": np.log(1.7)})
    y = frame["y"].to_numpy()
    # P(Y = y | Y >= 1): the bound 1 is a possible value.
    expected = (stats.poisson.logpmf(y, 1.7) - np.log(stats.poisson.sf(0, 1.7))).sum()
    assert logp == pytest.approx(expected, rel=1e-10)


def test_bambis_spelling_and_negative_bounds_read_the_same(data):
    shifted = data.assign(y=data["y"] - 1.0)
    ours = bmm.Model("trunc(y, lb=-1) ~ x", shifted)
    theirs = bmm.Model("truncated(y, lb=-1) ~ x", shifted)
    assert ours.design.response.truncation.lower == theirs.design.response.truncation.lower == -1
    assert np.all(np.isinf(ours.design.response.truncation.high))


@pytest.mark.parametrize("family", sorted(TRUNCATABLE))
def test_scipy_distributions_have_the_familys_density(family):
    """The distributions that give truncated predictions are the families' own."""
    values = {
        "mu": np.array([0.3, 0.6]) if family == "beta" else np.array([1.5, 2.5]),
        "sigma": np.array([0.7]),
        "nu": np.array([5.0]),
        "b": np.array([0.8]),
        "alpha": np.array([2.5]),
        "lam": np.array([3.0]),
        "kappa": np.array([6.0]),
    }
    y = np.array([0.2, 0.45]) if family == "beta" else np.array([1.0, 3.0])
    distribution = frozen(family, values)
    discrete = family in ("poisson", "negativebinomial")
    ours = distribution.logpmf(y) if discrete else distribution.logpdf(y)
    familys = bmm.get_family(family).likelihood.logpdf(y, values)
    np.testing.assert_allclose(ours, familys, rtol=1e-10)


def test_log_mass_of_counts_includes_both_bounds():
    values = {"mu": np.array([3.0])}
    got = log_mass("poisson", values, np.array([2.0]), np.array([4.0]))
    assert got == pytest.approx(np.log(stats.poisson.pmf([2, 3, 4], 3.0).sum()))
    # Far in the upper tail, where 1 - CDF has no precision left.
    got = log_mass(
        "gaussian",
        {"mu": np.array([0.0]), "sigma": np.array([1.0])},
        np.array([12.0]),
        np.array([np.inf]),
    )
    assert got == pytest.approx(stats.norm.logsf(12.0), rel=1e-9)


@pytest.mark.parametrize(
    ("family", "values", "low", "high", "reference"),
    [
        ("gaussian", {"mu": 0.0, "sigma": 1.0}, -0.5, 2.0, stats.truncnorm(-0.5, 2.0)),
        ("gaussian", {"mu": 0.0, "sigma": 1.0}, 6.0, np.inf, stats.truncnorm(6.0, np.inf)),
        ("gamma", {"mu": 2.0, "alpha": 3.0}, 1.0, 3.0, None),
    ],
)
def test_truncated_draws_follow_the_truncated_distribution(family, values, low, high, reference):
    """Kolmogorov-Smirnov at a 0.1% false-alarm rate, seeded; every draw within bounds."""
    arrays = {k: np.full((4000, 1), v) for k, v in values.items()}
    rng = np.random.default_rng(8)
    draws = truncated_draws(family, arrays, np.array([low]), np.array([high]), rng).ravel()
    assert draws.min() >= low and draws.max() <= high
    dist = frozen(family, {k: np.asarray(v) for k, v in values.items()})
    if reference is None:
        mass = dist.cdf(high) - dist.cdf(low)
        cdf = lambda y: (dist.cdf(y) - dist.cdf(low)) / mass  # noqa: E731
    else:
        cdf = reference.cdf
    assert stats.kstest(draws, cdf).pvalue > 1e-3


def test_truncated_counts_are_drawn_between_their_bounds():
    arrays = {"mu": np.full((20_000, 1), 2.0)}
    draws = truncated_draws(
        "poisson", arrays, np.array([1.0]), np.array([3.0]), np.random.default_rng(2)
    ).ravel()
    pmf = stats.poisson.pmf([1, 2, 3], 2.0)
    expected = pmf / pmf.sum() * draws.size
    observed = np.array([(draws == k).sum() for k in (1, 2, 3)])
    assert observed.sum() == draws.size
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_jax_erfcx_matches_scipy_with_finite_gradients():
    jax = pytest.importorskip("jax")
    from bayesmm.backend.programs.jax import configure
    from bayesmm.backend.programs.jax_ops import _erfcx

    configure()
    x = np.array([-30.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0, 5.0, 30.0, 1e4])
    np.testing.assert_allclose(np.asarray(_erfcx(x)), special.erfcx(x), rtol=1e-10)
    finite = x[1:]  # erfcx(-30) overflows, as scipy's does
    gradient = np.asarray(jax.vmap(jax.grad(_erfcx))(finite))
    # d/dx erfcx(x) = 2 x erfcx(x) - 2 / sqrt(pi)
    np.testing.assert_allclose(
        gradient, 2 * finite * special.erfcx(finite) - 2 / np.sqrt(np.pi), rtol=1e-6
    )


def test_new_rows_draw_within_their_bounds_and_score_as_scipy(data, stub_sampler):
    model = bmm.Model("trunc(y, lb=0, ub=hi) ~ x", data)
    fitted = model.fitted(model.fit(draws=50, chains=2, random_seed=3, progressbar=False))
    new = pd.DataFrame({"x": [-2.0, 0.0, 2.0], "hi": [0.5, 3.0, 3.0]})
    draws = fitted.draws(new, "response", random_seed=1)
    assert draws.min() >= 0 and np.all(draws.max(axis=0) <= new["hi"].to_numpy())
    y = np.array([0.2, 0.5, 2.9])
    params = fitted.parameters(new)
    mu, sigma = params["mu"], params["sigma"]
    high = new["hi"].to_numpy()
    expected = stats.truncnorm.logpdf(y, (0 - mu) / sigma, (high - mu) / sigma, mu, sigma)
    np.testing.assert_allclose(fitted.log_likelihood(new, y), expected, rtol=1e-8)
    assert np.all(np.isneginf(fitted.log_likelihood(new, [0.6, 0.5, 2.9])[:, 0]))


def test_response_draws_need_the_bound_columns(data, stub_sampler):
    model = bmm.Model("trunc(y, lb=0, ub=hi) ~ x", data)
    fitted = model.fitted(model.fit(draws=20, chains=2, random_seed=3, progressbar=False))
    new = pd.DataFrame({"x": [0.0]})
    assert fitted.draws(new).shape == (40, 1)  # the parameter needs no bounds
    with pytest.raises(bmm.DataError, match=r"column\(s\) \['hi'\].*upper bound the column"):
        fitted.draws(new, "response")
    with pytest.raises(bmm.DataError, match=r"lb >= ub in 1 row"):
        fitted.draws(new.assign(hi=[-1.0]), "response")


def test_print_shows_the_bounds(data):
    text = repr(bmm.Model("trunc(y, lb=0, ub=hi) ~ x", data))
    assert "Truncation: lower bound 0, upper bound the column 'hi'" in text


@pytest.mark.parametrize(
    ("formula", "error", "match"),
    [
        ("trunc(y, lb=2, ub=1) ~ x", bmm.DataError, r"needs lb < ub; got lb=2 and ub=1"),
        ("trunc(y, lb=0.5) ~ x", bmm.DataError, r"within its bounds \(lower bound 0.5\).*row"),
        ("trunc(y, lb='a') ~ x", bmm.FormulaError, r"numbers or column names; got"),
        ("trunc(y, low=0) ~ x", bmm.FormulaError, r"unknown argument\(s\) \['low'\]"),
        ("trunc(y) ~ x", bmm.FormulaError, r"not a valid truncated response"),
        ("trunc(y, lb=x) ~ x", bmm.DataError, r"lb >= ub|within its bounds"),
    ],
)
def test_bad_truncation_names_the_term(data, formula, error, match):
    with pytest.raises(error, match=match):
        bmm.Model(formula, data)


def test_bound_column_that_is_not_numbers_is_named(data):
    with pytest.raises(bmm.DataError, match=r"bound column 'hi'.*must hold numbers; got dtype"):
        bmm.Model("trunc(y, ub=hi) ~ x", data.assign(hi="a"))
    with pytest.raises(bmm.DataError, match=r"bound column 'hi'.*finite number.*inf"):
        bmm.Model("trunc(y, ub=hi) ~ x", data.assign(hi=np.inf))


def test_families_without_a_known_cdf_cannot_be_truncated(data):
    frame = data.assign(z=(data["y"] > 1).astype(int))
    with pytest.raises(bmm.DataError, match=r"truncated.*one of \[.*'gaussian'.*bernoulli"):
        bmm.Model("trunc(z, ub=1) ~ x", frame, family="bernoulli")


def test_minibatch_advi_refuses_truncation(data):
    model = bmm.Model("trunc(y, lb=0, ub=hi) ~ x", data)
    with pytest.raises(bmm.DataError, match="without censoring or truncation"):
        model.fit(inference_method="vi", batch_size=50)


def test_saved_model_predicts_and_serves_without_pymc(data, stub_sampler, tmp_path):
    model = bmm.Model("trunc(y, lb=0, ub=hi) ~ x", data)
    idata = model.fit(draws=30, chains=2, random_seed=3, progressbar=False)
    fitted = model.fitted(idata)
    path = model.save(tmp_path / "trunc.nc", idata)
    slim = fitted.save(tmp_path / "slim.nc", posterior_only=True)
    new = pd.DataFrame({"x": [-1.0, 1.0], "hi": [1.0, 2.5]})
    expected = fitted.draws(new, "response", random_seed=4)
    np.save(tmp_path / "expected.npy", expected)
    code = f"""
import sys
import numpy as np, pandas as pd
import bayesmm as bmm
from fastapi.testclient import TestClient
from bayesmm.serve import create_app
new = pd.DataFrame({{"x": [-1.0, 1.0], "hi": [1.0, 2.5]}})
expected = np.load({str(tmp_path / "expected.npy")!r})
for path in ({str(path)!r}, {str(slim)!r}):
    loaded = bmm.load(path)
    assert "lb=0" in repr(loaded), repr(loaded)
    np.testing.assert_array_equal(loaded.draws(new, "response", random_seed=4), expected)
client = TestClient(create_app({str(path)!r}))
columns = {{c["name"]: c["role"] for c in client.get("/v1/model").json()["inputs"]}}
assert columns == {{"x": "predictor", "hi": "bound"}}, columns
rows = [{{"x": -1.0, "hi": 1.0}}, {{"x": 1.0, "hi": 2.5}}]
got = client.post("/v1/predict/interval", json={{"rows": rows, "random_seed": 1}})
assert got.status_code == 200, got.text
for row, result in zip(rows, got.json()["results"]):
    assert 0 <= result["lower"] <= result["upper"] <= row["hi"], result
missing = client.post("/v1/predict/interval", json={{"rows": [{{"x": 0.0}}]}})
assert missing.status_code == 422 and "hi" in missing.text, missing.text
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"


def test_training_rows_draw_within_their_bounds(data, stub_sampler):
    model = bmm.Model("trunc(y, lb=0, ub=hi) ~ x", data)
    fitted = model.fitted(model.fit(draws=20, chains=2, random_seed=3, progressbar=False))
    draws = fitted.draws(kind="response", random_seed=1)
    assert draws.min() >= 0 and np.all(draws <= data["hi"].to_numpy())
    predictive = fitted.predict(kind="response", random_seed=1)
    assert "trunc(y, lb=0, ub=hi)" in predictive.posterior_predictive
    assert len(fitted.interval()) == len(data)


@pytest.mark.parametrize(
    ("family", "values", "low", "high", "near"),
    [
        # scipy's Poisson inverse gives NaN below about 1e-16; the tail search takes over.
        ("poisson", {"mu": 2.0}, 30.0, np.inf, 30.0),
        ("poisson", {"mu": 2.0}, 20.0, 25.0, 20.0),
        # The normal's tail probability underflows at 39 sds: the draws sit at the bound.
        ("gaussian", {"mu": 0.0, "sigma": 1.0}, 39.0, 39.5, 39.0),
        ("gaussian", {"mu": 0.0, "sigma": 1.0}, -np.inf, -40.0, -40.0),
    ],
)
def test_draws_far_in_a_tail_are_finite_and_sit_near_the_bound(family, values, low, high, near):
    arrays = {k: np.full((2000, 1), v) for k, v in values.items()}
    draws = truncated_draws(
        family, arrays, np.array([low]), np.array([high]), np.random.default_rng(5)
    )
    assert np.all(np.isfinite(draws)) and draws.min() >= low and draws.max() <= high
    if family == "poisson":
        # P(Y = low | Y >= low) is about 1 - mu / (low + 1): 0.94 and 0.91 here.
        assert np.mean(draws == near) > 0.85
    else:
        np.testing.assert_array_equal(draws, near)


def test_count_bounds_must_be_whole_numbers():
    frame = pd.DataFrame({"y": [1, 2, 3, 4], "x": [0.1, 0.2, 0.3, 0.4], "hi": [5, 6, 7, 8.5]})
    with pytest.raises(bmm.DataError, match=r"whole numbers.*fractions in 4 row"):
        bmm.Model("trunc(y, lb=0.5) ~ x", frame, family="poisson")
    with pytest.raises(bmm.DataError, match=r"whole numbers.*fractions in 1 row.*\[3\]"):
        bmm.Model("trunc(y, ub=hi) ~ x", frame, family="poisson")


def test_new_count_rows_need_whole_bounds():
    import arviz as az

    frame = pd.DataFrame({"y": [1, 2, 3, 4], "x": [0.1, 0.2, 0.3, 0.4], "hi": [5, 6, 7, 8]})
    model = bmm.Model("trunc(y, ub=hi) ~ x", frame, family="poisson")
    posterior = {"Intercept": np.full((1, 5), 1.0), "x": np.full((1, 5), 0.2)}
    fitted = model.fitted(az.from_dict(posterior=posterior))
    draws = fitted.draws(pd.DataFrame({"x": [0.0], "hi": [3]}), "response", random_seed=1)
    assert set(np.unique(draws)) <= {0, 1, 2, 3}
    with pytest.raises(bmm.DataError, match=r"whole numbers \(both are included\); got \[6\.5\]"):
        fitted.draws(pd.DataFrame({"x": [0.0], "hi": [6.5]}), "response")


def test_text_bound_columns_are_refused(data):
    with pytest.raises(bmm.DataError, match=r"bound column 'hi'.*must hold numbers; got dtype"):
        bmm.Model("trunc(y, ub=hi) ~ x", data.assign(hi=data["hi"].astype(str)))


def test_prior_draws_outside_the_bounds_name_the_truncated_response():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"y": rng.poisson(12, 100) + 9, "x": rng.normal(size=100)})
    model = bmm.Model("trunc(y, lb=9) ~ x", frame, family="poisson")
    with pytest.raises(bmm.BackendError, match=r"truncated response 'trunc\(y, lb=9\)'.*priors"):
        model.prior_predictive(draws=200, random_seed=1)


JAX_ROUTE = ["gaussian", "lognormal", "exponential", "weibull", "wald", "laplace", "poisson"]
NOT_JAX = ["gamma", "t", "beta", "negativebinomial"]


@pytest.mark.parametrize("family", JAX_ROUTE + NOT_JAX)
def test_the_jax_route_differentiates_the_truncated_families_the_docs_name(family):
    """What docs/formulas.md says: NumPyro (the log density's gradient compiled to JAX)
    takes the first families; the others need a gradient JAX lacks (in the shape of the
    incomplete gamma or beta function), so "auto" samples them with nutpie."""
    pytest.importorskip("jax")
    import pytensor
    import pytensor.tensor as pt

    from bayesmm.backend.programs.jax import configure
    from bayesmm.backend.programs.jax_ops import register_jax_ops

    configure()
    register_jax_ops()
    rng = np.random.default_rng(3)
    if family in ("poisson", "negativebinomial"):
        y, formula = np.minimum(rng.poisson(3, 60) + 1, 8), "trunc(y, lb=1, ub=8) ~ x"
    elif family == "beta":
        y, formula = rng.uniform(0.2, 0.8, 60), "trunc(y, lb=0.1, ub=0.9) ~ x"
    else:
        y, formula = np.minimum(rng.gamma(2.0, 1.0, 60) + 1.0, 8), "trunc(y, lb=1, ub=8) ~ x"
    frame = pd.DataFrame({"y": y, "x": rng.normal(size=60)})
    model = bmm.Model(formula, frame, family=family).backend.model
    point = model.initial_point()

    def gradient() -> list:
        with warnings.catch_warnings():  # PyMC's parameter checks, which JAX tracing drops
            warnings.filterwarnings("ignore", "Skipping .* as JAX tracing would remove it")
            compiled = pytensor.function(
                model.value_vars, pt.grad(model.logp(), model.value_vars), mode="JAX"
            )
            return compiled(*[point[v.name] for v in model.value_vars])

    if family in NOT_JAX:
        with pytest.raises((NotImplementedError, ValueError)):
            gradient()
        return
    assert all(np.all(np.isfinite(v)) for v in gradient())
