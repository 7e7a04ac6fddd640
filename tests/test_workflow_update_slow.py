"""An update from stored statistics has the posterior of a fit of all the rows (real NUTS):
sleepstudy's random-intercept model fitted on ten subjects, updated with the other eight,
against the default fit of all 180 rows."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import stats

import bayesmm as bmm

pytestmark = pytest.mark.slow

FORMULA = "Reaction ~ Days + (1|Subject)"
SAMPLING = {"draws": 1000, "tune": 500, "chains": 2, "progressbar": False}
#: The chance that any of the comparisons below fails when the two posteriors are the same.
FAMILY_WISE = 0.01


def _summary(idata):
    """Mean, sd and their Monte-Carlo standard errors of the fixed effects, sigma, the group
    sd and each subject's effect (by level name, whatever the order of the levels)."""
    names = ["Intercept", "Days", "sigma", "1|Subject_sigma", "1|Subject"]
    table = az.summary(idata, var_names=names, round_to="none")
    return table[["mean", "sd", "mcse_mean", "mcse_sd"]]


def test_an_update_has_the_posterior_of_a_fit_of_all_the_rows(sleepstudy):
    first = sleepstudy["Subject"].astype(int) < 349  # the other eight subjects come later
    model = bmm.Model(FORMULA, sleepstudy[first])
    idata = model.fit(sufficient_statistics=True, random_seed=1, log_likelihood=False, **SAMPLING)
    updated = model.fitted(idata).update(sleepstudy[~first], random_seed=2, **SAMPLING)
    assert updated.idata.attrs["update_path"] == "statistics"
    # The default fit of all 180 rows samples the rows themselves: no statistics involved.
    whole = bmm.Model(FORMULA, sleepstudy).fit(random_seed=3, log_likelihood=False, **SAMPLING)
    assert whole.attrs["likelihood"] == "rows"
    found, expected = _summary(updated.idata), _summary(whole)
    assert sorted(found.index) == sorted(expected.index) and len(found) == 22
    expected = expected.loc[found.index]
    # Each mean and each sd differs between two independent MCMC runs of one posterior by
    # about N(0, mcse_a^2 + mcse_b^2). 22 quantities x (mean, sd) = 44 two-sided tests at
    # FAMILY_WISE / 44 each (Bonferroni): together, a false alarm 1% of the time at most.
    z = stats.norm.ppf(1 - FAMILY_WISE / (2 * 2 * len(found)))
    for stat in ("mean", "sd"):
        error = np.hypot(found[f"mcse_{stat}"], expected[f"mcse_{stat}"])
        off = (found[stat] - expected[stat]).abs() / error
        assert (off <= z).all(), off.sort_values().tail()
