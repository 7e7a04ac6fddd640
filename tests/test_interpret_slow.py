"""bayesmm.interpret against marginaleffects on statsmodels' maximum-likelihood fits, and
hypotheses on sleepstudy, with real NUTS posteriors.

With 3,000 rows and weakly informative priors, a posterior mean differs from the maximum-
likelihood estimate by a small fraction of the posterior sd (of order 1/sqrt(n) of it).
Each comparison allows 0.2 posterior sd for that, plus 4 Monte-Carlo standard errors of our
posterior mean (a false alarm rate of 6e-5 per comparison from the Monte-Carlo error).
"""

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm import interpret

pytestmark = [
    pytest.mark.slow,
    # marginaleffects 0.6 calls a polars method that polars 1.x deprecates (the reference's
    # own code, not ours).
    pytest.mark.filterwarnings(r"ignore:`cat.get_categories\(\)` is deprecated:DeprecationWarning"),
]

me = pytest.importorskip("marginaleffects")
smf = pytest.importorskip("statsmodels.formula.api")
sm = pytest.importorskip("statsmodels.api")

N = 3000
GRID = {"x": [-1.0, 0.0, 1.0], "t": ["a", "b"]}


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(20)
    data = pd.DataFrame(
        {"x": rng.normal(size=N), "t": pd.Categorical(rng.choice(["a", "b"], size=N))}
    )
    b = (data["t"] == "b").to_numpy()
    data["y"] = 1 + 0.5 * data["x"] + 0.8 * b + rng.normal(size=N)
    p = 1 / (1 + np.exp(-(-0.5 + 0.7 * data["x"] + 0.6 * b)))
    data["z"] = (rng.uniform(size=N) < p).astype(int)
    return data


def _fit(formula, data, family):
    model = bmm.Model(formula, data, family=family)
    idata = model.fit(draws=1000, tune=1000, chains=2, random_seed=3, progressbar=False)
    return model.fitted(idata)


@pytest.fixture(scope="module")
def gaussian(simulated):
    return _fit("y ~ x + t", simulated, "gaussian"), smf.ols("y ~ x + t", simulated).fit()


@pytest.fixture(scope="module")
def logistic(simulated):
    reference = smf.glm("z ~ x + t", simulated, family=sm.families.Binomial()).fit()
    return _fit("z ~ x + t", simulated, "bernoulli"), reference


def _agrees(ours, theirs):
    """Each posterior mean within 0.2 posterior sd + 4 Monte-Carlo standard errors."""
    import arviz as az

    table, draws = ours
    sd = draws.std(axis=0)
    chains = draws.reshape(2, -1, draws.shape[1])
    ess = np.array([float(az.ess(chains[:, :, j])) for j in range(draws.shape[1])])
    bound = 0.2 * sd + 4 * sd / np.sqrt(ess)
    gap = np.abs(table["estimate"].to_numpy() - np.asarray(theirs, dtype=float))
    assert (gap < bound).all(), (gap, bound)


@pytest.mark.parametrize("case", ["gaussian", "logistic"])
def test_predictions_on_a_grid_agree_with_marginaleffects(case, request):
    fitted, reference = request.getfixturevalue(case)
    ours = interpret.predictions(fitted, GRID, return_draws=True)
    grid = me.datagrid(reference, **GRID)
    theirs = me.predictions(reference, newdata=grid)
    order = {(x, t): i for i, (x, t) in enumerate(zip(theirs["x"], theirs["t"], strict=True))}
    index = [order[(x, t)] for x, t in zip(ours[0]["x"], ours[0]["t"], strict=True)]
    _agrees(ours, theirs["estimate"].to_numpy()[index])


@pytest.mark.parametrize("case", ["gaussian", "logistic"])
def test_average_comparisons_agree_with_marginaleffects(case, request):
    fitted, reference = request.getfixturevalue(case)
    binary = interpret.comparisons(fitted, "t", average_by=True, return_draws=True)
    _agrees(binary, me.avg_comparisons(reference, variables="t")["estimate"])
    step = interpret.comparisons(fitted, {"x": 1}, average_by=True, return_draws=True)
    _agrees(step, me.avg_comparisons(reference, variables={"x": 1})["estimate"])


@pytest.mark.parametrize("case", ["gaussian", "logistic"])
def test_average_slopes_agree_with_marginaleffects(case, request):
    fitted, reference = request.getfixturevalue(case)
    ours = interpret.slopes(fitted, "x", average_by=True, return_draws=True)
    _agrees(ours, me.avg_slopes(reference, variables="x")["estimate"])
    # By group: the slope of the probability differs between t = a and t = b.
    by_t = interpret.slopes(fitted, "x", average_by="t", return_draws=True)
    theirs = me.avg_slopes(reference, variables="x", by="t")
    expected = dict(zip(theirs["t"], theirs["estimate"], strict=True))
    _agrees(by_t, [expected[t] for t in by_t[0]["t"]])


def test_the_days_effect_of_sleepstudy_is_positive_with_certainty(sleepstudy_fit):
    model, idata = sleepstudy_fit
    table = interpret.hypothesis(model, ["Days > 0", "Days > 100"], idata)
    assert table["probability"].tolist() == [1.0, 0.0]
    assert table["evidence_ratio"][0] == float("inf")
    # The posterior of Days is about 10.4 (lme4: 10.47), so the estimate of Days - 0 is too.
    assert table["estimate"][0] == pytest.approx(10.47, abs=1.0)
