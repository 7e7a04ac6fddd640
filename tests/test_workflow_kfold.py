"""bmm.kfold: fold assignment, errors, the ELPDData it returns and az.compare (stub sampler);
real NUTS against leave-one-out refits and az.loo, and leave-one-group-out on sleepstudy,
under ``slow``."""

from concurrent.futures import ThreadPoolExecutor

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

import bayesmm as bmm
from bayesmm.workflow import assign_folds, group_folds, row_folds
from bayesmm.workflow.folds import row_labels
from bayesmm.workflow.kfold import observed_responses, response_strata
from conftest import prior_draws_everywhere

FIT = {"draws": 20, "tune": 0, "chains": 2, "progressbar": False}


def _data(seed: int = 0, groups: int = 6, per_group: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per_group)
    x = rng.normal(size=g.size)
    y = 1 + 0.5 * x + rng.normal(size=groups)[g] + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical([f"g{i}" for i in g])})


@pytest.fixture(scope="module")
def grouped():
    return bmm.Model("y ~ x + (1|g)", _data())


@pytest.fixture(scope="module")
def three_folds(grouped):
    """One stubbed 3-fold run of the grouped model, shared by the tests that read it."""
    with prior_draws_everywhere():
        return bmm.kfold(grouped, k=3, random_seed=11, **FIT)


# Fold assignment (pure functions).


@pytest.mark.parametrize(("n", "k"), [(10, 2), (30, 7), (40, 40), (101, 10)])
def test_folds_of_rows_cover_every_row_and_differ_in_size_by_at_most_one(n, k):
    folds = row_folds(n, k, np.random.default_rng(n))
    sizes = np.bincount(folds, minlength=k)
    assert folds.shape == (n,) and set(folds.tolist()) == set(range(k))
    assert sizes.max() - sizes.min() <= 1


def test_stratified_folds_spread_each_stratum_evenly():
    strata = np.repeat([0, 1, 2], [37, 11, 52])
    folds = row_folds(strata.size, 4, np.random.default_rng(3), strata)
    table = pd.crosstab(strata, folds).to_numpy()
    assert (table.max(axis=1) - table.min(axis=1) <= 1).all()  # each stratum, over the folds
    sizes = table.sum(axis=0)
    assert sizes.max() - sizes.min() <= 1


def test_grouped_folds_keep_groups_whole_and_are_close_in_size():
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 12, size=25)
    codes = np.repeat(np.arange(25), sizes)
    folds = group_folds(codes, 5, np.random.default_rng(1))
    for g in range(25):
        assert len(set(folds[codes == g].tolist())) == 1
    rows = np.bincount(folds, minlength=5)
    assert (rows > 0).all() and rows.max() - rows.min() <= sizes.max()


def test_groups_alone_give_one_fold_per_group_in_sorted_order():
    labels = np.array(["b", "a", "c", "a", "b", "c", "c"])
    folds = assign_folds(labels.size, None, np.random.default_rng(0), groups=labels)
    np.testing.assert_array_equal(folds, [1, 0, 2, 0, 1, 2, 2])


@pytest.mark.parametrize("groups", [None, np.repeat(np.arange(12), 3)])
def test_folds_are_reproducible_with_a_seed(groups):
    def folds(seed):
        return assign_folds(36, 4, np.random.default_rng(seed), groups=groups)

    np.testing.assert_array_equal(folds(1), folds(1))
    assert not np.array_equal(folds(1), folds(2))


def test_ten_folds_of_rows_without_k_or_groups():
    folds = assign_folds(53, None, np.random.default_rng(0))
    assert sorted(set(folds.tolist())) == list(range(10))


def test_labels_are_a_column_or_one_per_row():
    rows = pd.DataFrame({"Subject": ["a", "b", "a"]})
    np.testing.assert_array_equal(row_labels(rows, "groups", "Subject"), ["a", "b", "a"])
    np.testing.assert_array_equal(row_labels(rows, "groups", [1, 2, 1]), [1, 2, 1])
    with pytest.raises(bmm.DataError, match=r"one label per training row \(3\); got an array"):
        row_labels(rows, "stratify", [1, 2])


def test_stratify_true_reads_categories_or_events_of_the_response():
    data = pd.DataFrame({"y": list("abcabcaab"), "x": np.arange(9.0)})
    categorical = bmm.Model("y ~ x", data, family="categorical")
    strata = response_strata(categorical.family, categorical.design)
    assert len(set(strata.tolist())) == 3
    # log_likelihood reads the categories themselves, not the design's codes.
    assert list(observed_responses(categorical.family, categorical.design)) == list(data["y"])
    events = bmm.Model("y ~ x", data.assign(y=(data["y"] == "a").astype(int)), family="bernoulli")
    np.testing.assert_array_equal(
        response_strata(events.family, events.design), (data["y"] == "a").astype(float)
    )


# Errors, each before any fit.


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"k": 31},
            r"k must be at most the number of rows \(30\), so that no fold is empty; got k=31",
        ),
        ({"k": 7, "groups": "g"}, r"k must be at most the number of groups \(6\).*got k=7"),
        ({"k": 1}, r"k must be a whole number of folds, at least 2; got 1"),
        ({"k": 2.5}, r"k must be a whole number of folds, at least 2; got 2.5"),
        (
            {"groups": "gg"},
            r"groups='gg': there is no column 'gg' among the model's training rows, whose "
            r"columns are \['y', 'x', 'g'\]\. Did you mean 'g'\?",
        ),
        ({"stratify": "xx"}, r"stratify='xx': there is no column 'xx'.*Did you mean 'x'\?"),
        ({"groups": "g", "stratify": "x"}, r"stratify and groups cannot be combined"),
        ({"stratify": True}, r"stratify=True stratifies by the response's categories.*'gaussian'"),
        ({"keep": "summary"}, r"kfold keeps every fit's InferenceData.*keep is not"),
        ({"sample_new_groups": "sometimes"}, r"sample_new_groups must be one of \["),
        ({"random_seed": -1}, r"random_seed must be a non-negative integer"),
        ({"fitted": "fit"}, r"fitted must be a FittedModel of all the rows"),
    ],
)
def test_bad_arguments_are_named_before_any_fit(grouped, kwargs, match):
    with pytest.raises(bmm.DataError, match=match):
        bmm.kfold(grouped, **kwargs, **FIT)


def test_a_model_of_another_kind_is_refused():
    with pytest.raises(bmm.DataError, match=r"model must be a bayesmm.Model or a FittedModel"):
        bmm.kfold("y ~ x", k=2)


def test_a_fitted_model_saved_without_its_rows_is_refused(grouped, stub_sampler, tmp_path):
    idata = grouped.fit(random_seed=1, **FIT)
    bare = bmm.load(grouped.save(tmp_path / "bare.nc", idata, posterior_only=True))
    with pytest.raises(
        bmm.DataError,
        match=r"kfold refits the model on its training rows, which this FittedModel was "
        r"saved without \(posterior_only=True\)\. Pass fitted.to_model\(data\)",
    ):
        bmm.kfold(bare, k=3, **FIT)


def test_a_fit_of_other_rows_is_refused_as_the_full_fit(grouped, stub_sampler):
    other = bmm.Model("y ~ x + (1|g)", _data(seed=1))
    fitted = other.fitted(other.fit(random_seed=1, **FIT))
    with pytest.raises(bmm.DataError, match=r"fitted must be a fit of the same rows as model"):
        bmm.kfold(grouped, k=3, fitted=fitted, **FIT)


def test_a_level_only_in_one_group_is_named_before_fitting():
    data = _data().assign(c=["a"] * 15 + ["b"] * 10 + ["z"] * 5)  # "z" only in group g5
    model = bmm.Model("y ~ x + c + (1|g)", data)
    with pytest.raises(
        bmm.DataError,
        match=r"kfold: the rows outside fold 5 lack the columns \['c: c\[z\]'\] of the model: "
        r"a level of a categorical predictor occurs only in that fold's rows",
    ):
        bmm.kfold(model, groups="g", **FIT)


# The result.


def test_the_result_is_laid_out_as_az_loo_with_the_folds(three_folds, grouped):
    result = three_folds
    assert list(result.index) == [
        "elpd_loo",
        "se",
        "p_loo",
        "n_samples",
        "n_data_points",
        "warning",
        "loo_i",
        "scale",
        "kind",
        "folds",
    ]
    assert isinstance(result, az.ELPDData)
    assert result.kind == "kfold" and result.scale == "log" and result.warning is False
    assert result.n_data_points == 30 and result.n_samples == 40  # 20 draws x 2 chains
    loo_i = result.loo_i
    assert loo_i.name == "loo_i" and loo_i.dims == ("__obs__",) and loo_i.shape == (30,)
    assert result.elpd_loo == pytest.approx(loo_i.values.sum())
    assert result.se == pytest.approx(np.sqrt(30) * loo_i.values.std())
    assert result.folds.dtype == np.int64 and sorted(np.bincount(result.folds)) == [10, 10, 10]
    # p_loo: the full fit's in-sample log predictive density minus elpd.
    rows, y = grouped.design.state.frame, grouped.design.response.values
    full = result.fits.full.log_likelihood(rows, y)
    lppd = (logsumexp(full, axis=0) - np.log(full.shape[0])).sum()
    assert result.p_loo == pytest.approx(lppd - result.elpd_loo)
    assert "elpd_loo" in str(result)


def test_each_row_is_scored_by_the_fit_that_left_it_out(three_folds, grouped):
    rows, y = grouped.design.state.frame, grouped.design.response.values
    fits = three_folds.fits
    assert len(fits.folds) == 3 and len(fits.diagnostics) == 4  # three folds, then the full fit
    for fold, fit in enumerate(fits.folds):
        held = three_folds.folds == fold
        pd.testing.assert_frame_equal(fit.training_rows, rows[~held])
        # Every group keeps rows in every fold's training rows (seed 11), so no held-out
        # row needs draws of a new group and the scores are deterministic.
        assert set(rows.loc[~held, "g"]) == set(rows["g"])
        pointwise = fit.log_likelihood(rows[held], y[held])
        expected = logsumexp(pointwise, axis=0) - np.log(pointwise.shape[0])
        np.testing.assert_allclose(three_folds.loo_i.values[held], expected)


def test_one_seed_gives_the_same_result_and_another_other_folds(grouped, three_folds):
    with prior_draws_everywhere():
        again = bmm.kfold(grouped, k=3, random_seed=11, **FIT)
        with ThreadPoolExecutor(max_workers=1) as pool:
            elsewhere = bmm.kfold(grouped, k=3, random_seed=11, executor=pool, **FIT)
        other = bmm.kfold(grouped, k=3, random_seed=12, **FIT)
    for result in (again, elsewhere):
        np.testing.assert_array_equal(result.folds, three_folds.folds)
        np.testing.assert_allclose(result.loo_i.values, three_folds.loo_i.values)
    assert not np.array_equal(other.folds, three_folds.folds)


def test_az_compare_takes_kfold_results(grouped, three_folds):
    with prior_draws_everywhere():
        by_group = bmm.kfold(
            grouped, groups="g", random_seed=1, fitted=three_folds.fits.full, **FIT
        )
    table = az.compare({"rows": three_folds, "groups": by_group})
    assert set(table.index) == {"rows", "groups"}
    assert table.loc[table.index[0], "elpd_diff"] == 0
    assert table["elpd_loo"].tolist() == sorted(
        [three_folds.elpd_loo, by_group.elpd_loo], reverse=True
    )
    # The full fit given is the one p_loo reads; only the six folds were fitted.
    assert by_group.fits.full is three_folds.fits.full and len(by_group.fits.diagnostics) == 6


def test_leave_one_group_out_draws_held_out_groups_unless_told_otherwise(grouped, stub_sampler):
    result = bmm.kfold(grouped, groups="g", random_seed=2, **FIT)
    levels = grouped.design.state.frame["g"].to_numpy()
    for fold in range(6):
        assert len(set(levels[result.folds == fold])) == 1
    assert np.isfinite(result.loo_i.values).all()
    with pytest.raises(
        bmm.DataError, match=r"kfold: scoring the held-out rows of fold 0 \(positions \[0, 1"
    ):
        bmm.kfold(grouped, groups="g", random_seed=2, sample_new_groups=False, **FIT)


def test_a_fitted_model_is_refitted_on_its_rows_and_is_the_full_fit(grouped, stub_sampler):
    fitted = grouped.fitted(grouped.fit(random_seed=3, **FIT))
    result = bmm.kfold(fitted, k=2, random_seed=3, **FIT)
    assert result.fits.full is fitted and len(result.fits.diagnostics) == 2
    assert result.fits.folds[0].spec.priors == fitted.spec.priors  # the same model in each fold


def test_stratify_true_balances_the_events_of_a_bernoulli_response(stub_sampler):
    data = _data().assign(y=lambda d: (d["y"] > d["y"].quantile(0.8)).astype(int))
    model = bmm.Model("y ~ x", data, family="bernoulli")
    result = bmm.kfold(model, k=3, stratify=True, random_seed=4, **FIT)
    events = pd.crosstab(data["y"], result.folds).to_numpy()
    assert (events.max(axis=1) - events.min(axis=1) <= 1).all()


# Real NUTS.


def _gaussian_loglik(posterior, x: float, y: float) -> np.ndarray:
    """The log-likelihood of one row ``(x, y)`` of ``y ~ x``, per (chain, draw), with scipy."""
    mean = posterior["Intercept"].values + posterior["x"].values * x
    return stats.norm.logpdf(y, mean, posterior["sigma"].values)


def _elpd_and_mcse(loglik: np.ndarray) -> tuple[float, float]:
    """``log(mean(exp(loglik)))`` over the draws and its Monte-Carlo standard error.

    With ``w = exp(loglik - max)``, ``mean(w)`` has a Monte-Carlo sd of
    ``sd(w) / sqrt(ESS(w))``; by the delta method (d log m = dm / m), its log has
    ``sd(w) / (mean(w) * sqrt(ESS(w)))``, with the ESS of ``w`` over the chains.
    """
    top = loglik.max()
    w = np.exp(loglik - top)
    ess = float(az.ess(w))
    return float(np.log(w.mean()) + top), float(w.std() / (w.mean() * np.sqrt(ess)))


PRIORS = {
    "Intercept": bmm.Prior("Normal", mu=0, sigma=5),
    "x": bmm.Prior("Normal", mu=0, sigma=2),
    "sigma": bmm.Prior("HalfNormal", sigma=3),
}
NUTS = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False}


@pytest.mark.slow
def test_k_equal_to_the_rows_is_leave_one_out_by_refits_and_agrees_with_az_loo():
    rng = np.random.default_rng(2024)
    data = pd.DataFrame({"x": rng.normal(size=40)})
    data["y"] = 1.0 + 0.8 * data["x"] + rng.normal(scale=1.2, size=40)
    model = bmm.Model("y ~ x", data, priors=PRIORS)
    result = bmm.kfold(model, k=40, random_seed=7, **NUTS)
    assert sorted(result.folds.tolist()) == list(range(40))

    ours, manual = [], []
    for i in range(40):
        fit = result.fits.folds[result.folds[i]]
        ours.append(_elpd_and_mcse(_gaussian_loglik(fit.idata.posterior, *data.loc[i, ["x", "y"]])))
        refit = bmm.Model("y ~ x", data.drop(index=i), priors=PRIORS)
        posterior = refit.fit(random_seed=100 + i, **NUTS).posterior
        manual.append(_elpd_and_mcse(_gaussian_loglik(posterior, *data.loc[i, ["x", "y"]])))
    (ours_elpd, ours_mcse), (manual_elpd, manual_mcse) = np.array(ours).T, np.array(manual).T
    # kfold scores each row from its fold's draws exactly as computed here with scipy.
    np.testing.assert_allclose(result.loo_i.values, ours_elpd, rtol=1e-9)
    # Two independent runs of the same refit: their difference has the MCSE of both.
    mcse = np.hypot(ours_mcse, manual_mcse)
    assert (np.abs(ours_elpd - manual_elpd) < 4 * mcse).all()
    assert abs(ours_elpd.sum() - manual_elpd.sum()) < 3 * np.sqrt((mcse**2).sum())
    loo = az.loo(result.fits.full.idata)
    assert abs(result.elpd_loo - loo.elpd_loo) < loo.se
    assert 1 < result.p_loo < 6  # three parameters
    print(
        f"kfold {result.elpd_loo:.3f}, manual {manual_elpd.sum():.3f} "
        f"(MCSE {np.sqrt((mcse**2).sum()):.3f}), az.loo {loo.elpd_loo:.3f} (se {loo.se:.3f})"
    )


@pytest.mark.slow
def test_leaving_out_whole_subjects_predicts_worse_than_leaving_out_days():
    sleep = bmm.load_data("sleepstudy")
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleep)
    fit = {"draws": 400, "tune": 400, "chains": 2, "progressbar": False}
    by_subject = bmm.kfold(model, groups="Subject", random_seed=3, **fit)
    assert len(by_subject.fits.folds) == 18
    subjects = model.design.state.frame["Subject"].to_numpy()
    for fold in range(18):
        assert len(set(subjects[by_subject.folds == fold])) == 1
    by_rows = bmm.kfold(model, k=10, random_seed=3, fitted=by_subject.fits.full, **fit)
    # A held-out subject's intercept and slope come from the population distribution
    # alone, while a held-out day of a known subject borrows that subject's other days:
    # new subjects are much harder to predict than new days of known ones.
    assert by_subject.elpd_loo < by_rows.elpd_loo
    print(f"leave-one-subject-out {by_subject.elpd_loo:.2f}, 10-fold {by_rows.elpd_loo:.2f}")
