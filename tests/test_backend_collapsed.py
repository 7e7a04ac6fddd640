"""Group effects integrated out of a summed gaussian model (bayesmm.backend.graph.collapsed): the
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
from bayesmm.backend.graph import sufficient
from bayesmm.backend.graph.collapsed import COLLAPSED, collapsible

LEVELS = 12


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(4)
    n = 240
    g = rng.integers(0, LEVELS, n)
    x = rng.normal(size=n)
    h = rng.integers(0, 4, n)
    data = pd.DataFrame(
        {
            "x": x,
            "g": g.astype(str),
            "h": h.astype(str),
            # 60 levels: its cells with g's fill a third of their pairs
            "k": (np.arange(n) % 60).astype(str),
            "o": rng.normal(size=n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    # Far from zero, as the statistics are taken around a reference (see sufficient).
    data["y"] = 300 + 2 * x + rng.normal(0, 3, LEVELS)[g] + rng.normal(size=n) * 2
    data["y"] += rng.normal(0, 2, 4)[h] + rng.normal(0, 1, 4)[h] * x
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


def _marginal(model, beta, sigma, cov, others=()):
    """log p(y | beta, sigma, Sigma) with the effects of the collapsed factor integrated out,
    level by level (``others``: the effects of the other factors' terms, one array per term).

    With weights, the model's likelihood is sum(w log N(y | eta, sigma)), which is
    sum(log N(y | eta, sigma / sqrt(w))) plus a constant per row; the effects are integrated
    out of the former."""
    design = model.design
    n = design.n_obs
    factor = collapsible(design, model.priors).terms[0].factor
    terms = [t for t in design.group_terms if t.factor == factor]
    z = np.hstack([np.ones((n, 1)) if t.values is None else np.asarray(t.values) for t in terms])
    mean = np.asarray(design.common) @ beta
    other_terms = [t for t in design.group_terms if t.factor != factor]
    for term, effects in zip(other_terms, others, strict=True):
        column = 1.0 if term.values is None else np.asarray(term.values).reshape(n)
        mean = mean + np.asarray(effects).reshape(-1)[term.index] * column
    if design.offset is not None:
        mean = mean + design.offset.values
    y = design.response.values
    w = np.ones(n) if design.weights is None else np.asarray(design.weights)
    total = np.sum(-(w - 1) / 2 * np.log(2 * np.pi * sigma**2) - np.log(w) / 2)
    for level in range(len(terms[0].levels)):
        rows = terms[0].index == level
        covariance = np.diag(sigma**2 / w[rows]) + z[rows] @ cov @ z[rows].T
        total += stats.multivariate_normal(mean[rows], covariance).logpdf(y[rows])
    return total


def _hyperparameters(model, summed):
    """A function of a point: the common coefficients (in the design's column order),
    sigma, and the effects' covariance, read from the summed model's variables."""
    common = [summed[t.name] for t in model.design.common_terms]
    factor = collapsible(model.design, model.priors).terms[0].factor
    collapsed = [t for t in model.design.group_terms if t.factor == factor]
    sds = [summed[f"{t.name}_sigma"] for t in collapsed]
    corr = [v for v in summed.deterministics if v.name.endswith(f"|{factor}_corr")]
    others = [summed[t.name] for t in model.design.group_terms if t.factor != factor]
    outs = summed.replace_rvs_by_values([*common, summed["sigma"], *sds, *corr, *others])
    function = summed.compile_fn(outs, inputs=summed.value_vars, on_unused_input="ignore")

    def at(point):
        values = function(point)
        beta = np.concatenate([np.ravel(v) for v in values[: len(common)]] + [np.zeros(0)])
        sigma, rest = values[len(common)], values[len(common) + 1 :]
        sd = np.array(rest[: len(sds)], dtype=float)
        correlation = np.eye(len(sd))
        if corr:
            correlation[0, 1] = correlation[1, 0] = rest[len(sds)]
        other = rest[len(sds) + len(corr) :]
        return beta, float(sigma), np.outer(sd, sd) * correlation, other

    return at


@pytest.mark.parametrize(
    ("formula", "options"),
    [
        ("y ~ x + (1|g)", {}),
        ("y ~ x + offset(o) + (1|g)", {}),
        ("y ~ x + (1|g)", {"weights": "w"}),
        ("y ~ 0 + x + (0 + x|g)", {}),
        ("y ~ (1|g)", {}),
        ("y ~ 0 + (1|g)", {}),
        ("y ~ x + (x|g)", {}),  # two correlated columns
        ("y ~ x + (x|g)", {"weights": "w"}),
        ("y ~ x + (x||g)", {}),  # two independent ones
        # g's effects integrated out, h's sampled (g has more levels)
        ("y ~ x + (1|g) + (1|h)", {}),
        ("y ~ x + (1|g) + (x|h)", {"weights": "w"}),
        ("y ~ x + (x|g) + (x|h)", {}),
        ("y ~ x + offset(o) + (x||g) + (1|h)", {}),
        # k's effects integrated out, g's cells with k's gathered one by one (sparse)
        ("y ~ x + (x|g) + (1|k)", {"weights": "w"}),
        ("y ~ x + (1|g) + (1|h) + (x||k)", {}),
    ],
)
def test_the_log_density_is_the_exact_marginal_likelihood(frame, formula, options):
    model = bmm.Model(formula, frame, center_predictors=False, **options)
    summed = _collapsed(model).model
    (density,) = summed.replace_rvs_by_values(summed.potentials)
    potential = summed.compile_fn(density, inputs=summed.value_vars, on_unused_input="ignore")
    hyperparameters = _hyperparameters(model, summed)
    rng = np.random.default_rng(5)
    start = summed.initial_point()
    for _ in range(3):
        point = {k: v + rng.normal(size=np.shape(v)) * 0.3 for k, v in start.items()}
        if "Intercept" in point:
            point["Intercept"] = 300 + rng.normal()
        expected = _marginal(model, *hyperparameters(point))
        assert float(potential(point)) == pytest.approx(expected, rel=1e-10)


def _completed(built, one, draws=4_000):
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw", *[f"d{i}" for i in range(np.ndim(value))]),
                np.broadcast_to(value, (1, draws, *np.shape(value))),
            )
            for name, value in one.items()
        }
    )
    return built.complete(posterior, 6, False)


@pytest.mark.parametrize("crossed", [False, True])
def test_the_effects_are_drawn_from_their_exact_conditional_posterior(frame, crossed):
    formula = "y ~ x + (1|g) + (1|h)" if crossed else "y ~ x + (1|g)"
    model = bmm.Model(formula, frame, center_predictors=False)
    built = _collapsed(model)
    beta, sigma, tau, tau_h = np.array([299.5, 2.1]), 2.2, 2.8, 1.5
    draws = 4_000
    one = {"Intercept": beta[0], "x": beta[1], "sigma": sigma, "1|g_sigma": tau}
    # With h crossed, its effects are held (sampled, not integrated out).
    v = np.array([1.0, -2.0, 0.5, 3.0]) if crossed else np.zeros(4)
    if crossed:
        free = [rv.name for rv in built.model.free_RVs]
        one |= {"1|h_sigma": tau_h}
        one |= {"1|h": v} if "1|h" in free else {"1|h_offset": v / tau_h}
    effects = _completed(built, one, draws)["1|g"].values[0]
    # The exact conditional: u_l | y ~ Normal(m_l, s_l), s_l^-2 = n_l / sigma^2 + 1 / tau^2,
    # with h's effects part of the residual.
    g, h = (next((t for t in model.design.group_terms if t.factor == f), None) for f in "gh")
    h = np.zeros(len(frame), dtype=int) if h is None else h.index
    residual = model.design.response.values - np.asarray(model.design.common) @ beta - v[h]
    n = np.bincount(g.index, minlength=LEVELS)
    precision = n / sigma**2 + 1 / tau**2
    mean = np.bincount(g.index, weights=residual, minlength=LEVELS) / sigma**2 / precision
    sd = precision**-0.5
    # Means within 4.5 standard errors and SDs within 4.5 of theirs (sd / sqrt(2 draws)): a
    # false alarm rate under 1e-4 over the 24 comparisons.
    np.testing.assert_array_less(np.abs(effects.mean(axis=0) - mean), 4.5 * sd / np.sqrt(draws))
    np.testing.assert_array_less(np.abs(effects.std(axis=0) - sd), 4.5 * sd / np.sqrt(2 * draws))


def test_correlated_effects_are_drawn_from_their_exact_conditional_posterior(frame):
    model = bmm.Model("y ~ x + (x|g)", frame, center_predictors=False)
    built = _collapsed(model)
    beta, sigma = np.array([299.5, 2.1]), 2.2
    cov = np.array([[9.0, 1.5], [1.5, 1.0]])
    chol = np.linalg.cholesky(cov)
    draws = 4_000
    free = [rv.name for rv in built.model.free_RVs]
    packed = next(name for name in free if name.endswith("_chol"))
    one = {"Intercept": beta[0], "x": beta[1], "sigma": sigma, packed: chol[np.tril_indices(2)]}
    out = _completed(built, one, draws)
    effects = np.stack([out["1|g"].values[0], out["x|g"].values[0]], axis=-1)
    # The exact conditional per level: precision Z'Z / sigma^2 + Sigma^-1, mean from Z'r.
    term = model.design.group_terms[0]
    z = np.column_stack([np.ones(len(frame)), frame["x"]])
    residual = model.design.response.values - np.asarray(model.design.common) @ beta
    for level in range(LEVELS):
        rows = term.index == level
        precision = z[rows].T @ z[rows] / sigma**2 + np.linalg.inv(cov)
        covariance = np.linalg.inv(precision)
        mean = covariance @ z[rows].T @ residual[rows] / sigma**2
        sd = np.sqrt(np.diag(covariance))
        got = effects[:, level]
        # As above: 4.5 standard errors, now over 2 x 12 means and 2 x 12 SDs.
        np.testing.assert_array_less(np.abs(got.mean(axis=0) - mean), 4.5 * sd / np.sqrt(draws))
        np.testing.assert_array_less(np.abs(got.std(axis=0) - sd), 4.5 * sd / np.sqrt(2 * draws))


def _normal(name, mu, sigma, dims=None):
    import pymc as pm

    return pm.Normal(name, mu=mu, sigma=sigma, dims=dims)


@pytest.mark.parametrize(
    ("formula", "options", "factor"),
    [
        ("y ~ x + (1|g)", {}, "g"),
        ("y ~ x + (0 + x|g)", {}, "g"),
        ("y ~ x + (x|g)", {}, "g"),  # two columns: a block
        ("y ~ x + (x||g)", {}, "g"),  # two independent terms
        ("y ~ x + (x + o|g)", {}, None),  # three columns
        ("y ~ x + (1|g) + (1|o)", {}, "g"),  # two factors: the one with more levels
        ("y ~ x + (1|o) + (x|g)", {}, "g"),
        ("y ~ x + (x + o|g) + (1|h)", {}, "h"),  # g has three columns: h
        (
            "y ~ x + (1|g) + (1|h)",
            {"priors": {"1|g": bmm.Prior("Normal", mu=1, sigma=bmm.Prior("HalfNormal", sigma=2))}},
            "h",
        ),
        (
            "y ~ x + (1|g)",
            {"priors": {"1|g": bmm.Prior("Normal", mu=1, sigma=bmm.Prior("HalfNormal", sigma=2))}},
            None,
        ),
        (
            "y ~ x + (1|g)",
            {
                "priors": {
                    "1|g": bmm.Prior("StudentT", nu=3, mu=0, sigma=bmm.Prior("HalfNormal", sigma=2))
                }
            },
            None,
        ),
        (
            "y ~ x + (1|g)",
            {
                "priors": {
                    "1|g": bmm.Prior(
                        "Normal",
                        mu=0,
                        sigma=bmm.Prior("HalfNormal", sigma=bmm.Prior("HalfNormal", sigma=[1.0])),
                    )
                }
            },
            None,
        ),
        (
            "y ~ x + (1|g)",
            {
                "priors": {
                    "1|g": bmm.Prior(
                        "Normal", dist=_normal, mu=0, sigma=bmm.Prior("HalfNormal", sigma=2)
                    )
                }
            },
            None,
        ),
        (
            "y ~ x + (1|g)",
            {
                "priors": {
                    "1|g": bmm.Prior(
                        "Normal",
                        mu=0,
                        sigma=bmm.Prior("HalfNormal", sigma=bmm.Prior("HalfNormal", sigma=1)),
                    )
                }
            },
            "g",
        ),
    ],
)
def test_one_factor_of_at_most_two_columns_with_a_population_is_integrated_out(
    frame, formula, options, factor
):
    model = bmm.Model(formula, frame.assign(o=(frame["o"] > 0).astype(str)), **options)
    spec = collapsible(model.design, model.priors)
    assert (spec.terms[0].factor if spec is not None else None) == factor


@pytest.mark.parametrize("formula", ["y ~ x + (1|g)", "y ~ x + (x|g)", "y ~ x + (x||g)"])
@pytest.mark.parametrize("levels", [LEVELS, 120])  # centred and non-centred models of the rows
def test_a_fit_has_the_variables_of_a_fit_of_the_rows(frame, stub_sampler, formula, levels):
    data = frame.assign(g=(np.arange(len(frame)) % levels).astype(str))
    model = bmm.Model(formula, data)
    forced = model.fit(draws=5, chains=2, sufficient_statistics=True, random_seed=1)
    rows = model.fit(draws=5, chains=2, sufficient_statistics=False, random_seed=1)
    assert forced.attrs["likelihood"] == COLLAPSED
    assert list(forced.posterior.data_vars) == list(rows.posterior.data_vars)
    for term in model.design.group_terms:
        assert forced.posterior[term.name].shape == rows.posterior[term.name].shape
        assert forced.posterior[term.name].shape == (2, 5, levels)
    # The log-likelihood of each row, from the model of the rows (which reads what it
    # samples in place of the effects: offsets, or a block's effects): that of the effects.
    post = forced.posterior
    level = model.design.group_terms[0].index
    eta = post["Intercept"].values[..., None] + post["x"].values[..., None] * data["x"].values
    eta = eta + post["1|g"].values[..., level] if "1|g" in post else eta
    if "x|g" in post:
        eta = eta + post["x|g"].values[..., level] * data["x"].values
    expected = stats.norm.logpdf(data["y"].values, eta, post["sigma"].values[..., None])
    np.testing.assert_allclose(forced.log_likelihood["y"].values, expected, rtol=1e-8)
    # Reproducible from the seed.
    again = model.fit(draws=5, chains=2, sufficient_statistics=True, random_seed=1)
    np.testing.assert_array_equal(again.posterior["1|g"], forced.posterior["1|g"])


def test_a_crossed_fit_has_the_variables_and_log_likelihood_of_a_fit_of_the_rows(
    frame, stub_sampler
):
    model = bmm.Model("y ~ x + (1|g) + (x|h)", frame)
    forced = model.fit(draws=5, chains=2, sufficient_statistics=True, random_seed=1)
    rows = model.fit(draws=5, chains=2, sufficient_statistics=False, random_seed=1)
    assert forced.attrs["likelihood"] == COLLAPSED
    assert list(forced.posterior.data_vars) == list(rows.posterior.data_vars)
    post = forced.posterior
    g, h = (next(t for t in model.design.group_terms if t.factor == f) for f in "gh")
    x = frame["x"].values
    eta = post["Intercept"].values[..., None] + post["x"].values[..., None] * x
    eta = eta + post["1|g"].values[..., g.index] + post["1|h"].values[..., h.index]
    eta = eta + post["x|h"].values[..., h.index] * x
    expected = stats.norm.logpdf(frame["y"].values, eta, post["sigma"].values[..., None])
    np.testing.assert_allclose(forced.log_likelihood["y"].values, expected, rtol=1e-8)


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
