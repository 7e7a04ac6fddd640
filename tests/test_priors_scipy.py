"""The scipy table of priors (``priors.scipy_table``) has PyMC's densities: each entry's log
density equals ``pm.logp`` of the same PyMC distribution at several points."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

import bayesmm as bmm
from bayesmm.priors.scipy_table import SCIPY_PRIORS, prior_draws, scipy_prior

CASES = {
    "Normal": ({"mu": 1.0, "sigma": 2.0}, [-3.0, 0.5, 4.0]),
    "HalfNormal": ({"sigma": 2.0}, [0.1, 1.0, 5.0]),
    "StudentT": ({"nu": 4.0, "mu": 1.0, "sigma": 2.0}, [-3.0, 0.5, 4.0]),
    "HalfStudentT": ({"nu": 3.0, "sigma": 2.0}, [0.1, 1.0, 5.0]),
    "Cauchy": ({"alpha": 1.0, "beta": 2.0}, [-3.0, 0.5, 4.0]),
    "HalfCauchy": ({"beta": 2.0}, [0.1, 1.0, 5.0]),
    "Exponential": ({"lam": 0.5}, [0.1, 1.0, 5.0]),
    "Gamma": ({"alpha": 2.0, "beta": 0.5}, [0.1, 1.0, 5.0]),
    "InverseGamma": ({"alpha": 3.0, "beta": 2.0}, [0.1, 1.0, 5.0]),
    "LogNormal": ({"mu": 0.5, "sigma": 0.8}, [0.1, 1.0, 5.0]),
    "Uniform": ({"lower": -1.0, "upper": 3.0}, [-0.5, 0.0, 2.5]),
    "Beta": ({"alpha": 2.0, "beta": 3.0}, [0.1, 0.5, 0.9]),
    "Laplace": ({"mu": 1.0, "b": 2.0}, [-3.0, 0.5, 4.0]),
    "Logistic": ({"mu": 1.0, "s": 2.0}, [-3.0, 0.5, 4.0]),
    "Weibull": ({"alpha": 1.5, "beta": 2.0}, [0.1, 1.0, 5.0]),
}


def test_every_entry_is_checked():
    assert set(CASES) == set(SCIPY_PRIORS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_log_density_is_pymcs(name):
    params, points = CASES[name]
    frozen = scipy_prior(bmm.Prior(name, **params))
    dist = getattr(pm, name).dist(**params)
    for x in points:
        expected = float(pm.logp(dist, x).eval())
        # PyTensor's log-gamma and friends agree with scipy's to about 1e-8.
        assert frozen.logpdf(x) == pytest.approx(expected, rel=1e-7, abs=1e-7)


def test_draws_follow_the_density():
    """A HalfStudentT's draws, and a hierarchical prior's (one sd drawn per draw)."""
    rng = np.random.default_rng(4)
    half = prior_draws(bmm.Prior("HalfStudentT", nu=3.0, sigma=2.0), 20_000, rng)
    assert half.min() >= 0
    # The median of |T_3| * 2 is 2 * t_3's 75th percentile, 2 * 0.7649.
    assert np.median(half) == pytest.approx(2 * 0.7649, rel=0.03)
    group = bmm.Prior("Normal", mu=0.0, sigma=bmm.Prior("HalfNormal", sigma=1.0))
    assert scipy_prior(group) is None
    draws = prior_draws(group, 20_000, rng)
    # E|X| = E[sigma] sqrt(2/pi) with E[sigma] = sqrt(2/pi): 2/pi.
    assert np.abs(draws).mean() == pytest.approx(2 / np.pi, rel=0.03)
    assert prior_draws(bmm.Prior("Flat"), 10, rng) is None
