import numpy as np
import pytest

import bayesmm as bmm
from bayesmm.priors import Prior


def test_prior_repr_nests_and_rounds_to_four_decimals():
    prior = Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=5))
    assert repr(prior) == "Normal(mu: 0, sigma: HalfCauchy(beta: 5))"
    assert repr(Prior("Normal", mu=298.50793, sigma=np.array([1.234567, 2.0]))) == (
        "Normal(mu: 298.5079, sigma: [1.2346, 2.0])"
    )


def test_prior_equality_compares_name_and_parameters():
    assert Prior("Normal", mu=0, sigma=1) == Prior("Normal", mu=0, sigma=1)
    assert Prior("Normal", mu=0, sigma=1) != Prior("Normal", mu=0, sigma=2)
    assert Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=1)) != Prior(
        "Normal", mu=0, sigma=1
    )


def test_gaussian_defaults_follow_the_documented_formulas(sleepstudy):
    y, days = sleepstudy["Reaction"], sleepstudy["Days"]
    priors = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy).priors
    assert priors["Intercept"] == Prior("Normal", mu=y.mean(), sigma=2.5 * y.std())
    assert priors["Days"] == Prior("Normal", mu=0.0, sigma=2.5 * y.std() / days.std())
    assert priors["1|Subject"] == Prior(
        "Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=2.5 * y.std())
    )
    assert priors["Days|Subject"] == Prior(
        "Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=2.5 * y.std() / days.std())
    )
    assert priors["sigma"] == Prior("HalfStudentT", nu=4, sigma=y.std())


def test_logit_defaults_do_not_depend_on_the_response_scale(cbpp):
    priors = bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial").priors
    p = (cbpp["incidence"] / cbpp["size"]).mean()
    assert priors["Intercept"] == Prior("Normal", mu=np.log(p / (1 - p)), sigma=2.5)
    dummies = np.column_stack([(cbpp["period"] == k).astype(float) for k in (2, 3, 4)])
    expected = 2.5 / dummies.std(axis=0, ddof=1)
    np.testing.assert_allclose(priors["period"].params["sigma"], expected)
    assert priors["1|herd"] == Prior("Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=2.5))


def test_auto_scale_false_uses_unit_scale_priors(sleepstudy):
    priors = bmm.Model("Reaction ~ Days", sleepstudy, auto_scale=False).priors
    assert priors["Days"] == Prior("Normal", mu=0.0, sigma=2.5)
    assert priors["Intercept"] == Prior("Normal", mu=0.0, sigma=2.5)


def test_constant_response_cannot_scale_priors(sleepstudy):
    with pytest.raises(
        bmm.DataError, match=r"response 'Reaction' is constant \(every value is 300\)"
    ):
        bmm.Model("Reaction ~ Days", sleepstudy.assign(Reaction=300.0))


def test_user_priors_replace_defaults_and_named_keys_beat_common(sleepstudy):
    wide = Prior("Normal", mu=0, sigma=100)
    days = Prior("Normal", mu=10, sigma=5)
    model = bmm.Model(
        "Reaction ~ Days + (Days | Subject)",
        sleepstudy,
        priors={"common": wide, "Days": days, "sigma": 25.0},
    )
    assert model.priors["Intercept"] == wide
    assert model.priors["Days"] == days
    assert model.priors["sigma"] == 25.0
    assert "sigma ~ 25.0" in str(model)


def test_unknown_prior_key_lists_the_valid_keys(sleepstudy):
    with pytest.raises(
        bmm.PriorError,
        match=r"key 'Day', which is not a term .* Valid keys are \['Intercept', 'Days', '1\|Subject', 'sigma', 'common', 'group_specific'\]. Did you mean 'Days'\?",
    ):
        bmm.Model(
            "Reaction ~ Days + (1|Subject)",
            sleepstudy,
            priors={"Day": Prior("Normal", mu=0, sigma=1)},
        )


def test_group_prior_needs_a_hyperprior(sleepstudy):
    with pytest.raises(bmm.PriorError, match=r"priors\['1\|Subject'\] .* has no hyperprior"):
        bmm.Model(
            "Reaction ~ (1|Subject)",
            sleepstudy,
            priors={"1|Subject": Prior("Normal", mu=0, sigma=1)},
        )


def test_common_prior_with_hyperprior_is_an_error_that_says_why(sleepstudy):
    hyper = Prior("Normal", mu=0, sigma=Prior("HalfNormal", sigma=1))
    with pytest.raises(bmm.PriorError, match=r"'Days' is a common term: its effect is one number"):
        bmm.Model("Reaction ~ Days", sleepstudy, priors={"Days": hyper})


def test_number_for_a_term_is_an_error(sleepstudy):
    with pytest.raises(
        bmm.PriorError, match=r"priors\['Days'\] is the number 1; only auxiliary parameters"
    ):
        bmm.Model("Reaction ~ Days", sleepstudy, priors={"Days": 1})


def test_set_priors_after_construction(sleepstudy):
    model = bmm.Model("Reaction ~ Days + (1|Subject)", sleepstudy)
    group = Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=10))
    model.set_priors(group_specific=group, priors={"sigma": Prior("HalfNormal", sigma=30)})
    assert model.priors["1|Subject"] == group
    assert model.priors["sigma"] == Prior("HalfNormal", sigma=30)


# --- Prior objects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("Normall", {"mu": 0}, r"must be a PyMC distribution; got 'Normall'. Did you mean one of 'Normal'"),
        ("Normal", {"sd": 1}, r"'Normal' has no parameter 'sd'; its parameters are \['mu', 'sigma', 'tau'\]"),
        ("Normal", {"sigma": -1}, r"'Normal': sigma must be positive; got -1"),
        ("HalfCauchy", {"beta": np.array([1.0, 0.0])}, r"beta must be positive"),
        ("Beta", {"mu": 1.5}, r"mu must be between 0 and 1; got 1.5"),
        ("Uniform", {"lower": 1, "upper": 0}, r"lower must be less than upper; got lower=1, upper=0"),
        ("Normal", {"mu": "zero"}, r"mu must be a number, an array of numbers or a Prior; got 'zero'"),
    ],
)
def test_prior_is_checked_when_made(name, params, message):
    with pytest.raises(bmm.PriorError, match=message):
        Prior(name, **params)


def test_any_pymc_distribution_and_nested_hyperpriors_to_any_depth():
    deep = Prior("Normal", mu=0, sigma=Prior("HalfStudentT", nu=3, sigma=Prior("HalfNormal", sigma=2)))
    assert repr(deep) == "Normal(mu: 0, sigma: HalfStudentT(nu: 3, sigma: HalfNormal(sigma: 2)))"
    assert repr(Prior("Laplace", mu=0, b=10)) == "Laplace(mu: 0, b: 10)"
    assert deep == Prior("Normal", mu=0, sigma=Prior("HalfStudentT", nu=3, sigma=Prior("HalfNormal", sigma=2)))


def test_the_distribution_table_matches_the_installed_pymc():
    import inspect

    import pymc as pm

    from bayesmm.priors import DISTRIBUTIONS

    for name, params in DISTRIBUTIONS.items():
        dist = getattr(pm, name)
        accepted = set(inspect.signature(dist.dist).parameters)
        assert set(params) <= accepted, (name, set(params) - accepted)
