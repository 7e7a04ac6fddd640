"""The PyMC model of a design, its priors and its family (the graph): ``assemble`` builds it
from the linear predictors (``predictors``, with correlated blocks in ``blocks``), the
response's likelihood (``likelihoods``, with ``cdfs`` for censoring and truncation and
``distributions`` for families PyMC lacks), and the data containers and random variables of
``variables``. Each special kind of term has its piece in ``graph.terms``. The exact
summaries of the rows are here too (``sufficient``, ``collapsed``), as models; which one a
fit samples is the samplers' choice.

The graph never imports the samplers or the compiled programs. The names below load their
module on first use.
"""

from __future__ import annotations

from ..exports import lazy_names

_WHERE = {
    "build_model": ".assemble",
    "build_mv_model": ".assemble",
    "BuiltModel": ".built",
    "display_order": ".built",
    "model_coords": ".built",
    "user_facing": ".built",
    "GraphContext": ".context",
    "Containers": ".variables",
    "OBS_DIM": ".variables",
    "PYTENSOR_OPS": ".variables",
    "CENTRED_MIN_ROWS_PER_LEVEL": ".predictors",
    "use_noncentered": ".predictors",
    "intercept_carrier": ".predictors",
    "prior_predictive": ".prior_draws",
    "prior_variables": ".prior_draws",
    "summary_model": ".sufficient",
    "stored_model": ".sufficient",
    "SHORTCUT_MIN_ROWS": ".sufficient",
    "likelihood_distribution": ".distributions",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
