"""fit_many of multivariate models (stub sampler): one by one, on an executor, and grouped
by structure for the vectorised program; real NUTS is in test_many_fits_multivariate_slow.py."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import bayesmm as bmm
from _multivariate import frame
from bayesmm.mv import MvModel

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

FIT = {"draws": 20, "tune": 0, "chains": 2, "log_likelihood": False}
FORMULA = "mvbind(y1, y2) ~ x + (1|g)"


@pytest.fixture
def models():
    return [bmm.Model(FORMULA, frame(seed=i)) for i in range(3)]


def test_multivariate_fits_come_back_in_order_with_their_own_rows(models, stub_sampler):
    mixed = [*models, bmm.Model("y1 ~ x", frame(seed=9))]
    fits = bmm.fit_many(mixed, random_seed=1, progressbar=False, **FIT)
    assert not fits.failures and fits.diagnostics["ok"].all()
    for i, (model, idata) in enumerate(zip(models, fits[:3], strict=True)):
        assert idata.attrs["fit_index"] == i and idata.attrs["rescor"] == 1
        assert idata.attrs["family"] == "y1: gaussian, y2: gaussian"
        observed = idata.observed_data["y1:y2"].values
        np.testing.assert_array_equal(observed[:, 1], model.design.design_of("y2").response.values)
        assert {"y1_x", "y2_x", "y1:y2_rescor"} <= set(idata.posterior.data_vars)
    assert fits[3].attrs["family"] == "gaussian" and "x" in fits[3].posterior


def test_an_executor_gives_the_fits_of_this_process(models, stub_sampler):
    here = bmm.fit_many(models, random_seed=3, progressbar=False, **FIT)
    with ThreadPoolExecutor(max_workers=2) as pool:
        there = bmm.fit_many(models, pool, random_seed=3, progressbar=False, **FIT)
    for a, b in zip(here, there, strict=True):
        np.testing.assert_array_equal(a.posterior["y2_x"].values, b.posterior["y2_x"].values)


def test_a_multivariate_model_pickles_without_its_graph(models):
    model = models[0]
    assert model.backend is not None
    again = pickle.loads(pickle.dumps(model))
    assert again._built is None and again.design.responses == ("y1", "y2")
    assert again.backend.response == "y1:y2"


def test_fits_of_one_structure_run_as_one_vectorised_batch(models, stub_sampler, monkeypatch):
    """The vectorised route groups multivariate models by their structure key and shapes;
    the batch itself is stood in for by the stub, fit by fit."""
    from bayesmm.backend.batch import vectorised as batch
    from bayesmm.backend.samplers import sample

    batches = []

    def stub_batch(builts, seeds, **kwargs):
        batches.append(len(builts))
        return [
            sample(b, random_seed=s, progressbar=False, **kwargs)
            for b, s in zip(builts, seeds, strict=True)
        ]

    monkeypatch.setattr(batch, "sample_many", stub_batch)
    monkeypatch.setattr(bmm.many, "_vectorising_wins", lambda: True)
    other = bmm.Model(FORMULA, frame(n=20, seed=5))  # fewer rows: a batch of its own, alone
    fits = bmm.fit_many(
        [*models, other], random_seed=2, progressbar=False, inference_method="numpyro", **FIT
    )
    assert batches == [3] and not fits.failures
    assert all(f.attrs["rescor"] == 1 and "formula" in f.attrs for f in fits)


@pytest.mark.skipif(hasattr(MvModel, "save"), reason="multivariate models save to files")
def test_files_are_refused_for_models_that_cannot_be_saved_yet(models, tmp_path):
    with pytest.raises(bmm.DataError, match=r"position\(s\) \[0, 1, 2\] cannot be saved yet"):
        bmm.fit_many(models, keep=tmp_path, progressbar=False, **FIT)
