"""Real NUTS fits on bundled data, checked against published and independent ML estimates.

Tolerances: the issue's criterion, a posterior mean within 2 posterior standard deviations of
the reference. The Monte Carlo error of the mean (sd / sqrt(ESS), ESS > 400 here) adds less
than 0.05 sd to that.
"""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from _glmm_ml import fit_random_intercept_glmm

pytestmark = pytest.mark.slow


def _assert_converged(idata, max_rhat=1.01):
    # Exact values: az.summary rounds R-hat to two decimals.
    rhat = az.rhat(idata).to_array().max().item()
    assert rhat < max_rhat, az.rhat(idata)
    assert int(idata.sample_stats["diverging"].sum()) == 0


def _assert_near(idata, names, reference, n_sd=2.0):
    for name, ref in zip(names, reference, strict=True):
        draws = idata.posterior[name]
        mean, sd = float(draws.mean()), float(draws.std())
        assert abs(mean - ref) < n_sd * sd, (
            f"{name}: posterior {mean:.3f} +/- {sd:.3f}, reference {ref:.3f}"
        )


def _posterior_vector(idata, names):
    parts = [
        idata.posterior[n]
        .stack(sample=("chain", "draw"))
        .values.reshape(-1, idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"])
        for n in names
    ]
    return np.vstack(parts)


def test_sleepstudy_matches_lme4(sleepstudy_fit):
    _, idata = sleepstudy_fit
    _assert_converged(idata)
    # lme4: lmer(Reaction ~ Days + (Days | Subject), sleepstudy) fixed effects.
    _assert_near(idata, ["Intercept", "Days"], [251.405, 10.467])
    # The residual sd is well identified; lme4's REML estimate is 25.59.
    _assert_near(idata, ["sigma"], [25.59])
    with warnings.catch_warnings():
        # A few sleepstudy rows are influential (Pareto k > 0.7), a property of the data.
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo)
    assert loo.pareto_k.shape == (180,)


def test_sleepstudy_with_nutpie_matches_lme4(sleepstudy):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    idata = model.fit(
        draws=1000, chains=2, random_seed=2, inference_method="nutpie", progressbar=False
    )
    _assert_converged(idata, max_rhat=1.02)
    _assert_near(idata, ["Intercept", "Days"], [251.405, 10.467])
    assert "Intercept_centered" not in idata.posterior
    assert "log_likelihood" in idata.groups()


def test_cbpp_binomial_matches_glmer(cbpp):
    model = bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial")
    idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
    _assert_converged(idata)
    _assert_near(idata, ["Intercept"], [-1.398])
    period = idata.posterior["period"]
    # glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), binomial, cbpp)
    for level, ref in zip(["2", "3", "4"], [-0.992, -1.128, -1.580], strict=True):
        draws = period.sel(period_dim=level)
        assert abs(float(draws.mean()) - ref) < 2 * float(draws.std())
    _assert_loo_runs(idata, len(cbpp))


def _assert_loo_runs(idata, n):
    """az.loo works on fit() output directly: the log-likelihood is stored."""
    with warnings.catch_warnings():
        # Influential rows (Pareto k > 0.7) are a property of the data, reported as a warning.
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loo = az.loo(idata)
    assert np.isfinite(loo.elpd_loo)
    assert loo.pareto_k.shape == (n,)


def _ml_reference(family, data, formula_terms, response, group):
    X = pd.get_dummies(data[formula_terms], drop_first=True).astype(float)
    X.insert(0, "Intercept", 1.0)
    beta, sd = fit_random_intercept_glmm(
        family, response, X.to_numpy(), data[group].cat.codes.to_numpy()
    )
    return dict(zip(X.columns, beta, strict=True)), sd


def test_epilepsy_poisson_glmm_matches_an_independent_ml_fit(epilepsy):
    model = bmm.Model("y ~ lbase + trt + lage + V4 + (1|subject)", epilepsy, family="poisson")
    # Four chains: R-hat < 1.01 over 64 quantities is the bar of Vehtari et al. (2021), who
    # recommend it with at least four chains; with two, the largest of 64 R-hats passes 1.01
    # by chance for some seeds. With 4 x 1000 draws it did too, for 1 seed in 10 (seeds 1 to
    # 10, two versions of the sampler); with 4 x 2000 the largest was 1.0038 over 8 seeds.
    idata = model.fit(draws=2000, chains=4, random_seed=1, progressbar=False)
    _assert_converged(idata)
    ml, ml_sd = _ml_reference(
        "poisson",
        epilepsy,
        ["lbase", "trt", "lage", "V4"],
        epilepsy["y"].to_numpy(float),
        "subject",
    )
    _assert_near(
        idata,
        ["Intercept", "lbase", "lage", "V4"],
        [ml["Intercept"], ml["lbase"], ml["lage"], ml["V4"]],
    )
    trt = idata.posterior["trt"]
    assert abs(float(trt.mean()) - ml["trt_progabide"]) < 2 * float(trt.std())
    _assert_near(idata, ["1|subject_sigma"], [ml_sd])
    _assert_loo_runs(idata, len(epilepsy))


def test_bacteria_bernoulli_glmm_matches_an_independent_ml_fit(bacteria):
    data = bacteria.assign(late=(bacteria["week"] > 2).astype(float))
    model = bmm.Model("y ~ trt + late + (1|ID)", data, family="bernoulli")
    idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
    _assert_converged(idata)
    ml, _ = _ml_reference(
        "binomial", data, ["trt", "late"], (data["y"] == "y").to_numpy(float), "ID"
    )
    _assert_near(idata, ["Intercept", "late"], [ml["Intercept"], ml["late"]])
    trt = idata.posterior["trt"]
    for level in ["drug", "drug+"]:
        draws = trt.sel(trt_dim=level)
        assert abs(float(draws.mean()) - ml[f"trt_{level}"]) < 2 * float(draws.std())
