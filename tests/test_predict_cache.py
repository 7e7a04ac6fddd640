"""The stacked draws ``Model.predict`` keeps per InferenceData (``predict.cache``): used again
for the same ``idata``, stacked again when what they depend on changes, and released with the
InferenceData, so that many predictions with distinct InferenceData objects hold no more
entries than there are objects alive.
"""

from __future__ import annotations

import gc
import pickle
import weakref

import arviz as az
import pandas as pd
import pytest

import bayesmm as bmm
import bayesmm.fitted
from _posteriors import random_posterior
from bayesmm.predict import extract_draws
from bayesmm.predict.cache import StackedDraws

ROW = pd.DataFrame({"Days": [3], "Subject": ["308"]})


@pytest.fixture
def model(sleepstudy):
    return bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)


@pytest.fixture
def stackings(monkeypatch):
    """How many times a posterior is stacked."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return extract_draws(*args, **kwargs)

    monkeypatch.setattr(bayesmm.fitted, "extract_draws", counted)
    return calls


def test_predict_stacks_the_posterior_once_per_idata(model, stackings):
    idata = az.InferenceData(posterior=random_posterior(model))
    first = model.predict(idata, ROW)
    second = model.predict(idata, ROW)
    assert len(stackings) == 1
    xr_first, xr_second = first.predictions, second.predictions
    assert xr_first.identical(xr_second)
    # model.fitted uses the kept draws too, and gives the same predictions.
    assert model.fitted(idata).draws(ROW).tobytes() == first.predictions["mu"].values.tobytes()
    assert len(stackings) == 1


def test_a_new_posterior_or_new_priors_stack_again(model, stackings):
    idata = az.InferenceData(posterior=random_posterior(model, seed=1))
    before = model.predict(idata, ROW).predictions["mu"].values
    idata.posterior = random_posterior(model, seed=2)  # the group replaced
    after = model.predict(idata, ROW).predictions["mu"].values
    assert len(stackings) == 2
    assert not (before == after).all()
    model.set_priors({"sigma": 10.0})  # sigma fixed: the stacked draws change
    model.predict(idata, ROW)
    assert len(stackings) == 3
    assert (model.fitted(idata).posterior_draws.aux["sigma"] == 10.0).all()


def test_dropped_idata_are_released_and_the_cache_does_not_grow(model):
    refs = []
    for seed in range(30):
        idata = az.InferenceData(posterior=random_posterior(model, seed=seed))
        model.predict(idata, ROW)
        refs.append(weakref.ref(idata))
        assert len(model._stacked) == 1  # the live one alone
    del idata
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert len(model._stacked) == 0


def test_entries_live_as_long_as_their_idata(model):
    cache = StackedDraws()
    draws = extract_draws(random_posterior(model), model.design, ("sigma",), {}, ())
    alive = []
    for i in range(200):
        idata = az.InferenceData(posterior=random_posterior(model, draws=2, seed=i))
        cache.keep(idata, draws, {}, ())
        if i % 50 == 0:
            alive.append(idata)  # kept by the caller
        assert len(cache) <= len(alive) + 1
    del idata
    gc.collect()
    assert len(cache) == len(alive) == 4
    assert all(cache.get(kept, {}, ()) is draws for kept in alive)
    assert cache.get(alive[0], {"sigma": 1.0}, ()) is None  # other fixed parameters
    alive.clear()
    gc.collect()
    assert len(cache) == 0


def test_groups_as_a_dict_are_not_kept(model):
    cache = StackedDraws()
    groups = {"posterior": random_posterior(model)}
    draws = extract_draws(groups["posterior"], model.design, ("sigma",), {}, ())
    cache.keep(groups, draws, {}, ())
    assert len(cache) == 0 and cache.get(groups, {}, ()) is None


def test_a_pickled_model_predicts_the_same(model):
    idata = az.InferenceData(posterior=random_posterior(model))
    before = model.predict(idata, ROW, random_seed=1).predictions
    copy = pickle.loads(pickle.dumps(model))
    assert copy.predict(idata, ROW, random_seed=1).predictions.identical(before)
