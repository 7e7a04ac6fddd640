"""A bivariate gaussian mixed model against the truth and statsmodels (real NUTS, short
chains): simulated data with residual correlation 0.6 and a grouping factor shared by both
responses."""

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm

# Short chains of a model with a weakly identified group sd (y2's, 0.5 beside a residual sd
# of 2) may fall short of 100 bulk ESS per chain; the checks below allow for it.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::bayesmm._errors.SamplingWarning"),
]

TRUTH = {
    "y1_Intercept": 1.0,
    "y1_x": 0.5,
    "y2_Intercept": -2.0,
    "y2_x": 1.5,
    "y1_1|g_sigma": 0.8,
    "y2_1|g_sigma": 0.5,
    "y1_sigma": 1.0,
    "y2_sigma": 2.0,
    "y1:y2_rescor": 0.6,
}


def simulate(seed: int = 20261207, n_groups: int = 30, per_group: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    g = np.repeat(np.arange(n_groups), per_group)
    x = rng.normal(size=n)
    u1 = rng.normal(0, TRUTH["y1_1|g_sigma"], n_groups)[g]
    u2 = rng.normal(0, TRUTH["y2_1|g_sigma"], n_groups)[g]
    rho, s1, s2 = TRUTH["y1:y2_rescor"], TRUTH["y1_sigma"], TRUTH["y2_sigma"]
    e = rng.multivariate_normal([0, 0], [[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]], n)
    y1 = TRUTH["y1_Intercept"] + TRUTH["y1_x"] * x + u1 + e[:, 0]
    y2 = TRUTH["y2_Intercept"] + TRUTH["y2_x"] * x + u2 + e[:, 1]
    return pd.DataFrame({"y1": y1, "y2": y2, "x": x, "g": [f"g{i}" for i in g]})


@pytest.fixture(scope="module")
def fit():
    data = simulate()
    model = bmm.Model("mvbind(y1, y2) ~ x + (1|g)", data)
    idata = model.fit(
        draws=1000, tune=1000, chains=2, target_accept=0.95, random_seed=11, progressbar=False
    )
    return data, model, idata


def test_the_truth_is_inside_bonferroni_intervals(fit):
    _, _, idata = fit
    # Nine quantities: each central interval at 1 - 0.05/9 covers its truth with probability
    # at least 1 - 0.05/9 under the model, so all nine do with probability at least 0.95.
    level = 1 - 0.05 / len(TRUTH)
    tail = (1 - level) / 2
    for name, truth in TRUTH.items():
        values = idata.posterior[name].to_numpy().ravel()
        low, high = np.quantile(values, [tail, 1 - tail])
        assert low <= truth <= high, (name, low, high, truth)


def test_each_responses_fixed_effects_match_mixedlm_on_that_response(fit):
    import statsmodels.formula.api as smf

    data, _, idata = fit
    for response in ("y1", "y2"):
        # Powell first: from statsmodels' default start, y2's REML stops short (a
        # ConvergenceWarning) or at a singular covariance (L-BFGS alone).
        model = smf.mixedlm(f"{response} ~ x", data, groups=data["g"])
        reml = model.fit(reml=True, method=["powell", "lbfgs"])
        assert reml.converged
        for term, column in (("Intercept", "Intercept"), ("x", "x")):
            values = idata.posterior[f"{response}_{term}"].to_numpy().ravel()
            # Identical regressors: the seemingly unrelated regressions' GLS estimates are each
            # equation's own (Zellner 1962). The Monte-Carlo error of a posterior mean from
            # at least 100 effective draws is at most 0.1 posterior sds: 0.3 is 3 of them.
            assert abs(values.mean() - reml.fe_params[column]) < 0.3 * values.std()


def test_joint_predictive_draws_have_the_residual_correlation(fit):
    data, model, idata = fit
    fitted = model.fitted(idata)
    y = fitted.draws(data, kind="response", random_seed=1)
    mu = fitted.draws(data)
    r1 = (y["y1"] - mu["y1"]).ravel()
    r2 = (y["y2"] - mu["y2"]).ravel()
    rho = idata.posterior["y1:y2_rescor"].to_numpy().mean()
    # 300,000 pairs over draws whose correlations vary by about 0.04: the pooled sample
    # correlation is within 0.02 of the posterior mean correlation.
    assert np.corrcoef(r1, r2)[0, 1] == pytest.approx(rho, abs=0.02)


def test_nutpie_agrees_with_the_default_route(fit):
    _, model, idata = fit
    other = model.fit(
        draws=500,
        tune=500,
        chains=2,
        inference_method="nutpie",
        target_accept=0.95,
        random_seed=12,
        progressbar=False,
    )
    import arviz as az

    for name in ("y1:y2_rescor", "y1_x", "y2_x", "y1_sigma", "y2_sigma"):
        a, b = idata.posterior[name], other.posterior[name]
        # Two independent estimates of one posterior mean differ by at most 4 of their
        # combined Monte-Carlo standard errors, but for a 1 in 16,000 chance each.
        mcse = np.hypot(az.mcse(a).to_array().item(), az.mcse(b).to_array().item())
        assert abs(a.mean().item() - b.mean().item()) < 4 * mcse, name


LINKED = {
    "y1_1|g_sigma": 1.0,
    "y2_1|g_sigma": 0.8,
    "y1_1|g:y2_1|g_corr": 0.7,
    "y1_x": 0.5,
    "y2_x": -1.0,
}


def test_linked_group_effects_recover_their_correlation():
    rng = np.random.default_rng(20261208)
    n_groups, per_group = 40, 6
    g = np.repeat(np.arange(n_groups), per_group)
    s1, s2, rho = LINKED["y1_1|g_sigma"], LINKED["y2_1|g_sigma"], LINKED["y1_1|g:y2_1|g_corr"]
    cov = [[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]]
    u = rng.multivariate_normal([0, 0], cov, n_groups)[g]
    x = rng.normal(size=g.size)
    data = pd.DataFrame(
        {
            "y1": LINKED["y1_x"] * x + u[:, 0] + rng.normal(0, 0.5, g.size),
            "y2": LINKED["y2_x"] * x + u[:, 1] + rng.normal(0, 0.5, g.size),
            "x": x,
            "g": [f"g{i}" for i in g],
        }
    )
    formula = bmm.Formula('y1 ~ x + (1 | gr(g, id="p"))') + bmm.Formula("y2 ~ x + (1 | p | g)")
    model = bmm.Model(formula, data, rescor=False)
    idata = model.fit(draws=500, tune=500, chains=2, random_seed=3, progressbar=False)
    # Five quantities, each central interval at 1 - 0.05/5: all cover with probability 0.95.
    tail = 0.05 / len(LINKED) / 2
    for name, truth in LINKED.items():
        low, high = np.quantile(idata.posterior[name].to_numpy().ravel(), [tail, 1 - tail])
        assert low <= truth <= high, (name, low, high, truth)
