"""Gaussian models sampled from their rows summed into exact sufficient statistics
(bayesmm.backend.graph.sufficient): the same log density and gradient as the model of the rows, at
any point, for every kind of term; chosen by size; refused with a reason where not exact."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.backend.graph import sufficient
from bayesmm.backend.graph.collapsed import COLLAPSED
from bayesmm.backend.graph.sufficient import stored_model, summed_model
from bayesmm.backend.samplers import choice
from bayesmm.design.moments import Moments


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(1)
    n = 2_000
    data = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "g": rng.integers(0, 40, n).astype(str),
            "h": rng.integers(0, 7, n).astype(str),
            "c": rng.choice(list("abc"), n),
            "w": rng.uniform(0.5, 2.0, n),
            "o": rng.normal(size=n),
        }
    )
    # A response far from zero: the statistics must stay accurate there (see the module).
    data["y"] = 300 + 2 * data["x"] + rng.normal(size=n) * 5
    return data


CASES = [
    ("y ~ x + (1|g)", {}),
    ("y ~ x + c + (x|g) + (1|h)", {}),  # correlated block, crossed factors, a category
    ("y ~ 0 + x + (1 + x || g)", {}),  # no intercept, independent slopes
    ("y ~ x + offset(o) + (1|g)", {}),
    ("y ~ x + (1|g)", {"weights": "w"}),
    ("y ~ 1", {}),
]


@pytest.mark.parametrize(("formula", "options"), CASES)
def test_the_summed_model_has_the_log_density_and_gradient_of_the_rows(frame, formula, options):
    model = bmm.Model(formula, frame, **options)
    rows = model.backend.model
    summed = summed_model(
        model.design, model.priors, model.noncentered, model.center_predictors, True
    ).model
    assert sorted(v.name for v in summed.free_RVs) == sorted(v.name for v in rows.free_RVs)
    logp_rows, logp_summed = rows.compile_logp(), summed.compile_logp()
    grad_rows, grad_summed = rows.compile_dlogp(), summed.compile_dlogp()
    rng = np.random.default_rng(2)
    for _ in range(3):
        point = {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in rows.initial_point().items()}
        expected = logp_rows(point)
        # Float64 rounding of sums over 2,000 rows: a relative error of order 1e-13 at most.
        assert logp_summed(point) == pytest.approx(expected, rel=1e-11)
        np.testing.assert_allclose(grad_summed(point), grad_rows(point), rtol=1e-8, atol=1e-6)


@pytest.mark.parametrize(("formula", "options"), CASES)
def test_the_model_of_stored_moments_has_the_log_density_of_all_the_rows(frame, formula, options):
    # An update's model (bayesmm.workflow.update): two batches' moments added, the second
    # with levels of g the first lacks; its design gives the levels, not the rows.
    model = bmm.Model(formula, frame, **options)
    early = frame["g"].astype(int) < 30
    batches = [frame[early & (frame.index < 1500)], frame[~early | (frame.index >= 1500)]]
    first, second = (Moments.of_design(bmm.Model(formula, b, **options).design) for b in batches)
    stored = stored_model(model.design, model.priors, first.merged(second)).model
    summed = summed_model(model.design, model.priors, "auto", True, True, True).model
    assert sorted(v.name for v in stored.free_RVs) == sorted(v.name for v in summed.free_RVs)
    logp_summed, logp_stored = summed.compile_logp(), stored.compile_logp()
    grad_summed, grad_stored = summed.compile_dlogp(), stored.compile_dlogp()
    rng = np.random.default_rng(5)
    for _ in range(3):
        start = summed.initial_point().items()
        point = {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in start}
        assert logp_stored(point) == pytest.approx(logp_summed(point), rel=1e-11)
        np.testing.assert_allclose(grad_stored(point), grad_summed(point), rtol=1e-8, atol=1e-6)


def test_fit_uses_the_statistics_from_a_size_on_and_says_so(frame, stub_sampler, monkeypatch):
    model = bmm.Model("y ~ x + (1|g)", frame)
    assert model.fit(draws=5, chains=1).attrs["likelihood"] == "rows"  # under 10,000 rows
    forced = model.fit(draws=5, chains=1, sufficient_statistics=True)
    # One group term of one column: its effects are integrated out (test_backend_collapsed.py).
    assert forced.attrs["likelihood"] == COLLAPSED
    # Two factors: g's effects integrated out (it has more levels), h's sampled.
    crossed = bmm.Model("y ~ x + (1|g) + (1|h)", frame).fit(
        draws=5, chains=1, sufficient_statistics=True
    )
    assert crossed.attrs["likelihood"] == COLLAPSED
    # Three columns on each factor: nothing integrated out, the statistics still exact.
    wide = bmm.Model("y ~ x + (c|g) + (c|h)", frame).fit(
        draws=5, chains=1, sufficient_statistics=True
    )
    assert wide.attrs["likelihood"] == "sufficient statistics (exact)"
    # The same variables as a fit of the rows, and the log-likelihood of each row.
    assert set(forced.posterior.data_vars) == set(model.fit(draws=5, chains=1).posterior.data_vars)
    assert forced.log_likelihood["y"].shape == (1, 5, len(frame))
    monkeypatch.setattr(sufficient, "SHORTCUT_MIN_ROWS", 1_000)
    assert model.fit(draws=5, chains=1).attrs["likelihood"].startswith("sufficient")
    assert model.fit(draws=5, chains=1, sufficient_statistics=False).attrs["likelihood"] == "rows"


def test_statistics_as_large_as_the_rows_are_not_used_by_default(frame, monkeypatch):
    monkeypatch.setattr(sufficient, "SHORTCUT_MIN_ROWS", 1_000)
    # One level per 2 rows: the statistics are not much smaller than the rows.
    fine = frame.assign(g=np.arange(len(frame)) // 2)
    model = bmm.Model("y ~ x + (1|g) + (1|h)", fine)
    assert choice.summed_for(model.backend, None) is None
    assert choice.summed_for(model.backend, True) is not None
    # With its effects integrated out, NUTS samples four numbers whatever the levels, and a
    # gradient reads fewer numbers than the rows: worth it at any size.
    one = bmm.Model("y ~ x + (1|g)", fine)
    collapsed = choice.summed_for(one.backend, None)
    assert collapsed is not None and collapsed.likelihood == COLLAPSED
    # The model's own summary is the same: build_model passes its arguments on.
    assert one.backend.summarised(False).likelihood == COLLAPSED


@pytest.mark.parametrize(
    ("formula", "options", "why"),
    [
        ("y ~ x + (1|g)", {"family": "t"}, "family 't' is neither gaussian nor bernoulli"),
        ("y ~ x + (1|g)", {"link": "log"}, "the link is 'log', not 'identity'"),
        ("censored(y, status) ~ x", {}, "the response is censored"),
        (bmm.Formula("y ~ x", "sigma ~ x"), {}, r"\['sigma'\] are modelled by formulas"),
        ("b ~ x + (1|g)", {"family": "bernoulli", "weights": "w"}, "a bernoulli model has weights"),
    ],
)
def test_a_model_whose_statistics_are_not_exact_is_refused_with_why(frame, formula, options, why):
    data = frame.assign(status="none", b=frame["x"] > 0)
    model = bmm.Model(formula, data, **options)
    with pytest.raises(bmm.DataError, match=rf"sufficient_statistics=True needs .*; here {why}"):
        model.fit(sufficient_statistics=True)
    with pytest.raises(bmm.DataError, match=r"sufficient_statistics must be True, False or None"):
        model.fit(sufficient_statistics="yes")


@pytest.fixture(scope="module")
def clicks():
    """Bernoulli rows with few distinct predictor values: many identical rows."""
    rng = np.random.default_rng(3)
    n = 3_000
    data = pd.DataFrame(
        {
            "x": rng.integers(0, 5, n).astype(float),
            "t": rng.choice(["a", "b"], n),
            "g": rng.integers(0, 30, n).astype(str),
        }
    )
    data["y"] = rng.random(n) < 1 / (1 + np.exp(-(0.3 * data["x"] - 1)))
    return data


@pytest.mark.parametrize(
    ("formula", "link"),
    [
        ("y ~ x + t + (1|g)", "logit"),
        ("y ~ x + (x|g)", "probit"),
        ("y ~ t + (1|g) + offset(x)", "logit"),
    ],
)
def test_counted_rows_have_the_posterior_of_the_bernoulli_rows(clicks, formula, link):
    model = bmm.Model(formula, clicks, family="bernoulli", link=link)
    first, inverse = sufficient.identical_rows(model.design)
    assert len(first) <= 5 * 2 * 30 * 5  # far fewer sets than rows
    rows = model.backend.model
    counted = sufficient.counted_model(
        model.design, model.priors, model.noncentered, model.center_predictors, True, model.link
    ).model
    assert sorted(v.name for v in counted.free_RVs) == sorted(v.name for v in rows.free_RVs)
    logp_rows, logp_counted = rows.compile_logp(), counted.compile_logp()
    grad_rows, grad_counted = rows.compile_dlogp(), counted.compile_dlogp()
    rng = np.random.default_rng(4)
    gaps = []
    for _ in range(3):
        point = {k: v + 0.3 * rng.normal(size=np.shape(v)) for k, v in rows.initial_point().items()}
        gaps.append(logp_counted(point) - logp_rows(point))
        np.testing.assert_allclose(grad_counted(point), grad_rows(point), rtol=1e-8, atol=1e-8)
    # The log densities differ by the log binomial coefficients, the same at every point.
    trials = np.bincount(inverse)
    successes = np.bincount(inverse, weights=model.design.response.values)
    from scipy.special import gammaln

    constant = np.sum(
        gammaln(trials + 1) - gammaln(successes + 1) - gammaln(trials - successes + 1)
    )
    np.testing.assert_allclose(gaps, constant, rtol=1e-10)


def test_a_large_fit_of_the_rows_says_why_and_about_how_long(frame, stub_sampler, monkeypatch):
    monkeypatch.setattr(choice, "ANNOUNCE_ROWS", 1_000)
    monkeypatch.setattr(sufficient, "SHORTCUT_MIN_ROWS", 1_000)
    model = bmm.Model("y ~ x + (1|g)", frame, family="t")
    # 2,000 rows x 2,000 iterations x 31 steps x 1.1e-8 s on 2 cores: about a second.
    with pytest.warns(
        bmm.BayesmmWarning,
        match=r"Sampling all 2000 rows with NUTS \(no exact summary: family 't' is neither "
        r"gaussian nor bernoulli\): expect roughly 1 minute,",
    ):
        model.fit(draws=5, tune=5, chains=1)
    with pytest.warns(bmm.BayesmmWarning, match=r"\(sufficient_statistics=False\)"):
        bmm.Model("y ~ x + (1|g)", frame).fit(draws=5, chains=1, sufficient_statistics=False)
    # The estimate is of NUTS: an approximation of the same rows says nothing of it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(inference_method="vi", draws=5, chains=1)
