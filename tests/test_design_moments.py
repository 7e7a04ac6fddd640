"""The moments of a gaussian model's rows (bayesmm.design.moments): two batches' moments,
added, give the sufficient statistics and the default priors of all the rows, new levels of
grouping factors included; they round-trip through a file's group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import bayesmm as bmm
from bayesmm.backend.graph.built import model_coords
from bayesmm.backend.graph.context import GraphContext
from bayesmm.backend.graph.predictors import linear_parts
from bayesmm.backend.graph.sufficient import statistics, stored_statistics
from bayesmm.backend.graph.variables import Containers
from bayesmm.design.moments import Moments
from bayesmm.scaling import default_priors


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    n = 1_200
    data = pd.DataFrame(
        {
            "x": rng.normal(10, 3, n),
            "z": rng.normal(size=n),
            "g": rng.integers(0, 30, n).astype(str),
            "h": rng.integers(0, 6, n).astype(str),
            "c": rng.choice(list("abc"), n),
            "w": rng.uniform(0.5, 2.0, n),
            "o": rng.normal(size=n),
        }
    )
    # A response far from zero, as the statistics' own tests have it.
    data["y"] = 300 + 2 * data["x"] + rng.normal(size=n) * 5
    return data


def _batches(frame):
    """Two batches: the second brings new levels of g (20 to 29) and new cells of (g, h)."""
    early = frame["g"].astype(int) < 20
    return frame[early & (frame.index < 900)], frame[~early | (frame.index >= 900)]


CASES = [
    ("y ~ x + (1|g)", {}),
    ("y ~ x + c + (x|g) + (1|h)", {}),  # a correlated block, crossed factors, a category
    ("y ~ 0 + x + (1 + x || g)", {}),  # no intercept, independent terms
    ("y ~ x + offset(o) + (1|g)", {}),
    ("y ~ x + z + (1|g) + (z|h)", {"weights": "w"}),
    ("y ~ x", {}),
]


def _combined(frame, formula, options):
    first, second = (bmm.Model(formula, b, **options).design for b in _batches(frame))
    return Moments.of_design(first).merged(Moments.of_design(second))


def _parts(design, priors, moments=None):
    """The linear parts of the summed model, centred on the moments' means or the rows'."""
    rows = None if moments is None else moments.rows
    means = None if moments is None else moments.common_means()
    with pm.Model(coords=model_coords(design)):
        data = Containers(design.n_obs)
        ctx = GraphContext(priors, data, True, "auto", rows=rows, means=means)
        return linear_parts(design, ctx)


def _close(found, expected, scale):
    """Equal to 1e-10 relative, or 1e-10 of ``scale`` where the sums nearly cancel (a centred
    column's sum): float64 sums of 1,200 rows in another order, around other anchors."""
    np.testing.assert_allclose(found, expected, rtol=1e-10, atol=1e-10 * scale)


def _bounds(stats):
    """Each side's largest sum of squares, and the response's: by Cauchy-Schwarz, the sum of
    products of two sides is at most the root of the product of theirs."""
    own = {
        b.a: float(np.max(np.abs(np.einsum("cjj->cj", b.products))))
        for b in stats.blocks
        if b.a == b.b
    }
    return own, stats.squares


@pytest.mark.parametrize(("formula", "options"), CASES)
def test_added_batches_give_the_statistics_of_all_the_rows(frame, formula, options):
    model = bmm.Model(formula, frame, **options)
    combined = _combined(frame, formula, options)
    assert combined.rows == model.design.n_obs
    for term in model.design.group_terms:  # every level, the second batch's new ones too
        assert set(combined.levels[term.factor]) == set(term.levels)
    found = stored_statistics(combined, model.design, _parts(model.design, model.priors, combined))
    expected = statistics(model.design, _parts(model.design, model.priors))
    assert found.weight == pytest.approx(expected.weight, rel=1e-12)
    assert found.reference == pytest.approx(expected.reference, rel=1e-12)
    own, squares = _bounds(expected)
    _close(found.squares, expected.squares, squares)
    for side, (got, want) in enumerate(zip(found.cross, expected.cross, strict=True)):
        _close(got, want, np.sqrt(own[side] * squares))
    for got, want in zip(found.blocks, expected.blocks, strict=True):
        assert (got.a, got.b) == (want.a, want.b)
        for codes in ("ia", "ib"):
            np.testing.assert_array_equal(getattr(got, codes), getattr(want, codes))
        _close(got.products, want.products, np.sqrt(own[got.a] * own[got.b]))


def _values(prior):
    """A prior's numbers, nested hyperpriors included, by path."""
    out = {}
    for name, value in prior.params.items():
        if isinstance(value, bmm.Prior):
            out.update({f"{name}.{k}": v for k, v in _values(value).items()})
        elif not isinstance(value, str):
            out[name] = np.asarray(value, dtype=float)
    return out


@pytest.mark.parametrize(("formula", "options"), CASES)
def test_the_default_priors_from_added_batches_are_those_of_all_the_rows(frame, formula, options):
    model = bmm.Model(formula, frame, **options)
    scales = _combined(frame, formula, options).scales()
    found = default_priors(model.design, model.family, model.link, True, scales=scales)
    assert found.names() == model.priors.names()
    for term in found.terms:
        expected = model.priors[term.name]
        assert term.prior.name == expected.name
        got, want = _values(term.prior), _values(expected)
        assert got.keys() == want.keys()
        for key in want:
            # Equal up to float64 rounding: the sums of the batches are added in another order.
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, err_msg=term.name)


def test_moments_round_trip_through_a_file_group(frame):
    moments = _combined(frame, "y ~ x + c + (x|g) + (1|h)", {})
    back = Moments.from_dataset(moments.to_dataset())
    assert back.levels == moments.levels and back.groups == moments.groups
    assert (back.rows, back.squared_weights) == (moments.rows, moments.squared_weights)
    np.testing.assert_array_equal(back.anchor, moments.anchor)
    for key, block in moments.blocks.items():
        np.testing.assert_array_equal(back.blocks[key].products, block.products)
        for codes in ("left", "right"):
            found, expected = getattr(back.blocks[key], codes), getattr(block, codes)
            assert (found is None) == (expected is None)
            if expected is not None:
                np.testing.assert_array_equal(found, expected)


def test_moments_of_another_models_rows_are_not_added(frame):
    one = Moments.of_design(bmm.Model("y ~ x + (1|g)", frame).design)
    other = Moments.of_design(bmm.Model("y ~ z + (1|g)", frame).design)
    with pytest.raises(bmm.DataError, match="another model's rows"):
        one.merged(other)
