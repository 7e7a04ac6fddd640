"""The check after every NUTS fit: a failed fit is never silent, a healthy one says nothing."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmm as bmm
from bayesmm.backend.samplers.convergence import MAX_RHAT, check_fit, fit_check


def _idata(values: np.ndarray, diverging: np.ndarray | None = None) -> az.InferenceData:
    """A posterior of one scalar ``mu`` and a fixed ``one`` (a correlation's diagonal)."""
    chains, draws = values.shape
    posterior = xr.Dataset(
        {"mu": (("chain", "draw"), values), "one": (("chain", "draw"), np.ones_like(values))},
        coords={"chain": np.arange(chains), "draw": np.arange(draws)},
    )
    groups = {"posterior": posterior}
    if diverging is not None:
        groups["sample_stats"] = xr.Dataset({"diverging": (("chain", "draw"), diverging)})
    return az.InferenceData(**groups)


def test_healthy_draws_pass_without_a_warning():
    rng = np.random.default_rng(1)
    idata = _idata(rng.normal(size=(2, 1000)), np.zeros((2, 1000), dtype=bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = check_fit(idata, "numpyro")
    assert found.moved and not found.problems()
    assert found.max_rhat < MAX_RHAT and found.min_ess_bulk > 1000
    assert idata.attrs["sampling_ok"] == 1 and idata.attrs["sampling_divergences"] == 0


def test_frozen_chains_say_the_posterior_is_not_usable():
    """What the one-sided truncation gave before its gradient was made finite: every draw
    divergent, each chain at one value (R-hat NaN, ESS 2)."""
    values = np.repeat([[1.1], [1.3]], 1000, axis=1)
    idata = _idata(values, np.ones((2, 1000), dtype=bool))
    with pytest.warns(
        bmm.SamplingWarning,
        match=r"not usable.*'numpyro' did not move.*2000 of "
        r"2000 draws are divergent.*2 of 2 chains never moved.*noncentered",
    ):
        found = check_fit(idata, "numpyro")
    assert not found.moved
    assert idata.attrs["sampling_ok"] == 0 and idata.attrs["sampling_stuck_chains"] == 2


def test_chains_that_disagree_are_named_with_what_to_try():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(2, 500)) + np.array([[0.0], [3.0]])
    with pytest.warns(
        bmm.SamplingWarning,
        match=r"Check the fit.*largest R-hat is .*above "
        r"1.01.*target_accept",
    ):
        found = check_fit(_idata(values), "nutpie")
    assert found.moved and found.max_rhat > 1.5


def test_divergences_and_low_ess_are_reported():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.normal(size=(2, 400)), axis=1)  # a random walk: ESS of a few
    diverging = np.zeros((2, 400), dtype=bool)
    diverging[0, :7] = True
    found = fit_check(_idata(walk, diverging))
    problems = " ".join(found.problems())
    assert "7 of 800 draws are divergent" in problems
    assert "smallest bulk ESS" in problems and "below 100 per chain, 200 for 2 chains" in problems


def test_one_chain_has_no_rhat_but_is_still_checked():
    rng = np.random.default_rng(4)
    found = fit_check(_idata(rng.normal(size=(1, 800))))
    assert np.isnan(found.max_rhat) and found.moved and not found.problems()


def test_fit_records_the_check_in_its_attrs(stub_sampler):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"y": rng.normal(size=40), "x": rng.normal(size=40)})
    idata = bmm.Model("y ~ x", frame).fit(draws=300, chains=2, random_seed=1)
    assert {"sampling_max_rhat", "sampling_min_ess_bulk", "sampling_ok"} <= set(idata.attrs)
    assert idata.attrs["sampling_max_rhat"] < 1.05
