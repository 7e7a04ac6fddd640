"""Reuse of compiled samplers across models of the same structure (backend/compiled.py)."""

import numpy as np
import pytest

import bayesmm as bmm
from bayesmm import Prior
from bayesmm.backend.programs.compiled import CompiledCache, structure_key

FORMULA = "Reaction ~ Days + (Days | Subject)"


def _key(data, formula=FORMULA, **kwargs):
    return structure_key(bmm.Model(formula, data, **kwargs).backend.model)


def _without_subjects(data, subjects):
    # Strings, not the bundled categorical, whose unused categories would stay levels.
    data = data.assign(Subject=data["Subject"].astype(str))
    return data[~data["Subject"].isin(subjects)]


def test_structure_key_ignores_the_values_and_the_number_of_rows(sleepstudy):
    rng = np.random.default_rng(0)
    fold = sleepstudy.drop(index=rng.choice(len(sleepstudy), 36, replace=False))
    other = sleepstudy.drop(index=rng.choice(len(sleepstudy), 35, replace=False))
    assert len(fold) != len(other)
    keys = {_key(sleepstudy), _key(fold), _key(other)}
    # Other values of the data-scaled priors, and other subjects of the same count.
    keys.add(_key(sleepstudy.assign(Reaction=sleepstudy["Reaction"] * 3)))
    keys.add(_key(_without_subjects(sleepstudy, ["308", "309"])))
    keys.add(_key(_without_subjects(sleepstudy, ["350", "372"])))
    assert len(keys) == 2  # all 18 subjects, or 16 of them
    assert _key(sleepstudy, priors={"Days": Prior("Normal", mu=0, sigma=3)}) == _key(sleepstudy)
    # An intercept-only model too: its linear predictor has the rows' length, not a constant.
    assert _key(fold, "Reaction ~ 1") == _key(other, "Reaction ~ 1")


@pytest.mark.parametrize(
    "change",
    [
        {"formula": "Reaction ~ Days + (1 | Subject)"},
        {"formula": "Reaction ~ 0 + Days + (Days | Subject)"},
        {"family": "t"},
        {"link": "log"},
        {"priors": {"Days": Prior("StudentT", nu=3, mu=0, sigma=10)}},
        {"priors": {"sigma": 30}},
        {"noncentered": False},
    ],
    ids=lambda change: next(iter(change.items()))[0] + "=" + str(next(iter(change.values()))),
)
def test_structure_key_changes_with_the_structure(sleepstudy, change):
    formula = change.pop("formula", FORMULA)
    assert _key(sleepstudy, formula, **change) != _key(sleepstudy)


def test_cache_size_must_be_a_positive_integer():
    with pytest.raises(ValueError, match=r"max_size must be an integer >= 1; got 0"):
        CompiledCache(max_size=0)


@pytest.mark.slow
def test_a_reused_sampler_draws_what_a_fresh_compile_draws(sleepstudy):
    options = dict(
        draws=200,
        tune=200,
        chains=2,
        inference_method="nutpie",
        random_seed=4,
        progressbar=False,
        log_likelihood=False,
    )
    first = _without_subjects(sleepstudy, ["308", "309"])
    second = _without_subjects(sleepstudy, ["350", "372"]).iloc[3:]
    cache = CompiledCache(max_size=1)
    bmm.Model(FORMULA, first).fit(cache=cache, **options)
    reused = bmm.Model(FORMULA, second).fit(cache=cache, **options)
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    fresh = bmm.Model(FORMULA, second).fit(cache=CompiledCache(), **options)
    for name in fresh.posterior.data_vars:
        np.testing.assert_array_equal(reused.posterior[name], fresh.posterior[name])
    # Labelled with the second data's subjects, and its own data kept.
    levels = list(reused.posterior["Subject__factor_dim"].values)
    assert "308" in levels and "350" not in levels
    assert reused.constant_data.sizes["__obs__"] == len(second)
    assert reused.observed_data["Reaction"].shape == (len(second),)
    np.testing.assert_array_equal(reused.observed_data["Reaction"], second["Reaction"])
