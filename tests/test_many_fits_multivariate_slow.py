"""Simulation-based calibration (Talts et al. 2018) of a bivariate gaussian model with
correlated residuals, fitted through fit_many's vectorised NumPyro program.

Each of SIMS data sets is drawn from the priors given to the model (simulated here with
numpy, so the check does not lean on the graph it checks); if the model and the sampler are
right, the rank of each true value among the posterior draws is uniform over data sets. The
ranks of the residual correlation and of one slope are tested with a chi-square test over 10
bins; a p-value below 0.001 fails. Over the two quantities that is a false-alarm rate of at
most 0.2% for a correct model and sampler (the seeds are fixed, so the test is
deterministic; the rate says how unlikely a pass-to-fail flip is under other seeds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm

pytestmark = [
    pytest.mark.slow,
    # Short chains of a model whose LKJ factor has nuisance sds report divergences and low
    # ESS; calibration is what is checked here, on thinned draws.
    pytest.mark.filterwarnings("ignore::bayesmm.SamplingWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

SIMS = 100
ROWS = 60
RANK_DRAWS = 99
BINS = 10
ALPHA = 0.001
ETA = 2.0
#: Short chains. The vectorised program runs every fit's chains in lockstep, so each
#: iteration costs the deepest tree among the 200 chains: a depth of 5 keeps the test short
#: (NUTS with its trees capped still leaves the posterior invariant, only less efficiently;
#: that the capped sampler stays calibrated is what this test checks).
FIT = {"draws": 200, "tune": 200, "chains": 2, "max_tree_depth": 5}

#: The priors in full: SBC needs the fit's prior to be the simulation's (default priors
#: would be scaled from each simulated data set).
PRIORS = {
    **{f"{r}_Intercept": bmm.Prior("Normal", mu=0, sigma=1) for r in ("y1", "y2")},
    **{f"{r}_x": bmm.Prior("Normal", mu=0, sigma=1) for r in ("y1", "y2")},
    **{f"{r}_sigma": bmm.Prior("HalfNormal", sigma=1) for r in ("y1", "y2")},
    "rescor": bmm.Prior("LKJCorr", eta=ETA),
}
CHECKED = ("y1:y2_rescor", "y1_x")


def _simulations() -> tuple[list[bmm.mv.MvModel], list[dict[str, float]]]:
    """SIMS data sets drawn from PRIORS over one x, and their true values.

    x has mean 0 exactly, so that the intercepts' priors (on the centred predictors) are the
    priors of the intercepts simulated here. For two responses the LKJ(eta) correlation is
    ``2 * Beta(eta, eta) - 1``.
    """
    rng = np.random.default_rng(2018)
    x = rng.normal(size=ROWS)
    x = (x - x.mean()) / x.std()
    models, truths = [], []
    for _ in range(SIMS):
        intercept, slope = rng.normal(size=2), rng.normal(size=2)
        sigma = np.abs(rng.normal(size=2))
        r = 2 * rng.beta(ETA, ETA) - 1
        chol = np.linalg.cholesky([[1.0, r], [r, 1.0]])
        y = intercept + np.outer(x, slope) + sigma * (rng.normal(size=(ROWS, 2)) @ chol.T)
        data = pd.DataFrame({"y1": y[:, 0], "y2": y[:, 1], "x": x})
        models.append(bmm.Model("mvbind(y1, y2) ~ x", data, priors=PRIORS, auto_scale=False))
        truths.append({"y1:y2_rescor": r, "y1_x": slope[0]})
    return models, truths


def test_ranks_of_the_residual_correlation_and_a_slope_are_uniform():
    models, truths = _simulations()
    fits = bmm.fit_many(
        models,
        random_seed=2018,
        vectorize=True,
        inference_method="numpyro",
        log_likelihood=False,
        progressbar=False,
        **FIT,
    )
    ranks = {name: [] for name in CHECKED}
    for idata, truth in zip(fits, truths, strict=True):
        assert not isinstance(idata, bmm.FitFailure), idata
        posterior = idata.posterior.stack(sample=("chain", "draw"))
        keep = np.linspace(0, posterior.sizes["sample"] - 1, RANK_DRAWS).round().astype(int)
        for name in CHECKED:
            ranks[name].append(int((posterior[name].values[keep] < truth[name]).sum()))
    edges = np.linspace(0, RANK_DRAWS + 1, BINS + 1)
    counts = {name: np.histogram(values, bins=edges)[0] for name, values in ranks.items()}
    pvalues = {name: stats.chisquare(c).pvalue for name, c in counts.items()}
    print({name: (counts[name].tolist(), round(float(p), 3)) for name, p in pvalues.items()})
    print("fits with divergences:", int((fits.diagnostics["divergences"] > 0).sum()))
    assert min(pvalues.values()) > ALPHA, pvalues
