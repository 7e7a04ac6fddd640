"""The scikit-learn estimators and scorers (bayesmm.sklearn).

Tests of data handling, errors and scorer arithmetic use the stub sampler; scikit-learn's own
estimator checks and the statistical checks (coverage, calibration) run NUTS and are slow.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import bayesmm as bmm
from bayesmm.sklearn import (
    SCORERS,
    BayesianClassifier,
    BayesianRegressor,
    crps,
    interval_coverage,
    log_predictive_density,
    make_coverage_scorer,
    neg_crps,
)

FAST = dict(draws=100, tune=100, chains=2, random_seed=0)


def _grouped(n=120, seed=0, n_groups=8):
    """y = 1 + 2 x1 - x2 + b[g] + N(0, 1), b ~ N(0, 1.5): a DataFrame X and y."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "g": rng.choice([f"g{i}" for i in range(n_groups)], size=n),
        }
    )
    effects = dict(zip(sorted(X["g"].unique()), rng.normal(0, 1.5, n_groups), strict=True))
    y = 1 + 2 * X["x1"] - X["x2"] + X["g"].map(effects) + rng.normal(size=n)
    return X, y.to_numpy()


# --- scikit-learn's estimator checks ---------------------------------------------------------


@pytest.mark.slow
@parametrize_with_checks([BayesianRegressor(**FAST), BayesianClassifier(**FAST)])
def test_sklearn_estimator_checks(estimator, check):
    # check_array_api_input is skipped by scikit-learn itself unless SCIPY_ARRAY_API is set:
    # the estimators take numpy and pandas input only.
    check(estimator)


# --- building the model from X and y ---------------------------------------------------------


def test_default_formula_is_additive_with_group_intercepts(stub_sampler):
    X, y = _grouped()
    reg = BayesianRegressor(group_columns="g", **FAST).fit(X, y)
    assert reg.formula_ == "y ~ x1 + x2 + (1|g)"
    assert list(reg.feature_names_in_) == ["x1", "x2", "g"]
    assert reg.n_features_in_ == 3
    arrays = BayesianRegressor(group_columns=[2], **FAST).fit(X.to_numpy(), y)
    assert arrays.formula_ == "y ~ x0 + x1 + (1|x2)"
    assert not hasattr(arrays, "feature_names_in_")
    assert BayesianRegressor(**FAST).fit(X[["x1"]].to_numpy(), y).formula_ == "y ~ x0"


def test_formula_names_the_columns_and_may_name_the_response(stub_sampler):
    X, y = _grouped()
    reg = BayesianRegressor("~ x1 + (x1 | g)", **FAST).fit(X, y)
    assert reg.formula_ == "y ~ x1 + (x1 | g)"
    named = BayesianRegressor("score ~ x1 + x2 + (1|g)", **FAST).fit(X, y)
    assert named.formula_ == "score ~ x1 + x2 + (1|g)"
    assert named.model_.design.response.name == "score"
    odd = X.rename(columns={"x1": "first x"})
    assert BayesianRegressor(**FAST).fit(odd[["first x", "x2"]], y).formula_ == (
        "y ~ `first x` + x2"
    )


def test_fitted_attributes_and_prediction_shapes(stub_sampler):
    X, y = _grouped()
    reg = BayesianRegressor("~ x1 + x2 + (1|g)", **FAST).fit(X, y)
    assert reg.idata_.posterior.sizes == {"chain": 2, "draw": 100, "g__factor_dim": 8}
    assert reg.predict(X).shape == (120,)
    bounds = reg.predict_interval(X, prob=0.8)
    assert bounds.shape == (120, 2) and np.all(bounds[:, 0] <= bounds[:, 1])
    assert reg.sample_y(X[:5], n_samples=7).shape == (5, 7)
    assert reg.log_likelihood(X[:5], y[:5]).shape == (200, 5)
    # New groups get effects from the population distribution by default.
    new = X[:3].assign(g="unseen")
    assert np.all(np.isfinite(reg.predict(new)))
    strict = clone(reg).set_params(sample_new_groups=False).fit(X, y)
    with pytest.raises(bmm.DataError, match="unseen"):
        strict.predict(new)


def test_median_prediction_is_the_median_of_predictive_draws(stub_sampler):
    X, y = _grouped()
    reg = BayesianRegressor("~ x1", predict_stat="median", **FAST).fit(X, y)
    draws = reg.fitted_.draws(X, "response", random_seed=0, sample_new_groups="gaussian")
    np.testing.assert_array_equal(reg.predict(X), np.median(draws, axis=0))


def test_classifier_models_the_second_label(stub_sampler):
    X, y = _grouped()
    labels = np.where(y > np.median(y), "high", "low")
    clf = BayesianClassifier("~ x1 + x2 + (1|g)", **FAST).fit(X, labels)
    assert list(clf.classes_) == ["high", "low"]
    assert clf.model_.design.response.values.tolist() == (labels == "low").astype(int).tolist()
    proba = clf.predict_proba(X)
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), np.where(proba[:, 1] > 0.5, "low", "high"))
    assert set(np.unique(clf.sample_y(X[:4], n_samples=10))) <= {"high", "low"}
    with pytest.raises(bmm.DataError, match=r"y has labels \['medium'\] not among the classes"):
        clf.log_likelihood(X[:2], ["high", "medium"])


def test_numeric_group_labels_match_whatever_their_dtype(stub_sampler):
    X, y = _grouped()
    codes = X["g"].str[1:].astype(int).to_numpy()
    numbers = np.column_stack([X["x1"], codes])
    reg = BayesianRegressor(group_columns=1, sample_new_groups=False, **FAST).fit(numbers, y)
    # Fitted on ints, predicting with floats: the same groups, none of them new.
    floats = numbers.astype(float)
    np.testing.assert_array_equal(reg.predict(floats), reg.predict(numbers))


def test_a_failed_refit_leaves_no_fitted_state(stub_sampler):
    X, y = _grouped()
    clf = BayesianClassifier("~ x1", **FAST).fit(X, y > 0)
    with pytest.raises(ValueError, match="Only binary classification"):
        clf.fit(X, np.arange(len(y)) % 3)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert not hasattr(clf, "classes_")


def test_clone_get_and_set_params():
    reg = BayesianRegressor("~ x1", prior_scale="wide", automatic_priors="mle", draws=50)
    params = reg.get_params()
    assert params["prior_scale"] == "wide" and params["draws"] == 50
    copy = clone(reg).set_params(prior_scale=0.3)
    assert copy.prior_scale == 0.3 and reg.prior_scale == "wide"
    assert not hasattr(copy, "model_")


def test_fitted_estimator_pickles_and_predicts_the_same(stub_sampler):
    X, y = _grouped()
    reg = BayesianRegressor("~ np.log1p(x1 ** 2) + x2 + (1|g)", **FAST).fit(X, y)
    copy = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(copy.predict(X), reg.predict(X))
    np.testing.assert_array_equal(copy.predict_interval(X), reg.predict_interval(X))


# --- errors --------------------------------------------------------------------------------


def test_errors_name_the_argument_and_what_was_expected(stub_sampler):
    X, y = _grouped()
    with pytest.raises(bmm.FormulaError, match=r"left-hand side .* must name the response"):
        BayesianRegressor("log(y) ~ x1", **FAST).fit(X, y)
    with pytest.raises(bmm.FormulaError, match=r"group_columns builds the default formula"):
        BayesianRegressor("~ x1", group_columns="g", **FAST).fit(X, y)
    with pytest.raises(bmm.DataError, match=r"group_columns names 'h', which is not a column"):
        BayesianRegressor(group_columns="h", **FAST).fit(X, y)
    with pytest.raises(bmm.DataError, match=r"group_columns has the position 5, but X has 3"):
        BayesianRegressor(group_columns=5, **FAST).fit(X.to_numpy(), y)
    with pytest.raises(bmm.DataError, match=r"X has a column named 'x1', the name of the resp"):
        BayesianRegressor("x1 ~ x2", **FAST).fit(X, y)
    with pytest.raises(bmm.PriorError, match=r"prior_scale='wide' .* needs automatic_priors='mle'"):
        BayesianRegressor(prior_scale="wide", **FAST).fit(X[["x1"]], y)
    with pytest.raises(bmm.FamilyError, match=r"Use BayesianClassifier for a binary response"):
        BayesianRegressor(family="bernoulli", **FAST).fit(X[["x1"]], y > 0)
    with pytest.raises(bmm.FamilyError, match=r"whose response is a pair p\(successes, trials\)"):
        BayesianRegressor(family="binomial", **FAST).fit(X[["x1"]], y)
    with pytest.raises(
        bmm.FamilyError, match=r"link must be one of \['cloglog', 'logit', 'probit'\]"
    ):
        BayesianClassifier(link="identity", **FAST).fit(X[["x1"]], y > 0)
    with pytest.raises(bmm.PriorError, match=r"priors must be a dict .* got Prior"):
        BayesianRegressor(priors=bmm.Prior("Normal", mu=0, sigma=1), **FAST).fit(X[["x1"]], y)
    with pytest.raises(bmm.FamilyError, match=r"family must be one of .* got 'gausian'"):
        BayesianRegressor(family="gausian", **FAST).fit(X[["x1"]], y)
    with pytest.raises(ValueError, match=r"Only binary classification is supported"):
        BayesianClassifier(**FAST).fit(X[["x1"]], np.arange(120) % 3)
    with pytest.raises(ValueError, match=r"Unknown label type"):
        BayesianClassifier(**FAST).fit(X[["x1"]], y)
    with pytest.raises(bmm.DataError, match=r"The response 'y' must be non-negative integer"):
        BayesianRegressor(family="poisson", **FAST).fit(X[["x1"]], y)
    with pytest.raises(NotFittedError):
        BayesianRegressor().predict_interval(X)
    reg = BayesianRegressor(**FAST).fit(X[["x1"]], y)
    with pytest.raises(bmm.DataError, match=r"n_samples must be between 1 and the 200 posterior"):
        reg.sample_y(X[["x1"]], n_samples=201)
    with pytest.raises(bmm.DataError, match=r"method must be one of \['eti', 'hdi'\]"):
        reg.predict_interval(X[["x1"]], method="quantile")


def test_missing_values_are_named_unless_an_imputer_fills_them(stub_sampler):
    X, y = _grouped()
    holes = X[["x1", "x2"]].copy()
    holes.iloc[[3, 7], 0] = np.nan
    with pytest.raises(bmm.DataError, match=r"X has missing values: \{'x1': 2\} .*SimpleImputer"):
        BayesianRegressor(**FAST).fit(holes, y)
    with pytest.raises(ValueError, match=r"Input X contains NaN"):
        BayesianRegressor(**FAST).fit(holes.to_numpy(), y)
    labels = X.to_numpy()
    labels[5, 2] = None
    with pytest.raises(
        ValueError, match=r"Input X contains NaN in the group column 'x2' \(1 rows\)"
    ):
        BayesianRegressor(group_columns=2, **FAST).fit(labels, y)
    pipe = make_pipeline(SimpleImputer(), StandardScaler(), BayesianRegressor(**FAST))
    assert pipe.fit(holes.to_numpy(), y).predict(holes.to_numpy()).shape == (120,)


# --- scorers -------------------------------------------------------------------------------


def test_crps_of_a_small_sample_by_hand():
    # Draws {0, 1} and y = 0: E|X - y| = 1/2, E|X - X'| = 1/2, so CRPS = 1/2 - 1/4.
    np.testing.assert_allclose(crps([0.0, 1.0], [[0.0, 1.0], [0.0, 1.0]]), [0.25, 0.25])
    with pytest.raises(bmm.DataError, match=r"draws must have shape \(n_samples, n_draws\)"):
        crps([0.0, 1.0], [[0.0, 1.0]])
    with pytest.raises(bmm.DataError, match=r"draws must have shape .* got \(2,\)"):
        crps([0.0, 1.0], [0.0, 1.0])


def test_crps_of_normal_draws_matches_the_closed_form():
    # CRPS(N(0, 1), y) = y (2 Phi(y) - 1) + 2 phi(y) - 1 / sqrt(pi) (Gneiting & Raftery 2007).
    y = np.array([-1.5, 0.0, 0.3, 2.0])
    draws = np.random.default_rng(1).standard_normal((4, 100_000))
    exact = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / np.sqrt(np.pi)
    # Monte-Carlo sd of the estimate is below sd(|X - y|) / sqrt(n) < 2.5 / 316 = 0.008.
    np.testing.assert_allclose(crps(y, draws), exact, atol=4 * 0.008)


def test_scorers_agree_with_their_definitions(stub_sampler):
    X, y = _grouped()
    reg = BayesianRegressor("~ x1 + x2 + (1|g)", **FAST).fit(X, y)
    loglik = reg.log_likelihood(X, y)
    lpd = np.log(np.mean(np.exp(loglik), axis=0))
    assert log_predictive_density(reg, X, y) == pytest.approx(lpd.mean(), rel=1e-12)
    draws = reg.sample_y(X, n_samples=200)
    assert neg_crps(reg, X, y) == pytest.approx(-crps(y, draws).mean(), rel=1e-12)
    bounds = reg.predict_interval(X, prob=0.5)
    inside = np.mean((bounds[:, 0] <= y) & (y <= bounds[:, 1]))
    assert make_coverage_scorer(0.5)(reg, X, y) == inside
    assert SCORERS["interval_coverage_90"] is interval_coverage
    with pytest.raises(bmm.DataError, match=r"prob must be a probability strictly between"):
        make_coverage_scorer(90)


def test_scorers_reach_through_a_pipeline_and_refuse_other_estimators(stub_sampler):
    X, y = _grouped()
    numbers = X[["x1", "x2"]].to_numpy()
    pipe = make_pipeline(StandardScaler(), BayesianRegressor(**FAST)).fit(numbers, y)
    scaled = pipe[:-1].transform(numbers)
    assert neg_crps(pipe, numbers, y) == neg_crps(pipe[-1], scaled, y)
    clf = BayesianClassifier(**FAST).fit(numbers, y > 0)
    with pytest.raises(TypeError, match=r"interval_coverage needs a regressor"):
        interval_coverage(clf, numbers, y > 0)
    assert np.isfinite(neg_crps(clf, numbers, y > 0))
    assert np.isfinite(log_predictive_density(clf, numbers, y > 0))
    with pytest.raises(TypeError, match=r"needs a bayesmm.sklearn estimator .* got LinearRegr"):
        log_predictive_density(LinearRegression().fit(numbers, y), numbers, y)


# --- scikit-learn workflows ----------------------------------------------------------------


def test_pipeline_cross_validation_and_grid_search_give_finite_scores(stub_sampler):
    X, y = _grouped()
    numbers = X[["x1", "x2"]].to_numpy()
    pipe = Pipeline(
        [
            ("impute", SimpleImputer()),
            ("scale", StandardScaler()),
            ("model", BayesianRegressor(**FAST)),
        ]
    )
    scores = cross_val_score(pipe, numbers, y, cv=KFold(5, shuffle=True, random_state=0))
    assert scores.shape == (5,) and np.all(np.isfinite(scores))
    for scorer in SCORERS.values():
        scores = cross_val_score(pipe, numbers, y, cv=KFold(3), scoring=scorer)
        assert np.all(np.isfinite(scores))
    search = GridSearchCV(
        BayesianRegressor("~ x1 + x2 + (1|g)", automatic_priors="mle", **FAST),
        {"prior_scale": ["narrow", "wide"]},
        cv=KFold(3),
        scoring=log_predictive_density,
    )
    search.fit(X, y)
    assert search.best_params_["prior_scale"] in ("narrow", "wide")
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


# --- statistical checks --------------------------------------------------------------------


def _binomial_band(prob, n, k=3.0):
    """prob +- k binomial standard errors of a proportion of n."""
    se = np.sqrt(prob * (1 - prob) / n)
    return prob - k * se, prob + k * se


@pytest.mark.slow
def test_predictive_intervals_cover_held_out_targets_at_their_level():
    X, y = _grouped(n=1300, seed=11, n_groups=12)
    train, test = slice(0, 300), slice(300, None)
    reg = BayesianRegressor("~ x1 + x2 + (1|g)", draws=500, tune=500, random_seed=2)
    reg.fit(X[train], y[train])
    bounds = reg.predict_interval(X[test], prob=0.9)
    inside = (bounds[:, 0] <= y[test]) & (y[test] <= bounds[:, 1])
    low, high = _binomial_band(0.9, len(inside))
    assert low <= inside.mean() <= high, (inside.mean(), low, high)
    # The scorer gives the same number.
    assert interval_coverage(reg, X[test], y[test]) == inside.mean()


@pytest.mark.slow
def test_predicted_probabilities_are_calibrated():
    # logit P(y = 1) = -0.5 + 1.5 x1 - x2 + b[g], b ~ N(0, 1); 1000 rows to fit, 5000 to check.
    rng = np.random.default_rng(5)
    n, n_train = 6000, 1000
    X = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "g": rng.choice([f"g{i}" for i in range(10)], size=n),
        }
    )
    effects = dict(zip(sorted(X["g"].unique()), rng.normal(0, 1, 10), strict=True))
    eta = -0.5 + 1.5 * X["x1"] - X["x2"] + X["g"].map(effects)
    y = rng.random(n) < 1 / (1 + np.exp(-eta.to_numpy()))
    clf = BayesianClassifier("~ x1 + x2 + (1|g)", draws=500, tune=500, random_seed=3)
    clf.fit(X[:n_train], y[:n_train])
    p = clf.predict_proba(X[n_train:])[:, 1]
    observed = y[n_train:]
    # Reliability: in each decile of predicted probability, the share of events is within
    # 3 binomial standard errors of the mean predicted probability.
    edges = np.quantile(p, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    for b in range(10):
        members = bins == b
        expected = p[members].mean()
        low, high = _binomial_band(expected, members.sum())
        assert low <= observed[members].mean() <= high, (b, observed[members].mean(), expected)
    assert clf.score(X[n_train:], observed) > 0.7


@pytest.mark.slow
def test_the_workflow_example_runs(tmp_path):
    import re
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "sklearn_workflow.py"
    out = subprocess.run(
        [sys.executable, str(example), "--draws", "100"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for line in [
        "5-fold cross-validated R2",
        "grid search over prior_scale",
        "pipeline",
        "ROC AUC",
    ]:
        assert line in text
    r2 = [float(v) for v in re.findall(r"BayesianRegressor\s+(-?\d\.\d+) \+-", text)]
    assert len(r2) == 1 and 0.5 < r2[0] < 1  # sleepstudy's random-row folds: about 0.7
    auc = [float(v) for v in re.findall(r"ROC AUC (\d\.\d+)", text)]
    assert len(auc) == 2 and all(0.5 < a <= 1 for a in auc)


def test_missing_values_in_columns_the_formula_does_not_use_are_ignored(stub_sampler):
    X, y = _grouped()
    X = X.assign(notes=np.where(np.arange(len(X)) % 2, "ok", None))
    reg = BayesianRegressor("~ x1 + (1|g)", **FAST).fit(X, y)
    assert reg.predict(X).shape == (120,)
    holes = X.copy()
    holes.loc[4, "x1"] = np.nan
    with pytest.raises(bmm.DataError, match=r"missing values in \{'x1': 1\}"):
        reg.predict(holes)


def test_smooths_gps_and_monotonic_effects_work_in_the_estimators(stub_sampler):
    """The terms that are functions of one row's columns fit and predict as formula terms;
    a fold's rows near the ends of a smooth's range are within its 10% continuation."""
    X, y = _grouped()
    X = X.assign(k=np.arange(len(X)) % 4)
    reg = BayesianRegressor("~ s(x1, k=5) + hsgp(x2, m=6, c=2) + mo(k)", **FAST)
    with pytest.warns(bmm.HSGPWarning):  # prior draws stand in for the posterior here
        reg.fit(X.iloc[:100], y[:100])
    assert reg.predict(X.iloc[100:]).shape == (20,)
