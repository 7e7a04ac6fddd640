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
from bayesmm.backend import pathfinder

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
