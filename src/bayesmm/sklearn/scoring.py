"""Scores of predictive distributions, as scikit-learn scorers.

Each scorer is a callable ``scorer(estimator, X, y) -> float``, greater is better, so it
works as ``cross_val_score(..., scoring=scorer)`` and in ``GridSearchCV(scoring=...)``. The
estimator is a bayesmm estimator, or a ``Pipeline`` ending in one.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from sklearn.utils.validation import column_or_1d

from .._errors import DataError
from .._validation import check_probability

__all__ = [
    "crps",
    "log_predictive_density",
    "neg_crps",
    "interval_coverage",
    "make_coverage_scorer",
    "SCORERS",
]


def _final_step(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The bayesmm estimator at the end of ``estimator``, and X transformed to reach it."""
    from sklearn.pipeline import Pipeline

    while isinstance(estimator, Pipeline):
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not hasattr(estimator, "log_likelihood") or not hasattr(estimator, "sample_y"):
        raise TypeError(
            "This scorer needs a bayesmm.sklearn estimator (or a Pipeline ending in one), whose "
            f"predictions are distributions; got {type(estimator).__name__}."
        )
    return estimator, X


def log_predictive_density(estimator: Any, X: Any, y: Any) -> float:
    """Mean log pointwise predictive density of the targets: ``mean_i log p(y_i | data)``.

    ``p(y_i | data)`` is the likelihood of ``y_i`` averaged over the posterior draws. It is
    the log score, a proper scoring rule; its sum over held-out folds is what LOO estimates
    (Vehtari, Gelman & Gabry 2017). Densities for continuous families, probabilities for
    discrete ones.
    """
    from scipy.special import logsumexp

    final, X = _final_step(estimator, X)
    loglik = final.log_likelihood(X, y)
    lpd = logsumexp(loglik, axis=0) - np.log(loglik.shape[0])
    return float(np.mean(lpd))


def crps(y_true: Any, draws: Any) -> np.ndarray:
    """Continuous ranked probability score of each target against its predictive draws.

    ``CRPS = E|Y - y| - E|Y - Y'| / 2`` with ``Y, Y'`` independent predictive draws
    (Gneiting & Raftery 2007); lower is better, and it is in the response's units.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    draws : array-like of shape (n_samples, n_draws)
        Predictive draws of each target, as ``sample_y`` returns them.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    y = np.asarray(column_or_1d(y_true), dtype=float)
    samples = np.asarray(draws, dtype=float)
    if samples.ndim != 2 or samples.shape[0] != y.shape[0]:
        raise DataError(
            f"draws must have shape (n_samples, n_draws) with n_samples = {y.shape[0]}; got "
            f"{samples.shape}."
        )
    samples = np.sort(samples, axis=1)
    n = samples.shape[1]
    accuracy = np.abs(samples - y[:, None]).mean(axis=1)
    # E|Y - Y'| from the sorted draws: (2 / n^2) * sum_i (2i - n - 1) x_(i), i = 1..n.
    weights = 2 * np.arange(1, n + 1) - n - 1
    spread = 2.0 * (samples @ weights) / n**2
    return accuracy - spread / 2


def neg_crps(estimator: Any, X: Any, y: Any) -> float:
    """Minus the mean CRPS of the targets, from all posterior predictive draws (greater is
    better, as scikit-learn's ``neg_*`` scores)."""
    final, X = _final_step(estimator, X)
    total = final.fitted_.posterior_draws.n_samples
    draws = final.sample_y(X, n_samples=total)
    if hasattr(final, "classes_"):
        draws = (draws == final.classes_[1]).astype(float)
        y = (np.asarray(column_or_1d(y)) == final.classes_[1]).astype(float)
    return -float(np.mean(crps(y, draws)))


def interval_coverage(estimator: Any, X: Any, y: Any, prob: float = 0.9) -> float:
    """The share of targets inside their ``prob`` predictive interval.

    For regressors. Not a score to maximise: a calibrated model covers about ``prob`` of new
    targets, and a model with needlessly wide intervals covers more. Use it to check
    calibration, next to a proper score (``log_predictive_density`` or ``neg_crps``) for
    choosing models.
    """
    final, X = _final_step(estimator, X)
    if hasattr(final, "classes_"):
        raise TypeError(
            "interval_coverage needs a regressor: a 0/1 target's predictive interval is [0, 1] "
            "unless its probability is near 0 or 1, so its coverage says nothing. Check a "
            "classifier's calibration with predict_proba (see docs/sklearn.md)."
        )
    bounds = final.predict_interval(X, prob=prob)
    y = np.asarray(column_or_1d(y), dtype=float)
    return float(np.mean((bounds[:, 0] <= y) & (y <= bounds[:, 1])))


def make_coverage_scorer(prob: float = 0.9) -> Any:
    """:func:`interval_coverage` at another probability, as a scorer."""
    scorer = partial(interval_coverage, prob=check_probability("prob", prob))
    scorer.__name__ = f"interval_coverage_{prob:g}"  # type: ignore[attr-defined]
    return scorer


#: The scorers by name, for ``cross_validate(..., scoring=SCORERS)`` with a regressor
#: (``interval_coverage_90`` refuses a classifier).
SCORERS = {
    "log_predictive_density": log_predictive_density,
    "neg_crps": neg_crps,
    "interval_coverage_90": interval_coverage,
}
