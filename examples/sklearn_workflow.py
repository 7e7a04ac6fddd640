"""A scikit-learn workflow with Bayesian mixed models, next to Ridge and LogisticRegression.

Run with ``python examples/sklearn_workflow.py``; ``--draws 100`` makes it quick (the tests
run it so). It prints, on the same folds for both kinds of model:

1. Regression, lme4's sleepstudy (reaction time against days of sleep deprivation, 18
   subjects): hold-out RMSE and R², 5-fold cross-validation, a grid search over the prior
   scale, and a pipeline with an imputer and a scaler; plus what Ridge cannot give,
   predictive intervals and their coverage, CRPS and the log predictive density.
2. Classification, MASS's bacteria (presence of H. influenzae in 50 children over 11 weeks):
   accuracy, the confusion matrix, F1 and ROC AUC.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import bayesmm as bmm
from bayesmm.sklearn import (
    BayesianClassifier,
    BayesianRegressor,
    interval_coverage,
    log_predictive_density,
    neg_crps,
)

parser = argparse.ArgumentParser()
parser.add_argument("--draws", type=int, default=1000, help="posterior draws per chain")
args = parser.parse_args()
sampling = dict(draws=args.draws, tune=args.draws, chains=4, random_seed=1)


def rmse(y, prediction):
    return float(np.sqrt(mean_squared_error(y, prediction)))


# --- 1. Regression: sleepstudy ------------------------------------------------------------
sleep = bmm.load_data("sleepstudy")
X, y = sleep[["Days", "Subject"]], sleep["Reaction"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

bayes = BayesianRegressor("~ Days + (Days | Subject)", **sampling)
bayes.fit(X_train, y_train)
# Ridge sees the subjects as one-hot columns: a separate intercept for each, unpooled.
ridge = Pipeline(
    [
        (
            "encode",
            ColumnTransformer(
                [("subject", OneHotEncoder(handle_unknown="ignore"), ["Subject"])],
                remainder="passthrough",
            ),
        ),
        ("ridge", Ridge(alpha=1.0)),
    ]
)
ridge.fit(X_train, y_train)

print("sleepstudy, hold-out 25% (45 rows)")
for name, model in [("BayesianRegressor", bayes), ("Ridge", ridge)]:
    prediction = model.predict(X_test)
    print(
        f"  {name:18s} RMSE {rmse(y_test, prediction):6.2f}   R2 {r2_score(y_test, prediction):.3f}"
    )
bounds = bayes.predict_interval(X_test, prob=0.9)
print(f"  90% predictive intervals cover {interval_coverage(bayes, X_test, y_test):.0%} of targets")
print(f"  first rows' intervals: {np.round(bounds[:3], 1).tolist()}")
print(
    f"  CRPS {-neg_crps(bayes, X_test, y_test):.2f} ms;  mean log predictive density "
    f"{log_predictive_density(bayes, X_test, y_test):.3f}"
)

folds = KFold(5, shuffle=True, random_state=0)
print("sleepstudy, 5-fold cross-validated R2 (same folds)")
for name, model in [("BayesianRegressor", bayes), ("Ridge", ridge)]:
    scores = cross_val_score(model, X, y, cv=folds)
    print(f"  {name:18s} {scores.mean():.3f} +- {scores.std():.3f}")
crps_scores = cross_val_score(bayes, X, y, cv=folds, scoring=neg_crps)
print(f"  BayesianRegressor CRPS {-crps_scores.mean():.2f} ms")

# The prior scale of the slopes on the partial-correlation scale (automatic_priors="mle"),
# chosen by the log predictive density of held-out rows.
search = GridSearchCV(
    BayesianRegressor("~ Days + (Days | Subject)", automatic_priors="mle", **sampling),
    {"prior_scale": ["narrow", "medium", "wide"]},
    cv=folds,
    scoring=log_predictive_density,
)
search.fit(X, y)
print("grid search over prior_scale (mean log predictive density)")
for scale, score in zip(
    search.cv_results_["param_prior_scale"], search.cv_results_["mean_test_score"], strict=True
):
    print(f"  {scale:8s} {score:.4f}")
print(f"  best: {search.best_params_['prior_scale']}")

# Missing values and scaling: an imputer and a scaler for Days, the subject passed through;
# pandas output keeps the column names the formula uses.
holes = X.copy()
holes.loc[holes.sample(frac=0.05, random_state=1).index, "Days"] = np.nan
pipeline = Pipeline(
    [
        (
            "prepare",
            ColumnTransformer(
                [
                    (
                        "days",
                        Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]),
                        ["Days"],
                    )
                ],
                remainder="passthrough",
                verbose_feature_names_out=False,
            ).set_output(transform="pandas"),
        ),
        ("model", BayesianRegressor("~ Days + (Days | Subject)", **sampling)),
    ]
)
scores = cross_val_score(pipeline, holes, y, cv=folds)
print(
    f"pipeline (imputer, scaler, BayesianRegressor) with 5% of Days missing: R2 {scores.mean():.3f}"
)

# --- 2. Classification: bacteria ------------------------------------------------------------
bacteria = bmm.load_data("bacteria")
Xc, yc = bacteria[["trt", "week", "ID"]], bacteria["y"]
folds = StratifiedKFold(5, shuffle=True, random_state=0)
classifier = BayesianClassifier("~ trt + week + (1|ID)", **sampling)
logistic = Pipeline(
    [
        (
            "encode",
            ColumnTransformer(
                [("trt", OneHotEncoder(drop="first"), ["trt"])], remainder="passthrough"
            ),
        ),
        ("logistic", LogisticRegression()),
    ]
)
print("bacteria, 5-fold cross-validation (same folds)")
for name, model, columns in [
    ("BayesianClassifier", classifier, ["trt", "week", "ID"]),
    ("LogisticRegression", logistic, ["trt", "week"]),
]:
    predicted, probability = np.empty(len(yc), dtype=object), np.empty(len(yc))
    for train, test in folds.split(Xc, yc):
        model.fit(Xc.iloc[train][columns], yc.iloc[train])
        predicted[test] = model.predict(Xc.iloc[test][columns])
        probability[test] = model.predict_proba(Xc.iloc[test][columns])[:, 1]
    print(
        f"  {name:18s} accuracy {accuracy_score(yc, predicted):.3f}   "
        f"F1 {f1_score(yc, predicted, pos_label='y'):.3f}   "
        f"ROC AUC {roc_auc_score(yc == 'y', probability):.3f}"
    )
    print(
        f"  {'':18s} confusion matrix (rows: true n, y) {confusion_matrix(yc, predicted).tolist()}"
    )
