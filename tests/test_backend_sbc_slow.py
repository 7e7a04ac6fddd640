"""Simulation-based calibration (Talts et al. 2018) of a gaussian, a poisson and a bernoulli
mixed model, fitted through the default route (``fit_many``, the default sampler).

If the model and the sampler are right, the rank of each parameter's true value among its
posterior draws is uniform over data sets simulated from the prior. Each parameter's ranks
are tested with a chi-square test over 10 bins; a p-value below 0.001 fails. Over the 11
parameters that is a false-alarm rate of at most 1.1% for a correct sampler (the seed is
fixed, so the test is deterministic; the rate says how unlikely a pass-to-fail flip is
under another seed). The priors are given in full: SBC needs the fit's prior to be the
simulation's, and default priors would be scaled from each simulated data set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm

pytestmark = pytest.mark.slow

SIMS = 100
RANK_DRAWS = 99
BINS = 10
ALPHA = 0.001
FORMULA = "y ~ x + (1|g)"

MODELS = {
    "gaussian": {
        "Intercept": bmm.Prior("Normal", mu=0, sigma=1),
        "x": bmm.Prior("Normal", mu=0, sigma=1),
        "1|g": bmm.Prior("Normal", mu=0, sigma=bmm.Prior("HalfNormal", sigma=1)),
        "sigma": bmm.Prior("HalfNormal", sigma=1),
    },
    "poisson": {
        "Intercept": bmm.Prior("Normal", mu=1, sigma=0.5),
        "x": bmm.Prior("Normal", mu=0, sigma=0.5),
        "1|g": bmm.Prior("Normal", mu=0, sigma=bmm.Prior("HalfNormal", sigma=0.5)),
    },
    "bernoulli": {
        "Intercept": bmm.Prior("Normal", mu=0, sigma=1),
        "x": bmm.Prior("Normal", mu=0, sigma=1),
        "1|g": bmm.Prior("Normal", mu=0, sigma=bmm.Prior("HalfNormal", sigma=1)),
    },
}


def _names(priors):
    return [("1|g_sigma" if name == "1|g" else name) for name in priors]


def _design() -> pd.DataFrame:
    """The predictors of every simulation: 10 groups of 8 rows."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(10), 8)
    # The response is a placeholder for the prior predictive draws (0 and 1 suit every family).
    return pd.DataFrame({"x": rng.normal(size=g.size), "g": (g + 1).astype(str), "y": g % 2})


def _model(family, data):
    return bmm.Model(FORMULA, data, family=family, priors=MODELS[family], auto_scale=False)


def _ranks(family):
    data = _design()
    names = _names(MODELS[family])
    prior = _model(family, data).prior_predictive(draws=SIMS, random_seed=2018)
    ys = prior.prior_predictive["y"].values.reshape(SIMS, -1)
    truth = {name: prior.prior[name].values.reshape(SIMS) for name in names}
    models = [_model(family, data.assign(y=y)) for y in ys]
    fits = bmm.fit_many(models, random_seed=2018, draws=300, tune=300, chains=2, progressbar=False)
    rows = []
    for i, idata in enumerate(fits):
        assert not isinstance(idata, bmm.FitFailure), idata
        posterior = idata.posterior.stack(sample=("chain", "draw"))
        keep = np.linspace(0, posterior.sizes["sample"] - 1, RANK_DRAWS).round().astype(int)
        rows.append({n: int((posterior[n].values[keep] < truth[n][i]).sum()) for n in names})
    return pd.DataFrame(rows), fits.diagnostics


@pytest.mark.parametrize("family", list(MODELS))
def test_ranks_of_the_true_values_are_uniform(family):
    ranks, diagnostics = _ranks(family)
    edges = np.linspace(0, RANK_DRAWS + 1, BINS + 1)
    pvalues = {
        name: stats.chisquare(np.histogram(ranks[name], bins=edges)[0]).pvalue
        for name in ranks.columns
    }
    print(family, {k: round(v, 3) for k, v in pvalues.items()})
    print("fits with divergences:", int((diagnostics["divergences"] > 0).sum()))
    assert len(ranks) == SIMS
    assert min(pvalues.values()) > ALPHA, pvalues
