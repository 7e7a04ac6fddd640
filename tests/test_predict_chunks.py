"""Chunked predictions (``fitted.chunked(chunk_rows).point(...)`` and friends): the same
summaries as one call, a chunk of rows at a time, with unseen group levels drawn the same in
every chunk (``level_seed``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm


@pytest.fixture
def fitted(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    return model.fitted(model.fit(draws=200, chains=2, random_seed=5))


@pytest.fixture
def rows():
    """Seen subjects and two unseen ones, each unseen one on rows far apart."""
    subjects = [308, 900, 309, 901] * 6
    return pd.DataFrame({"Days": np.arange(24) % 10, "Subject": subjects}, index=range(100, 124))


def test_chunks_of_seen_levels_equal_one_call(fitted, rows):
    seen = rows[rows["Subject"] < 900]
    whole = fitted.point(seen)
    chunked = fitted.chunked(chunk_rows=5).point(seen)
    pd.testing.assert_frame_equal(chunked, whole)
    bounds = fitted.chunked(chunk_rows=4).interval(seen, kind="response_params", prob=0.8)
    pd.testing.assert_frame_equal(bounds, fitted.interval(seen, kind="response_params", prob=0.8))


@pytest.mark.parametrize("policy", ["uncertainty", "gaussian", "old_levels"])
def test_an_unseen_level_is_the_same_level_in_every_chunk(fitted, rows, policy):
    # Subject 900's six rows, on the same day, fall in different chunks of 5 rows.
    rows = rows.assign(Days=np.where(rows["Subject"] == 900, 4, rows["Days"]))
    table = fitted.chunked(chunk_rows=5).point(rows, sample_new_groups=policy, random_seed=3)
    new = table[rows["Subject"].to_numpy() == 900]["mean"].to_numpy()
    assert len(new) == 6 and np.ptp(new) == 0  # one level, one set of draws
    other = table[(rows["Subject"] == 901).to_numpy()]["mean"].to_numpy()
    assert not np.allclose(np.unique(new), np.unique(other)[:1])  # two levels differ
    # The same seed gives the same table, whatever the chunk size.
    again = fitted.chunked(chunk_rows=7).point(rows, sample_new_groups=policy, random_seed=3)
    pd.testing.assert_frame_equal(again, table)


def test_a_level_seed_draws_a_level_alike_whatever_comes_with_it(fitted):
    one = pd.DataFrame({"Days": [3], "Subject": [900]})
    two = pd.DataFrame({"Days": [3, 3], "Subject": [901, 900]})
    options = {"sample_new_groups": "gaussian", "level_seed": 11, "kind": "response_params"}
    alone = fitted.draws(one, random_seed=1, **options)[:, 0]
    together = fitted.draws(two, random_seed=2, **options)[:, 1]
    np.testing.assert_allclose(alone, together, rtol=1e-12)  # einsum may round differently


def test_chunked_predictions_check_their_arguments(fitted, rows):
    with pytest.raises(bmm.DataError, match=r"chunk_rows must be a positive integer; got 0"):
        fitted.chunked(chunk_rows=0)
    with pytest.raises(bmm.DataError, match=r"data must be a pandas DataFrame; got NoneType"):
        fitted.chunked().point(None)
    with pytest.raises(bmm.DataError, match=r"give an integer or None, not a Generator"):
        fitted.chunked().point(rows, random_seed=np.random.default_rng(1))
    with pytest.raises(bmm.DataError, match=r"level_seed must be a non-negative integer"):
        fitted.point(rows, level_seed=-1)
