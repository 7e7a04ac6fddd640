"""The table of samplers (backend/samplers.py): records, registration, and a sampler written
here that fits, predicts, saves and loads like a built-in one."""

from __future__ import annotations

import dataclasses
import importlib.util

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmm as bmm
from bayesmm.backend import samplers as backend
from bayesmm.backend.samplers import (
    APPROXIMATIONS,
    SAMPLERS,
    RunSettings,
    Sampler,
    check_options,
    register_sampler,
    sampler_options,
    translate_options,
    unregister_sampler,
)


def test_every_route_has_one_record_in_one_table():
    names = ["pymc", "nutpie", "numpyro", "blackjax", "vi", "laplace", "pathfinder"]
    assert list(SAMPLERS) == names
    assert all(isinstance(r, Sampler) and r.name == n for n, r in SAMPLERS.items())
    assert APPROXIMATIONS == ("vi", "laplace", "pathfinder")
    assert [n for n, r in SAMPLERS.items() if r.jax] == ["numpyro", "blackjax"]
    assert backend.SAMPLERS is SAMPLERS  # the old import path is the same table


def test_a_record_is_frozen_and_built_with_keywords():
    record = SAMPLERS["pymc"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Sampler("toy", _metropolis, _toy_options)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"name": "auto"}, r"Sampler name must not be 'auto', which picks one of them"),
        ({"name": "two words"}, r"Sampler name must be an identifier; got 'two words'"),
        ({"run": "metropolis"}, r"Sampler run must be callable; got str"),
    ],
)
def test_a_bad_record_is_refused_naming_the_field(fields, match):
    with pytest.raises(bmm.DataError, match=match):
        Sampler(**{"name": "toy", "run": _metropolis, "options": _toy_options, **fields})


def test_a_taken_name_is_refused_without_replace():
    with pytest.raises(bmm.DataError, match=r"A sampler named 'pymc' is registered already"):
        register_sampler(SAMPLERS["pymc"])
    with pytest.raises(bmm.DataError, match=r"name must be one of \[.*\]; got 'toy'"):
        unregister_sampler("toy")
    with pytest.raises(bmm.DataError, match=r"sampler must be a Sampler record; got str"):
        register_sampler("pymc")  # type: ignore[arg-type]


def test_the_approximations_check_their_options_from_their_record():
    with pytest.raises(bmm.DataError, match=r"steps must be an integer >= 1; got 0"):
        check_options("vi", {"steps": 0})
    assert sampler_options("laplace") == {"importance_resampling", "cores"}


# --- a sampler written here: random-walk Metropolis on the model's compiled log density ---


def _toy_options() -> tuple[str, ...]:
    return ("proposal_scale",)


def _check_toy(options):
    scale = options.get("proposal_scale", 1.0)
    if not scale > 0:
        raise bmm.DataError(f"proposal_scale must be a positive number; got {scale!r}.")


def _metropolis(model, settings: RunSettings, proposal_scale: float = 1.0) -> az.InferenceData:
    """Random-walk Metropolis on the unconstrained space, its proposal's covariance learned
    in the second half of the warm-up (2.38^2 / d times the draws', Gelman et al. 1996)."""
    from pymc.blocking import DictToArrayBijection, RaveledVars

    start = DictToArrayBijection.map(model.initial_point())
    info, dim = start.point_map_info, start.data.size
    logp = model.compile_logp(jacobian=True)

    def density(x):
        return float(logp(DictToArrayBijection.rmap(RaveledVars(x, info))))

    rng = np.random.default_rng(settings.random_seed)
    flat = np.empty((settings.chains, settings.draws, dim))
    for chain in range(settings.chains):
        x = start.data + rng.normal(scale=0.1, size=dim)
        lp = density(x)
        root = np.eye(dim) * 0.1 * proposal_scale
        warm = []
        for step in range(settings.tune + settings.draws):
            proposal = x + root @ rng.standard_normal(dim)
            lp_new = density(proposal)
            if np.log(rng.uniform()) < lp_new - lp:
                x, lp = proposal, lp_new
            if step < settings.tune:
                warm.append(x)
                if step == settings.tune - 1:
                    cov = np.cov(np.array(warm[len(warm) // 2 :]).T) + 1e-9 * np.eye(dim)
                    root = np.linalg.cholesky(cov * 2.38**2 / dim) * proposal_scale
            else:
                flat[chain, step - settings.tune] = x
    return az.InferenceData(posterior=_constrained(model, flat, info))


def _constrained(model, flat: np.ndarray, info) -> xr.Dataset:
    """The variables and deterministics of the unconstrained draws ``flat``, as a posterior."""
    from pymc.blocking import DictToArrayBijection, RaveledVars

    chains, draws, dim = flat.shape
    outputs = model.unobserved_value_vars
    function = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    rows = flat.reshape(-1, dim)
    values = [function(DictToArrayBijection.rmap(RaveledVars(row, info))) for row in rows]
    variables = {}
    for i, variable in enumerate(outputs):
        stacked = np.stack([v[i] for v in values])
        stacked = stacked.reshape(chains, draws, *stacked.shape[1:])
        dims = list(model.named_vars_to_dims.get(variable.name, ()))
        dims += [f"{variable.name}_dim_{k}" for k in range(len(dims), stacked.ndim - 2)]
        variables[variable.name] = (("chain", "draw", *dims), stacked)
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    used = {d for dims, _ in variables.values() for d in dims}
    return xr.Dataset(variables, coords={k: v for k, v in coords.items() if k in used})


TOY = Sampler(
    name="metropolis", label="Metropolis", run=_metropolis, options=_toy_options, check=_check_toy
)


@pytest.fixture
def toy_sampler():
    register_sampler(TOY)
    yield TOY
    unregister_sampler(TOY.name)


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    x = rng.normal(size=60)
    return pd.DataFrame({"y": 2.0 + 1.5 * x + rng.normal(scale=0.5, size=60), "x": x})


def test_a_sampler_registered_here_fits_predicts_saves_and_loads(toy_sampler, tmp_path):
    data = _data()
    model = bmm.Model("y ~ x", data)
    idata = model.fit(inference_method="metropolis", draws=3000, tune=2000, chains=2, random_seed=1)
    assert idata.attrs["inference_method"] == "metropolis"
    assert idata.attrs["sampling_ok"] == 1  # checked as NUTS is: not an approximation
    posterior = idata.posterior
    assert abs(float(posterior["x"].mean()) - 1.5) < 0.15
    assert "log_likelihood" in idata.groups()  # computed afterwards, as for PyMC's NUTS
    fitted = model.fitted(idata)
    new = pd.DataFrame({"x": [0.0, 1.0]})
    point = fitted.point(new, kind="response_params")
    np.testing.assert_allclose(np.asarray(point).ravel(), [2.0, 3.5], atol=0.3)
    loaded = bmm.load(model.save(tmp_path / "toy.nc", idata))
    assert loaded.idata.attrs["inference_method"] == "metropolis"
    np.testing.assert_allclose(np.asarray(loaded.point(new, kind="response_params")), point)


def test_a_registered_samplers_options_are_checked_by_its_record(toy_sampler):
    model = bmm.Model("y ~ x", _data())
    with pytest.raises(
        bmm.DataError,
        match=r"inference_method='metropolis' does not take the option\(s\) \['proposal'\]\. "
        r"Did you mean 'proposal_scale'\? It takes \['proposal_scale'\]",
    ):
        model.fit(inference_method="metropolis", proposal=2.0)
    with pytest.raises(bmm.DataError, match=r"proposal_scale must be a positive number; got -1"):
        model.fit(inference_method="metropolis", proposal_scale=-1)
    assert translate_options("metropolis", {"proposal_scale": 0.5}) == {"proposal_scale": 0.5}


def test_an_unregistered_sampler_is_an_unknown_method():
    with pytest.raises(bmm.BackendError, match=r"inference_method must be one of \[.*\]; got"):
        bmm.Model("y ~ x", _data()).fit(inference_method="metropolis")


@pytest.mark.skipif(importlib.util.find_spec("numpyro") is None, reason="needs bayesmm[jax]")
def test_a_built_in_record_replaced_for_a_while_comes_back(stub_sampler):
    """The stub fixture registers each record again with prior draws as its run; the real
    records are back afterwards (the fixture's teardown, checked by the next test)."""
    assert SAMPLERS["numpyro"].run.__name__ == "_prior_draws"
    assert SAMPLERS["numpyro"].packages == ("jax", "numpyro")


def test_the_built_in_runs_are_their_own():
    assert all(r.run.__name__ == f"_run_{n}" for n, r in SAMPLERS.items())
