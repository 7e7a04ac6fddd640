"""bmm.reloo: which rows are refitted, the totals recomputed from the exact values, the
sampler settings of the refits, errors and az.compare (stub sampler); under ``slow``, real
NUTS against a refit by hand for a planted outlier."""

import time
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

import bayesmm as bmm
from bayesmm.workflow import exact_loo
from bayesmm.workflow.exact_loo import select_refits
from conftest import prior_draws_everywhere

FIT = {"draws": 20, "tune": 0, "chains": 2, "progressbar": False}


def _data(seed: int = 0, n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": 1 + 0.5 * x + rng.normal(size=n)})


@pytest.fixture(scope="module")
def fitted():
    model = bmm.Model("y ~ x", _data())
    with prior_draws_everywhere():
        return model.fitted(model.fit(random_seed=1, **FIT))


def _density(fit, rows: pd.DataFrame) -> np.ndarray:
    pointwise = fit.log_likelihood(rows, rows["y"].to_numpy())
    return logsumexp(pointwise, axis=0) - np.log(pointwise.shape[0])


def _with_k(fitted, pareto_k) -> az.ELPDData:
    """``fitted.loo()`` with the Pareto k given, so that the rows refitted are known, and
    PSIS values of a plausible size (the stub's prior draws make the real ones millions
    below zero, too far for az.compare's weights)."""
    loo = fitted.loo()
    loo_i = _density(fitted, fitted.training_rows) - 0.5
    loo["loo_i"] = loo["loo_i"].copy(data=loo_i)
    loo["elpd_loo"] = float(loo_i.sum())
    loo["pareto_k"] = loo["pareto_k"].copy(data=np.asarray(pareto_k, dtype=float))
    return loo


# Choosing the rows (pure).


def test_rows_above_the_threshold_are_chosen_largest_k_first():
    k = np.array([0.1, 0.71, 2.0, 0.7, np.nan, 0.9])
    rows, left = select_refits(k, 0.7, None)
    # NaN (PSIS could not fit the tail) counts as too large; 0.7 itself is not above.
    np.testing.assert_array_equal(rows, [4, 2, 5, 1])
    assert left == 0
    rows, left = select_refits(k, 0.7, 2)
    np.testing.assert_array_equal(rows, [4, 2])
    assert left == 2


def test_no_row_above_the_threshold_returns_the_psis_result_and_fits_nothing(fitted, monkeypatch):
    def no_fits(*args, **kwargs):
        raise AssertionError("reloo fitted a model")

    monkeypatch.setattr(exact_loo, "fit_many", no_fits)
    loo = _with_k(fitted, np.full(12, 0.3))
    assert bmm.reloo(fitted, loo=loo) is loo


# Refits and the result.


@pytest.fixture(scope="module")
def capped(fitted):
    """Three rows above 0.7 and max_refits=2: rows 7 and 3 refitted, row 9 left."""
    k = np.full(12, 0.2)
    k[[3, 7, 9]] = [0.9, 1.5, 0.8]
    loo = _with_k(fitted, k)
    with prior_draws_everywhere(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bmm.reloo(fitted, max_refits=2, loo=loo, random_seed=3)
    return loo, result, caught


def test_max_refits_refits_the_largest_k_and_warns_of_the_rest(capped, fitted):
    loo, result, caught = capped
    messages = [str(w.message) for w in caught if issubclass(w.category, bmm.BayesmmWarning)]
    assert any(
        "reloo: 1 row(s) with Pareto k above 0.7 keep their PSIS values: max_refits=2" in m
        for m in messages
    )
    np.testing.assert_array_equal(result.refits.rows, [7, 3])
    rows = fitted.training_rows
    for position, fit in zip([7, 3], result.refits.fits, strict=True):
        pd.testing.assert_frame_equal(fit.training_rows, rows.drop(index=rows.index[position]))
    assert result.n_refits == 2 and len(result.refits.diagnostics) == 2
    assert result.refit_seconds > 0
    expected_k = loo.pareto_k.values.copy()
    expected_k[[7, 3]] = 0
    np.testing.assert_array_equal(result.pareto_k.values, expected_k)
    assert result.warning is True  # row 9 is still above good_k


def test_refitted_rows_get_their_exact_density_and_the_totals_are_recomputed(capped, fitted):
    loo, result, _ = capped
    rows = fitted.training_rows
    expected = loo.loo_i.values.copy()
    for position, fit in zip([7, 3], result.refits.fits, strict=True):
        expected[position] = _density(fit, rows.iloc[[position]])[0]
    np.testing.assert_allclose(result.loo_i.values, expected)
    assert result.elpd_loo == pytest.approx(expected.sum())
    assert result.se == pytest.approx(np.sqrt(12) * expected.std())
    lppd = _density(fitted, rows).sum()
    assert result.p_loo == pytest.approx(lppd - result.elpd_loo)
    # The PSIS result given is left as it was.
    assert loo.pareto_k.values[7] == 1.5 and loo.elpd_loo == pytest.approx(loo.loo_i.sum())
    assert {"n_refits", "refit_seconds", "pareto_k", "good_k"} <= set(result.index)


def test_az_compare_takes_the_result(capped):
    loo, result, _ = capped
    table = az.compare({"psis": loo, "reloo": result})
    assert set(table.index) == {"psis", "reloo"}
    assert table.loc["reloo", "elpd_loo"] == pytest.approx(result.elpd_loo)


def test_refits_take_the_original_sampler_settings_unless_given(fitted, stub_sampler):
    k = np.full(12, 0.2)
    k[5] = 1.1
    loo = _with_k(fitted, k)
    same = bmm.reloo(fitted, loo=loo, random_seed=1, progressbar=False)
    posterior = same.refits.fits[0].idata.posterior
    assert (posterior.sizes["chain"], posterior.sizes["draw"]) == (2, 20)
    method = fitted.idata.attrs["inference_method"]
    assert same.refits.fits[0].idata.attrs["inference_method"] == method
    fewer = bmm.reloo(fitted, loo=loo, random_seed=1, draws=7, chains=1, progressbar=False)
    assert fewer.refits.fits[0].idata.posterior.sizes["draw"] == 7


def test_without_loo_it_computes_psis_itself(fitted, stub_sampler):
    # Prior draws make every row's k large: the cap keeps this to one refit.
    psis = fitted.loo()
    with pytest.warns(bmm.BayesmmWarning, match=r"reloo: 11 row\(s\) with Pareto k above"):
        result = bmm.reloo(fitted, max_refits=1, random_seed=2, progressbar=False)
    assert result.refits.rows[0] == int(np.nanargmax(psis.pareto_k.values))


def test_fitted_loo_with_reloo_is_the_same_call(fitted, stub_sampler):
    """``fitted.loo(reloo=True, ...)`` (brms's spelling) gives what ``bmm.reloo`` gives."""
    options = {"max_refits": 1, "random_seed": 2, "progressbar": False}
    with pytest.warns(bmm.BayesmmWarning, match="reloo: 11 row"):
        by_method = fitted.loo(reloo=True, **options)
    with pytest.warns(bmm.BayesmmWarning, match="reloo: 11 row"):
        by_function = bmm.reloo(fitted, **options)
    np.testing.assert_array_equal(by_method["loo_i"].values, by_function["loo_i"].values)
    assert by_method.refits.rows == by_function.refits.rows


# Errors, each before any fit.


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k_threshold": 0}, r"k_threshold must be a number in \(0, inf\).*got 0\."),
        ({"k_threshold": -0.5}, r"k_threshold must be a number in \(0, inf\).*got -0.5"),
        ({"k_threshold": float("inf")}, r"k_threshold must be a number in \(0, inf\).*got inf"),
        ({"k_threshold": float("nan")}, r"k_threshold must be a number in \(0, inf\).*got nan"),
        ({"k_threshold": "0.7"}, r"k_threshold must be a number in \(0, inf\).*got '0.7'"),
        ({"k_threshold": True}, r"k_threshold must be a number in \(0, inf\).*got True"),
        ({"max_refits": 0}, r"max_refits must be a positive integer or None .*got 0\."),
        ({"max_refits": 2.5}, r"max_refits must be a positive integer or None .*got 2.5"),
        ({"max_refits": True}, r"max_refits must be a positive integer or None .*got True"),
        ({"keep": "summary"}, r"reloo keeps every fit's InferenceData"),
        ({"loo": "psis"}, r"loo must be fitted.loo\(\) or az.loo\(idata, pointwise=True\)"),
    ],
)
def test_bad_arguments_are_named_before_any_fit(fitted, kwargs, match, monkeypatch):
    monkeypatch.setattr(exact_loo, "fit_many", None)  # calling it would fail otherwise
    with pytest.raises(bmm.DataError, match=match):
        bmm.reloo(fitted, **kwargs)


def test_a_psis_result_of_other_rows_is_refused(fitted):
    other = fitted.loo().copy()
    other["pareto_k"] = other["pareto_k"][:5]
    with pytest.raises(bmm.DataError, match=r"each of the 12 training rows; got ELPDData with 5"):
        bmm.reloo(fitted, loo=other)


def test_something_other_than_a_fitted_model_is_refused():
    with pytest.raises(bmm.DataError, match=r"fitted must be a FittedModel .*got Model"):
        bmm.reloo(bmm.Model("y ~ x", _data()))


def test_a_fitted_model_saved_without_its_rows_is_refused(fitted, tmp_path):
    model = fitted.to_model(fitted.training_rows)
    bare = bmm.load(model.save(tmp_path / "bare.nc", fitted.idata, posterior_only=True))
    with pytest.raises(
        bmm.DataError,
        match=r"reloo refits the model without each row of high Pareto k, and needs the "
        r"training rows, which this FittedModel was saved without \(posterior_only=True\)\. "
        r"Pass fitted.to_model\(data\).fitted\(fitted.idata\)",
    ):
        bmm.reloo(bare)
    # What the message advises gives a fit that reloo takes.
    restored = bare.to_model(_data()).fitted(bare.idata)
    assert restored.training_rows.shape == (12, 2)


def test_a_row_holding_the_only_level_of_a_predictor_is_named(stub_sampler):
    data = _data().assign(c=["a"] * 6 + ["b"] * 5 + ["z"])
    model = bmm.Model("y ~ x + c", data)
    fit = model.fitted(model.fit(random_seed=1, **FIT))
    k = np.full(12, 0.2)
    k[11] = 1.2
    with pytest.raises(
        bmm.DataError, match=r"reloo: row 11 holds the only instance of the columns \['c: c\[z\]'"
    ):
        bmm.reloo(fit, loo=_with_k(fit, k))


# Real NUTS.

PRIORS = {
    "Intercept": bmm.Prior("Normal", mu=0, sigma=5),
    "x": bmm.Prior("Normal", mu=0, sigma=2),
    "sigma": bmm.Prior("HalfNormal", sigma=3),
}
NUTS = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False}


def _gaussian_loglik(posterior, x: float, y: float) -> np.ndarray:
    """The log-likelihood of one row ``(x, y)`` of ``y ~ x``, per (chain, draw), with scipy."""
    mean = posterior["Intercept"].values + posterior["x"].values * x
    return stats.norm.logpdf(y, mean, posterior["sigma"].values)


def _elpd_and_mcse(loglik: np.ndarray) -> tuple[float, float]:
    """``log(mean(exp(loglik)))`` over the draws and its Monte-Carlo standard error: with
    ``w = exp(loglik - max)``, ``mean(w)`` has MCSE ``sd(w) / sqrt(ESS(w))``, and by the
    delta method (d log m = dm / m) its log ``sd(w) / (mean(w) * sqrt(ESS(w)))``."""
    top = loglik.max()
    w = np.exp(loglik - top)
    ess = float(az.ess(w))
    return float(np.log(w.mean()) + top), float(w.std() / (w.mean() * np.sqrt(ess)))


@pytest.mark.slow
def test_an_outlier_of_high_k_is_scored_as_by_a_refit_without_it():
    start = time.perf_counter()
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"x": rng.normal(size=30)})
    data["y"] = 1 + 0.8 * data["x"] + rng.normal(scale=0.5, size=30)
    # Row 0, at an extreme x and six residual sds below the line, pulls the fit towards
    # itself: its k is above 1 (further off, the refit's density of it rests on a few
    # draws and its MCSE grows).
    data.loc[0, ["x", "y"]] = [3.0, 1 + 0.8 * 3.0 - 3.0]
    model = bmm.Model("y ~ x", data, priors=PRIORS)
    fitted = model.fitted(model.fit(random_seed=1, **NUTS))
    psis = fitted.loo()
    assert psis.pareto_k.values[0] > 0.7
    assert psis.pareto_k.values[1:].max() <= 0.7  # so the outlier is the only refit

    result = bmm.reloo(fitted, loo=psis, random_seed=2, tune=500, progressbar=False)
    assert result.n_refits == 1 and result.pareto_k.values[0] == 0
    refit = result.refits.fits[0].idata.posterior
    ours, ours_mcse = _elpd_and_mcse(_gaussian_loglik(refit, 3.0, data.loc[0, "y"]))
    # reloo scores the row from its refit's draws exactly as computed here with scipy.
    assert result.loo_i.values[0] == pytest.approx(ours, rel=1e-9)
    manual_fit = bmm.Model("y ~ x", data.drop(index=0), priors=PRIORS).fit(random_seed=3, **NUTS)
    manual, manual_mcse = _elpd_and_mcse(
        _gaussian_loglik(manual_fit.posterior, 3.0, data.loc[0, "y"])
    )
    # Two independent runs of the same refit: their difference has the MCSE of both; z = 4
    # makes a false failure about 1 in 16,000 under normal errors.
    bound = 4 * np.hypot(ours_mcse, manual_mcse)
    assert abs(ours - manual) < bound
    np.testing.assert_allclose(result.loo_i.values[1:], psis.loo_i.values[1:])
    assert result.elpd_loo == pytest.approx(result.loo_i.values.sum())
    print(
        f"k {psis.pareto_k.values[0]:.2f}; reloo {ours:.3f} (MCSE {ours_mcse:.3f}), manual "
        f"{manual:.3f} (MCSE {manual_mcse:.3f}), |diff| {abs(ours - manual):.3f} < bound "
        f"{bound:.3f}; PSIS {psis.loo_i.values[0]:.3f}; {time.perf_counter() - start:.1f} s"
    )
