import importlib.util

import arviz as az
import numpy as np
import pymc as pm
import pytest

import bayesmm as bmm

SLEEPSTUDY_PRINT = """\
       Formula: Reaction ~ Days + (Days | Subject)
        Family: gaussian
          Link: mu = identity
  Observations: 180
        Priors:
    target = mu
        Common-level effects
            Intercept ~ Normal(mu: 298.5079, sigma: 140.8219)
            Days ~ Normal(mu: 0.0, sigma: 48.8915)

        Group-level effects
            1|Subject ~ Normal(mu: 0.0, sigma: HalfNormal(sigma: 140.8219))
            Days|Subject ~ Normal(mu: 0.0, sigma: HalfNormal(sigma: 48.8915))

        Correlations of group-level effects
            Subject_corr ~ LKJCorr(eta: 1.0)

        Auxiliary parameters
            sigma ~ HalfStudentT(nu: 4, sigma: 56.3288)
"""


def test_print_sleepstudy_shows_the_documented_layout_with_real_numbers(sleepstudy):
    assert str(bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)) == SLEEPSTUDY_PRINT


def test_print_cbpp_binomial(cbpp):
    text = str(bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial"))
    assert text.splitlines()[:6] == [
        "       Formula: p(incidence, size) ~ period + (1|herd)",
        "        Family: binomial",
        "          Link: p = logit",
        "  Observations: 56",
        "        Priors:",
        "    target = p",
    ]
    assert "            Intercept ~ Normal(mu: -2.098, sigma: 2.5)" in text
    assert "            period ~ Normal(mu: 0.0, sigma: [5.7217, 5.7217, 5.8683])" in text
    assert "            1|herd ~ Normal(mu: 0.0, sigma: HalfNormal(sigma: 2.5))" in text
    assert "Auxiliary parameters" not in text


def test_print_bernoulli_names_the_modelled_event(bacteria):
    text = str(bmm.Model("y ~ trt + I(week > 2) + (1|ID)", bacteria, family="bernoulli"))
    assert "        Family: bernoulli (modelling the probability that y == 'y')" in text
    assert "            Intercept ~ Normal(mu: 1.4149, sigma: 2.5)" in text
    assert "            trt ~ Normal(mu: 0.0, sigma: [5.5443, 5.5443])" in text
    assert "            I(week > 2) ~ Normal(mu: 0.0, sigma: 5.0422)" in text


def test_print_negative_binomial_lists_its_auxiliary_prior(epilepsy):
    text = str(
        bmm.Model("y ~ lbase * trt + lage + V4 + (1|subject)", epilepsy, family="negativebinomial")
    )
    assert "          Link: mu = log" in text
    assert "            lbase:trt ~ Normal(" in text
    assert (
        "        Auxiliary parameters\n            alpha ~ Gamma(alpha: 0.01, beta: 0.01)" in text
    )


def test_build_makes_a_pymc_model_without_sampling(sleepstudy):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    model.build()
    pm_model = model.backend.model
    assert isinstance(pm_model, pm.Model)
    names = set(pm_model.named_vars)
    assert {"Intercept", "Days", "1|Subject", "Days|Subject", "1|Subject_sigma", "sigma"} <= names
    assert pm_model.coords["Subject__factor_dim"][:2] == ("308", "309")


def test_model_logp_is_finite_at_the_initial_point(cbpp, bacteria, epilepsy):
    models = [
        bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial"),
        bmm.Model("y ~ trt + I(week > 2) + (trt|ID)", bacteria, family="bernoulli"),
        bmm.Model("y ~ lbase * trt + (1|subject)", epilepsy, family="negativebinomial"),
        bmm.Model("y ~ lbase + (1|subject)", epilepsy, family="poisson", noncentered=False),
    ]
    for model in models:
        pm_model = model.backend.model
        assert np.isfinite(pm_model.compile_logp()(pm_model.initial_point()))


def test_fit_returns_inference_data_with_user_facing_names(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    idata = model.fit(draws=20, chains=2, random_seed=3)
    assert isinstance(idata, az.InferenceData)
    assert list(idata.posterior.data_vars) == [
        "Intercept",
        "Days",
        "1|Subject",
        "1|Subject_sigma",
        "Days|Subject",
        "Days|Subject_sigma",
        "1|Subject:Days|Subject_corr",
        "sigma",
    ]
    assert idata.posterior["1|Subject"].dims == ("chain", "draw", "Subject__factor_dim")
    assert list(idata.posterior["Subject__factor_dim"].values[:2]) == ["308", "309"]
    assert {"log_likelihood", "observed_data"} <= set(idata.groups())
    assert idata.log_likelihood["Reaction"].shape == (2, 20, 180)
    assert idata.attrs["formula"] == "Reaction ~ Days + (Days | Subject)"
    assert idata.attrs["bayesmm_version"] == bmm.__version__


def test_reported_intercept_is_on_the_original_scale(sleepstudy, stub_sampler):
    # Intercept = Intercept_centered - mean(Days) * Days: check it on the model's own graph.
    model = bmm.Model("Reaction ~ Days", sleepstudy)
    pm_model = model.backend.model
    point = {"Intercept_centered": 300.0, "Days": 10.0}
    compute = pm_model.compile_fn(
        pm_model["Intercept"], inputs=[pm_model["Intercept_centered"], pm_model["Days"]]
    )
    assert compute(point) == pytest.approx(300.0 - sleepstudy["Days"].mean() * 10.0)


def test_categorical_terms_get_level_coordinates(cbpp, stub_sampler):
    model = bmm.Model("p(incidence, size) ~ period + (1|herd)", cbpp, family="binomial")
    idata = model.fit(draws=10, chains=1)
    assert list(idata.posterior["period_dim"].values) == ["2", "3", "4"]
    assert idata.posterior["1|herd"].sizes["herd__factor_dim"] == 15


def test_fit_rejects_bad_counts(sleepstudy):
    model = bmm.Model("Reaction ~ Days", sleepstudy)
    with pytest.raises(bmm.DataError, match=r"draws must be an integer >= 1; got 0"):
        model.fit(draws=0)
    with pytest.raises(bmm.DataError, match=r"chains must be an integer >= 1; got 1.5"):
        model.fit(chains=1.5)


def test_unknown_inference_method_lists_the_samplers(sleepstudy):
    model = bmm.Model("Reaction ~ Days", sleepstudy)
    with pytest.raises(
        bmm.BackendError,
        match=r"inference_method must be one of \['auto', 'blackjax', 'laplace', 'numpyro', 'nutpie', 'pathfinder', 'pymc', 'vi'\]; got 'nuts'",
    ):
        model.fit(inference_method="nuts")


def test_missing_sampler_says_how_to_install_it(sleepstudy, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpyro" else find_spec(name)
    )
    model = bmm.Model("Reaction ~ Days", sleepstudy)
    with pytest.raises(
        bmm.BackendError,
        match=r"inference_method='numpyro' needs the package\(s\) \['numpyro'\], which are not "
        r'installed. Install them with: pip install "bayesmm\[jax\]"',
    ):
        model.fit(inference_method="numpyro")


def test_insteval_builds_from_index_vectors_without_dense_matrices():
    data = bmm.load_data("InstEval")
    model = bmm.Model("y ~ service + (1|s) + (1|d) + (1|dept)", data)
    for term in model.design.group_terms:
        assert term.values is None and term.index.shape == (73421,)
    assert model.design.common.shape == (73421, 2)
    coords = model.backend.model.coords
    assert (
        len(coords["s__factor_dim"]),
        len(coords["d__factor_dim"]),
        len(coords["dept__factor_dim"]),
    ) == (2972, 1128, 14)


def test_arviz_summary_and_trace_plot_work_on_the_result(sleepstudy, stub_sampler):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idata = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy).fit(
        draws=30, chains=2, random_seed=0
    )
    summary = az.summary(idata)
    assert "1|Subject[308]" in summary.index and "Days|Subject_sigma" in summary.index
    axes = az.plot_trace(idata, var_names=["Intercept", "Days", "sigma"])
    assert axes.shape == (3, 2)
    plt.close("all")


def test_auto_parameterisation_centres_terms_with_many_rows_per_level(sleepstudy):
    from bayesmm.backend.graph import CENTRED_MIN_ROWS_PER_LEVEL

    assert CENTRED_MIN_ROWS_PER_LEVEL == 20
    # sleepstudy: 10 rows per subject, non-centred.
    names = bmm.Model("Reaction ~ Days + (Days || Subject)", sleepstudy).backend.model.named_vars
    assert "1|Subject_offset" in names and "Days|Subject_offset" in names
    names = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy).backend.model.named_vars
    assert "Subject_corr_offset" in names
    names = bmm.Model(
        "Reaction ~ Days + (Days | Subject)", sleepstudy, noncentered=False
    ).backend.model.named_vars
    assert "Subject_corr_effects" in names and "Subject_corr_offset" not in names
    # InstEval: 25 rows per student, 65 per lecturer, 5,244 per department: all centred.
    data = bmm.load_data("InstEval")
    names = bmm.Model("y ~ service + (1|s) + (1|d) + (1|dept)", data).backend.model.named_vars
    assert not [n for n in names if n.endswith("_offset")]
    names = bmm.Model(
        "y ~ service + (1|s) + (1|d) + (1|dept)", data, noncentered=True
    ).backend.model.named_vars
    assert {"1|s_offset", "1|d_offset", "1|dept_offset"} <= set(names)


def test_noncentered_must_be_a_bool_or_auto(sleepstudy):
    with pytest.raises(
        bmm.DataError, match=r"noncentered must be True, False or 'auto'; got 'yes'"
    ):
        bmm.Model("Reaction ~ Days + (1 | Subject)", sleepstudy, noncentered="yes")
