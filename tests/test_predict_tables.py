"""Predictions as InferenceData groups (``predict.tables``): the DataArray made from the
posterior's own chain and draw indexes is the one xarray makes by default."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from bayesmm.fitted import CATEGORY_DIM, OBS_DIM
from bayesmm.predict.tables import prediction_array


def _default(values, chains, draws, levels):
    """The DataArray as xarray's defaults make it from the labels' values."""
    extra = values.shape[2:]
    category = {CATEGORY_DIM: [str(v) for v in levels]} if extra and levels else {}
    return xr.DataArray(
        values.reshape(len(chains), len(draws), values.shape[1], *extra),
        dims=("chain", "draw", OBS_DIM, *([CATEGORY_DIM] if extra else [])),
        coords={"chain": chains, "draw": draws, OBS_DIM: np.arange(values.shape[1]), **category},
        name="mu",
    )


@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize(("extra", "levels"), [((), None), ((3,), ("a", "b", "c")), ((3,), None)])
def test_prediction_array_is_xarrays_default(labelled, extra, levels):
    rng = np.random.default_rng(0)
    posterior = xr.Dataset({"b": (("chain", "draw"), rng.normal(size=(3, 4)))})
    if labelled:
        posterior = posterior.assign_coords(chain=[0, 1, 2], draw=np.arange(10, 14))
        posterior["chain"].attrs["note"] = "dropped, as posterior['chain'].to_numpy() drops it"
    values = rng.normal(size=(12, 5, *extra))
    made = prediction_array(values, posterior, levels, "mu")
    expected = _default(values, posterior["chain"].to_numpy(), posterior["draw"].to_numpy(), levels)
    xr.testing.assert_identical(made, expected)
    xr.testing.assert_identical(made.to_dataset(), xr.Dataset({"mu": expected}))


def test_the_predictions_coordinates_are_their_own():
    posterior = xr.Dataset(
        {"b": (("chain", "draw"), np.zeros((2, 3)))}, coords={"chain": [0, 1], "draw": [0, 1, 2]}
    )
    made = prediction_array(np.ones((6, 2)), posterior, None, "mu")
    made["chain"].attrs["note"] = "the predictions' own"
    assert posterior["chain"].attrs == {}
