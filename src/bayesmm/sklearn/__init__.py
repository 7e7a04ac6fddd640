"""scikit-learn estimators and uncertainty-aware scorers (needs ``pip install bayesmm[sklearn]``).

>>> from bayesmm.sklearn import BayesianRegressor, neg_crps
>>> from sklearn.model_selection import cross_val_score  # doctest: +SKIP
>>> cross_val_score(BayesianRegressor(random_seed=0), X, y, scoring=neg_crps)  # doctest: +SKIP

See ``docs/sklearn.md``. This is the only part of bayesmm that imports scikit-learn.
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised without scikit-learn installed
    raise ImportError(
        "bayesmm.sklearn needs scikit-learn, which is not installed. Install it with: "
        'pip install "bayesmm[sklearn]"'
    ) from err

from .base import clear_compiled_cache, compiled_cache
from .estimators import BayesianClassifier, BayesianRegressor
from .scoring import (
    SCORERS,
    crps,
    interval_coverage,
    log_predictive_density,
    make_coverage_scorer,
    neg_crps,
)

__all__ = [
    "BayesianRegressor",
    "BayesianClassifier",
    "log_predictive_density",
    "neg_crps",
    "interval_coverage",
    "make_coverage_scorer",
    "crps",
    "SCORERS",
    "compiled_cache",
    "clear_compiled_cache",
]
