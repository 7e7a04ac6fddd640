"""Correlated group-specific effects: formula blocks, priors, the PyMC model, prediction, files.

The posterior itself (sleepstudy against lme4, a simulated correlation) is checked with real
NUTS in ``tests/test_backend_correlated_slow.py``.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm
from bayesmm import Prior
from bayesmm.design import GroupBlock
from bayesmm.formula import BarBlock, bar_blocks

SLEEP = "Reaction ~ Days + (Days | Subject)"


def test_bar_blocks_reads_each_parenthesised_block_and_its_bar():
    blocks = bar_blocks("y ~ x + (1 + x | g) + (0 + z || g2:g3) + log(w + 1) + (1|h)")
    assert blocks == (
        BarBlock("1 + x", "g", True),
        BarBlock("0 + z", "g2:g3", False),
        BarBlock("1", "h", True),
    )


def test_a_block_of_two_columns_is_correlated_and_double_bars_are_independent(sleepstudy):
    design = bmm.Model(SLEEP, sleepstudy).design
    assert design.blocks == (GroupBlock("Subject", ("1|Subject", "Days|Subject")),)
    assert design.correlation_names(design.blocks[0]) == ((0, 1, "1|Subject:Days|Subject_corr"),)
    for formula in [
        "Reaction ~ Days + (Days || Subject)",
        "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
        "Reaction ~ Days + (1 | Subject)",
    ]:
        assert bmm.Model(formula, sleepstudy).design.blocks == ()


def test_a_nested_factor_block_gives_one_block_per_factor(cbpp):
    data = cbpp.assign(x=np.linspace(0, 1, len(cbpp)))
    design = bmm.Model("p(incidence, size) ~ x + (x | herd/period)", data, family="binomial").design
    assert design.blocks == (
        GroupBlock("herd", ("1|herd", "x|herd")),
        GroupBlock("herd:period", ("1|herd:period", "x|herd:period")),
    )


def test_a_factor_with_levels_labels_each_column_of_the_block(cbpp):
    data = cbpp.assign(x=np.linspace(0, 1, len(cbpp)))
    model = bmm.Model("p(incidence, size) ~ period + (period | herd)", data, family="binomial")
    block = model.design.blocks[0]
    assert model.design.block_columns(block) == (
        "1|herd",
        "period[2]|herd",
        "period[3]|herd",
        "period[4]|herd",
    )
    names = [name for _, _, name in model.design.correlation_names(block)]
    assert len(names) == 6 and names[0] == "1|herd:period[2]|herd_corr"


def test_a_term_in_two_blocks_or_two_blocks_of_one_factor_is_a_formula_error(sleepstudy):
    with pytest.raises(bmm.FormulaError, match=r"term '1\|Subject' in two blocks"):
        bmm.Model("Reaction ~ (1 | Subject) + (1 + Days | Subject)", sleepstudy)
    data = sleepstudy.assign(z=np.arange(len(sleepstudy)) % 3, w=np.arange(len(sleepstudy)) % 5)
    with pytest.raises(bmm.FormulaError, match=r"two blocks of correlated effects for the factor"):
        bmm.Model("Reaction ~ (1 + Days | Subject) + (0 + z + w | Subject)", data)


# --- priors ----------------------------------------------------------------------------------


def _lkj(model):
    """The LKJ Cholesky covariance of the built model: (eta, the sds' distribution)."""
    rv = model.backend.model["Subject_corr_chol"]
    eta, sd_dist = rv.owner.inputs[-2:]
    return float(eta.eval()), sd_dist


def test_the_correlation_prior_is_lkj_eta_1_and_can_be_set(sleepstudy):
    model = bmm.Model(SLEEP, sleepstudy)
    assert model.priors["Subject_corr"] == Prior("LKJCorr", eta=1.0)
    assert _lkj(model)[0] == 1.0
    model.set_priors({"Subject_corr": Prior("LKJCorr", eta=4)})
    assert _lkj(model)[0] == 4.0


def test_the_sds_of_a_block_keep_each_terms_prior(sleepstudy):
    model = bmm.Model(
        SLEEP,
        sleepstudy,
        priors={
            "1|Subject": Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=50)),
            "Days|Subject": Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=10)),
        },
    )
    sd_dist = _lkj(model)[1]
    assert sd_dist.owner.op.name == "halfnormal"
    assert np.allclose(sd_dist.owner.inputs[-1].eval(), [50, 10])


@pytest.mark.parametrize(
    ("prior", "match"),
    [
        (Prior("Normal", mu=0, sigma=1), r"priors\['Subject_corr'\] must be an LKJ prior"),
        (Prior("LKJCorr", eta=Prior("Gamma", alpha=2, beta=1)), r"eta must be a positive number"),
        (2.0, r"priors\['Subject_corr'\] is the number 2.0; .*Prior\('LKJCorr', eta=2\)"),
    ],
)
def test_a_bad_correlation_prior_is_a_prior_error(sleepstudy, prior, match):
    with pytest.raises(bmm.PriorError, match=match):
        bmm.Model(SLEEP, sleepstudy, priors={"Subject_corr": prior})


def test_a_misspelt_correlation_key_suggests_the_right_one(sleepstudy):
    with pytest.raises(bmm.PriorError, match=r"Did you mean one of 'Subject_corr'"):
        bmm.Model(SLEEP, sleepstudy, priors={"Subjet_corr": Prior("LKJCorr", eta=2)})


def test_sd_priors_of_two_families_in_one_block_are_a_prior_error(sleepstudy):
    model = bmm.Model(
        SLEEP,
        sleepstudy,
        priors={"1|Subject": Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=5))},
    )
    with pytest.raises(bmm.PriorError, match=r"must be one distribution .* HalfCauchy"):
        model.build()


def test_a_non_normal_prior_in_a_block_is_a_prior_error_that_suggests_double_bars(sleepstudy):
    model = bmm.Model(
        SLEEP,
        sleepstudy,
        priors={"Days|Subject": Prior("StudentT", nu=3, mu=0, sigma=Prior("HalfNormal", sigma=1))},
    )
    with pytest.raises(bmm.PriorError, match=r"correlated with those of \['1\|Subject'\].*'\|\|'"):
        model.build()


# --- the fitted model ------------------------------------------------------------------------


@pytest.fixture
def sleep_stub_fit(sleepstudy, stub_sampler):
    model = bmm.Model(SLEEP, sleepstudy)
    return model, model.fit(draws=500, chains=2, random_seed=5)


def test_the_posterior_reports_sds_and_the_correlation_under_readable_names(sleep_stub_fit):
    _, idata = sleep_stub_fit
    posterior = idata.posterior
    corr = posterior["1|Subject:Days|Subject_corr"]
    assert corr.dims == ("chain", "draw")
    assert float(abs(corr).max()) <= 1
    assert posterior["1|Subject"].dims == ("chain", "draw", "Subject__factor_dim")
    assert (posterior["Days|Subject_sigma"] > 0).all()
    assert not [name for name in posterior.data_vars if "chol" in name or "offset" in name]


def test_new_groups_under_the_gaussian_policy_follow_the_correlated_population(sleep_stub_fit):
    """Whitened by each draw's sds and correlation, a new subject's intercept and slope are
    independent standard normals: KS tests at the 0.1% level, and their sample correlation
    within 4 standard errors (1 / sqrt(S)) of zero."""
    model, idata = sleep_stub_fit
    fitted = model.fitted(idata)
    new = pd.DataFrame({"Days": [0.0, 1.0], "Subject": ["new", "new"]})
    mu = fitted.draws(new, sample_new_groups="gaussian", random_seed=3)
    common = fitted.draws(new, include_group_specific=False)
    posterior = idata.posterior.stack(sample=("chain", "draw"))
    s0 = posterior["1|Subject_sigma"].to_numpy()
    s1 = posterior["Days|Subject_sigma"].to_numpy()
    rho = posterior["1|Subject:Days|Subject_corr"].to_numpy()
    b0 = mu[:, 0] - common[:, 0]
    b1 = (mu[:, 1] - common[:, 1]) - b0
    z0 = b0 / s0
    z1 = (b1 / s1 - rho * z0) / np.sqrt(1 - rho**2)
    assert stats.kstest(z0, "norm").pvalue > 0.001
    assert stats.kstest(z1, "norm").pvalue > 0.001
    assert abs(np.corrcoef(z0, z1)[0, 1]) < 4 / np.sqrt(len(z0))


def test_a_correlated_model_saves_and_loads_with_the_same_predictions(sleep_stub_fit, tmp_path):
    model, idata = sleep_stub_fit
    path = model.save(tmp_path / "corr.nc", idata)
    loaded = bmm.load(path)
    assert loaded.design.blocks == model.design.blocks
    new = pd.DataFrame({"Days": [0.0, 4.0, 9.0], "Subject": ["308", "new", "new"]})
    for policy in ("gaussian", "uncertainty"):
        expected = model.fitted(idata).draws(new, sample_new_groups=policy, random_seed=1)
        got = loaded.draws(new, sample_new_groups=policy, random_seed=1)
        np.testing.assert_array_equal(got, expected)


def test_an_lkj_prior_on_another_term_is_a_prior_error_naming_the_right_key(sleepstudy):
    with pytest.raises(bmm.PriorError, match=r"priors\['Intercept'\].*key '<factor>_corr'"):
        bmm.Model(SLEEP, sleepstudy, priors={"Intercept": Prior("LKJCorr", eta=1)})
