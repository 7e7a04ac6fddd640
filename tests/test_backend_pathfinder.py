"""Pathfinder on the JAX route (backend/pathfinder.py): a mixed model against an independent
maximum-likelihood fit, the group term carried by its intercept and reported under its own
name, the fallback to pymc-extras, and the errors."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.backend.samplers import pathfinder

needs_jax = pytest.mark.skipif(not pathfinder.available(), reason="needs bayesmm[jax]")


@pytest.fixture(scope="module")
def grouped():
    """4,000 rows in 20 groups of a gaussian ``y ~ x + (1|g)``: 200 rows a group, so the
    posterior is close to normal and its mean close to the maximum-likelihood estimate."""
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(20), 200)
    x = rng.normal(size=4_000)
    y = 2.0 + 0.7 * x + rng.normal(0, 0.8, 20)[g] + rng.normal(size=4_000)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g.astype(str))})


@needs_jax
@pytest.mark.slow
def test_a_mixed_model_matches_statsmodels_mixedlm(grouped):
    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bmm.BayesmmWarning)  # k-hat is not under test here
        idata = bmm.Model("y ~ x + (1|g)", grouped).fit(
            inference_method="pathfinder", draws=500, chains=2, random_seed=4, progressbar=False
        )
    assert idata.attrs["pathfinder_engine"] == "jax"
    assert idata.attrs["pathfinder_paths_succeeded"] == 4
    # The intercept is carried by the group term (as for ADVI) and reported as before.
    assert "1|g" in idata.posterior and not any("with_intercept" in v for v in idata.posterior)
    mle = smf.mixedlm("y ~ x", grouped, groups=grouped["g"]).fit(reml=False)
    # Slope and intercept: the posterior mean within 3 posterior SDs of the estimate (the
    # data-scaled priors move them by far less than an SD at 4,000 rows).
    for ours, theirs in (("x", "x"), ("Intercept", "Intercept")):
        draws = idata.posterior[ours]
        assert abs(float(draws.mean()) - mle.params[theirs]) < 3 * float(draws.std()), ours
    # The slope's SD within 20% of the standard error (the SD of 1,000 pooled draws of a few
    # paths varies by about 10%).
    assert float(idata.posterior["x"].std()) == pytest.approx(mle.bse["x"], rel=0.2)
    # The group effects follow the estimated ones (BLUPs).
    blups = np.array([mle.random_effects[k].iloc[0] for k in sorted(mle.random_effects, key=int)])
    effects = idata.posterior["1|g"].mean(("chain", "draw"))
    levels = [str(v) for v in effects[effects.dims[0]].values]
    ours = np.array(
        [float(effects.sel({effects.dims[0]: str(k)})) for k in sorted(levels, key=int)]
    )
    assert np.corrcoef(ours, blups)[0, 1] > 0.99


@needs_jax
@pytest.mark.slow
def test_a_model_jax_cannot_translate_falls_back_to_pymc_extras(monkeypatch):
    if importlib.util.find_spec("pymc_extras") is None:
        pytest.skip("needs bayesmm[approx]")

    def refuse(*args, **kwargs):
        raise NotImplementedError("no JAX implementation")

    monkeypatch.setattr(pathfinder, "run_paths", refuse)
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"x": rng.normal(size=100)})
    data["y"] = 1 + 0.5 * data["x"] + rng.normal(size=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bmm.BayesmmWarning)
        idata = bmm.Model("y ~ x", data).fit(
            inference_method="pathfinder", draws=100, chains=2, random_seed=1, progressbar=False
        )
    assert idata.attrs["pathfinder_engine"] == "pymc-extras"
    assert idata.posterior["x"].shape == (2, 100)


TINY = pd.DataFrame({"y": [1.0, 2.0, 3.5, 4.0], "x": [0.0, 1.0, 2.0, 3.0]})


@pytest.fixture
def without_pymc_extras(monkeypatch):
    original = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pymc_extras" else original(name, *a),
    )


def test_a_model_jax_cannot_translate_without_pymc_extras_is_a_backend_error(
    monkeypatch, without_pymc_extras
):
    def refuse(*args, **kwargs):
        raise NotImplementedError("no JAX implementation of SomeOp")

    monkeypatch.setattr(pathfinder, "available", lambda: True)
    monkeypatch.setattr(pathfinder, "run_paths", refuse)
    with pytest.raises(
        bmm.BackendError,
        match=r"Pathfinder cannot run on this model: JAX cannot compute .*SomeOp.*"
        r"bayesmm\[approx\]",
    ):
        bmm.Model("y ~ x", TINY).fit(inference_method="pathfinder", progressbar=False)


def test_without_either_engine_the_error_says_what_to_install(monkeypatch, without_pymc_extras):
    monkeypatch.setattr(pathfinder, "available", lambda: False)
    with pytest.raises(
        bmm.BackendError, match=r"needs JAX and blackjax .*bayesmm\[jax\].* or pymc-extras"
    ):
        bmm.Model("y ~ x", TINY).fit(inference_method="pathfinder", progressbar=False)


def test_num_elbo_draws_is_checked():
    data = TINY
    with pytest.raises(bmm.DataError, match=r"num_elbo_draws must be an integer >= 1; got 0"):
        bmm.Model("y ~ x", data).fit(
            inference_method="pathfinder", num_elbo_draws=0, progressbar=False
        )


def test_refine_is_checked():
    with pytest.raises(bmm.DataError, match=r"refine must be True or False; got 'yes'"):
        bmm.Model("y ~ x", TINY).fit(inference_method="pathfinder", refine="yes")


# The centre's refinement, on log densities whose ELBO-best centre is known: independent
# coordinates of the log of a Gamma(a, b) variable, log p(t) = a t - b exp(t), mode log(a/b).
# Under a normal of SD s the gradient a - b exp(t) averages to zero at log(a/b) - s^2 / 2
# (E exp(t) = exp(mu + s^2 / 2)); over the antithetic pairs d_k actually drawn, at
# log(a/b) - log(mean_k cosh(d_k)).
SHAPE, RATE, SD, SIZE = 4.0, 2.0, 0.5, 200


def _log_gamma(t):
    import jax.numpy as jnp

    return jnp.sum(SHAPE * t - RATE * jnp.exp(t))


def _diagonal_normal():
    """The factors of a normal with covariance SD^2 I (no low-rank part)."""
    import jax.numpy as jnp

    return jnp.full(SIZE, SD**2), jnp.zeros((SIZE, 2)), jnp.zeros((2, 2))


@needs_jax
def test_the_refined_centre_is_where_the_gradient_averages_to_zero():
    import jax
    import jax.numpy as jnp

    from bayesmm.backend.programs.jax import configure

    configure()
    alpha, beta, gamma = _diagonal_normal()
    mode = jnp.full(SIZE, np.log(SHAPE / RATE))
    key = jax.random.PRNGKey(3)
    centre = np.asarray(pathfinder.refined_centre(_log_gamma, key, mode, alpha, beta, gamma))
    # The pairs it averaged over: the same key's standard normals, times the SD.
    spread = SD * np.asarray(jax.random.normal(key, (pathfinder._REFINE_PAIRS, SIZE)))
    exact = np.log(SHAPE / RATE) - np.log(np.cosh(spread).mean(axis=0))
    # The loop stops when the next step is under 0.01 SDs (0.005 here); L-BFGS converges
    # faster than that bound near the solution.
    np.testing.assert_allclose(centre, exact, atol=2e-3)
    # And in expectation, -s^2 / 2 from the mode: the mean shift over 200 coordinates has a
    # Monte-Carlo SD of about 0.0022 (each coordinate's log of a mean of 32 cosh values, SD
    # 0.031); 5 SDs.
    shift = float(np.mean(centre - np.log(SHAPE / RATE)))
    assert shift == pytest.approx(-(SD**2) / 2, abs=0.011)


@needs_jax
def test_a_centre_where_the_density_is_not_finite_is_kept():
    import jax
    import jax.numpy as jnp

    from bayesmm.backend.programs.jax import configure

    configure()
    alpha, beta, gamma = _diagonal_normal()
    start = jnp.zeros(SIZE)
    centre = pathfinder.refined_centre(
        lambda t: -jnp.inf * jnp.sum(t**2), jax.random.PRNGKey(0), start, alpha, beta, gamma
    )
    np.testing.assert_array_equal(np.asarray(centre), 0.0)


@pytest.fixture(scope="module")
def binary_groups():
    """5,000 bernoulli rows in 50 groups, ``logit P(y) = -0.5 + 0.8 x - 0.4 [t = b] + u_g``
    with ``u ~ N(0, 0.5^2)``: 100 rows a group, where the joint mode of the slopes and the
    group effects lies measurably away from the posterior mean."""
    rng = np.random.default_rng(0)
    g = rng.integers(0, 50, 5_000)
    x = rng.normal(size=5_000)
    t = rng.integers(0, 2, 5_000)
    eta = -0.5 + 0.8 * x - 0.4 * t + rng.normal(0, 0.5, 50)[g]
    y = (rng.random(5_000) < 1 / (1 + np.exp(-eta))).astype(int)
    frame = pd.DataFrame({"y": y, "x": x, "t": np.where(t == 1, "b", "a"), "g": g.astype(str)})
    return bmm.Model("y ~ x + t + (1|g)", frame, family="bernoulli")


@needs_jax
@pytest.mark.slow
def test_refined_pathfinder_matches_nuts_on_a_binary_mixed_model(binary_groups):
    import arviz as az

    names = ["Intercept", "x", "t", "1|g_sigma"]
    nuts = az.summary(
        binary_groups.fit(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False),
        var_names=names,
        round_to="none",
    )
    gaps = {}
    for refine in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bmm.BayesmmWarning)  # k-hat is not under test
            idata = binary_groups.fit(
                inference_method="pathfinder", refine=refine, random_seed=3, progressbar=False
            )
        assert idata.attrs["pathfinder_refined"] == int(refine)
        means = az.summary(idata, var_names=names, round_to="none")["mean"]
        gaps[refine] = (means - nuts["mean"]) / nuts["sd"]
    # Refined, the fixed effects' means are within 0.35 NUTS SDs: over seeds 1 to 6 their
    # gaps were -0.13 to 0.08, spread about 0.06 from seed to seed (NUTS' own Monte-Carlo
    # error is under 0.03 SDs), so a false alarm is a 4-spread event. Unrefined: up to 0.78.
    assert gaps[True][["Intercept", "x", "t"]].abs().max() < 0.35, gaps[True]
    # The group sd is where the joint mode is furthest off: unrefined 1.0 to 1.6 SDs below
    # NUTS' mean over seeds 1 to 6; refining moved it up by 0.5 to 1.6 SDs (to -0.72 to
    # 0.21).
    assert gaps[False]["1|g_sigma"] < -0.7, gaps[False]
    assert gaps[True]["1|g_sigma"] > gaps[False]["1|g_sigma"] + 0.4, gaps
    assert abs(gaps[True]["1|g_sigma"]) < 0.9, gaps
