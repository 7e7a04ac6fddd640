"""B-splines (``bs()``): knots learned on the training rows, kept in files, used on new rows;
new rows outside the boundary knots are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.design.splines import LINSPACE_MAX, file_linspace
from bayesmm.io import read_header


def _knots(design):
    term = next(t for t in design.state.common_matrix.terms.values() if "bs(" in str(t.name))
    return term.components[0].call.stateful_transform._knots


@pytest.mark.parametrize(
    "spline",
    [
        "bs(Days, df=4)",
        "bs(Days, knots=np.linspace(3, 6, 2))",
        "bs(Days, df=5, degree=2, lower_bound=-1, upper_bound=12)",
    ],
)
def test_reloaded_spline_model_predicts_as_the_fitted_one(
    tmp_path, stub_sampler, sleepstudy, spline
):
    model = bmm.Model(f"Reaction ~ {spline} + (1|Subject)", sleepstudy)
    idata = model.fit(draws=20, chains=2, random_seed=4, progressbar=False)
    path = model.save(tmp_path / "spline.nc", idata)
    loaded = bmm.load(path)
    np.testing.assert_array_equal(_knots(loaded.design), _knots(model.design))
    # New x inside the training range, between and at the knots.
    new = pd.DataFrame({"Days": [0.0, 0.25, 3.0, 4.5, 7.75, 9.0], "Subject": [308] * 6})
    fitted = model.fitted(idata)
    np.testing.assert_array_equal(loaded.draws(new), fitted.draws(new))
    np.testing.assert_array_equal(loaded.draws(), fitted.draws())
    bare = bmm.load(model.save(tmp_path / "bare.nc", idata, posterior_only=True))
    np.testing.assert_array_equal(bare.draws(new), fitted.draws(new))


def test_new_rows_use_the_training_knots_not_their_own(sleepstudy):
    model = bmm.Model("Reaction ~ bs(Days, df=4)", sleepstudy)
    np.testing.assert_array_equal(_knots(model.design), [0, 0, 0, 0, 4.5, 9, 9, 9, 9])
    # Two rows of new data would give other knots if they were learned again.
    rows = sleepstudy.iloc[[3, 7]]
    np.testing.assert_allclose(model.design.state.encode(rows).common, model.design.common[[3, 7]])


def test_rows_outside_the_boundary_knots_are_refused(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ bs(Days, df=4) + (1|Subject)", sleepstudy)
    fitted = model.fitted(model.fit(draws=5, chains=1, random_seed=1, progressbar=False))
    new = pd.DataFrame({"Days": [2, 9.5, -1], "Subject": [308, 308, 308]}, index=[10, 11, 12])
    with pytest.raises(bmm.DataError, match=r"boundary knots \[0, 9\].*9\.5.*-1.*index \[11, 12\]"):
        fitted.draws(new)


def test_wider_bounds_allow_predictions_beyond_the_training_range(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ bs(Days, df=4, lower_bound=0, upper_bound=14)", sleepstudy)
    fitted = model.fitted(model.fit(draws=5, chains=1, random_seed=1, progressbar=False))
    assert np.isfinite(fitted.draws(pd.DataFrame({"Days": [12.0, 14.0]}))).all()


def test_linspace_in_a_file_is_bounded():
    np.testing.assert_array_equal(file_linspace(2, 8, 4), np.linspace(2, 8, 4))
    with pytest.raises(ValueError, match="num="):
        file_linspace(0, 1, LINSPACE_MAX + 1)


def test_spline_knots_are_in_the_saved_spec(tmp_path, stub_sampler, sleepstudy):
    model = bmm.Model("Reaction ~ bs(Days, df=4)", sleepstudy)
    idata = model.fit(draws=5, chains=1, random_seed=1, progressbar=False)
    spec = read_header(model.save(tmp_path / "m.nc", idata))["spec"]
    record = next(r for r in spec["design"]["formulae"] if r["term"] == "bs(Days, df=4)")
    state = record["components"][0]["calls"][0]["transform"]
    assert state["class"] == "BSpline"
    assert "_knots" in state["state"]
