"""Log prior densities and power-scaling sensitivity (``predict.log_prior``,
``predict.powerscale``, ``FittedModel.log_prior`` and ``FittedModel.sensitivity``).

The references are independent of the code under test: PyMC's own log densities for
``log_prior``, and for the sensitivity a conjugate normal model, whose posterior under a
powered prior is known in closed form, fitted with exact posterior draws (no sampler)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

import bayesmm as bmm
from bayesmm.predict.log_prior import lkj_log_density
from bayesmm.predict.powerscale import cjs_distance, diagnosis, powerscale_weights

SIGMA = 1.0  # the known sd of the conjugate model's rows


def test_log_prior_matches_pymcs_log_density_of_each_prior(stub_sampler):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(2.0, 1.0, 60), "g": rng.integers(0, 6, 60).astype(str)})
    frame["y"] = 1 + 0.5 * frame["x"] + rng.normal(size=60)
    priors = {"x": bmm.Prior("StudentT", nu=5, mu=0.2, sigma=2.0)}
    model = bmm.Model("y ~ x + (1|g)", frame, priors=priors)
    fitted = model.fitted(model.fit(draws=30, chains=2, random_seed=1))
    model.build()
    graph = model.backend.model
    post = fitted.idata.posterior
    lp = fitted.log_prior()
    assert set(lp.data_vars) == {"Intercept", "x", "1|g_sigma", "sigma"}  # no group effects

    def pymc_logp(name: str, values: np.ndarray) -> np.ndarray:
        return pm.logp(graph[name], values).eval()

    # The Intercept's prior is on the centred predictors: b0 + mean(x) * beta.
    centred = post["Intercept"].values + frame["x"].mean() * post["x"].values
    expected = {
        "Intercept": pymc_logp("Intercept_centered", centred),
        "x": pymc_logp("x", post["x"].values),
        "1|g_sigma": pymc_logp("1|g_sigma", post["1|g_sigma"].values),
        "sigma": pymc_logp("sigma", post["sigma"].values),
    }
    for name, values in expected.items():
        # scipy and PyMC compute the special functions (log gamma) apart: ~1e-9.
        np.testing.assert_allclose(lp[name].values, values, rtol=1e-7, err_msg=name)
    total = sum(expected.values())
    np.testing.assert_allclose(sum(lp[n].values for n in lp.data_vars), total, rtol=1e-7)
    # It goes into the InferenceData as priorsense-style tools read it.
    idata = fitted.idata.copy()
    idata.add_groups(log_prior=lp)
    assert "log_prior" in idata.groups()


@pytest.mark.parametrize("eta", [1.0, 2.5])
def test_lkj_density_matches_pymc_up_to_its_normalising_constant(eta):
    values = pm.draw(pm.LKJCorr.dist(n=3, eta=eta), draws=5, random_seed=2)
    matrices = np.broadcast_to(np.eye(3), (5, 3, 3)).copy()
    for k, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
        matrices[:, i, j] = matrices[:, j, i] = values[:, k]
    expected = np.array([pm.logp(pm.LKJCorr.dist(n=3, eta=eta), v).eval() for v in values])
    ours = lkj_log_density(matrices, eta)
    # The draw-to-draw differences are PyMC's; PyMC 5.28's constant has the opposite sign
    # (at eta=1 it gives +log(pi^2 / 2), the log volume of the 3 x 3 correlation
    # matrices), so the constant is checked on its own below.
    np.testing.assert_allclose(ours - ours[0], expected - expected[0], atol=1e-9)


def test_lkj_density_integrates_to_one():
    # The uniform LKJ(1) on 3 x 3 matrices: 1 / volume, the volume pi^2 / 2.
    assert lkj_log_density(np.eye(3), 1.0) == pytest.approx(-np.log(np.pi**2 / 2))
    # 2 x 2, eta = 3: the density of r is proportional to (1 - r^2)^2; integrate it.
    r = np.linspace(-1, 1, 200_001)
    matrices = np.stack([np.ones_like(r), r, r, np.ones_like(r)], axis=-1).reshape(-1, 2, 2)
    density = np.exp(lkj_log_density(matrices, 3.0))
    assert np.trapezoid(density, r) == pytest.approx(1.0, abs=1e-8)


def test_log_prior_of_a_correlated_block_is_its_lkj_density(stub_sampler, sleepstudy):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    fitted = model.fitted(model.fit(draws=20, chains=1, random_seed=1))
    lp = fitted.log_prior()
    assert set(lp.data_vars) == {
        "Intercept",
        "Days",
        "1|Subject_sigma",
        "Days|Subject_sigma",
        "Subject_corr",
        "sigma",
    }
    np.testing.assert_allclose(lp["Subject_corr"].values, np.log(0.5))  # LKJ(1) on 2 x 2


def test_log_prior_without_a_scipy_density_warns_and_leaves_it_out(stub_sampler):
    frame = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) % 3})
    model = bmm.Model("y ~ x", frame, priors={"x": bmm.Prior("Gumbel", mu=0.0, beta=1.0)})
    fitted = model.fitted(model.fit(draws=20, chains=1, random_seed=1))
    with pytest.warns(
        bmm.BayesmmWarning, match=r"leaves out x: its prior .*Gumbel.* has no scipy density"
    ):
        lp = fitted.log_prior()
    assert "x" not in lp.data_vars


def test_cjs_distance_is_zero_for_equal_weights_and_grows_with_the_shift():
    x = np.random.default_rng(0).normal(size=2000)
    assert cjs_distance(x, np.full(2000, 1 / 2000)) == pytest.approx(0.0, abs=1e-6)  # rounding
    distances = []
    for shift in (0.1, 0.5, 1.0):
        w = np.exp(shift * x)
        distances.append(cjs_distance(x, w / w.sum()))
    assert 0 < distances[0] < distances[1] < distances[2] < 1
    # Unsigned: the same for x and -x.
    w = np.exp(0.5 * x)
    assert cjs_distance(-x, w / w.sum()) == pytest.approx(distances[1])


def test_diagnosis_follows_priorsenses_rule():
    assert diagnosis(0.06, 0.07) == "prior-data conflict"
    assert diagnosis(0.06, 0.01) == "strong prior / weak likelihood"
    assert diagnosis(0.01, 0.2) == "-"
    assert diagnosis(0.01, 0.01) == "-"


def _conjugate(prior_mu: float, prior_sd: float, n_draws: int = 4000, seed: int = 0):
    """``y ~ 1`` with known sd and a normal prior, with exact posterior draws: a FittedModel
    whose posterior is the closed form, no sampler involved. Returns it and the rows."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"y": rng.normal(0.0, SIGMA, 25)})
    priors = {"Intercept": bmm.Prior("Normal", mu=prior_mu, sigma=prior_sd), "sigma": SIGMA}
    model = bmm.Model("y ~ 1", frame, priors=priors)
    mean, sd = _posterior(frame["y"].to_numpy(), prior_mu, prior_sd)
    draws = rng.normal(mean, sd, size=(2, n_draws // 2))
    posterior = xr.Dataset({"Intercept": (("chain", "draw"), draws)})
    return model.fitted(az.InferenceData(posterior=posterior)), frame


def _posterior(y: np.ndarray, prior_mu: float, prior_sd: float) -> tuple[float, float]:
    precision = 1 / prior_sd**2 + len(y) / SIGMA**2
    return (prior_mu / prior_sd**2 + y.sum() / SIGMA**2) / precision, precision**-0.5


def test_a_conflicting_prior_is_diagnosed_and_a_vague_one_is_not():
    # Prior N(4, 0.25) against 25 rows of mean ~0 (sd of their mean 0.2): prior and
    # likelihood pull the posterior apart. Over 20 seeds (data and draws), the prior's and
    # the likelihood's sensitivities are 0.92 and 0.95 (sd 0.06 and 0.05): the 0.05
    # threshold is over 14 sd below. With N(0, 100) the prior's is ~1e-6 (at most 1.4e-6).
    conflict, _ = _conjugate(4.0, 0.25)
    table = conflict.sensitivity()
    assert list(table.columns) == ["prior", "likelihood", "diagnosis"]
    assert table.loc["Intercept", "diagnosis"] == "prior-data conflict"
    assert table.loc["Intercept", "prior"] > 0.5
    vague, _ = _conjugate(0.0, 100.0)
    table = vague.sensitivity()
    assert table.loc["Intercept", "diagnosis"] == "-"
    assert table.loc["Intercept", "prior"] < 0.001


@pytest.mark.parametrize("alpha", [0.8, 1.25])
def test_power_scaled_means_match_the_closed_form_posterior(alpha):
    # A normal prior to the power alpha is N(mu, sd / sqrt(alpha)): the posterior under it is
    # again conjugate. The importance-sampled mean's Monte-Carlo sd is the posterior sd over
    # sqrt(ESS of the weights); allow 4 of them.
    fitted, frame = _conjugate(1.0, 0.3, n_draws=8000, seed=4)
    log_prior = fitted.log_prior()["Intercept"].values.ravel()
    weights, k = powerscale_weights(log_prior, alpha)
    assert k < 0.7
    draws = fitted.idata.posterior["Intercept"].values.ravel()
    expected, sd = _posterior(frame["y"].to_numpy(), 1.0, 0.3 / np.sqrt(alpha))
    ess = 1 / np.sum(weights**2)
    assert np.sum(weights * draws) == pytest.approx(expected, abs=4 * sd / np.sqrt(ess))
    unweighted, _ = _posterior(frame["y"].to_numpy(), 1.0, 0.3)
    assert abs(expected - unweighted) > 8 * sd / np.sqrt(ess)  # the check can fail


def test_sensitivity_reports_every_parameter_but_the_group_effects(stub_sampler, sleepstudy):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    fitted = model.fitted(model.fit(draws=100, chains=2, random_seed=1))
    with pytest.warns(bmm.BayesmmWarning, match="Pareto k-hat"):  # prior draws, not a posterior
        table = fitted.sensitivity()
    assert set(table.index) == {
        "Intercept",
        "Days",
        "1|Subject_sigma",
        "Days|Subject_sigma",
        "1|Subject:Days|Subject_corr",
        "sigma",
    }
    assert set(table["diagnosis"]) <= {"-", "prior-data conflict", "strong prior / weak likelihood"}


def test_sensitivity_bad_input_names_the_argument():
    fitted, _ = _conjugate(0.0, 1.0, n_draws=200)
    with pytest.raises(
        bmm.DataError, match=r"lower_alpha must be a number between 0 and 1; got 1.5"
    ):
        fitted.sensitivity(lower_alpha=1.5)
    with pytest.raises(bmm.DataError, match=r"upper_alpha must be a number above 1; got 0.9"):
        fitted.sensitivity(upper_alpha=0.9)
    with pytest.raises(bmm.DataError, match=r"threshold must be a number >= 0; got -1"):
        fitted.sensitivity(threshold=-1)
    with pytest.raises(bmm.DataError, match="refit"):
        fitted.sensitivity(refit="yes")


def test_a_powered_model_adds_the_powered_prior_and_shares_one_structure(sleepstudy):
    """The graph of a model whose prior is powered by alpha: its log density is the plain
    one plus (alpha - 1) times the log prior of every free variable but the group effects
    given their sds (to 1e-10), and any two powers give one structure (one compile)."""
    import dataclasses

    from bayesmm.backend.programs import structure_key

    models = {}
    for power in (None, 0.8, 1.25):
        model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
        model.priors = dataclasses.replace(model.priors, power=power)
        models[power] = model.backend.model
    point = models[None].initial_point()
    point["Days"] = np.array(9.0)
    plain = models[None].compile_logp()(point)
    powered = [
        v for v in models[None].free_RVs if v.name not in ("Subject_corr_offset",)
    ]  # the group effects given their sds are not powered
    prior = models[None].compile_logp(vars=powered, jacobian=False)(point)
    for power in (0.8, 1.25):
        got = models[power].compile_logp()(point)
        assert got == pytest.approx(plain + (power - 1) * prior, rel=1e-10)
    assert structure_key(models[0.8]) == structure_key(models[1.25])
    assert structure_key(models[0.8]) != structure_key(models[None])


@pytest.mark.slow
def test_refits_with_the_powered_prior_match_the_closed_form_and_importance_sampling():
    """``sensitivity(refit=True)`` on the conjugate normal model with known sd: each refit's
    mean is the closed-form posterior mean under the prior to the power alpha, within 4
    Monte-Carlo standard errors (posterior sd over sqrt(ESS) of the refit's 2 x 1000 draws,
    ESS at least 600 for this posterior); the importance-sampled mean agrees with the
    refit's within the combined bound sqrt(MCSE_refit^2 + MCSE_is^2) times 4."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"y": rng.normal(0.0, SIGMA, 25)})
    priors = {"Intercept": bmm.Prior("Normal", mu=1.0, sigma=0.3), "sigma": SIGMA}
    model = bmm.Model("y ~ 1", frame, priors=priors)
    fitted = model.fitted(model.fit(draws=1000, chains=2, random_seed=1, progressbar=False))
    table = fitted.sensitivity(refit=True, random_seed=2)
    draws = fitted.idata.posterior["Intercept"].values.ravel()
    for alpha in (0.8, 1.25):
        expected, sd = _posterior(frame["y"].to_numpy(), 1.0, 0.3 / np.sqrt(alpha))
        refit_se = sd / np.sqrt(600)
        assert table.loc["Intercept", f"refit_mean_{alpha:g}"] == pytest.approx(
            expected, abs=4 * refit_se
        )
        log_prior = fitted.log_prior()["Intercept"].values.ravel()
        weights, _ = powerscale_weights(log_prior, alpha)
        is_se = draws.std() * np.sqrt(np.sum(weights**2)) * 2  # ESS of NUTS draws about n / 4
        assert table.loc["Intercept", f"is_mean_{alpha:g}"] == pytest.approx(
            table.loc["Intercept", f"refit_mean_{alpha:g}"], abs=4 * np.hypot(refit_se, is_se)
        )


def test_log_prior_needs_the_models_priors():
    fitted, _ = _conjugate(0.0, 1.0, n_draws=200)
    bare = bmm.fitted.FittedModel(fitted.design, fitted.family, fitted.link, fitted.idata)
    with pytest.raises(bmm.PriorError, match="log_prior\\(\\) needs the model's priors"):
        bare.log_prior()
