"""The PyMC model of a multivariate model: names, the joint likelihood with residual
correlations against scipy, and each response's own likelihood without them."""

import numpy as np
import pytest
from scipy import stats

import bayesmm as bmm
from _multivariate import design_of, frame
from bayesmm.backend.graph.assemble import build_mv_model
from bayesmm.scaling.per_response import mv_priors

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def built_of(formula, family=None):
    design, families = design_of(formula, frame(), family)
    links = {r: f.resolve_link(None) for r, f in families.items()}
    return build_mv_model(design, families, links, mv_priors(design, families, links, None))


def test_rescor_models_the_rows_jointly_with_one_correlation_per_pair():
    built = built_of(bmm.MvFormula("mvbind(y1, y2) ~ x + (1|g)"))
    model = built.model
    assert [v.name for v in model.observed_RVs] == ["y1:y2"]
    assert "y1:y2_rescor" in built.order and "rescor_cpc" in built.internal
    assert built.summarised(True).startswith("the model has several responses")
    assert [name for name, _, _ in built.observations] == ["y1:y2"]


def test_the_joint_density_is_scipys_bivariate_normal():
    built = built_of(bmm.MvFormula("mvbind(y1, y2) ~ 1"))
    model = built.model
    point = model.initial_point()
    key = next(k for k in point if k.startswith("rescor_cpc"))
    point[key] = np.full_like(point[key], 1.0)  # a correlation away from 0
    names = ["y1_Intercept", "y2_Intercept", "y1:y2_rescor", "y1_sigma", "y2_sigma"]
    values = model.replace_rvs_by_values([model[n] for n in names])
    outputs = [model.logp(vars=model.observed_RVs), *values]
    logp, mu1, mu2, rho, s1, s2 = model.compile_fn(outputs)(point)
    assert abs(rho) > 0.3
    cov = [[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]]
    y = np.column_stack([frame()["y1"], frame()["y2"]])
    expected = stats.multivariate_normal([mu1, mu2], cov).logpdf(y).sum()
    assert logp == pytest.approx(expected, rel=1e-10)


def test_without_rescor_each_response_has_its_own_likelihood():
    built = built_of(bmm.MvFormula("mvbind(y1, b) ~ x"), {"y1": "gaussian", "b": "bernoulli"})
    assert [v.name for v in built.model.observed_RVs] == ["y1", "b"]
    assert "b_sigma" not in built.model.named_vars and "y1_sigma" in built.model.named_vars


def test_t_responses_with_rescor_share_nu():
    built = built_of(bmm.MvFormula("mvbind(y1, y2) ~ x"), {"y1": "t", "y2": "t"})
    names = set(built.model.named_vars)
    assert "nu" in names and "y1_nu" not in names
    assert built.model["y1:y2"].owner.op.__class__.__name__.startswith("MvStudentT")


@pytest.mark.parametrize(("k", "eta"), [(3, 1.0), (4, 2.0)])
def test_the_residual_correlation_is_lkj_every_pair_its_beta_marginal(k, eta):
    """Under LKJ(eta) every correlation of a k x k matrix is 2 B - 1, B ~ Beta(eta - 1 + k/2)
    on both shapes. 4,000 prior draws per pair, a Kolmogorov-Smirnov test each at a
    Bonferroni level of 0.001 / pairs (a false alarm in fewer than 1 run of 1,000)."""
    import pymc as pm

    from bayesmm.backend.graph.assemble import lkj_cholesky

    with pm.Model():
        chol = lkj_cholesky("cpc", k, eta)
        corr = pm.Deterministic("corr", chol @ chol.T)
    draws = pm.draw(corr, draws=4000, random_seed=1)
    np.testing.assert_allclose(np.diagonal(draws, axis1=1, axis2=2), 1.0, rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(draws) > 0)
    shape = eta - 1 + k / 2
    pairs = list(zip(*np.triu_indices(k, 1), strict=True))
    for i, j in pairs:
        p = stats.kstest((draws[:, i, j] + 1) / 2, stats.beta(shape, shape).cdf).pvalue
        assert p > 0.001 / len(pairs), (i, j, p)
