"""Shared fixtures: bundled data and a stub sampler for tests that do not test the posterior."""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import arviz as az
import pymc as pm
import pytest
import xarray as xr

import bayesmm as bmm
from bayesmm.backend.samplers import SAMPLERS, RunSettings, register_sampler, unregister_sampler


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


def _prior_draws(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    """Stand-in for NUTS: prior draws shaped like a posterior (one chain per `chains`).

    A sampler record's ``run``: the options are those the stubbed route takes, ignored.
    """
    draws, chains, random_seed = settings.draws, settings.chains, settings.random_seed
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


@contextlib.contextmanager
def samplers_running(run_for: Callable[[str], Callable[..., az.InferenceData]]) -> Iterator[None]:
    """Within the block, every registered sampler runs ``run_for(name)`` instead of its own
    ``run``: each is registered again as the same record with that run (its name, packages,
    options, checks and whether it is an approximation kept), and the records are restored
    afterwards, with any sampler registered inside the block taken out."""
    saved = dict(SAMPLERS)
    try:
        for name, record in saved.items():
            register_sampler(dataclasses.replace(record, run=run_for(name)), replace=True)
        yield
    finally:
        for name in set(SAMPLERS) - set(saved):
            unregister_sampler(name)
        for record in saved.values():
            register_sampler(record, replace=True)


def _stub_run(name: str) -> Callable[..., az.InferenceData]:
    return _prior_draws


def prior_draws_everywhere() -> contextlib.AbstractContextManager[None]:
    """What :func:`stub_sampler` does, as a context manager for wider-scoped fixtures."""
    return samplers_running(_stub_run)


@pytest.fixture
def stub_sampler():
    """Replace every sampler's run with prior draws, for tests of everything around it.

    Each registered record (the NUTS engines and the approximations) is registered again
    with the stub as its ``run`` (:func:`samplers_running`), and restored after the test.
    So the least changes: ``inference_method`` takes the same names, ``"auto"`` chooses as
    it would (what is installed, the rows, a ``cache``), the options are checked and
    translated as for the real route, ``idata.attrs["inference_method"]`` names the route,
    and a NUTS route's draws are checked as NUTS'; only the draws are the prior's.

    Returns the stub run, ``run(model, settings, **options)``, for tests that wrap it: they
    register their wrapper with ``samplers_running`` inside the test.
    """
    with prior_draws_everywhere():
        yield _prior_draws
