import numpy as np
import pytest

import bayesmm as bmm
from bayesmm.families import FAMILIES, get_family, register_family
from bayesmm.links import LINKS, get_link

ISSUE_TABLE = {
    "gaussian": "identity",
    "bernoulli": "logit",
    "binomial": "logit",
    "poisson": "log",
    "negativebinomial": "log",
    "gamma": "inverse",
    "beta": "logit",
    "t": "identity",
    "wald": "inverse_squared",
}


def test_registry_has_each_family_with_its_default_link():
    assert {name: FAMILIES[name].link for name in ISSUE_TABLE} == ISSUE_TABLE


def test_links_table_is_complete():
    assert set(LINKS) == {
        "identity",
        "log",
        "logit",
        "probit",
        "cloglog",
        "inverse",
        "inverse_squared",
    }


@pytest.mark.parametrize("name", sorted(LINKS))
def test_inverse_link_undoes_the_link(name):
    link = get_link(name)
    mu = np.array([0.1, 0.35, 0.8])
    np.testing.assert_allclose(link.linkinv(link.link(mu)), mu, rtol=1e-10)


@pytest.mark.parametrize("name", sorted(LINKS))
def test_link_derivative_matches_finite_differences(name):
    link = get_link(name)
    mu, h = np.array([0.2, 0.6]), 1e-6
    numeric = (link.link(mu + h) - link.link(mu - h)) / (2 * h)
    np.testing.assert_allclose(link.derivative(mu), numeric, rtol=1e-5)


def test_unknown_family_lists_valid_names(sleepstudy):
    with pytest.raises(
        bmm.FamilyError,
        match=r"family must be one of \['bernoulli', .*'gaussian'.*got 'gausian'. Did you mean 'gaussian'\?",
    ):
        bmm.Model("Reaction ~ Days", sleepstudy, family="gausian")


def test_unknown_link_lists_valid_names(sleepstudy):
    with pytest.raises(
        bmm.FamilyError,
        match=r"link must be one of \['cloglog', .*got 'logg'. Did you mean one of 'log'",
    ):
        bmm.Model("Reaction ~ Days", sleepstudy, link="logg")


def test_link_not_allowed_for_the_family_is_an_error(sleepstudy):
    with pytest.raises(
        bmm.FamilyError,
        match=r"link 'logit' is not allowed for family 'poisson'; allowed links are \['log', 'identity'\]",
    ):
        bmm.Model("Days ~ Reaction", sleepstudy, family="poisson", link="logit")


def test_allowed_non_default_link_is_used(sleepstudy):
    model = bmm.Model("Days ~ Reaction", sleepstudy, family="poisson", link="identity")
    assert model.link.name == "identity"


def test_custom_family_can_be_registered_and_used(sleepstudy, monkeypatch):
    monkeypatch.setattr("bayesmm.families.FAMILIES", dict(FAMILIES))
    family = bmm.Family(
        "halfnormal_mean",
        bmm.Likelihood("Normal", ("mu", "sigma"), "mu"),
        "log",
        ("log",),
        {"sigma": lambda stats: bmm.Prior("HalfNormal", sigma=stats.sd)},
    )
    register_family(family)
    assert get_family("halfnormal_mean") is family
    model = bmm.Model("Reaction ~ Days", sleepstudy, family="halfnormal_mean")
    assert model.priors["sigma"] == bmm.Prior("HalfNormal", sigma=sleepstudy["Reaction"].std())
    with pytest.raises(bmm.FamilyError, match="already registered; pass overwrite=True"):
        register_family(family)


def test_family_record_is_checked_when_made():
    with pytest.raises(
        bmm.FamilyError, match=r"default link 'log' must be among its links \['logit'\]"
    ):
        bmm.Family("bad", bmm.Likelihood("Bernoulli", ("p",), "p"), "log", ("logit",))
    with pytest.raises(
        bmm.FamilyError,
        match=r"aux_priors must give a default prior for each auxiliary parameter \['sigma'\]",
    ):
        bmm.Family(
            "bad", bmm.Likelihood("Normal", ("mu", "sigma"), "mu"), "identity", ("identity",)
        )
