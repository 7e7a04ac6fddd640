"""Custom families built from Likelihood, Link and Family: checks, fitting, prediction, files."""

from __future__ import annotations

import dataclasses
import json
import pickle
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import special

import _custom_links
import bayesmm as bmm
from bayesmm.families import FAMILIES
from bayesmm.families.known import KNOWN_LIKELIHOODS
from bayesmm.persist.importpath import (
    PathPolicy,
    UnsavableError,
    UntrustedPathError,
    callable_path,
    resolve_path,
)

FORMULA = "y['y'] ~ trt + week + (1|ID)"


def _custom_logit() -> bmm.Link:
    return bmm.Link(
        "my_logit",
        link=_custom_links.logit,
        linkinv=_custom_links.expit,
        linkinv_backend=_custom_links.expit_backend,
    )


def _custom_bernoulli(link: bmm.Link | None = None) -> bmm.Family:
    return bmm.Family(
        "my_bernoulli",
        likelihood=bmm.Likelihood("Bernoulli", parent="p"),
        link=link or _custom_logit(),
    )


def _same_priors(builtin: bmm.Model) -> dict:
    """The built-in model's priors, to give the custom one the same model exactly.

    A link's default prior scale depends on its name (unit scale for the registered logit,
    the delta method for another link), so the defaults of the two models differ.
    """
    return {t.name: t.prior for t in builtin.priors.terms}


# --- Link ------------------------------------------------------------------------------------


def test_link_without_derivative_gets_a_central_difference():
    link = _custom_logit()
    mu = np.array([0.01, 0.3, 0.5, 0.97])
    np.testing.assert_allclose(link.derivative(mu), 1 / (mu * (1 - mu)), rtol=1e-7)
    np.testing.assert_allclose(link.linkinv(link.link(mu)), mu, rtol=1e-12)


def test_link_accepts_numpy_and_scipy_functions_directly():
    import pytensor.tensor as pt

    link = bmm.Link("logit2", link=special.logit, linkinv=special.expit, linkinv_backend=pt.expit)
    assert float(link.linkinv(np.array(0.0))) == 0.5
    assert not link.is_registered and bmm.LINKS["logit"].is_registered


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": ""}, r"Link name must be a non-empty string; got ''"),
        ({"link": None}, r"Link 'L': link must be a callable g\(mu\) on numpy arrays; got None"),
        (
            {"linkinv": None},
            r"Link 'L': linkinv must be a callable g\^-1\(eta\) on numpy arrays .*; got None",
        ),
        (
            {"linkinv_backend": "sigmoid"},
            r"Link 'L': linkinv_backend must be a callable g\^-1\(eta\) on pytensor tensors "
            r".*; got 'sigmoid'",
        ),
        ({"derivative": 2.0}, r"Link 'L': derivative must be a callable .* or None; got 2.0"),
    ],
)
def test_bad_link_arguments_are_named(kwargs, match):
    args = {
        "name": "L",
        "link": special.logit,
        "linkinv": special.expit,
        "linkinv_backend": _custom_links.expit_backend,
        **kwargs,
    }
    with pytest.raises(bmm.FamilyError, match=match):
        bmm.Link(**args)


# --- Likelihood ------------------------------------------------------------------------------


def test_likelihood_params_come_from_the_pymc_distribution():
    assert bmm.Likelihood("Bernoulli", parent="p").params == ("p",)
    assert bmm.Likelihood("Bernoulli").parent == "p"
    # Parent first, then PyMC's order.
    assert bmm.Likelihood("StudentT", parent="mu").params == ("mu", "nu", "sigma")
    binomial = bmm.Likelihood("Binomial", parent="p")
    assert binomial.trials_kwarg == "n" and binomial.draw is not None
    # Given params are used as given, with nothing inferred.
    given = bmm.Likelihood("Normal", ("mu", "sigma"), "mu")
    assert given.draw is None and given.logpdf is None


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (
            ("Tweedie",),
            {"parent": "mu"},
            r"Likelihood 'Tweedie': params must be given, parent first .* it knows those of "
            r"\['Bernoulli', .*\]; got params=None",
        ),
        (
            ("Bernouli",),
            {},
            r"Likelihood 'Bernouli': params must be given.*Did you mean 'Bernoulli'\?",
        ),
        (
            ("Bernoulli",),
            {"parent": "mu"},
            r"Likelihood 'Bernoulli': parent must be one of the parameters of PyMC's Bernoulli, "
            r"\['p'\]; got 'mu'",
        ),
        (
            ("Normal", ("mu", "sigma")),
            {"parent": "sd"},
            r"Likelihood 'Normal': parent must be one of its params \['mu', 'sigma'\]; got 'sd'",
        ),
        (
            ("Normal", "mu"),
            {},
            r"Likelihood 'Normal': params must be a tuple of distinct parameter names, parent "
            r"first, e.g. \('mu', 'sigma'\); got 'mu'",
        ),
        ((3,), {}, r"Likelihood name must be the name of a PyMC distribution.*; got 3"),
    ],
)
def test_bad_likelihood_arguments_are_named(args, kwargs, match):
    with pytest.raises(bmm.FamilyError, match=match):
        bmm.Likelihood(*args, **kwargs)


_KNOWN_CASES = {
    "Normal": ({"mu": [0.5, -2.0], "sigma": [1.5, 0.3]}, [0.1, -1.0]),
    "StudentT": ({"mu": [0.5, -2.0], "sigma": [1.5, 0.3], "nu": [3.0, 30.0]}, [4.0, -1.9]),
    "Laplace": ({"mu": [0.5, -2.0], "b": [1.5, 0.3]}, [0.1, -1.0]),
    "Logistic": ({"mu": [0.5, -2.0], "s": [1.5, 0.3]}, [0.1, -1.0]),
    "Bernoulli": ({"p": [0.2, 0.9]}, [0, 1]),
    "Binomial": ({"p": [0.2, 0.9], "n": [10, 3]}, [4, 3]),
    "Poisson": ({"mu": [0.7, 12.0]}, [0, 15]),
    "NegativeBinomial": ({"mu": [0.7, 12.0], "alpha": [2.0, 0.5]}, [1, 30]),
    "Gamma": ({"mu": [0.7, 12.0], "sigma": [2.0, 0.5]}, [0.3, 11.0]),
    "LogNormal": ({"mu": [0.5, -2.0], "sigma": [1.5, 0.3]}, [0.1, 0.2]),
    "Wald": ({"mu": [0.7, 3.0], "lam": [2.0, 9.0]}, [0.4, 5.0]),
    "Exponential": ({"lam": [0.7, 12.0]}, [0.3, 0.05]),
}


def test_every_known_likelihood_has_a_log_density_case():
    assert set(_KNOWN_CASES) == set(KNOWN_LIKELIHOODS)


@pytest.mark.parametrize("name", sorted(KNOWN_LIKELIHOODS))
def test_known_likelihood_log_density_equals_pymc_logp(name):
    import pymc as pm

    raw, y = _KNOWN_CASES[name]
    known = KNOWN_LIKELIHOODS[name]
    values = {k: np.asarray(v) for k, v in raw.items()}
    if known.trials_kwarg:
        values["trials"] = values.pop(known.trials_kwarg)
    ours = known.logpdf(np.asarray(y, dtype=float), values)
    kwargs = {k: np.asarray(v) for k, v in raw.items()}
    expected = pm.logp(getattr(pm, name).dist(**kwargs), np.asarray(y)).eval()
    np.testing.assert_allclose(ours, expected, rtol=1e-8)


def test_known_likelihood_draws_have_the_pymc_mean():
    rng = np.random.default_rng(0)
    # Gamma(mu, sigma) is PyMC's mean and sd: the draws' mean and sd match them.
    draws = KNOWN_LIKELIHOODS["Gamma"].draw(
        {"mu": np.full(200_000, 3.0), "sigma": np.full(200_000, 1.5)}, rng
    )
    assert abs(draws.mean() - 3.0) < 0.02 and abs(draws.std() - 1.5) < 0.02


# --- Family ----------------------------------------------------------------------------------


def test_family_with_a_link_object_allows_that_link_alone():
    link = _custom_logit()
    family = _custom_bernoulli(link)
    assert (family.link, family.links, family.custom_links) == ("my_logit", ("my_logit",), (link,))
    assert family.resolve_link(None) is link and family.resolve_link("my_logit") is link
    assert family.binary and not family.trials
    assert "binary" in family.support_text
    with pytest.raises(bmm.FamilyError, match=r"link 'logit' is not allowed for family"):
        family.resolve_link("logit")
    wider = bmm.Family(
        "my_bernoulli", bmm.Likelihood("Bernoulli"), link={"p": link}, links=(link, "probit")
    )
    assert wider.links == ("my_logit", "probit")
    assert wider.resolve_link("probit") is bmm.LINKS["probit"]


def test_family_auxiliary_priors_may_be_priors_and_are_required():
    sigma = bmm.Prior("HalfNormal", sigma=2.0)
    family = bmm.Family("n", bmm.Likelihood("Normal"), "identity", priors={"sigma": sigma})
    assert family.aux_priors["sigma"](None) == sigma
    # A distribution bayesmm does not know: any finite response.
    other = bmm.Family(
        "g", bmm.Likelihood("Gumbel", ("mu", "beta")), "identity", aux_priors={"beta": sigma}
    )
    assert other.check_response(np.array([-1.0, 2.0]), None, "y") is None
    with pytest.raises(bmm.DataError, match=r"must be finite numbers for family 'g'"):
        other.check_response(np.array([np.inf]), None, "y")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"likelihood": "Bernoulli"},
            r"Family 'f': likelihood must be a bayesmm.Likelihood, e.g. Likelihood\('Bernoulli', "
            r"parent='p'\); got str 'Bernoulli'",
        ),
        (
            {"likelihood": bmm.Likelihood("Normal")},
            r"Family 'f': aux_priors must give a default prior for each auxiliary parameter "
            r"\['sigma'\] of its likelihood 'Normal'; got \[\]. Pass e.g. "
            r"aux_priors=\{'sigma': bmm.Prior\('HalfNormal', sigma=1\)\}",
        ),
        (
            {"link": 3},
            r"Family 'f': link must be a link name \(str\), a bayesmm.Link or a dict "
            r"\{'p': link\}; got int 3",
        ),
        (
            {"link": {"p": "logit", "sigma": "log"}},
            r"Family 'f': link as a dict maps parameters to links, and only the parent 'p' is "
            r"modelled; got the keys \['p', 'sigma'\]",
        ),
        ({"link": "logitt"}, r"Family 'f' names unknown links \['logitt'\]; valid link names"),
        (
            {"aux_priors": {"p": bmm.Prior("Beta", alpha=1, beta=1)}},
            r"aux_priors must give a default prior for each auxiliary parameter \[\]",
        ),
        (
            {"aux_priors": {}, "priors": {}},
            r"Family 'f': give the auxiliary priors once, as aux_priors or as priors",
        ),
        (
            {"support": "binary"},
            r"Family 'f': support must be a bayesmm.families.Support or a callable "
            r"support\(y, trials\)",
        ),
        (
            {"links": (_custom_logit(), bmm.Link("my_logit", special.logit, inverse=np.add))},
            r"Family 'f': links holds two different links named 'my_logit'",
        ),
    ],
)
def test_bad_family_arguments_are_named(kwargs, match):
    args = {"name": "f", "likelihood": bmm.Likelihood("Bernoulli"), "link": "logit", **kwargs}
    with pytest.raises(bmm.FamilyError, match=match):
        bmm.Family(**args)


def test_a_registered_family_keeps_its_records_when_replaced():
    # dataclasses.replace (used by the built-in records) goes through the same checks.
    from dataclasses import replace

    probit = replace(FAMILIES["bernoulli"], name="probit_bernoulli", link="probit")
    assert probit.link == "probit" and probit.binary and probit.likelihood.logit_kwarg


def test_a_family_derived_from_a_builtin_saves_its_functions_by_path_and_loads_them():
    """A built-in record names its own functions; a family derived from one writes the same
    keys as ever, and a record naming them where they were defined before still loads."""
    from dataclasses import replace

    categorical = replace(FAMILIES["categorical"], name="my_categorical")
    gaussian = replace(FAMILIES["gaussian"], name="my_gaussian")
    records = [json.loads(json.dumps(f.to_dict())) for f in (categorical, gaussian)]
    assert all(set(r) == set(_custom_bernoulli().to_dict()) for r in records)
    assert records[0]["likelihood"]["logpdf"] == "bayesmm.families.densities:category_logpmf"
    sigma = {"function": "bayesmm.families.builtin_parts:sigma_prior"}
    assert records[1]["aux_priors"] == {"sigma": sigma}
    assert bmm.Family.from_dict(records[0]).likelihood.logpdf is categorical.likelihood.logpdf
    logpdf = "bayesmm.families.densities:_category_logpmf"
    earlier = bmm.Family.from_dict(
        {**records[0], "likelihood": {**records[0]["likelihood"], "logpdf": logpdf}}
    )
    assert earlier.likelihood.logpdf is categorical.likelihood.logpdf
    sigma = {"function": "bayesmm.families.builtin:_sigma_prior"}
    earlier = bmm.Family.from_dict({**records[1], "aux_priors": {"sigma": sigma}})
    assert earlier.aux_priors["sigma"] is gaussian.aux_priors["sigma"]


# --- models ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(bacteria):
    builtin = bmm.Model(FORMULA, bacteria, family="bernoulli")
    custom = bmm.Model(FORMULA, bacteria, family=_custom_bernoulli(), priors=_same_priors(builtin))
    return builtin, custom


def test_custom_family_model_describes_its_link(models):
    builtin, custom = models
    assert custom.link.name == "my_logit"
    assert "Link: p = my_logit" in str(custom)
    assert custom.design.response.event == builtin.design.response.event


def test_custom_link_goes_through_its_backend_inverse_with_the_same_log_density(models):
    builtin, custom = models
    point = builtin.backend.model.initial_point()
    rng = np.random.default_rng(1)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in point.items()}
    expected = builtin.backend.model.compile_logp()(point)
    assert custom.backend.model.compile_logp()(point) == pytest.approx(expected, rel=1e-9)


def test_predict_with_a_custom_family_equals_the_builtin_one(models, stub_sampler):
    builtin, custom = models
    idata = builtin.fit(draws=30, chains=2, random_seed=3, progressbar=False)
    new = pd.DataFrame({"trt": ["drug", "placebo"], "week": [2, 6], "ID": ["X01", "X02"]})
    ours, theirs = custom.fitted(idata), builtin.fitted(idata)
    np.testing.assert_allclose(ours.draws(new), theirs.draws(new), rtol=1e-12)
    np.testing.assert_allclose(ours.draws(), theirs.draws(), rtol=1e-12)
    # The numpy sampler and log density come with the known Bernoulli likelihood.
    responses = ours.draws(new, kind="response", random_seed=0)
    assert set(np.unique(responses)) <= {0, 1}
    np.testing.assert_allclose(
        ours.log_likelihood(new, np.array([1, 0])),
        theirs.log_likelihood(new, np.array([1, 0])),
        rtol=1e-12,
    )
    predicted = custom.predict(idata, data=new)
    np.testing.assert_allclose(
        predicted.predictions["p"].values.reshape(-1, 2), theirs.draws(new), rtol=1e-12
    )


def test_save_and_load_a_custom_family_by_import_path(models, stub_sampler, tmp_path):
    _, custom = models
    idata = custom.fit(draws=20, chains=2, random_seed=4, progressbar=False)
    path = custom.save(tmp_path / "custom.nc", idata)
    spec = bmm.io.read_header(path)["spec"]
    record = spec["family_record"]
    assert record["custom_links"][0]["linkinv_backend"] == "_custom_links:expit_backend"
    assert record["likelihood"]["draw"] == "known" and record["support"] == "known"
    assert "link_record" not in spec
    loaded = bmm.load(path, allow_modules=["_custom_links"])
    assert loaded.family == custom.family and loaded.link == custom.link
    assert loaded.link.linkinv is _custom_links.expit
    new = pd.DataFrame({"trt": ["drug"], "week": [4], "ID": ["X01"]})
    np.testing.assert_array_equal(loaded.draws(new), custom.fitted(idata).draws(new))
    # The loaded model refits: its family builds a model again.
    assert loaded.to_model(bmm.load_data("bacteria")).link.name == "my_logit"


def test_save_and_load_keep_the_categories_of_a_custom_ordinal_family(stub_sampler, tmp_path):
    family = dataclasses.replace(bmm.families.get_family("cumulative"), name="my_cumulative")
    model = bmm.Model("rating ~ temp + contact", bmm.load_data("wine"), family=family)
    idata = model.fit(draws=20, chains=2, random_seed=4, progressbar=False)
    path = model.save(tmp_path / "ordinal.nc", idata)
    record = bmm.io.read_header(path)["spec"]["family_record"]
    assert record["categories"]["model"] == "cumulative" and record["categories"]["ordered"]
    loaded = bmm.load(path)
    assert loaded.family.categories == model.family.categories
    assert loaded.family == model.family
    expected = model.fitted(idata).point()
    assert list(expected.columns) == list(loaded.point().columns)
    assert len(expected.columns) == 5
    pd.testing.assert_frame_equal(loaded.point(), expected)


def test_a_custom_family_saved_without_categories_loads_without_them(
    models, stub_sampler, tmp_path
):
    # Files written before the family record held its categories have no such entry.
    _, custom = models
    idata = custom.fit(draws=10, chains=1, random_seed=4, progressbar=False)
    path = custom.save(tmp_path / "custom.nc", idata)
    spec = bmm.io.read_header(path)["spec"]
    assert spec["family_record"].pop("categories") is None
    older = tmp_path / "older.nc"
    shutil.copy(path, older)
    with h5py.File(older, "r+") as handle:
        handle.attrs["bayesmm_spec"] = json.dumps(spec)
    loaded = bmm.load(older, allow_modules=["_custom_links"])
    assert loaded.family.categories is None and loaded.family == custom.family


def test_save_and_load_a_custom_link_of_a_registered_family(bacteria, stub_sampler, tmp_path):
    link = bmm.Link(
        "probit", special.ndtri, linkinv=special.ndtr, linkinv_backend=_custom_links.expit_backend
    )
    model = bmm.Model(FORMULA, bacteria, family="bernoulli", link=link)
    idata = model.fit(draws=10, chains=1, random_seed=4, progressbar=False)
    path = model.save(tmp_path / "link.nc", idata)
    spec = bmm.io.read_header(path)["spec"]
    assert "family_record" not in spec
    assert spec["link_record"]["linkinv"] == "scipy.special:ndtr"
    assert bmm.load(path, allow_modules=["_custom_links"]).link == link


def test_saving_a_family_with_a_lambda_names_it_and_what_to_do(bacteria, stub_sampler, tmp_path):
    link = bmm.Link(
        "my_logit",
        link=special.logit,
        linkinv=lambda eta: special.expit(eta),
        linkinv_backend=_custom_links.expit_backend,
    )
    model = bmm.Model(FORMULA, bacteria, family=_custom_bernoulli(link))
    idata = model.fit(draws=10, chains=1, random_seed=4, progressbar=False)
    with pytest.raises(
        bmm.FamilyError,
        match=r"Family 'my_bernoulli' cannot be saved: its link 'my_logit' has linkinv = "
        r"<function .*<lambda>.*> is a lambda, which has no import path. .*Define it as a "
        r"function at module level in an importable module .*or register the family with "
        r"bmm.register_family before saving and again before loading",
    ):
        model.save(tmp_path / "lambda.nc", idata)
    assert not (tmp_path / "lambda.nc").exists()


def test_a_registered_custom_family_is_saved_by_name(
    bacteria, stub_sampler, tmp_path, family_registry
):
    family = bmm.Family(
        "lambda_bernoulli",
        bmm.Likelihood("Bernoulli"),
        bmm.Link(
            "lambda_logit",
            special.logit,
            linkinv=lambda eta: special.expit(eta),
            linkinv_backend=_custom_links.expit_backend,
        ),
    )
    bmm.register_family(family)
    model = bmm.Model(FORMULA, bacteria, family="lambda_bernoulli")
    idata = model.fit(draws=10, chains=1, random_seed=4, progressbar=False)
    path = model.save(tmp_path / "registered.nc", idata)
    assert "family_record" not in bmm.io.read_header(path)["spec"]
    assert bmm.load(path).family is family


def test_loading_a_custom_family_whose_module_is_gone_says_so(models, stub_sampler, tmp_path):
    _, custom = models
    idata = custom.fit(draws=10, chains=1, random_seed=4, progressbar=False)
    path = custom.save(tmp_path / "custom.nc", idata)
    spec = bmm.io.read_header(path)["spec"]
    spec["family_record"]["custom_links"][0]["linkinv"] = "no_such_module_here:expit"
    moved = tmp_path / "moved.nc"
    shutil.copy(path, moved)
    with h5py.File(moved, "r+") as handle:
        handle.attrs["bayesmm_spec"] = json.dumps(spec)
    with pytest.raises(
        bmm.ModelFileError,
        match=r"moved\.nc' was fitted with the custom family 'my_bernoulli' and link "
        r"'my_logit', which this session cannot rebuild: the module 'no_such_module_here' of "
        r"'no_such_module_here:expit' cannot be imported \(ModuleNotFoundError.*\)\. Make that "
        r"module importable",
    ):
        bmm.load(moved, trusted=True)


def test_custom_families_and_models_pickle(models):
    _, custom = models
    family = pickle.loads(pickle.dumps(custom.family))
    assert family == custom.family
    assert pickle.loads(pickle.dumps(custom.link)) == custom.link
    model = pickle.loads(pickle.dumps(custom))
    assert model.family == custom.family
    # A registered link still pickles as its name.
    assert pickle.loads(pickle.dumps(bmm.LINKS["logit"])) is bmm.LINKS["logit"]


# --- import paths ----------------------------------------------------------------------------


def _closure():
    def inner(x):
        return x

    return inner


@pytest.mark.parametrize(
    ("function", "match"),
    [
        (lambda x: x, "is a lambda"),
        (_closure(), "is defined inside a function"),
        (type("F", (), {"__call__": lambda s, x: x, "__module__": "__main__"})(), "__main__"),
    ],
)
def test_functions_without_an_import_path_are_refused(function, match):
    with pytest.raises(UnsavableError, match=match):
        callable_path(function)


def test_import_paths_round_trip():
    import pytensor.tensor as pt

    trusting = PathPolicy(trusted=True)
    for function in (np.exp, special.expit, pt.sigmoid, _custom_links.logit, np.log1p):
        assert resolve_path(callable_path(function), trusting) is function
    with pytest.raises(LookupError, match=r"the module 'numpy' has no attribute 'nope'"):
        resolve_path("numpy:nope", trusting)
    # Untrusted, a path that is not a vetted function is refused before it is looked up.
    with pytest.raises(UntrustedPathError, match=r"names 'numpy:nope', which is not one of"):
        resolve_path("numpy:nope")
    with pytest.raises(LookupError, match=r"is not an import path of the form 'module:name'"):
        resolve_path("numpy.exp")


# --- the posterior -----------------------------------------------------------------------------


@pytest.mark.slow
def test_custom_logit_bernoulli_matches_the_builtin_posterior(bacteria):
    """The custom logit-link Bernoulli family (scipy's logit and expit, pytensor's expit for
    the backend) gives the posterior means of the built-in bernoulli within Monte Carlo error.

    Both fit the same data with the same priors and draws; for every coefficient, group effect
    and group sd, ``|mean1 - mean2| < 4 * sqrt(mcse1**2 + mcse2**2)``, with ``az.mcse`` of the
    mean. The built-in model passes ``logit_p`` to PyMC, which takes ``sigmoid(logit_p)``;
    the custom one passes ``p = sigmoid(eta)``: the two graphs coincide, so with the same seed
    the chains agree to rounding. A second custom fit with another seed checks the means
    against independent chains.
    """
    import arviz as az

    builtin = bmm.Model(FORMULA, bacteria, family="bernoulli")
    family = bmm.Family(
        "my_bernoulli",
        likelihood=bmm.Likelihood("Bernoulli", parent="p"),
        link=bmm.Link(
            "my_logit",
            link=special.logit,
            linkinv=special.expit,
            linkinv_backend=_custom_links.expit_backend,
        ),
    )
    custom = bmm.Model(FORMULA, bacteria, family=family, priors=_same_priors(builtin))
    options = {"draws": 1000, "tune": 1000, "chains": 2, "progressbar": False}
    reference = builtin.fit(random_seed=11, **options)
    names = ["Intercept", "trt", "week", "1|ID_sigma", "1|ID"]
    for seed in (11, 12):
        fits = [reference, custom.fit(random_seed=seed, **options)]
        for name in names:
            means = [idata.posterior[name].mean(("chain", "draw")).values for idata in fits]
            errors = [az.mcse(idata, var_names=[name])[name].values for idata in fits]
            diff, bound = np.abs(means[0] - means[1]), 4 * np.hypot(*errors)
            print(
                f"seed {seed} {name}: max |diff| {diff.max():.4f}, "
                f"max |diff| / bound {(diff / bound).max():.3f}"
            )
            assert np.all(diff < bound), (name, means, errors)


# --- what a file may name ----------------------------------------------------------------------


def _renamed(path, tmp_path, function):
    """A copy of a saved file whose custom link's inverse names ``function`` instead."""
    spec = bmm.io.read_header(path)["spec"]
    spec["family_record"]["custom_links"][0]["linkinv"] = function
    edited = tmp_path / "edited.nc"
    shutil.copy(path, edited)
    with h5py.File(edited, "r+") as handle:
        handle.attrs["bayesmm_spec"] = json.dumps(spec)
    return edited


def test_a_file_naming_another_module_is_refused_before_it_is_imported(
    models, stub_sampler, tmp_path, monkeypatch
):
    _, custom = models
    path = custom.save(tmp_path / "custom.nc", custom.fit(draws=10, chains=1, random_seed=4))
    marker = tmp_path / "imported"
    (tmp_path / "side_effect.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "def expit(eta):\n    return eta\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    edited = _renamed(path, tmp_path, "side_effect:expit")
    with pytest.raises(
        bmm.ModelFileError,
        match=r"edited\.nc' was not loaded: the family_record 'my_bernoulli': custom_links\[0\] "
        r"'my_logit', in its 'link' field, names '_custom_links:logit', which is not one of the "
        r"functions a model file may name",
    ):
        bmm.load(edited)
    with pytest.raises(
        bmm.ModelFileError,
        match=r"in its 'linkinv' field, names 'side_effect:expit', which is not one of the "
        r"functions a model file may name: .*load with allow_modules=\['side_effect'\]",
    ):
        bmm.load(edited, allow_modules=["_custom_links"])
    assert not marker.exists()  # refused before the module was imported
    # A legitimate custom family loads when its module is allowed, or the file trusted.
    assert bmm.load(path, allow_modules=["_custom_links"]).link.name == "my_logit"
    assert bmm.load(path, trusted=True).link.name == "my_logit"


def test_a_path_cannot_walk_from_an_allowed_module_to_another(models, stub_sampler, tmp_path):
    _, custom = models
    path = custom.save(tmp_path / "custom.nc", custom.fit(draws=10, chains=1, random_seed=4))
    edited = _renamed(path, tmp_path, "bayesmm.io:os.system")
    with pytest.raises(
        bmm.ModelFileError,
        match=r"names 'bayesmm.io:os.system', which is not one of the functions a model file "
        r"may name",
    ):
        bmm.load(edited, allow_modules=["_custom_links"])
    # Nor from a module the caller allows: the object must be that module's own.
    edited = _renamed(path, tmp_path, "_custom_links:np.load")
    with pytest.raises(
        bmm.ModelFileError,
        match=r"names '_custom_links:np.load', which resolves to an object of the module "
        r"'numpy', not of the modules it was allowed \(\['_custom_links'\]\)",
    ):
        bmm.load(edited, allow_modules=["_custom_links"])


def test_a_pinned_digest_must_match(models, stub_sampler, tmp_path):
    import hashlib

    _, custom = models
    path = custom.save(tmp_path / "custom.nc", custom.fit(draws=10, chains=1, random_seed=4))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert bmm.load(path, sha256=digest, allow_modules=["_custom_links"]).link.name == "my_logit"
    with pytest.raises(bmm.ModelFileError, match=r"has the SHA-256 [0-9a-f]{64}, not the 0{64}"):
        bmm.load(path, sha256="0" * 64)
    with pytest.raises(bmm.ModelFileError, match=r"sha256 must be 64 hexadecimal digits"):
        bmm.load(path, sha256="abc")


def test_pytensor_functions_are_found_on_their_first_call():
    code = (
        "import sys\n"
        "from bayesmm.persist.importpath import resolve_path\n"
        "f = resolve_path('pytensor.tensor:sigmoid')\n"
        "before = 'pytensor' in sys.modules\n"
        "import numpy as np\n"
        "print(before, type(f).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "LazyCallable"]
