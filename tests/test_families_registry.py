import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.families import BUILTIN_FAMILIES, FAMILIES, get_family, register_family
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
    "zero_inflated_poisson": "log",
    "zero_inflated_negativebinomial": "log",
    "zero_inflated_binomial": "logit",
    "hurdle_poisson": "log",
    "hurdle_negativebinomial": "log",
    "hurdle_gamma": "log",
    "hurdle_lognormal": "identity",
    "asym_laplace": "identity",
    "vonmises": "tan_half",
    "beta_binomial": "logit",
    "zoib": "logit",
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
        "tan_half",
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
        match=r"family must be one of \['acat', 'asym_laplace', 'bernoulli', .*'gaussian'.*got 'gausian'. Did you mean 'gaussian'\?",
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


def test_custom_family_can_be_registered_and_used(sleepstudy, family_registry):
    family = bmm.Family(
        "halfnormal_mean",
        bmm.Likelihood("Normal", ("mu", "sigma"), "mu"),
        "log",
        links=("log",),
        aux_priors={"sigma": lambda stats: bmm.Prior("HalfNormal", sigma=stats.sd)},
    )
    register_family(family)
    assert get_family("halfnormal_mean") is family
    model = bmm.Model("Reaction ~ Days", sleepstudy, family="halfnormal_mean")
    assert model.priors["sigma"] == bmm.Prior("HalfNormal", sigma=sleepstudy["Reaction"].std())
    with pytest.raises(bmm.FamilyError, match="already registered; pass overwrite=True"):
        register_family(family)


def test_arguments_after_link_given_by_position_still_work_but_warn():
    likelihood = bmm.Likelihood("Normal", ("mu", "sigma"), "mu")
    aux = {"sigma": bmm.Prior("HalfNormal", sigma=1)}
    with pytest.warns(
        bmm.BayesmmDeprecationWarning,
        match=r"Family 'old': passing \['links', 'aux_priors'\] by position is deprecated",
    ):
        old = bmm.Family("old", likelihood, "identity", ("identity", "log"), aux)
    new = bmm.Family("old", likelihood, "identity", links=("identity", "log"), aux_priors=aux)
    assert old.to_dict() == new.to_dict()
    with pytest.raises(bmm.FamilyError, match=r"got \['links'\] both by position and by keyword"):
        bmm.Family("old", likelihood, "identity", ("identity",), links=("identity",))


def test_family_record_is_checked_when_made():
    with pytest.raises(
        bmm.FamilyError, match=r"default link 'log' must be among its links \['logit'\]"
    ):
        bmm.Family("bad", bmm.Likelihood("Bernoulli", ("p",), "p"), "log", links=("logit",))
    with pytest.raises(
        bmm.FamilyError,
        match=r"aux_priors must give a default prior for each auxiliary parameter \['sigma'\]",
    ):
        bmm.Family(
            "bad", bmm.Likelihood("Normal", ("mu", "sigma"), "mu"), "identity", links=("identity",)
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
    # Zeros and non-zeros of each family with zeros of its own.
    "zero_inflated_poisson": ({"mu": [0.7, 12.0, 3.0], "zi": [0.3, 0.1, 0.5]}, [0, 15, 2]),
    "zero_inflated_negativebinomial": (
        {"mu": [0.7, 12.0, 3.0], "alpha": [2.0, 0.5, 1.0], "zi": [0.3, 0.1, 0.5]},
        [0, 30, 1],
    ),
    "zero_inflated_binomial": (
        {"p": [0.2, 0.9, 0.5], "zi": [0.3, 0.1, 0.5], "trials": [10, 3, 4]},
        [0, 3, 2],
    ),
    "hurdle_poisson": ({"mu": [0.7, 12.0, 3.0], "hu": [0.3, 0.1, 0.5]}, [0, 15, 1]),
    "hurdle_negativebinomial": (
        {"mu": [0.7, 12.0, 3.0], "alpha": [2.0, 0.5, 1.0], "hu": [0.3, 0.1, 0.5]},
        [0, 30, 1],
    ),
    "hurdle_gamma": (
        {"mu": [0.7, 12.0, 3.0], "alpha": [2.0, 0.5, 1.0], "hu": [0.3, 0.1, 0.5]},
        [0.0, 20.0, 0.3],
    ),
    "hurdle_lognormal": (
        {"mu": [0.5, -2.0, 1.0], "sigma": [1.5, 0.3, 1.0], "hu": [0.3, 0.1, 0.5]},
        [0.0, 0.2, 3.0],
    ),
    # Both sides of mu, at the median and at quantiles on either side of it.
    "asym_laplace": (
        {"mu": [0.5, -2.0, 1.0], "b": [1.5, 0.3, 1.0], "q": [0.5, 0.9, 0.2]},
        [0.1, -1.0, 3.0],
    ),
    "vonmises": ({"mu": [0.5, -2.0, 3.0], "kappa": [1.5, 30.0, 0.2]}, [0.1, -1.0, -3.0]),
    "beta_binomial": (
        {"mu": [0.2, 0.9, 0.5], "kappa": [5.0, 40.0, 1.0], "trials": [10, 3, 4]},
        [4, 3, 0],
    ),
    # A zero, a one and a value inside.
    "zoib": (
        {
            "mu": [0.2, 0.9, 0.5],
            "kappa": [5.0, 40.0, 1.5],
            "zoi": [0.3, 0.1, 0.5],
            "coi": [0.2, 0.7, 0.5],
        },
        [0.0, 1.0, 0.35],
    ),
}


@pytest.mark.parametrize("name", sorted(ISSUE_TABLE))
def test_numpy_log_density_equals_pymc_logp(name):
    import pymc as pm

    from bayesmm.backend.graph.distributions import likelihood_distribution

    family = get_family(name)
    raw, y = _LOGPDF_CASES[name]
    values = {k: np.asarray(v, dtype=float) for k, v in raw.items()}
    y = np.asarray(y)
    ours = family.likelihood.logpdf(y, values)
    kwargs = family.likelihood.dist_kwargs({k: v for k, v in values.items() if k != "trials"})
    if family.likelihood.trials_kwarg:
        kwargs[family.likelihood.trials_kwarg] = values["trials"].astype(int)
    dist = likelihood_distribution(family.likelihood.name).dist(**kwargs)
    theirs = pm.logp(dist, y).eval()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_the_family_table_in_the_docs_is_the_registry():
    from pathlib import Path

    from bayesmm.families import family_table

    page = (Path(__file__).resolve().parent.parent / "docs" / "families.md").read_text()
    table = page.split("<!-- family-table:start -->\n", 1)[1].split("<!-- family-table:end -->")[0]
    assert table == family_table(), "run: python docs/family_table.py"
    assert all(f"| `{name}` |" in table for name in FAMILIES)


# A response outside each new family's support, and the support text the error must name.
_BAD_RESPONSES = {
    "zero_inflated_poisson": ([0, 1, 2.5, 3], "non-negative integer counts"),
    "zero_inflated_negativebinomial": ([0, 2, -1, 3], "non-negative integer counts"),
    "hurdle_poisson": ([0, 1, -3, 2], "non-negative integer counts"),
    "hurdle_negativebinomial": ([0, 1, 0.5, 3], "non-negative integer counts"),
    "hurdle_gamma": ([0, 1.5, -2.0, 3], r"non-negative numbers \(zeros and positive values\)"),
    "hurdle_lognormal": ([0, 1.5, -2.0, 3], r"non-negative numbers \(zeros and positive values\)"),
    "asym_laplace": ([0, 1.5, np.inf, 3], "finite real numbers"),
    "vonmises": ([0, 1.5, 4.0, -3], r"angles in radians between -pi and pi"),
}


@pytest.mark.parametrize("name", sorted(_BAD_RESPONSES))
def test_a_response_outside_a_new_familys_support_is_a_data_error(name):
    values, support = _BAD_RESPONSES[name]
    data = pd.DataFrame({"y": values, "x": [0.1, 0.4, 0.2, 0.9]})
    with pytest.raises(
        bmm.DataError,
        match=rf"The response 'y' must be {support} for family '{name}'; got 1 value\(s\) "
        r"outside it, .*\(rows \[?2",
    ):
        bmm.Model("y ~ x", data, family=name)


@pytest.mark.parametrize("name", ["beta_binomial", "zero_inflated_binomial"])
def test_trials_families_check_successes_and_need_trials(name):
    # formulae refuses most bad proportions itself; the family's check backs it up (and runs
    # on the new rows of FittedModel.log_likelihood).
    with pytest.raises(
        bmm.DataError,
        match=rf"The response 'p\(s, n\)' must be integer successes between 0 and the number "
        rf"of trials for family '{name}'; got 1 value\(s\) outside it, e.g. \[?5",
    ):
        get_family(name).check_response(np.array([0.0, 5.0]), np.array([4.0, 4.0]), "p(s, n)")
    data = pd.DataFrame({"s": [0, 3, 2, 1], "n": [4, 4, 4, 4], "x": [0.1, 0.4, 0.2, 0.9]})
    with pytest.raises(
        bmm.DataError, match=rf"Family '{name}' needs the response written as p\(successes"
    ):
        bmm.Model("s ~ x", data, family=name)


def test_a_trials_response_with_another_family_names_the_families_with_trials():
    data = pd.DataFrame({"s": [0, 3, 2, 1], "n": [4, 4, 4, 4], "x": [0.1, 0.4, 0.2, 0.9]})
    with pytest.raises(
        bmm.DataError,
        match=r"needs a family with trials, one of \['beta_binomial', 'binomial', "
        r"'zero_inflated_binomial'\]; got family 'poisson'",
    ):
        bmm.Model("p(s, n) ~ x", data, family="poisson")


def test_zero_and_hurdle_probabilities_are_brms_zi_and_hu():
    """zi and hu are the probabilities of a zero; PyMC's psi is the other outcome's."""
    for name, aux in [("zero_inflated_poisson", "zi"), ("hurdle_poisson", "hu")]:
        family = get_family(name)
        kwargs = family.likelihood.dist_kwargs({"mu": np.array(2.0), aux: np.array(0.3)})
        assert kwargs["psi"] == pytest.approx(0.7)
        assert family.aux_priors[aux](None) == bmm.Prior("Beta", alpha=1, beta=1)
        # All-zero draws with probability one: zi = hu = 1 - tiny.
        values = {"mu": np.full(200, 5.0), aux: np.full(200, 1 - 1e-12)}
        assert not family.likelihood.draw(values, np.random.default_rng(0)).any()


def test_hurdle_counts_are_never_zero_in_their_count_part():
    values = {"mu": np.full(5000, 0.05), "alpha": np.full(5000, 1.0), "hu": np.zeros(5000)}
    rng = np.random.default_rng(1)
    for name in ("hurdle_poisson", "hurdle_negativebinomial"):
        draws = get_family(name).likelihood.draw(values, rng)
        assert draws.min() >= 1 and np.issubdtype(draws.dtype, np.integer)


@pytest.fixture
def skewed():
    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    return pd.DataFrame({"x": x, "y": 1 + x + rng.gumbel(size=60)})


def test_asym_laplace_fixes_the_quantile_at_the_median_by_default(skewed):
    model = bmm.Model("y ~ x", skewed, family="asym_laplace")
    assert model.priors["q"] == 0.5
    assert "q ~ 0.5" in str(model)
    model = bmm.Model("y ~ x", skewed, family="asym_laplace", priors={"q": 0.9})
    assert model.priors["q"] == 0.9


@pytest.mark.parametrize("q", [0, 1, 1.5, -0.2])
def test_a_quantile_outside_zero_and_one_names_priors_q(skewed, q):
    with pytest.raises(
        bmm.PriorError,
        match=rf"priors\['q'\] fixes the parameter 'q' of family 'asym_laplace', which must be "
        rf"a number in \(0, 1\); got {q}",
    ):
        bmm.Model("y ~ x", skewed, family="asym_laplace", priors={"q": q})


def test_a_fixed_scale_must_be_positive(skewed):
    with pytest.raises(bmm.PriorError, match=r"priors\['sigma'\] .* must be a number above 0"):
        bmm.Model("y ~ x", skewed, priors={"sigma": -1.0})


def test_a_fixed_quantile_is_used_in_predictions_and_survives_a_file(
    skewed, stub_sampler, tmp_path
):
    model = bmm.Model("y ~ x", skewed, family="asym_laplace", priors={"q": 0.9})
    idata = model.fit(draws=50, chains=2, random_seed=1)
    assert "q" not in idata.posterior and "b" in idata.posterior
    fitted = model.fitted(idata)
    draws = fitted.draws(skewed.iloc[:3], kind="response", random_seed=2)
    assert draws.shape == (100, 3) and np.isfinite(draws).all()
    loaded = bmm.load(fitted.save(tmp_path / "quantile.nc"))
    assert loaded.fixed == {"q": 0.9}
    np.testing.assert_array_equal(
        loaded.draws(skewed.iloc[:3], kind="response", random_seed=2), draws
    )


def test_aux_bounds_may_only_name_auxiliary_parameters():
    with pytest.raises(
        bmm.FamilyError, match=r"aux_bounds may only name auxiliary parameters \['sigma'\]"
    ):
        bmm.Family(
            "bad",
            bmm.Likelihood("Normal", ("mu", "sigma"), "mu"),
            "identity",
            links=("identity",),
            aux_priors={"sigma": lambda stats: 1.0},
            aux_bounds={"mu": (0, 1)},
        )


def test_tan_half_maps_the_real_line_onto_angles():
    link = get_link("tan_half")
    eta = np.array([-1e6, -1.0, 0.0, 2.0, 1e6])
    mu = link.linkinv(eta)
    assert np.all(np.abs(mu) < np.pi) and mu[2] == 0
    np.testing.assert_allclose(link.link(mu[1:4]), eta[1:4])


def test_prior_draws_a_hurdle_count_family_cannot_make_are_a_backend_error():
    """Default priors put the intercept's mass so low that PyMC's rejection sampler of the
    positive counts gives up; the error says so instead of pytensor's traceback."""
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"y": rng.poisson(1, 200), "x": rng.normal(size=200)})
    model = bmm.Model("y ~ x", data, family="hurdle_poisson")
    with pytest.raises(bmm.BackendError, match=r"could not draw the response from the prior"):
        model.prior_predictive(draws=500, random_seed=1)


# --- each built-in family written once -------------------------------------------------------

#: The GLM behind automatic_priors="mle" of each built-in family that has one.
_GLM_VARIANCES = {
    "gaussian": "gaussian",
    "bernoulli": "binomial",
    "binomial": "binomial",
    "poisson": "poisson",
    "negativebinomial": "quasipoisson",
    "gamma": "gamma",
    "beta": "quasibinomial",
    "t": "gaussian",
    "wald": "inverse_gaussian",
    "exponential": "gamma",
    "weibull": "gamma",
    "laplace": "gaussian",
    "asym_laplace": "gaussian",
    "beta_binomial": "quasibinomial",
}


@pytest.mark.parametrize("name", sorted(f.name for f in BUILTIN_FAMILIES))
def test_a_builtin_family_holds_its_log_density_and_glm_in_its_record(name):
    family = FAMILIES[name]
    assert callable(family.likelihood.logpdf)
    assert family.glm_variance == _GLM_VARIANCES.get(name)


def test_the_side_tables_of_builtin_families_are_gone():
    from bayesmm.families import builtin, densities

    assert not hasattr(densities, "LOGPDF") and not hasattr(builtin, "GLM_VARIANCE")


def test_a_family_without_a_log_density_says_so():
    family = bmm.Family("no_density", bmm.Likelihood("Poisson", ("mu",), "mu"), "log")
    with pytest.raises(bmm.FamilyError, match=r"'no_density' has no numpy log density"):
        family.log_density(np.zeros(2), {"mu": np.ones(2)})
    np.testing.assert_allclose(
        get_family("gaussian").log_density(np.zeros(1), {"mu": np.zeros(1), "sigma": np.ones(1)}),
        [-0.5 * np.log(2 * np.pi)],
    )


# --- questions about categories ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_family_answers_questions_about_its_categories(name):
    family = FAMILIES[name]
    ordinal = name in ("cumulative", "sratio", "cratio", "acat")
    logit = name in ("categorical", "multinomial")
    assert family.is_categorical() == (ordinal or logit)
    assert family.is_ordinal() == ordinal
    assert family.has_category_predictors() == logit
    assert family.counts_each_category() == (name == "multinomial")
    assert family.min_categories() == (3 if ordinal or logit else 0)
    assert family.threshold_param() == ("threshold" if ordinal else None)
    assert family.ordered_thresholds() == (name == "cumulative")
    assert family.category_labels([1, "b"]) == (("1", "b") if ordinal or logit else None)
    assert family.category_labels(None) is None


def test_category_probabilities_are_asked_of_a_family_with_categories():
    z = np.array([[-1.0, 1.0]])
    p = get_family("cumulative").category_probabilities(z, lambda x: 1 / (1 + np.exp(-x)), np)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    with pytest.raises(bmm.FamilyError, match=r"'gaussian' has no categories"):
        get_family("gaussian").category_probabilities(z, lambda x: x, np)
