"""The NumPyro backend (backend/jax.py) and the choice of sampler (inference_method="auto")."""

import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest

import bayesmm as bmm
from bayesmm.backend import samplers as backend
from bayesmm.backend.programs.compiled import CompiledCache
from conftest import samplers_running

FORMULA = "Reaction ~ Days + (Days | Subject)"
needs_jax = pytest.mark.skipif(
    importlib.util.find_spec("numpyro") is None, reason="needs bayesmm[jax]"
)


needs_nutpie_and_jax = pytest.mark.skipif(
    any(importlib.util.find_spec(p) is None for p in ("nutpie", "numpyro")),
    reason="needs nutpie and bayesmm[jax]",
)


def test_auto_picks_numpyro_for_small_data_and_nutpie_otherwise():
    both = ("numpyro", "nutpie")
    assert backend.choose_sampler(180, installed=both) == "numpyro"
    assert backend.choose_sampler(backend.AUTO_JAX_MAX_ROWS, installed=both) == "numpyro"
    assert backend.choose_sampler(backend.AUTO_JAX_MAX_ROWS + 1, installed=both) == "nutpie"
    # A cache holds nutpie samplers.
    assert backend.choose_sampler(180, CompiledCache(), installed=both) == "nutpie"
    assert backend.choose_sampler(180, installed=("nutpie",)) == "nutpie"
    assert backend.choose_sampler(180, installed=()) == "pymc"


@pytest.mark.skipif(importlib.util.find_spec("nutpie") is None, reason="needs nutpie")
def test_the_choice_is_recorded(sleepstudy, stub_sampler):
    # A cache holds nutpie samplers: "auto" picks nutpie whatever else is installed.
    idata = bmm.Model(FORMULA, sleepstudy).fit(
        draws=20, chains=2, random_seed=0, cache=CompiledCache()
    )
    assert idata.attrs["inference_method"] == "nutpie"
    idata = bmm.Model(FORMULA, sleepstudy).fit(
        draws=20, chains=2, random_seed=0, inference_method="pymc"
    )
    assert idata.attrs["inference_method"] == "pymc"


@pytest.mark.parametrize("method", ["pymc", "numpyro"])
def test_a_cache_is_for_nutpie(sleepstudy, method):
    with pytest.raises(
        bmm.BackendError, match=rf"cache= holds compiled nutpie samplers.*got '{method}'"
    ):
        bmm.Model(FORMULA, sleepstudy).fit(inference_method=method, cache=CompiledCache())


def test_the_persistent_cache_folder(monkeypatch, tmp_path):
    from bayesmm.backend.programs.jax import CACHE_ENV, cache_dir

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == str(tmp_path)
    monkeypatch.setenv(CACHE_ENV, "")
    assert cache_dir() is None
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == os.path.join(str(tmp_path), "bayesmm", "jax")


def _fit(data, **options):
    options = {
        "draws": 200,
        "tune": 200,
        "chains": 2,
        "random_seed": 3,
        "progressbar": False,
        "inference_method": "numpyro",
        **options,
    }
    model = bmm.Model(FORMULA, data)
    return model, model.fit(**options)


def _resampled(data, seed):
    """Rows resampled within each subject: the same shapes and levels, other values."""
    return data.groupby("Subject", observed=True).sample(frac=1, replace=True, random_state=seed)


@needs_jax
@pytest.mark.slow
def test_a_refit_reuses_the_compiled_sampler_and_follows_the_new_data(sleepstudy, monkeypatch):
    from bayesmm.backend.programs import jax as jax_backend

    jax_backend.clear_programs()
    compiles = []
    original = jax_backend._compile
    monkeypatch.setattr(
        jax_backend, "_compile", lambda *a, **k: compiles.append(1) or original(*a, **k)
    )
    _fit(sleepstudy)
    # Other data of the same shapes: shifted by 1000 ms, which only a sampler that takes
    # the data as arguments (not as compiled-in constants) can see.
    shifted = _resampled(sleepstudy, 1).assign(Reaction=lambda d: d["Reaction"] + 1000)
    _, reused = _fit(shifted)
    assert len(compiles) == 1
    jax_backend.clear_programs()
    _, fresh = _fit(shifted)
    assert len(compiles) == 2
    for name in fresh.posterior.data_vars:
        np.testing.assert_array_equal(reused.posterior[name], fresh.posterior[name])
    intercept = reused.posterior["Intercept"]
    assert abs(float(intercept.mean()) - (251.4 + 1000)) < 4 * float(intercept.std())
    np.testing.assert_array_equal(reused.observed_data["Reaction"], shifted["Reaction"])


@needs_jax
@pytest.mark.slow
def test_numpyro_log_likelihood_equals_pymc(sleepstudy):
    model, idata = _fit(sleepstudy, draws=50, tune=50)
    assert set(idata.sample_stats) >= {"diverging", "energy", "lp", "n_steps", "tree_depth"}
    with warnings.catch_warnings():  # 100 draws are too few for PSIS's diagnostics
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        assert np.isfinite(az.loo(idata).elpd_loo)
    # PyMC's own computation from the same draws, which needs the internal variables that
    # the tidied posterior drops: take the sampler's raw output.
    raw = backend.run_sampler(
        model.backend.model,
        "numpyro",
        draws=50,
        tune=50,
        chains=2,
        random_seed=3,
        progressbar=False,
        log_likelihood=True,
    )
    ours = raw.log_likelihood["Reaction"].values
    del raw.log_likelihood
    pm.compute_log_likelihood(raw, model=model.backend.model, progressbar=False)
    np.testing.assert_allclose(ours, raw.log_likelihood["Reaction"].values, rtol=1e-10)


@needs_jax
@pytest.mark.slow
def test_one_chain_and_numpyro_options(sleepstudy):
    _, idata = _fit(sleepstudy, chains=1, draws=30, tune=30, max_tree_depth=3)
    assert idata.posterior.sizes["chain"] == 1
    assert int(idata.sample_stats["tree_depth"].max()) <= 3


@needs_jax
@pytest.mark.slow
def test_the_compiled_sampler_is_kept_on_disk(tmp_path):
    script = (
        "import bayesmm as bmm;"
        "d = bmm.load_data('sleepstudy');"
        f"bmm.Model({FORMULA!r}, d).fit(draws=20, tune=20, chains=2, progressbar=False,"
        " inference_method='numpyro', random_seed=0)"
    )
    src = str(Path(bmm.__file__).resolve().parent.parent)
    env = {**os.environ, "BAYESMM_JAX_CACHE": str(tmp_path), "PYTHONPATH": src}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    entries = list(tmp_path.iterdir())
    assert len(entries) >= 3  # the sampler, the draws and others


def test_the_structure_key_is_the_same_in_every_process(sleepstudy):
    from bayesmm.backend.programs.compiled import structure_key

    script = (
        "import bayesmm as bmm; from bayesmm.backend.programs.compiled import structure_key;"
        "d = bmm.load_data('sleepstudy');"
        f"print(structure_key(bmm.Model({FORMULA!r}, d).backend.model))"
    )
    src = str(Path(bmm.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": src}
    run = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == structure_key(bmm.Model(FORMULA, sleepstudy).backend.model)


def test_rewritten_graphs_are_kept_on_disk_and_read_back(sleepstudy, monkeypatch, tmp_path):
    from bayesmm.backend.programs import jax as jax_backend

    monkeypatch.setenv(jax_backend.CACHE_ENV, str(tmp_path))
    built = []
    original = jax_backend._build_graphs
    monkeypatch.setattr(
        jax_backend, "_build_graphs", lambda model: built.append(1) or original(model)
    )
    model = bmm.Model(FORMULA, sleepstudy).backend.model
    first = jax_backend._graphs(model, "key")
    again = jax_backend._graphs(model, "key")
    assert len(built) == 1 and len(list((tmp_path / "graphs").iterdir())) == 1
    assert again.outputs == first.outputs and again.observed == ["Reaction"]
    assert [str(v.type) for v in again.logp.inputs] == [str(v.type) for v in first.logp.inputs]
    # A damaged file is rewritten, not trusted.
    for path in (tmp_path / "graphs").iterdir():
        path.write_bytes(b"not a pickle")
    jax_backend._graphs(model, "key")
    assert len(built) == 2


@needs_nutpie_and_jax
def test_auto_turns_on_nutpie_low_rank_adaptation_for_large_data():
    from conftest import _prior_draws

    seen = {}

    def capture(name):
        def run(model, settings, **options):
            seen.update(method=name, **options)
            return _prior_draws(model, settings, **options)

        return run

    rng = np.random.default_rng(0)
    n = backend.AUTO_JAX_MAX_ROWS + 1
    data = pd.DataFrame({"y": rng.normal(size=n), "g": rng.integers(0, 30, n).astype(str)})
    with samplers_running(capture):
        bmm.Model("y ~ 1 + (1|g)", data).fit(draws=10, chains=2, random_seed=0)
        assert seen["method"] == "nutpie" and seen["low_rank_modified_mass_matrix"] is True
        seen.clear()
        small = data.iloc[:500]
        bmm.Model("y ~ 1 + (1|g)", small).fit(draws=10, chains=2, random_seed=0)
    assert seen["method"] == "numpyro" and "low_rank_modified_mass_matrix" not in seen


@pytest.fixture
def without_jax_gradients():
    """Every sampler runs the stub, but NumPyro fails as if JAX could not differentiate the
    model, as for hurdle_negativebinomial; the names of the samplers that ran."""
    from conftest import _prior_draws

    methods = []

    def run_for(name):
        def run(model, settings, **options):
            methods.append(name)
            if name == "numpyro":
                raise ValueError("Betainc gradient with respect to a and b not supported.")
            return _prior_draws(model, settings, **options)

        return run

    with samplers_running(run_for):
        yield methods


@needs_nutpie_and_jax
def test_auto_falls_back_to_nutpie_when_jax_cannot_differentiate(without_jax_gradients, sleepstudy):
    idata = bmm.Model(FORMULA, sleepstudy).fit(draws=10, chains=2, random_seed=0)
    assert without_jax_gradients == ["numpyro", "nutpie"]
    assert idata.attrs["inference_method"] == "nutpie"


@needs_nutpie_and_jax
def test_explicit_numpyro_that_jax_cannot_differentiate_is_a_backend_error(
    without_jax_gradients, sleepstudy
):
    with pytest.raises(
        bmm.BackendError,
        match=r"NumPyro cannot sample this model: .*Betainc gradient.*'nutpie' or 'pymc'",
    ):
        bmm.Model(FORMULA, sleepstudy).fit(inference_method="numpyro", draws=10, chains=2)


@needs_jax
def test_unknown_numpyro_options_are_named(sleepstudy):
    with pytest.raises(
        bmm.DataError,
        match=r"inference_method='numpyro' does not take the option\(s\) \['max_treedepth'\]\. "
        r"Did you mean 'max_tree_depth'\? It takes \[.*'max_tree_depth'",
    ):
        bmm.Model(FORMULA, sleepstudy).fit(inference_method="numpyro", max_treedepth=8)


def test_the_jax_log_density_equals_pymcs(sleepstudy):
    """What checks approximations by k-hat: the same log density as PyMC's C function."""
    from bayesmm.backend.programs.jax import log_density

    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy).backend.model
    ours, theirs = log_density(model), model.compile_logp(jacobian=True)
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
        assert ours(point) == pytest.approx(float(theirs(point)), rel=1e-10)


@pytest.mark.parametrize(
    "formula, family, dataset",
    [
        ("Reaction ~ Days + (Days | Subject)", "gaussian", "sleepstudy"),  # an LKJ block
        ("Reaction ~ Days + (1 | Subject)", "t", "sleepstudy"),
        ("y ~ trt + week + (1 | ID)", "bernoulli", "bacteria"),
    ],
)
def test_the_initial_point_function_gives_pymcs_initial_point(formula, family, dataset):
    # It is compiled without C (Python's implementation of each operation, every
    # OpFromGraph inlined), so that a first fit need not read PyTensor's compile cache.
    from bayesmm.backend.programs.start import initial_point_function

    data = bmm.load_data(dataset)
    if dataset == "bacteria":
        data = data.assign(y=(data["y"] == "y").astype(int))
    model = bmm.Model(formula, data, family=family).backend.model
    start = initial_point_function(model)
    got = start(*(np.asarray(v.get_value()) for v in model.data_vars))
    expected = model.initial_point()
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-12, err_msg=name)
