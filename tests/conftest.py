"""Shared fixtures: bundled data and a stub sampler for tests that do not test the posterior."""

from __future__ import annotations

import warnings
from typing import Any

import arviz as az
import pymc as pm
import pytest
import xarray as xr

import bayesmm as bmm
from bayesmm.backend import pymc as backend


@pytest.fixture(scope="session")
def sleepstudy():
    return bmm.load_data("sleepstudy")


@pytest.fixture(scope="session")
def cbpp():
    return bmm.load_data("cbpp")


@pytest.fixture(scope="session")
def bacteria():
    return bmm.load_data("bacteria")


@pytest.fixture(scope="session")
def epilepsy():
    return bmm.load_data("epilepsy")


@pytest.fixture(scope="session")
def sleepstudy_fit(sleepstudy):
    """A real NUTS fit of lme4's sleepstudy model, shared by the slow tests."""
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
    return model, idata


def _prior_draws(
    model: pm.Model,
    inference_method: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    **kwargs: Any,
) -> az.InferenceData:
    """Stand-in for NUTS: prior draws shaped like a posterior (one chain per `chains`)."""
    with warnings.catch_warnings():
        # A summed model's likelihood is a potential, which prior draws ignore, as they
        # ignore every likelihood.
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        idata = pm.sample_prior_predictive(
            draws=draws * chains, model=model, random_seed=random_seed, var_names=None
        )
    prior = idata.prior
    variables = {
        name: (
            ("chain", "draw", *var.dims[2:]),
            var.values.reshape(chains, draws, *var.shape[2:]),
        )
        for name, var in prior.data_vars.items()
    }
    coords = {k: v for k, v in prior.coords.items() if k not in ("chain", "draw")}
    # pm.sample's InferenceData also holds the data containers, as constant_data.
    return az.InferenceData(
        posterior=xr.Dataset(variables, coords=coords), constant_data=idata.constant_data
    )


@pytest.fixture
def family_registry():
    """The family registry, restored after the test: a test may register families."""
    saved = dict(bmm.FAMILIES)
    yield bmm.FAMILIES
    bmm.FAMILIES.clear()
    bmm.FAMILIES.update(saved)


@pytest.fixture
def stub_sampler(monkeypatch):
    """Replace NUTS with prior draws, for tests of everything around the sampler."""
    monkeypatch.setattr(backend, "run_sampler", _prior_draws)
    return _prior_draws
