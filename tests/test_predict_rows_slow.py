"""Prediction on real posteriors: new-group spread, interval coverage, model comparison."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("policy", ["gaussian", "uncertainty"])
def test_a_new_subject_is_more_uncertain_than_a_fitted_one(sleepstudy_fit, policy):
    model, idata = sleepstudy_fit
    fitted = model.fitted(idata)
    rows = pd.DataFrame({"Days": [5, 5], "Subject": ["308", "new"]})
    draws = fitted.draws(rows, sample_new_groups=policy, random_seed=1)
    sd_fitted, sd_new = draws.std(axis=0)
    # A fitted subject's mean is known to a few ms; a new subject's spans the population of
    # subjects (lme4: intercept sd 24.7, slope sd 5.9), so the sd is several times larger.
    assert sd_new > 3 * sd_fitted
    assert 20 < sd_new < 60


def test_population_prediction_of_a_new_subject_is_the_fixed_effects_line(sleepstudy_fit):
    model, idata = sleepstudy_fit
    fitted = model.fitted(idata)
    rows = pd.DataFrame({"Days": [0, 9], "Subject": ["new", "new"]})
    means = fitted.point(rows, sample_new_groups="population")["mean"].to_numpy()
    intercept = idata.posterior["Intercept"].mean().item()
    slope = idata.posterior["Days"].mean().item()
    np.testing.assert_allclose(means, [intercept, intercept + 9 * slope])


def test_bayesian_r2_of_sleepstudy(sleepstudy_fit):
    model, idata = sleepstudy_fit
    r2 = model.fitted(idata).r2()
    # With subject effects the model explains most of the variance (lme4's conditional R2 by
    # Nakagawa & Schielzeth's method is 0.80 for this model).
    assert 0.75 < r2["r2"] < 0.9


def test_loo_and_compare_work_on_fit_output(sleepstudy_fit, sleepstudy):
    _, idata = sleepstudy_fit
    simpler = bmm.Model("Reaction ~ Days + (1 | Subject)", sleepstudy)
    idata_simpler = simpler.fit(draws=1000, chains=2, random_seed=2, progressbar=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        table = az.compare({"slopes": idata, "intercepts": idata_simpler})
    # The random-slope model predicts better, as the likelihood-ratio test in lme4 also finds.
    assert table.index[0] == "slopes"
    # The difference is about two of its standard errors (24 against 12): a 2-SE threshold
    # sits on the edge of the Monte-Carlo noise of PSIS-LOO, so ask for more than one.
    assert table.loc["intercepts", "elpd_diff"] > table.loc["intercepts", "dse"]


def test_predictive_interval_covers_held_out_data_at_its_level():
    """Simulated Gaussian data with known parameters: 90% intervals cover 90% of new rows.

    Five simulated data sets, each fitted and then given 200 held-out rows from the same
    groups: 1,000 held-out rows in all, with a binomial standard error of
    sqrt(0.9 * 0.1 / 1000) = 0.0095; the test allows 3 of them. Coverage given one training
    set also varies with that set's estimation error (a residual sd estimated 5% high raises
    coverage by about 1.5 points), so the data sets are averaged over rather than one used.
    """
    rng = np.random.default_rng(2024)
    n_groups, n_train, n_test = 30, 10, 200
    covered = []
    for replicate in range(5):
        effects = rng.normal(0.0, 0.8, n_groups)

        def simulate(group, effects=effects):
            x = rng.normal(size=group.size)
            y = 1.0 + 0.5 * x + effects[group] + rng.normal(0.0, 1.0, group.size)
            return pd.DataFrame({"y": y, "x": x, "g": [f"g{j}" for j in group]})

        train = simulate(np.repeat(np.arange(n_groups), n_train))
        test = simulate(rng.integers(0, n_groups, n_test))
        model = bmm.Model("y ~ x + (1|g)", train)
        idata = model.fit(draws=500, chains=2, random_seed=replicate, progressbar=False)
        bounds = model.fitted(idata).interval(test, prob=0.9, random_seed=replicate)
        covered.append((test["y"] >= bounds["lower"]) & (test["y"] <= bounds["upper"]))
    coverage = float(np.concatenate(covered).mean())
    se = np.sqrt(0.9 * 0.1 / (5 * n_test))
    assert abs(coverage - 0.9) < 3 * se, coverage
