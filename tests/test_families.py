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
    "lognormal": "identity",
    "exponential": "log",
    "weibull": "log",
    "laplace": "identity",
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


# Parameters (and responses in each family's support) at which the numpy log densities are
# checked against PyMC's.
_LOGPDF_CASES = {
    "gaussian": ({"mu": [0.5, -2.0], "sigma": [1.5, 0.3]}, [0.1, -1.0]),
    "bernoulli": ({"p": [0.2, 0.9]}, [0, 1]),
    "binomial": ({"p": [0.2, 0.9], "trials": [10, 3]}, [4, 3]),
    "poisson": ({"mu": [0.7, 12.0]}, [0, 15]),
    "negativebinomial": ({"mu": [0.7, 12.0], "alpha": [2.0, 0.5]}, [1, 30]),
    "gamma": ({"mu": [0.7, 12.0], "alpha": [2.0, 0.5]}, [0.3, 20.0]),
    "beta": ({"mu": [0.3, 0.8], "kappa": [5.0, 40.0]}, [0.1, 0.85]),
    "t": ({"mu": [0.5, -2.0], "sigma": [1.5, 0.3], "nu": [3.0, 30.0]}, [4.0, -1.9]),
    "wald": ({"mu": [0.7, 3.0], "lam": [2.0, 9.0]}, [0.4, 5.0]),
    "lognormal": ({"mu": [0.5, -2.0], "sigma": [1.5, 0.3]}, [0.1, 0.2]),
    "exponential": ({"mu": [0.7, 12.0]}, [0.3, 20.0]),
    "weibull": ({"mu": [0.7, 12.0], "alpha": [2.0, 0.5]}, [0.3, 20.0]),
    "laplace": ({"mu": [0.5, -2.0], "b": [1.5, 0.3]}, [0.1, -1.0]),
}


@pytest.mark.parametrize("name", sorted(ISSUE_TABLE))
def test_numpy_log_density_equals_pymc_logp(name):
    import pymc as pm

    family = get_family(name)
    raw, y = _LOGPDF_CASES[name]
    values = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    y = np.asarray(y)
    ours = family.likelihood.logpdf(y, values)
    kwargs = family.likelihood.dist_kwargs({k: v for k, v in values.items() if k != "trials"})
    if family.likelihood.trials_kwarg:
        kwargs[family.likelihood.trials_kwarg] = values["trials"].astype(int)
    dist = getattr(pm, family.likelihood.name).dist(**kwargs)
    theirs = pm.logp(dist, y).eval()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_the_family_table_in_the_docs_is_the_registry():
    from pathlib import Path

    from bayesmm.families import family_table

    page = (Path(__file__).resolve().parent.parent / "docs" / "families.md").read_text()
    table = page.split("<!-- family-table:start -->\n", 1)[1].split("<!-- family-table:end -->")[0]
    assert table == family_table(), "run: python docs/family_table.py"
    assert all(f"| `{name}` |" in table for name in FAMILIES)
