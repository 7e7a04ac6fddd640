import numpy as np
import pandas as pd
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
        (
            "Normall",
            {"mu": 0},
            r"must be a PyMC distribution; got 'Normall'. Did you mean one of 'Normal'",
        ),
        (
            "Normal",
            {"sd": 1},
            r"'Normal' has no parameter 'sd'; its parameters are \['mu', 'sigma', 'tau'\]",
        ),
        ("Normal", {"sigma": -1}, r"'Normal': sigma must be positive; got -1"),
        ("HalfCauchy", {"beta": np.array([1.0, 0.0])}, r"beta must be positive"),
        ("Beta", {"mu": 1.5}, r"mu must be between 0 and 1; got 1.5"),
        (
            "Uniform",
            {"lower": 1, "upper": 0},
            r"lower must be less than upper; got lower=1, upper=0",
        ),
        (
            "Normal",
            {"mu": "zero"},
            r"mu must be a number, an array of numbers or a Prior; got 'zero'",
        ),
    ],
)
def test_prior_is_checked_when_made(name, params, message):
    with pytest.raises(bmm.PriorError, match=message):
        Prior(name, **params)


def test_any_pymc_distribution_and_nested_hyperpriors_to_any_depth():
    deep = Prior(
        "Normal", mu=0, sigma=Prior("HalfStudentT", nu=3, sigma=Prior("HalfNormal", sigma=2))
    )
    assert repr(deep) == "Normal(mu: 0, sigma: HalfStudentT(nu: 3, sigma: HalfNormal(sigma: 2)))"
    assert repr(Prior("Laplace", mu=0, b=10)) == "Laplace(mu: 0, b: 10)"
    assert deep == Prior(
        "Normal", mu=0, sigma=Prior("HalfStudentT", nu=3, sigma=Prior("HalfNormal", sigma=2))
    )


def test_the_distribution_table_matches_the_installed_pymc():
    import inspect

    import pymc as pm

    from bayesmm.priors import DISTRIBUTIONS

    for name, params in DISTRIBUTIONS.items():
        dist = getattr(pm, name)
        accepted = set(inspect.signature(dist.dist).parameters)
        assert set(params) <= accepted, (name, set(params) - accepted)


# --- priors= reach the PyMC model --------------------------------------------------------------


def _dist(model, name):
    """The distribution of a variable of the built PyMC model, and its numeric parameters."""
    rv = model.backend.model[name]
    params = []
    for node in rv.owner.inputs[2:]:
        try:
            params.append(np.asarray(node.eval()).tolist())
        except Exception:  # a parameter that is itself a random variable
            params.append(node.name)
    return rv.owner.op.name, params


def test_each_key_form_changes_the_prior_of_the_pymc_model(sleepstudy):
    laplace = Prior("Laplace", mu=0, b=10)
    cauchy = Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=5))
    # Independent effects ('||'): each term's sd has a prior of its own (correlated effects
    # need one family for all; tests/test_backend_correlated.py).
    model = bmm.Model(
        "Reaction ~ Days + I(Days**2) + (Days || Subject)",
        sleepstudy,
        priors={
            "Days": laplace,  # a term name
            ("Intercept", "I(Days ** 2)"): Prior("Normal", mu=1, sigma=7),  # a tuple
            "group_specific": cauchy,  # every group term...
            "Days|Subject": Prior(
                "Normal", mu=0, sigma=Prior("HalfNormal", sigma=3)
            ),  # ...but this
            "sigma": Prior("HalfNormal", sigma=40),  # an auxiliary parameter
        },
    )
    assert _dist(model, "Days") == ("laplace", [0.0, 10.0])
    # The intercept's prior applies to the intercept of the centred predictors.
    assert _dist(model, "Intercept_centered") == ("normal", [1.0, 7.0])
    assert _dist(model, "I(Days ** 2)") == ("normal", [1.0, 7.0])
    assert _dist(model, "1|Subject_sigma") == ("halfcauchy", [5.0])
    assert _dist(model, "Days|Subject_sigma") == ("halfnormal", [0.0, 3.0])
    assert _dist(model, "sigma") == ("halfnormal", [0.0, 40.0])


def test_common_key_and_set_priors_reach_the_model(sleepstudy):
    model = bmm.Model("Reaction ~ Days + (1 | Subject)", sleepstudy)
    model.set_priors(common=Prior("StudentT", nu=3, mu=0, sigma=20))
    assert _dist(model, "Days") == ("t", [3.0, 0.0, 20.0])
    model.set_priors(
        priors={"Days": Prior("Normal", mu=0, sigma=2)},
        group_specific=Prior("Normal", mu=0, sigma=Prior("Exponential", lam=0.1)),
    )
    assert _dist(model, "Days") == ("normal", [0.0, 2.0])
    assert _dist(model, "Intercept_centered") == ("t", [3.0, 0.0, 20.0])
    assert _dist(model, "1|Subject_sigma")[0] == "exponential"


def test_a_number_fixes_an_auxiliary_parameter(sleepstudy):
    model = bmm.Model("Reaction ~ Days", sleepstudy, priors={"sigma": 30})
    assert "sigma" not in [v.name for v in model.backend.model.free_RVs]
    observed = model.backend.model["Reaction"]
    assert np.all(observed.owner.inputs[3].eval() == 30.0)
    assert "sigma ~ 30.0" in str(model)


def test_nested_prior_on_a_group_term_gives_its_sd_the_users_hyperprior(sleepstudy):
    model = bmm.Model(
        "Reaction ~ Days + (1 | Subject)",
        sleepstudy,
        priors={"1|Subject": Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=5))},
    )
    assert _dist(model, "1|Subject_sigma") == ("halfcauchy", [5.0])
    assert "1|Subject ~ Normal(mu: 0, sigma: HalfCauchy(beta: 5))" in str(model)


def test_user_priors_are_never_rescaled(sleepstudy):
    big = sleepstudy.assign(Reaction=sleepstudy["Reaction"] * 1000)
    prior = Prior("Normal", mu=0, sigma=1)
    for data in (sleepstudy, big):
        model = bmm.Model("Reaction ~ Days", data, priors={"Days": prior})
        assert _dist(model, "Days") == ("normal", [0.0, 1.0])


def test_custom_distribution_callable(sleepstudy):
    import pymc as pm

    def shifted_laplace(name, dims=None, loc=0.0, scale=1.0):
        return pm.Laplace(name, mu=loc, b=scale, dims=dims)

    model = bmm.Model(
        "Reaction ~ Days",
        sleepstudy,
        priors={"Days": Prior("ShiftedLaplace", dist=shifted_laplace, loc=5, scale=2)},
    )
    assert _dist(model, "Days") == ("laplace", [5.0, 2.0])
    assert "Days ~ ShiftedLaplace(loc: 5, scale: 2)" in str(model)


def test_auto_scale_false_priors_are_proper_and_can_be_sampled(sleepstudy):
    model = bmm.Model("Reaction ~ Days + (1|Subject)", sleepstudy, auto_scale=False)
    prior = model.prior_predictive(draws=50, random_seed=1).prior
    for name in ("Intercept", "Days", "1|Subject_sigma", "sigma"):
        assert np.isfinite(prior[name]).all()


# --- prior checks ---------------------------------------------------------------------------


def test_prior_predictive_has_the_response_shape_and_support(epilepsy, bacteria):
    poisson = bmm.Model("y ~ lbase + trt + (1|subject)", epilepsy, family="poisson")
    pp = poisson.prior_predictive(draws=100, random_seed=1)
    assert set(pp.groups()) >= {"prior", "prior_predictive"}
    counts = pp.prior_predictive["y"].to_numpy()
    assert counts.shape == (1, 100, len(epilepsy))
    assert (counts >= 0).all() and (counts == np.round(counts)).all()
    assert "1|subject_offset" not in pp.prior

    bernoulli = bmm.Model("y ~ trt + (1|ID)", bacteria, family="bernoulli")
    draws = bernoulli.prior_predictive(draws=100, random_seed=1).prior_predictive["y"].to_numpy()
    assert draws.shape == (1, 100, len(bacteria))
    assert set(np.unique(draws)) == {0, 1}


@pytest.mark.parametrize("which", ["sleepstudy", "bernoulli"])
def test_plot_priors_draws_a_figure_before_fitting(which, sleepstudy, bacteria, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    if which == "sleepstudy":
        model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
        expected = ["Intercept", "Days", "1|Subject_sigma", "Days|Subject_sigma", "sigma"]
    else:
        model = bmm.Model("y ~ trt + (1|ID)", bacteria, family="bernoulli")
        expected = ["Intercept", "trt", "trt", "1|ID_sigma"]  # trt has two levels
    axes = np.ravel(model.plot_priors(draws=500, random_seed=1))
    titles = [ax.get_title() for ax in axes if ax.get_title()]
    assert [t.split("\n")[0] for t in titles] == expected
    path = tmp_path / f"{which}.png"
    axes[0].figure.savefig(path)
    assert path.stat().st_size > 10_000


def test_plot_priors_rejects_unknown_names(sleepstudy):
    model = bmm.Model("Reaction ~ Days", sleepstudy)
    with pytest.raises(
        bmm.PriorError, match=r"var_names has \['Dayz'\], which the model does not have"
    ):
        model.plot_priors(var_names=["Dayz"])


# --- automatic_priors="mle" -------------------------------------------------------------------


@pytest.fixture(scope="module")
def correlated():
    """Simulated Gaussian data with correlated predictors and a grouping factor."""
    rng = np.random.default_rng(11)
    n = 400
    x1 = rng.normal(size=n)
    x2 = 0.6 * x1 + rng.normal(size=n)
    g = rng.integers(0, 20, n)
    y = 2 + 1.5 * x1 - 0.3 * x2 + rng.normal(0, 0.7, 20)[g] + rng.normal(0, 2, n)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": [f"g{i}" for i in g]})


def _slope_factor(data, column, others):
    """sqrt(SS(y | others) / SS(x | others)): slope per unit of sample partial correlation."""
    Z = np.column_stack([np.ones(len(data))] + [data[c] for c in others])

    def residual(v):
        return v - Z @ np.linalg.lstsq(Z, v, rcond=None)[0]

    y, x = data["y"].to_numpy(), data[column].to_numpy()
    return np.sqrt(np.sum(residual(y) ** 2) / np.sum(residual(x) ** 2))


def test_mle_priors_reproduce_the_partial_correlation_scale(correlated):
    import pymc as pm

    model = bmm.Model("y ~ x1 + x2 + (1|g)", correlated, automatic_priors="mle")
    k1 = _slope_factor(correlated, "x1", ["x2"])
    k2 = _slope_factor(correlated, "x2", ["x1"])
    wide = np.sqrt(1 / 3)
    assert model.priors["x1"].params["sigma"] == pytest.approx(wide * k1, rel=1e-8)
    assert model.priors["x2"].params["sigma"] == pytest.approx(wide * k2, rel=1e-8)
    # Draws of the slope from the PyMC model, divided by the factor, have sd 0.577 on the
    # partial-correlation scale. The sd of N draws has standard error sd / sqrt(2 (N - 1)).
    n = 20_000
    draws = pm.draw(model.backend.model["x1"], draws=n, random_seed=3) / k1
    assert abs(draws.std(ddof=1) - wide) < 4 * wide / np.sqrt(2 * (n - 1))
    # The group intercepts' scale is on the linear predictor's scale, sd(y).
    group_sd = model.priors["1|g"].params["sigma"].params["sigma"]
    assert group_sd == pytest.approx(wide * correlated["y"].std(ddof=1))


def test_mle_factor_of_a_logistic_glm_matches_an_independent_fit(correlated):
    import statsmodels.api as sm

    data = correlated.assign(y=(correlated["y"] > 2).astype(int))
    model = bmm.Model("y ~ x1 + x2", data, family="bernoulli", automatic_priors="mle")
    X = sm.add_constant(data[["x1", "x2"]].to_numpy())
    full = sm.GLM(data["y"].to_numpy(), X, family=sm.families.Binomial()).fit()
    reduced = sm.GLM(
        data["y"].to_numpy(), np.delete(X, 1, axis=1), family=sm.families.Binomial()
    ).fit()
    r = np.sqrt(1 - np.exp(-(reduced.deviance - full.deviance) / len(data)))
    expected = np.sqrt(1 / 3) * abs(full.params[1]) / r
    assert model.priors["x1"].params["sigma"] == pytest.approx(expected, rel=1e-6)


def test_named_scales_are_ordered_and_numbers_work(correlated):
    sds = []
    for scale in ["narrow", "medium", "wide", "superwide", 0.3, 1]:
        model = bmm.Model(
            "y ~ x1 + x2 + (1|g)",
            correlated,
            automatic_priors="mle",
            priors={"x1": scale, "group_specific": scale},
        )
        sds.append(model.priors["x1"].params["sigma"])
        # Only the named term changes; x2 keeps the default "wide".
        assert model.priors["x2"].params["sigma"] == pytest.approx(
            np.sqrt(1 / 3) * _slope_factor(correlated, "x2", ["x1"])
        )
    k = _slope_factor(correlated, "x1", ["x2"])
    np.testing.assert_allclose(np.array(sds) / k, [0.2, 0.4, np.sqrt(1 / 3), 0.8, 0.3, 1.0])
    model = bmm.Model(
        "y ~ x1 + x2 + (1|g)", correlated, automatic_priors="mle", priors={"common": "narrow"}
    )
    assert model.priors["x2"].params["sigma"] == pytest.approx(
        0.2 * _slope_factor(correlated, "x2", ["x1"])
    )


@pytest.mark.parametrize(
    ("priors", "message"),
    [
        ({"x1": 1.5}, r"priors\['x1'\] = 1.5 is a scale .* must be in \(0, 1\]"),
        ({"x1": 0}, r"priors\['x1'\] = 0 is a scale .* must be in \(0, 1\]"),
        (
            {"x1": "huge"},
            r"'huge' is not a named scale; named scales are \['narrow', 'medium', 'wide', 'superwide'\]",
        ),
        ({"x3": "wide"}, r"scale key 'x3', which is not a common or group-specific term"),
    ],
)
def test_bad_scales_are_errors(correlated, priors, message):
    with pytest.raises(bmm.PriorError, match=message):
        bmm.Model("y ~ x1 + x2", correlated, automatic_priors="mle", priors=priors)


def test_named_scale_without_mle_and_unknown_method(correlated):
    with pytest.raises(
        bmm.PriorError, match=r"is a named scale, which needs automatic_priors='mle'"
    ):
        bmm.Model("y ~ x1", correlated, priors={"x1": "wide"})
    with pytest.raises(
        bmm.PriorError, match=r"automatic_priors must be one of \['default', 'mle'\]; got 'ml'"
    ):
        bmm.Model("y ~ x1", correlated, automatic_priors="ml")


def test_mle_priors_explain_separation(correlated):
    data = correlated.assign(y=(correlated["x1"] > 0).astype(int))
    with pytest.raises(
        bmm.PriorError, match=r"the response is separated \(fitted probabilities of 0 or 1"
    ):
        bmm.Model("y ~ x1", data, family="bernoulli", automatic_priors="mle")


def test_mle_priors_explain_collinear_predictors(correlated):
    data = correlated.assign(x3=2 * correlated["x1"] - correlated["x2"])
    with pytest.raises(bmm.PriorError, match=r"predictors are collinear"):
        bmm.Model("y ~ x1 + x2 + x3", data, automatic_priors="mle")


def test_priors_must_be_a_dict(sleepstudy):
    with pytest.raises(
        bmm.PriorError, match=r"priors must be a dict mapping term names to Prior objects; got list"
    ):
        bmm.Model("Reaction ~ Days", sleepstudy, priors=[Prior("Normal", mu=0, sigma=1)])
