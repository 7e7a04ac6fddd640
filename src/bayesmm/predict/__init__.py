"""Prediction from posterior draws, with numpy only.

Nothing here compiles a graph: the linear predictor of any rows is ``X @ beta`` plus
``b[index] * x`` for each group term, computed on the stacked posterior draws
(:mod:`~bayesmm.predict.draws`, :mod:`~bayesmm.predict.linear`), then passed through the
family's inverse link (:mod:`~bayesmm.predict.params`). Posterior predictive draws come from
the family's numpy ``draw`` function. The summaries (:mod:`~bayesmm.predict.summaries`:
point, interval, density, quantiles) work on any ``(draws, rows)`` array, and
:class:`PredictOptions` is what every prediction takes besides its rows.

>>> import numpy as np
>>> from bayesmm.predict import interval
>>> interval(np.random.default_rng(0).normal(size=(4000, 1)), prob=0.9, method="eti").round(1)
array([[-1.6,  1.6]])
"""

from __future__ import annotations

from .draws import GroupDraws, PosteriorDraws, extract_draws
from .linear import linear_predictor, new_level_effects
from .loo import chunked_loo, relative_efficiency
from .options import KINDS, OPTION_NAMES, POLICIES, PredictOptions, check_kind, resolve_policy
from .params import (
    category_counts,
    family_params,
    linear_predictors,
    predictive_draws,
    response_draws,
    response_params,
)
from .summaries import (
    INTERVAL_METHODS,
    POINT_STATS,
    check_interval,
    density,
    interval,
    per_category,
    point_estimate,
    quantiles,
)

__all__ = [
    "KINDS",
    "POLICIES",
    "POINT_STATS",
    "INTERVAL_METHODS",
    "check_interval",
    "category_counts",
    "chunked_loo",
    "relative_efficiency",
    "OPTION_NAMES",
    "PredictOptions",
    "GroupDraws",
    "PosteriorDraws",
    "resolve_policy",
    "check_kind",
    "extract_draws",
    "linear_predictor",
    "new_level_effects",
    "response_params",
    "linear_predictors",
    "family_params",
    "predictive_draws",
    "response_draws",
    "point_estimate",
    "interval",
    "density",
    "quantiles",
    "per_category",
]
