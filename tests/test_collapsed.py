"""Group effects integrated out of a summed gaussian model (bayesmm.backend.collapsed): the
log density is the exact marginal likelihood (against scipy's multivariate normal), each
draw's effects come from their exact conditional posterior, and a fit returns the variables
of a fit of the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import bayesmm as bmm
from bayesmm.backend import sufficient
from bayesmm.backend.collapsed import COLLAPSED, collapsible

LEVELS = 12


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(4)
    n = 240
    g = rng.integers(0, LEVELS, n)
    x = rng.normal(size=n)
    data = pd.DataFrame(
        {"x": x, "g": g.astype(str), "o": rng.normal(size=n), "w": rng.uniform(0.5, 2, n)}
    )
    # Far from zero, as the statistics are taken around a reference (see sufficient).
    data["y"] = 300 + 2 * x + rng.normal(0, 3, LEVELS)[g] + rng.normal(size=n) * 2
    return data


def _collapsed(model):
    built = sufficient.summed_model(
        model.design,
        model.priors,
        model.noncentered,
        model.center_predictors,
        required=True,
        collapse=True,
    )
    assert built is not None and built.likelihood == COLLAPSED
    return built


def _marginal(frame, model, beta, sigma, tau):
    """log p(y | beta, sigma, tau) with the effects integrated out, group by group.

    With weights, the model's likelihood is sum(w log N(y | eta, sigma)), which is
    sum(log N(y | eta, sigma / sqrt(w))) plus a constant per row; the effects are integrated
    out of the former."""
    design = model.design
    term = design.group_terms[0]
    column = np.ones(len(frame)) if term.values is None else np.asarray(term.values)[:, 0]
    mean = np.asarray(design.common) @ beta
    if design.offset is not None:
        mean = mean + design.offset.values
    y = design.response.values
    w = np.ones(len(frame)) if design.weights is None else np.asarray(design.weights)
    total = np.sum(-(w - 1) / 2 * np.log(2 * np.pi * sigma**2) - np.log(w) / 2)
    for level in range(len(term.levels)):
        rows = term.index == level
        z = column[rows]
        cov = np.diag(sigma**2 / w[rows]) + tau**2 * np.outer(z, z)
        total += stats.multivariate_normal(mean[rows], cov).logpdf(y[rows])
    return total


@pytest.mark.parametrize(
    ("formula", "options"),
    [
        ("y ~ x + (1|g)", {}),
        ("y ~ x + offset(o) + (1|g)", {}),
        ("y ~ x + (1|g)", {"weights": "w"}),
        ("y ~ 0 + x + (0 + x|g)", {}),
        ("y ~ (1|g)", {}),
        ("y ~ 0 + (1|g)", {}),
    ],
)
def test_the_log_density_is_the_exact_marginal_likelihood(frame, formula, options):
    model = bmm.Model(formula, frame, center_predictors=False, **options)
    built = _collapsed(model)
    summed = built.model
    (density,) = summed.replace_rvs_by_values(summed.potentials)
    potential = summed.compile_fn(density, inputs=summed.value_vars, on_unused_input="ignore")
    rng = np.random.default_rng(5)
    names = list(model.design.common_terms)
    shapes = summed.initial_point()
    for _ in range(3):
        beta = np.array([300.0, 2.0])[: np.asarray(model.design.common).shape[1]]
        beta = beta + rng.normal(size=beta.shape) * 0.1
        sigma, tau = rng.uniform(1.5, 2.5), rng.uniform(2.0, 4.0)
        point = {"sigma_log__": np.log(sigma), "1|g_sigma_log__": np.log(tau)}
        if "0 + x|g" in formula:
            point = {"sigma_log__": np.log(sigma), "x|g_sigma_log__": np.log(tau)}
        start = 0
        for term in names:
            width = len(term.columns)
            value = beta[start : start + width]
            point[term.name] = value.reshape(np.shape(shapes[term.name]))
            start += width
        expected = _marginal(frame, model, beta, sigma, tau)
        assert float(potential(point)) == pytest.approx(expected, rel=1e-10)


def test_the_effects_are_drawn_from_their_exact_conditional_posterior(frame):
    model = bmm.Model("y ~ x + (1|g)", frame, center_predictors=False)
    built = _collapsed(model)
    beta, sigma, tau = np.array([299.5, 2.1]), 2.2, 2.8
    draws = 4_000
    one = {"Intercept": beta[0], "x": beta[1], "sigma": sigma, "1|g_sigma": tau}
    posterior = xr.Dataset(
        {name: (("chain", "draw"), np.full((1, draws), value)) for name, value in one.items()}
    )
    effects = built.complete(posterior, 6, False)["1|g"].values[0]
    # The exact conditional: u_l | y ~ Normal(m_l, s_l), s_l^-2 = n_l / sigma^2 + 1 / tau^2.
    term = model.design.group_terms[0]
    residual = model.design.response.values - np.asarray(model.design.common) @ beta
    n = np.bincount(term.index, minlength=LEVELS)
    precision = n / sigma**2 + 1 / tau**2
    mean = np.bincount(term.index, weights=residual, minlength=LEVELS) / sigma**2 / precision
    sd = precision**-0.5
    # Means within 4.5 standard errors and SDs within 4.5 of theirs (sd / sqrt(2 draws)): a
    # false alarm rate under 1e-4 over the 24 comparisons.
    np.testing.assert_array_less(np.abs(effects.mean(axis=0) - mean), 4.5 * sd / np.sqrt(draws))
    np.testing.assert_array_less(np.abs(effects.std(axis=0) - sd), 4.5 * sd / np.sqrt(2 * draws))


def _normal(name, mu, sigma, dims=None):
    import pymc as pm

    return pm.Normal(name, mu=mu, sigma=sigma, dims=dims)


@pytest.mark.parametrize(
    ("formula", "options", "collapses"),
    [
        ("y ~ x + (1|g)", {}, True),
        ("y ~ x + (0 + x|g)", {}, True),
        ("y ~ x + (x|g)", {}, False),  # two columns: a block
        ("y ~ x + (1|g) + (1|o)", {}, False),  # two factors
        ("y ~ x + (1|g)", {"priors": {"1|g": bmm.Prior("Normal", mu=1, sigma=bmm.Prior("HalfNormal", sigma=2))}}, False),
        ("y ~ x + (1|g)", {"priors": {"1|g": bmm.Prior("StudentT", nu=3, mu=0, sigma=bmm.Prior("HalfNormal", sigma=2))}}, False),
        ("y ~ x + (1|g)", {"priors": {"1|g": bmm.Prior("Normal", mu=0, sigma=bmm.Prior("HalfNormal", sigma=bmm.Prior("HalfNormal", sigma=[1.0])))}}, False),
        ("y ~ x + (1|g)", {"priors": {"1|g": bmm.Prior("Normal", dist=_normal, mu=0, sigma=bmm.Prior("HalfNormal", sigma=2))}}, False),
        ("y ~ x + (1|g)", {"priors": {"1|g": bmm.Prior("Normal", mu=0, sigma=bmm.Prior("HalfNormal", sigma=bmm.Prior("HalfNormal", sigma=1)))}}, True),
    ],
)  # fmt: skip
def test_only_one_group_term_of_one_column_with_a_population_is_integrated_out(
    frame, formula, options, collapses
):
    model = bmm.Model(formula, frame.assign(o=(frame["o"] > 0).astype(str)), **options)
    assert (collapsible(model.design, model.priors) is not None) is collapses


@pytest.mark.parametrize("levels", [LEVELS, 120])  # centred and non-centred models of the rows
def test_a_fit_has_the_variables_of_a_fit_of_the_rows(frame, stub_sampler, levels):
    data = frame.assign(g=(np.arange(len(frame)) % levels).astype(str))
    model = bmm.Model("y ~ x + (1|g)", data)
    forced = model.fit(draws=5, chains=2, sufficient_statistics=True, random_seed=1)
    rows = model.fit(draws=5, chains=2, sufficient_statistics=False, random_seed=1)
    assert forced.attrs["likelihood"] == COLLAPSED
    assert list(forced.posterior.data_vars) == list(rows.posterior.data_vars)
    assert forced.posterior["1|g"].shape == rows.posterior["1|g"].shape == (2, 5, levels)
    assert forced.log_likelihood["y"].shape == (2, 5, len(frame))
    # Reproducible from the seed.
    again = model.fit(draws=5, chains=2, sufficient_statistics=True, random_seed=1)
    np.testing.assert_array_equal(again.posterior["1|g"], forced.posterior["1|g"])


def test_an_approximation_of_a_collapsed_model_gets_the_effects_too(frame):
    model = bmm.Model("y ~ x + (1|g)", frame)
    idata = model.fit(
        inference_method="laplace", draws=200, chains=2, sufficient_statistics=True, random_seed=2
    )
    assert idata.attrs["likelihood"] == COLLAPSED
    assert idata.posterior["1|g"].shape == (2, 200, LEVELS)
    # The effects' posterior means against the data: each level's mean residual, shrunk.
    effects = idata.posterior["1|g"].mean(("chain", "draw")).values
    residual = frame["y"] - 300 - 2 * frame["x"]
    raw = residual.groupby(model.design.group_terms[0].index).mean().values
    assert np.corrcoef(effects, raw)[0, 1] > 0.95
