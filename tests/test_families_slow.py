"""Parameter recovery of the continuous families added after the first nine (real NUTS)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import gamma

import bayesmm as bmm

N = 500
TRUTH = {  # family: (intercept, slope, auxiliary parameter and its value)
    "lognormal": (1.0, 0.5, ("sigma", 0.4)),
    "exponential": (0.5, 0.3, None),
    "weibull": (1.0, 0.4, ("alpha", 2.0)),
    "laplace": (2.0, 1.5, ("b", 1.0)),
}


def _simulate(name: str, rng: np.random.Generator) -> pd.DataFrame:
    intercept, slope, aux = TRUTH[name]
    x = rng.normal(size=N)
    eta = intercept + slope * x
    if name == "lognormal":
        y = np.exp(eta + aux[1] * rng.normal(size=N))
    elif name == "exponential":
        y = rng.exponential(np.exp(eta))
    elif name == "weibull":
        y = np.exp(eta) / gamma(1 + 1 / aux[1]) * rng.weibull(aux[1], N)
    else:
        y = rng.laplace(eta, aux[1])
    return pd.DataFrame({"x": x, "y": y})


@pytest.mark.slow
def test_new_families_recover_simulated_coefficients():
    """90% and 99% intervals of every coefficient (and auxiliary parameter) against the truth.

    There are 10 checks over the four families. Each 90% interval misses its truth with
    probability 0.1, so a correct implementation misses 4 or more with probability 1.3%
    (binomial); a single miss is no evidence of a bug. Each 99% interval must cover. The
    seeds are fixed.
    """
    misses = []
    for index, name in enumerate(sorted(TRUTH)):
        # Each family its own stream: numpy's exponential and Weibull draws are built from
        # the same standard exponentials, so one shared seed would give them the same noise.
        # (The stream numbers start at 1: the entropy [11, 0] is the same as 11.)
        data = _simulate(name, np.random.default_rng([11, 1 + index]))
        idata = bmm.Model("y ~ x", data, family=name).fit(
            draws=1000, chains=2, random_seed=3, progressbar=False
        )
        assert int(idata.sample_stats["diverging"].sum()) == 0, name
        intercept, slope, aux = TRUTH[name]
        checks = {"Intercept": intercept, "x": slope}
        if aux is not None:
            checks[aux[0]] = aux[1]
        for variable, truth in checks.items():
            draws = idata.posterior[variable].values
            low, high = np.quantile(draws, [0.005, 0.995])
            assert low < truth < high, (name, variable, truth, low, high)
            low, high = np.quantile(draws, [0.05, 0.95])
            if not low < truth < high:
                misses.append((name, variable))
    assert len(misses) <= 3, misses
