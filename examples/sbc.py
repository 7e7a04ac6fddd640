"""Simulation-based calibration (Talts et al. 2018) of a mixed model, with fit_many.

    python examples/sbc.py [--sims 100] [--workers 0]

If the sampler and the model are right, the rank of each parameter's true value among its
posterior draws is uniform over the simulations. The script:

1. draws parameters and data sets from the model's prior predictive distribution;
2. fits the model to each simulated data set with one ``bmm.fit_many`` call (``--workers N``
   spreads the fits over a process pool of N workers);
3. ranks each true value among 99 thinned posterior draws, and tests the ranks' uniformity
   with a chi-square test over 10 bins (a p-value below 0.001 is a calibration failure,
   at a false-alarm rate of 0.1% per parameter).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from scipy import stats

import bayesmm as bmm

FORMULA = "y ~ x + (1|g)"
PARAMETERS = ["Intercept", "x", "1|g_sigma", "sigma"]
#: Priors given explicitly: SBC needs the same prior for the simulation and the fit (default
#: priors would be scaled from each simulated data set).
PRIORS = {
    "Intercept": bmm.Prior("Normal", mu=0, sigma=1),
    "x": bmm.Prior("Normal", mu=0, sigma=1),
    "1|g": bmm.Prior("Normal", mu=0, sigma=bmm.Prior("HalfNormal", sigma=1)),
    "sigma": bmm.Prior("HalfNormal", sigma=1),
}
RANK_DRAWS = 99


def design(seed: int = 0) -> pd.DataFrame:
    """The predictors of every simulation: 8 groups of 8 rows."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(8), 8)
    return pd.DataFrame(
        {"x": rng.normal(size=g.size), "g": pd.Categorical(g.astype(str)), "y": 0.0}
    )


def simulate(sims: int, seed: int) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """``sims`` data sets from the prior predictive distribution, and their true values."""
    data = design()
    # auto_scale=False: priors given in full need no data; the response is a placeholder.
    prior = bmm.Model(FORMULA, data, priors=PRIORS, auto_scale=False).prior_predictive(
        draws=sims, random_seed=seed
    )
    ys = prior.prior_predictive["y"].values.reshape(sims, -1)
    truth = pd.DataFrame({name: prior.prior[name].values.reshape(sims) for name in PARAMETERS})
    return [data.assign(y=y) for y in ys], truth


def ranks(fits: bmm.ManyFits, truth: pd.DataFrame) -> pd.DataFrame:
    """The rank of each true value among ``RANK_DRAWS`` evenly spaced posterior draws."""
    rows = []
    for i, idata in enumerate(fits):
        if isinstance(idata, bmm.FitFailure):
            continue
        posterior = idata.posterior.stack(sample=("chain", "draw"))
        keep = np.linspace(0, posterior.sizes["sample"] - 1, RANK_DRAWS).round().astype(int)
        rows.append(
            {name: int((posterior[name].values[keep] < truth.loc[i, name]).sum())
             for name in PARAMETERS}
        )  # fmt: skip
    return pd.DataFrame(rows)


def uniformity(table: pd.DataFrame, bins: int = 10) -> pd.Series:
    """The chi-square test's p-value of each parameter's ranks against uniformity."""
    edges = np.linspace(0, RANK_DRAWS + 1, bins + 1)
    return pd.Series(
        {
            name: stats.chisquare(np.histogram(table[name], bins=edges)[0]).pvalue
            for name in table.columns
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args()
    datasets, truth = simulate(args.sims, args.seed)
    models = [bmm.Model(FORMULA, data, priors=PRIORS, auto_scale=False) for data in datasets]
    executor = ProcessPoolExecutor(args.workers) if args.workers else None
    try:
        fits = bmm.fit_many(models, executor, random_seed=args.seed, draws=500, tune=500, chains=2)
    finally:
        if executor is not None:
            executor.shutdown()
    table = ranks(fits, truth)
    divergent = int((fits.diagnostics["divergences"] > 0).sum())
    print(f"{len(table)} simulations; {divergent} with divergences")
    print("chi-square p-values of the ranks' uniformity:")
    print(uniformity(table).round(3).to_string())


if __name__ == "__main__":
    main()
