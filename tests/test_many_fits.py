"""fit_many: order, seeds, failures, what is kept, executors and bad arguments (stub sampler;
real NUTS, Dask and memory are in test_many_fits_slow.py)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.many import FitManyWarning
from conftest import samplers_running

FIT = {"draws": 20, "tune": 0, "chains": 2}


def _data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(6), 5)
    x = rng.normal(size=30)
    y = 1 + 0.5 * x + rng.normal(size=6)[g] + rng.normal(size=30)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g.astype(str))})


@pytest.fixture
def models():
    return [bmm.Model("y ~ x + (1|g)", _data(i)) for i in range(4)]


def _first_draws(result) -> np.ndarray:
    return result.posterior["x"].values.ravel()[:5]


def test_results_come_back_in_order_with_their_diagnostics(models, stub_sampler):
    fits = bmm.fit_many(models, random_seed=1, progressbar=False, **FIT)
    assert len(fits) == 4 and not fits.failures and not fits.interrupted
    for i, idata in enumerate(fits):
        assert idata.attrs["fit_index"] == i
        assert idata.attrs["formula"] == "y ~ x + (1|g)"
        assert idata.attrs["divergences"] == fits.diagnostics.loc[i, "divergences"]
    assert list(fits.diagnostics.columns) == [
        "ok",
        "inference_method",
        "divergences",
        "max_rhat",
        "min_ess_bulk",
        "seconds",
        "error",
    ]
    assert fits.diagnostics["ok"].all()
    # Each fit is its own model's: the training rows of fit i are model i's.
    for model, idata in zip(models, fits, strict=True):
        np.testing.assert_array_equal(idata.observed_data["y"], model.design.response.values)


def test_one_seed_gives_each_fit_its_own_reproducible_stream(models, stub_sampler):
    first = bmm.fit_many(models, random_seed=7, progressbar=False, **FIT)
    again = bmm.fit_many(models, random_seed=7, progressbar=False, **FIT)
    other = bmm.fit_many(models, random_seed=8, progressbar=False, **FIT)
    for a, b, c in zip(first, again, other, strict=True):
        np.testing.assert_array_equal(_first_draws(a), _first_draws(b))
        assert not np.array_equal(_first_draws(a), _first_draws(c))
    # The fits' streams are independent: no two fits share their seed.
    seeds = bmm.many.spawn_seeds(7, 100)
    assert len(set(seeds)) == 100


def test_the_seeds_are_the_same_whatever_the_executor(models, stub_sampler):
    here = bmm.fit_many(models, random_seed=3, progressbar=False, **FIT)
    with ThreadPoolExecutor(max_workers=2) as pool:
        there = bmm.fit_many(models, pool, random_seed=3, progressbar=False, **FIT)
    for a, b in zip(here, there, strict=True):
        np.testing.assert_array_equal(_first_draws(a), _first_draws(b))


def test_a_failing_fit_is_reported_by_index_and_the_others_are_kept(models, stub_sampler):
    broken = bmm.Model(
        "y ~ x + (1|g)",
        _data(9),
        priors={"x": bmm.Prior("Normal", mu=0, sigma=1, dist=lambda name, **kw: 1 / 0)},
    )
    with pytest.warns(FitManyWarning, match=r"1 of 5 fits failed.*fit 2 failed: "):
        fits = bmm.fit_many(
            [*models[:2], broken, *models[2:]], random_seed=1, progressbar=False, **FIT
        )
    (failure,) = fits.failures
    assert failure.index == 2 and fits[2] is failure
    assert "division by zero" in failure.message
    assert "ZeroDivisionError" in failure.traceback
    assert not fits.diagnostics.loc[2, "ok"]
    assert "division by zero" in fits.diagnostics.loc[2, "error"]
    assert [i for i, r in enumerate(fits) if isinstance(r, bmm.FitFailure)] == [2]
    assert all(fits.diagnostics.drop(index=2)["ok"])


def test_an_interrupt_keeps_the_fits_finished_so_far(models, stub_sampler):
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return stub_sampler(*args, **kwargs)

    with (
        samplers_running(lambda name: interrupted),
        pytest.warns(FitManyWarning, match=r"and 2 did not run \(interrupted\)"),
    ):
        fits = bmm.fit_many(models, random_seed=1, progressbar=False, **FIT)
    assert fits.interrupted
    assert fits[0] is not None and fits[1] is not None
    assert fits[2] is None and fits[3] is None
    assert "interrupted" in repr(fits)


def test_summaries_or_files_instead_of_inference_data(models, stub_sampler, tmp_path):
    summaries = bmm.fit_many(models, keep="summary", random_seed=1, progressbar=False, **FIT)
    assert all(isinstance(s, pd.DataFrame) and "Intercept" in s.index for s in summaries)
    files = bmm.fit_many(models, keep=tmp_path, random_seed=1, progressbar=False, **FIT)
    assert [p.name for p in files] == [f"fit-{i:05d}.nc" for i in range(4)]
    loaded = bmm.load(files[3])
    np.testing.assert_allclose(loaded.design.response.values, models[3].design.response.values)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1, 2],), {}, r"models must be bayesmm.Model objects; got int at position\(s\) \[0, 1\]"),
        ((), {"keep": "everything"}, r"keep must be one of \['idata', 'summary'\] or an existing"),
        ((), {"executor": "processes"}, r"executor must be a concurrent.futures.Executor, a dask"),
        (
            (),
            {"random_seed": "abc"},
            r"random_seed must be a non-negative integer, a numpy.random.SeedSeq",
        ),
        ((), {"draws": 0}, r"draws must be an integer >= 1; got 0"),
        ((), {"vectorize": "always"}, r"vectorize must be True, False or 'auto'; got 'always'"),
    ],
)
def test_bad_arguments_are_named(models, args, kwargs, match):
    given = args if args else (models,)
    with pytest.raises(bmm.DataError, match=match):
        bmm.fit_many(*given, progressbar=False, **kwargs)


def test_the_seed_of_each_fit_is_fit_manys_to_give(models):
    with pytest.raises(bmm.DataError, match=r"fit_many gives each fit its seed from random_seed"):
        bmm.fit_many(models, progressbar=False, cache=None)


def test_settings_with_large_arrays_have_distinct_keys():
    """A kernel option that is a large array keys its program by its bytes (numpy's repr
    elides the middle of large arrays, which would make two different ones look equal)."""
    from bayesmm.backend.programs.nuts import NutsSettings

    first, second = np.eye(40), np.eye(40)
    second[20, 20] = 2.0
    assert repr(first) == repr(second)
    keys = {
        NutsSettings(draws=1, tune=1, chains=1, options=(("inverse_mass_matrix", m),)).key
        for m in (first, second)
    }
    assert len(keys) == 2


def test_a_failed_batch_falls_back_to_fits_one_by_one(models, stub_sampler, monkeypatch):
    from bayesmm.backend.batch import vectorised as batch

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("RESOURCE_EXHAUSTED: out of memory")

    monkeypatch.setattr(batch, "sample_many", out_of_memory)
    monkeypatch.setattr(bmm.many, "_vectorising_wins", lambda: True)
    monkeypatch.setattr(batch, "vector_key", lambda built, kwargs: ("numpyro", "same"))
    fits = bmm.fit_many(models, random_seed=1, progressbar=False, **FIT)
    assert not fits.failures and len(fits) == 4


def test_one_model_instead_of_a_list_is_named(models):
    with pytest.raises(
        bmm.DataError,
        match=r"models must be a list of bayesmm.Model objects; got Model\. Pass a list, e\.g\. "
        r"fit_many\(\[model\]\)",
    ):
        bmm.fit_many(models[0], progressbar=False)


def _never(name):
    def run(*args, **kwargs):
        raise AssertionError("no fit may start")

    return run


def test_an_unknown_inference_method_is_refused_once_before_any_fit(models):
    with (
        samplers_running(_never),
        pytest.raises(
            bmm.BackendError, match=r"inference_method must be one of \[.*\]; got 'nuts'\."
        ),
    ):
        bmm.fit_many(models, inference_method="nuts", progressbar=False)


def test_under_auto_an_option_no_route_takes_is_refused_with_a_did_you_mean(models):
    with (
        samplers_running(_never),
        pytest.raises(
            bmm.DataError,
            match=r"inference_method='auto' does not take the option\(s\) \['target_acept'\] on any "
            r"route it may pick here \[.*\]\. Did you mean 'target_accept'\?",
        ),
    ):
        bmm.fit_many(models, target_acept=0.9, progressbar=False)


def test_an_option_some_route_of_auto_takes_is_left_to_each_fit(models, stub_sampler):
    # maxdepth is nutpie's own name: "auto" may pick nutpie (a larger model), so it is not
    # refused up front; a fit whose route does not take it fails alone, saying which it picked.
    pytest.importorskip("numpyro")  # what "auto" picks for 30 rows
    with pytest.warns(FitManyWarning, match=r"inference_method='auto' \(which picked '\w+' here"):
        fits = bmm.fit_many(models[:1], random_seed=1, progressbar=False, maxdepth=8, **FIT)
    assert len(fits.failures) == 1


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_a_bad_seed_is_worded_as_model_fit_words_it(models, seed):
    with pytest.raises(
        bmm.DataError,
        match=r"random_seed must be a non-negative integer, a numpy.random.SeedSequence or None; "
        rf"got {type(seed).__name__} {seed!r}\.",
    ):
        bmm.fit_many(models, random_seed=seed, progressbar=False)
