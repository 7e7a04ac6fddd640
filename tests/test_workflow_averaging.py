"""Comparing fitted models and averaging their predictions (``workflow.averaging``): the
checks of the data, ``az.compare``'s table, the weights, and the mixture's draws. Fits use the
stub sampler (prior draws); what is checked does not depend on the posterior."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.workflow.averaging import draw_counts, model_weights


@pytest.fixture
def fits(stub_sampler):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=80), "g": rng.integers(0, 5, 80).astype(str)})
    frame["y"] = 0.5 * frame["x"] + rng.normal(size=80)
    # Priors near the truth: the stub's prior draws then predict the rows as a posterior would.
    priors = {
        "Intercept": bmm.Prior("Normal", mu=0.0, sigma=0.1),
        "x": bmm.Prior("Normal", mu=0.5, sigma=0.1),
        "sigma": 1.0,
    }
    group = {"1|g": bmm.Prior("Normal", mu=0, sigma=bmm.Prior("HalfNormal", sigma=0.2))}
    out = {}
    for name, formula in {"slope": "y ~ x", "groups": "y ~ x + (1|g)"}.items():
        given = {**priors, **(group if "|" in formula else {})}
        model = bmm.Model(formula, frame, priors=given)
        out[name] = model.fitted(model.fit(draws=400, chains=2, random_seed=5))
    return out, frame


def test_compare_is_az_compare_of_the_psis_loo_of_each(fits):
    named, _ = fits
    table = bmm.compare(named)
    expected = az.compare({n: f.loo() for n, f in named.items()}, method="stacking")
    pd.testing.assert_frame_equal(table, expected)
    assert table["weight"].sum() == pytest.approx(1.0)


def test_compare_refuses_models_of_other_data(fits, stub_sampler):
    named, frame = fits
    other = bmm.Model("y ~ x", frame.iloc[:70])
    fewer = {**named, "fewer rows": other.fitted(other.fit(draws=20, chains=1))}
    with pytest.raises(
        bmm.DataError, match=r"'fewer rows' and 'slope' were fitted to different rows"
    ):
        bmm.compare(fewer)
    renamed = frame.rename(columns={"y": "z"})
    z = bmm.Model("z ~ x", renamed)
    with pytest.raises(bmm.DataError, match=r"models the response 'z' and 'slope' 'y'"):
        bmm.compare({"slope": named["slope"], "z": z.fitted(z.fit(draws=20, chains=1))})
    with pytest.raises(bmm.DataError, match="at least two fitted models; got 1"):
        bmm.compare([named["slope"]])
    with pytest.raises(bmm.DataError, match=r"'b' must be a FittedModel.*got str"):
        bmm.compare({"a": named["slope"], "b": "model.nc"})
    with pytest.raises(bmm.DataError, match="method must be one of"):
        bmm.compare(named, method="bma")


def test_weights_are_given_or_computed(fits):
    named, _ = fits
    table = bmm.compare(named)
    np.testing.assert_allclose(
        model_weights(named, "stacking"), table.loc[list(named), "weight"].to_numpy()
    )
    np.testing.assert_array_equal(model_weights(named, [0.25, 0.75]), [0.25, 0.75])
    for bad in ([0.5, 0.6], [1.0], [-0.5, 1.5]):
        with pytest.raises(bmm.DataError, match=r"2 numbers >= 0 summing to 1"):
            model_weights(named, bad)
    with pytest.raises(bmm.DataError, match="weights must be one of"):
        model_weights(named, "bma")


def test_weights_one_and_zero_give_the_first_models_predictions(fits):
    named, frame = fits
    rows = frame.head(3)
    mixed = bmm.average_predictions(named, [1.0, 0.0], data=rows, random_seed=1)
    first = named["slope"].draws(rows, kind="response", random_seed=2)
    assert mixed.shape == first.shape == (800, 3)
    # The same distribution: equal means and sds within a combined Monte-Carlo bound (4 SE
    # of a difference of two means of 800 draws each; the draws are independent here).
    for j in range(3):
        se = np.sqrt(mixed[:, j].var() / 800 + first[:, j].var() / 800)
        assert abs(mixed[:, j].mean() - first[:, j].mean()) < 4 * se


def test_equal_weights_give_the_moments_of_the_mixture(fits):
    named, frame = fits
    rows = frame.head(2)
    mixed = bmm.average_predictions(named, [0.5, 0.5], data=rows, random_seed=3)
    a = named["slope"].draws(rows, kind="response", random_seed=4)
    b = named["groups"].draws(rows, kind="response", random_seed=5)
    mean = (a.mean(axis=0) + b.mean(axis=0)) / 2
    second = (np.mean(a**2, axis=0) + np.mean(b**2, axis=0)) / 2
    for j in range(2):
        # 400 draws of each model in the mixture: the mean's standard error from the
        # mixture's own sd, and the reference's from its two halves, combined; 4 SE.
        se = np.sqrt(mixed[:, j].var() / 800 + (a[:, j].var() + b[:, j].var()) / (4 * 800))
        assert abs(mixed[:, j].mean() - mean[j]) < 4 * se
        sd_mixture = np.sqrt(second[j] - mean[j] ** 2)
        assert mixed[:, j].std() == pytest.approx(sd_mixture, rel=4 / np.sqrt(2 * 800))


def test_each_model_gives_round_w_s_draws():
    np.testing.assert_array_equal(draw_counts(np.array([0.3, 0.7]), 800), [240, 560])
    np.testing.assert_array_equal(draw_counts(np.full(3, 1 / 3), 10), [4, 3, 3])
    np.testing.assert_array_equal(draw_counts(np.array([1.0, 0.0]), 7), [7, 0])


def test_stacking_weights_by_default(fits):
    named, frame = fits
    out = bmm.average_predictions(named, data=frame.head(1), random_seed=9)
    again = bmm.average_predictions(named, data=frame.head(1), random_seed=9)
    assert out.shape == (800, 1)
    np.testing.assert_array_equal(out, again)  # seeded
