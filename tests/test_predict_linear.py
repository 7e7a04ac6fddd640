"""Many rows a block at a time: the linear predictor's group terms and the normal draws give
the same numbers whatever the blocks, bit for bit (and the same as before blocks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
import bayesmm.families.densities as densities
import bayesmm.predict.linear as linear
from _posteriors import random_posterior


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "formula",
    ["Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (0 + g | Subject)"],
)
def test_group_terms_are_the_same_in_blocks(sleepstudy, formula, dtype, monkeypatch):
    data = sleepstudy.assign(g=np.where(sleepstudy["Days"] > 4, "hi", "lo"))
    model = bmm.Model(formula, data)
    fitted = model.fitted({"posterior": random_posterior(model, draws=300).astype(dtype)})
    rows = pd.DataFrame(
        {
            "Days": np.arange(2000) % 10,
            "Subject": np.resize(["308", "new", "372"], 2000),
            "g": np.resize(["hi", "lo"], 2000),
        }
    )
    options = {"sample_new_groups": "gaussian", "random_seed": 3}
    monkeypatch.setattr(linear, "BLOCK_VALUES", 10**9)  # one block
    whole = fitted.draws(rows, **options)
    monkeypatch.setattr(linear, "BLOCK_VALUES", 7 * 2000)  # blocks of 7 draws, and a rest
    assert fitted.draws(rows, **options).tobytes() == whole.tobytes()


@pytest.mark.parametrize(
    ("mu_shape", "sigma_shape"), [((600, 50), (600, 1)), ((600, 1), (600, 50)), ((), ())]
)
def test_normal_draws_in_blocks_are_one_calls(mu_shape, sigma_shape, monkeypatch):
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=mu_shape), rng.uniform(1, 2, sigma_shape)
    shape = np.broadcast_shapes(mu_shape, sigma_shape)
    expected = mu + sigma * np.random.default_rng(9).standard_normal(shape)
    monkeypatch.setattr(densities, "BLOCK_VALUES", 7 * 50)
    drawn = densities.normal_draw({"mu": mu, "sigma": sigma}, np.random.default_rng(9))
    assert np.shape(drawn) == shape
    assert np.asarray(drawn).tobytes() == np.asarray(expected).tobytes()
