"""The multinomial logit recovers simulated coefficients (real NUTS)."""

import numpy as np
import pytest

import bayesmm as bmm
from _categories import simulate, simulate_counts
from _recovery import interval_misses

TRUTH = {"mub_Intercept": 0.5, "mub_x": 1.0, "muc_Intercept": -0.5, "muc_x": -0.8}


@pytest.mark.slow
def test_categorical_recovers_the_log_odds_of_each_category():
    """600 rows of three categories with a group intercept per category: every 99% interval
    covers its truth, and at most one of the four 90% intervals misses (a correct model
    misses 2 or more with probability 5.2%; the seed is fixed). No divergences."""
    data = simulate(np.random.default_rng(3), n=600)
    model = bmm.Model("y ~ x + (1|g)", data, family="categorical")
    idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    misses = interval_misses(idata.posterior, TRUTH)
    assert len(misses) <= 1, misses


@pytest.mark.slow
def test_multinomial_recovers_the_log_odds_of_each_category():
    """300 rows of counts of three categories in 5 to 29 trials, with a group intercept per
    category: every 99% interval covers, at most one of the four 90% intervals misses (a
    correct model misses 2 or more with probability 5.2%; the seed is fixed)."""
    data = simulate_counts(np.random.default_rng(5))
    model = bmm.Model("c(a, b, c) ~ x + (1|g)", data, family="multinomial")
    idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    misses = interval_misses(idata.posterior, TRUTH)
    assert len(misses) <= 1, misses
