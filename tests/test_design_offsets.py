"""Offsets: ``offset(expr)`` enters the linear predictor with coefficient 1, in fitting,
prediction on new rows, saving and loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm
from bayesmm.io import read_header

FORMULA = "incidence ~ period + offset(np.log(size)) + (1|herd)"


@pytest.fixture
def model(cbpp):
    return bmm.Model(FORMULA, cbpp, family="poisson")


def test_offset_has_no_column_prior_or_posterior_variable(model):
    assert [t.name for t in model.design.common_terms] == ["Intercept", "period"]
    assert model.design.offset.terms == ("offset(np.log(size))",)
    assert "offset(np.log(size))" not in model.priors.names()
    names = {v.name for v in (*model.backend.model.free_RVs, *model.backend.model.deterministics)}
    assert not any("offset(" in name for name in names)


def test_built_model_logp_adds_the_offset_with_coefficient_one(cbpp):
    model = bmm.Model("incidence ~ period + offset(np.log(size))", cbpp, family="poisson")
    pymc_model = model.backend.model
    point = pymc_model.initial_point()
    point["Intercept_centered"] = np.asarray(-1.7)
    point["period"] = np.array([-0.9, -1.1, -1.6])
    X = model.design.common[:, 1:]
    centred = X - X.mean(axis=0)
    eta = -1.7 + centred @ point["period"] + np.log(cbpp["size"].to_numpy())
    expected = stats.poisson.logpmf(cbpp["incidence"], np.exp(eta)).sum()
    logp = pymc_model.compile_logp(vars=[pymc_model.observed_RVs[0]])(point)
    assert float(logp) == pytest.approx(expected, rel=1e-12)


def test_print_shows_the_offset(model):
    assert "Offset: offset(np.log(size)) (coefficient 1)" in str(model)


def test_prediction_uses_the_exposure_of_the_new_rows(model, stub_sampler):
    fitted = model.fitted(model.fit(draws=30, chains=1, random_seed=2, progressbar=False))
    new = pd.DataFrame({"period": ["1", "1", "3"], "herd": ["1", "1", "2"], "size": [5, 10, 7]})
    mu = fitted.draws(new)
    np.testing.assert_allclose(mu[:, 1], 2 * mu[:, 0], rtol=1e-12)
    common = fitted.draws(new, include_group_specific=False)
    np.testing.assert_allclose(common[:, 1], 2 * common[:, 0], rtol=1e-12)
    with pytest.raises(bmm.DataError, match=r"'size'"):
        fitted.draws(new.drop(columns="size"))


def test_saved_model_keeps_the_offset_and_predicts_the_same(model, stub_sampler, tmp_path):
    idata = model.fit(draws=30, chains=2, random_seed=3, progressbar=False)
    path = model.save(tmp_path / "offset.nc", idata)
    assert read_header(path)["spec"]["design"]["offsets"] == ["offset(np.log(size))"]
    loaded = bmm.load(path)
    new = pd.DataFrame({"period": ["2", "4"], "herd": ["3", "new"], "size": [3, 30]})
    fitted = model.fitted(idata)
    for data in (None, new):
        np.testing.assert_array_equal(
            loaded.draws(data, sample_new_groups=True, random_seed=1),
            fitted.draws(data, sample_new_groups=True, random_seed=1),
        )
    bare = bmm.load(model.save(tmp_path / "bare.nc", idata, posterior_only=True))
    np.testing.assert_array_equal(
        bare.draws(new, sample_new_groups=True, random_seed=1),
        fitted.draws(new, sample_new_groups=True, random_seed=1),
    )


def test_offset_that_is_not_finite_names_the_term_and_rows(cbpp):
    data = cbpp.assign(size=cbpp["size"].where(cbpp.index != 4, 0))
    with pytest.raises(bmm.DataError, match=r"offset\(np.log\(size\)\).*index \[4\]"):
        bmm.Model(FORMULA, data, family="poisson")


def test_new_rows_with_a_non_finite_offset_are_an_error(model, stub_sampler):
    fitted = model.fitted(model.fit(draws=5, chains=1, random_seed=2, progressbar=False))
    new = pd.DataFrame({"period": ["1"], "herd": ["1"], "size": [0]})
    with pytest.raises(bmm.DataError, match="offset"):
        fitted.draws(new)


@pytest.mark.parametrize(
    "formula, where",
    [
        ("incidence ~ period:offset(np.log(size))", "interaction"),
        ("incidence ~ period + (offset(np.log(size))|herd)", "group-specific"),
    ],
)
def test_offset_must_be_a_common_term_of_its_own(cbpp, formula, where):
    with pytest.raises(bmm.FormulaError, match=where):
        bmm.Model(formula, cbpp, family="poisson")


def test_default_intercept_prior_is_centred_net_of_the_offset(model, cbpp):
    without = bmm.Model("incidence ~ period + (1|herd)", cbpp, family="poisson")
    shift = float(np.mean(np.log(cbpp["size"])))
    assert model.priors["Intercept"].params["mu"] == pytest.approx(
        without.priors["Intercept"].params["mu"] - shift
    )


@pytest.mark.slow
def test_poisson_rate_model_agrees_with_maximum_likelihood(cbpp):
    sm = pytest.importorskip("statsmodels.api")
    formula = "incidence ~ period + offset(np.log(size))"
    model = bmm.Model(formula, cbpp, family="poisson")
    idata = model.fit(draws=1000, chains=2, random_seed=7, progressbar=False)
    X = model.design.common
    glm = sm.GLM(
        cbpp["incidence"].to_numpy(),
        X,
        family=sm.families.Poisson(),
        offset=np.log(cbpp["size"].to_numpy()),
    ).fit()
    posterior = idata.posterior
    means = np.concatenate(
        [[float(posterior["Intercept"].mean())], posterior["period"].mean(("chain", "draw"))]
    )
    sds = np.concatenate(
        [[float(posterior["Intercept"].std())], posterior["period"].std(("chain", "draw"))]
    )
    # Weak default priors on 56 rows: the posterior mean is the ML estimate up to a small
    # fraction of a posterior sd (plus Monte Carlo error, about sd / sqrt(ESS) < 0.1 sd).
    np.testing.assert_array_less(np.abs(means - glm.params), 0.25 * sds)
    np.testing.assert_allclose(sds, glm.bse, rtol=0.15)
