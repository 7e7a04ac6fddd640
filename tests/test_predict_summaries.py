"""Summaries of draws: the highest-density interval of many rows at once is ArviZ's ``hdi``
of each row, bound for bound."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

import bayesmm.predict.summaries as summaries
from bayesmm.predict import interval


def _arviz(values: np.ndarray, prob: float) -> np.ndarray:
    return np.asarray(az.hdi(values[None], hdi_prob=prob)).reshape(values.shape[1], 2)


@pytest.mark.parametrize("prob", [0.5, 0.9, 0.95, 0.999])
@pytest.mark.parametrize(
    "make",
    [
        lambda rng: rng.normal(size=(2000, 300)),
        lambda rng: rng.poisson(3.0, size=(1000, 40)).astype(float),  # ties
        lambda rng: rng.integers(0, 5, size=(400, 30)),  # integers
        lambda rng: rng.standard_cauchy(size=(37, 11)),  # few draws, heavy tails
        lambda rng: np.where(rng.random((500, 20)) < 0.01, np.nan, rng.normal(size=(500, 20))),
    ],
)
def test_highest_density_is_arviz_hdi(make, prob, monkeypatch):
    values = make(np.random.default_rng(0))
    monkeypatch.setattr(summaries, "BLOCK_VALUES", 5000)  # several blocks of rows
    ours = interval(values, prob, "hdi")
    assert ours.dtype == np.float64
    assert ours.tobytes() == _arviz(values, prob).tobytes()


def test_an_interval_of_every_draw_fails_as_arviz_does():
    values = np.arange(3.0)[:, None]
    with pytest.raises(ValueError, match="Too few elements"):
        _arviz(values, 1.0)
    with pytest.raises(ValueError, match="Too few elements"):
        summaries.highest_density(values, 1.0)


@pytest.mark.parametrize("shape", [(500, 1), (500, 3), (1, 4)])
def test_highest_density_leaves_the_draws_as_they_are(shape):
    values = np.random.default_rng(1).normal(size=shape)
    kept = values.copy()
    values.flags.writeable = False  # a read-only array is summarised too
    interval(values, 0.9, "hdi")
    assert values.tobytes() == kept.tobytes()
