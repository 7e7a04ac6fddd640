"""Distributional regression: auxiliary parameters with formulas of their own.

The posterior itself (a simulated log-linear sigma) is checked with real NUTS in
``tests/test_model_distributional_slow.py``.
"""

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm import Formula, Prior
from bayesmm.predict import family_params
from bayesmm.priors import format_value

HETERO = Formula("Reaction ~ Days + (1|Subject)", "sigma ~ Days")


def test_formula_keeps_the_distributional_formulas():
    formula = Formula("y ~ x + (1|g)", "sigma ~ z")
    assert formula.additional == ("sigma ~ z",)
    assert formula.distributional == {"sigma": "z"}
    assert repr(formula) == "Formula('y ~ x + (1|g)', 'sigma ~ z')"
    assert str(formula) == "y ~ x + (1|g), sigma ~ z"


@pytest.mark.parametrize(
    ("additional", "match"),
    [
        ("sigma z", r"formula 'sigma z' has no '~'"),
        ("log(sigma) ~ z", r"must name an auxiliary parameter before '~'.*got 'log\(sigma\) ~ z'"),
        ("sigma ~ ", r"formula 'sigma ~ ' has no terms after '~'; use 'sigma ~ 1'"),
        (3, r"formula must be a string"),
    ],
)
def test_a_malformed_distributional_formula_is_a_formula_error(additional, match):
    with pytest.raises(bmm.FormulaError, match=match):
        Formula("y ~ x", additional)


def test_two_formulas_for_one_parameter_are_a_formula_error():
    with pytest.raises(bmm.FormulaError, match=r"one formula; got several for \['sigma'\]"):
        Formula("y ~ x", "sigma ~ z", "sigma ~ w")


@pytest.mark.parametrize(
    ("param", "match"),
    [
        ("mu", r"models 'mu', which is the parameter the main formula models"),
        ("nu", r"models 'nu', which is not a parameter of family 'gaussian'.*\['sigma'\]"),
        ("sigm", r"Did you mean 'sigma'"),
    ],
)
def test_a_formula_for_a_parameter_the_family_lacks_is_a_formula_error(sleepstudy, param, match):
    with pytest.raises(bmm.FormulaError, match=match):
        bmm.Model(Formula("Reaction ~ Days", f"{param} ~ Days"), sleepstudy)


def test_a_missing_column_of_a_distributional_formula_names_it(sleepstudy):
    with pytest.raises(bmm.FormulaError, match=r"'sigma ~ Nights' uses 'Nights', which is not"):
        bmm.Model(Formula("Reaction ~ Days", "sigma ~ Nights"), sleepstudy)


def test_links_default_from_the_parameters_bounds_and_can_be_set(sleepstudy, epilepsy):
    model = bmm.Model(HETERO, sleepstudy)
    assert [(d.param, d.link) for d in model.design.distributional] == [("sigma", "log")]
    model = bmm.Model(HETERO, sleepstudy, link={"mu": "log", "sigma": "identity"})
    assert model.link.name == "log"
    assert model.design.distributional[0].link == "identity"
    zip_model = bmm.Model(Formula("y ~ trt", "zi ~ trt"), epilepsy, family="zero_inflated_poisson")
    assert zip_model.design.distributional[0].link == "logit"


def test_a_link_for_a_parameter_without_a_formula_is_a_family_error(sleepstudy):
    with pytest.raises(bmm.FamilyError, match=r"link names the parameter\(s\) \['sigma'\]"):
        bmm.Model("Reaction ~ Days", sleepstudy, link={"sigma": "log"})


def test_print_shows_each_formula_its_link_and_its_priors(sleepstudy):
    text = str(bmm.Model(HETERO, sleepstudy))
    assert "       Formula: Reaction ~ Days + (1|Subject)\n                sigma ~ Days\n" in text
    assert "          Link: mu = identity, sigma = log\n" in text
    # sigma's intercept is centred at log sd(y), on the log scale (unit scale 2.5), its slope
    # scaled by sd(Days) as any common slope on a unit-free link.
    location = np.log(sleepstudy["Reaction"].std())
    slope = 2.5 / sleepstudy["Days"].std()
    assert (
        "    target = sigma\n        Common-level effects\n"
        f"            sigma_Intercept ~ Normal(mu: {format_value(location)}, sigma: 2.5)\n"
        f"            sigma_Days ~ Normal(mu: 0.0, sigma: {format_value(slope)})\n"
    ) in text
    assert "Auxiliary parameters" not in text  # sigma is modelled, not a single number


def test_the_modelled_parameter_is_no_longer_a_prior_key(sleepstudy):
    with pytest.raises(bmm.PriorError, match=r"key 'sigma'.*'sigma_Intercept', 'sigma_Days'"):
        bmm.Model(HETERO, sleepstudy, priors={"sigma": Prior("HalfNormal", sigma=1)})
    model = bmm.Model(HETERO, sleepstudy, priors={"sigma_Days": Prior("Normal", mu=0, sigma=0.1)})
    assert model.priors["sigma_Days"] == Prior("Normal", mu=0, sigma=0.1)


def test_rows_missing_a_distributional_column_are_dropped_from_every_formula(sleepstudy):
    data = sleepstudy.assign(z=np.where(np.arange(len(sleepstudy)) < 3, np.nan, 1.0))
    data["z"] = data["z"] + np.arange(len(data)) % 4
    with pytest.raises(bmm.DataError, match=r"'z'"):
        bmm.Model(Formula("Reaction ~ Days", "sigma ~ z"), data)
    with pytest.warns(bmm.design.DroppedRowsWarning):
        model = bmm.Model(Formula("Reaction ~ Days", "sigma ~ z"), data, dropna=True)
    assert model.design.n_obs == model.design.distributional[0].design.n_obs == 177


@pytest.fixture
def hetero_stub_fit(sleepstudy, stub_sampler):
    model = bmm.Model(
        Formula("Reaction ~ Days + (1|Subject)", "sigma ~ Days + (1|Subject)"), sleepstudy
    )
    return model, model.fit(draws=100, chains=2, random_seed=2)


def test_the_posterior_names_the_distributional_terms_with_the_parameter(hetero_stub_fit):
    _, idata = hetero_stub_fit
    names = list(idata.posterior.data_vars)
    assert names == [
        "Intercept",
        "Days",
        "1|Subject",
        "1|Subject_sigma",
        "sigma_Intercept",
        "sigma_Days",
        "sigma_1|Subject",
        "sigma_1|Subject_sigma",
    ]


def test_predicted_sigma_is_the_inverse_link_of_its_linear_predictor(hetero_stub_fit):
    model, idata = hetero_stub_fit
    fitted = model.fitted(idata)
    new = pd.DataFrame({"Days": [0.0, 4.5, 9.0], "Subject": ["308", "335", "372"]})
    rows = model.design.state.encode(new)
    params = family_params(
        fitted.posterior_draws, rows, model.design, model.family, model.link, policy=None
    )
    posterior = idata.posterior.stack(sample=("chain", "draw"))
    effects = posterior["sigma_1|Subject"].sel(Subject__factor_dim=["308", "335", "372"])
    eta = (
        posterior["sigma_Intercept"].to_numpy()[:, None]
        + posterior["sigma_Days"].to_numpy()[:, None] * new["Days"].to_numpy()
        + effects.to_numpy().T
    )
    np.testing.assert_allclose(params["sigma"], np.exp(eta), rtol=1e-12)
    assert params["mu"].shape == params["sigma"].shape == (200, 3)


def test_a_distributional_model_saves_loads_and_rebuilds(hetero_stub_fit, sleepstudy, tmp_path):
    model, idata = hetero_stub_fit
    loaded = bmm.load(model.save(tmp_path / "hetero.nc", idata))
    new = pd.DataFrame({"Days": [1.0, 8.0], "Subject": ["308", "new"]})
    for kind in ("response_params", "response"):
        expected = model.fitted(idata).draws(new, kind, sample_new_groups=True, random_seed=4)
        got = loaded.draws(new, kind, sample_new_groups=True, random_seed=4)
        np.testing.assert_array_equal(got, expected)
    rebuilt = loaded.to_model(sleepstudy)
    assert rebuilt.formula == model.formula
    assert rebuilt.priors == model.priors
    assert str(rebuilt) == str(model)


@pytest.mark.parametrize(
    ("family", "link", "match"),
    [
        (
            "gaussian",
            "logit",
            r"link\['sigma'\] must be one of \['log', 'identity'\] .*got 'logit'",
        ),
        ("gaussian", "probit", r"positive parameter 'sigma' of family 'gaussian'"),
    ],
)
def test_a_link_outside_the_parameters_range_is_a_family_error(sleepstudy, family, link, match):
    with pytest.raises(bmm.FamilyError, match=match):
        bmm.Model(HETERO, sleepstudy, family=family, link={"sigma": link})


def test_thresholds_take_no_formula():
    wine = bmm.load_data("wine")
    with pytest.raises(bmm.FormulaError, match=r"'threshold', which is the thresholds of family"):
        bmm.Model(Formula("rating ~ temp", "threshold ~ temp"), wine, family="cumulative")


def test_errors_quote_the_distributional_formula_as_written(sleepstudy):
    with pytest.raises(bmm.FormulaError, match=r"Could not evaluate formula 'sigma ~ foo\(Days\)'"):
        bmm.Model(Formula("Reaction ~ Days", "sigma ~ foo(Days)"), sleepstudy)


def test_a_formula_made_from_a_formula_keeps_its_distributional_formulas():
    assert Formula(Formula("y ~ x", "sigma ~ z"), "nu ~ w").additional == ("sigma ~ z", "nu ~ w")


def test_an_intercept_is_centred_at_the_mean_of_the_parameters_default_prior(sleepstudy):
    """t's nu has the default prior Gamma(2, 0.1), of mean 20: its formula's intercept is
    centred at log(20) on the log link, and at 20 (with scale 20 * 2.5) on the identity."""
    model = bmm.Model(Formula("Reaction ~ Days", "nu ~ Days"), sleepstudy, family="t")
    assert model.priors["nu_Intercept"] == Prior("Normal", mu=float(np.log(20)), sigma=2.5)
    model = bmm.Model(
        Formula("Reaction ~ Days", "nu ~ Days"), sleepstudy, family="t", link={"nu": "identity"}
    )
    assert model.priors["nu_Intercept"] == Prior("Normal", mu=20.0, sigma=50.0)
