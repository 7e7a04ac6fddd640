"""Workflows over many fits: K-fold cross-validation and leave-one-group-out, comparing
fitted models and averaging their predictions.

:func:`kfold` refits a model on the rows of all folds but one, for every fold, through
:func:`~bayesmm.fit_many`, and scores each held-out row by its log predictive density; the
result is an ``az.ELPDData`` that ``az.compare`` takes (``docs/workflow.md``).
:mod:`~bayesmm.workflow.folds` assigns the folds: rows at random, stratified rows, or whole
groups. :func:`reloo` replaces the PSIS-LOO values of the rows whose Pareto k is too large
by exact leave-one-out refits (:mod:`~bayesmm.workflow.exact_loo`). :func:`compare` ranks
fitted models by ELPD with ``az.compare``'s weights, after checking that they saw the same
data, and :func:`average_predictions` mixes their response draws by those weights
(:mod:`~bayesmm.workflow.averaging`). :func:`plot_ppc` draws posterior predictive checks
(:mod:`~bayesmm.workflow.ppc`; also ``FittedModel.plot_ppc``).

>>> import bayesmm as bmm
>>> model = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
>>> by_subject = bmm.kfold(model, groups="Subject", random_seed=1)  # doctest: +SKIP
"""

from __future__ import annotations

from .averaging import average_predictions, compare, model_weights
from .exact_loo import DEFAULT_K_THRESHOLD, RelooFits, reloo
from .folds import DEFAULT_K, assign_folds, group_folds, row_folds
from .kfold import NEW_GROUPS, KFoldFits, kfold
from .ppc import PPC_KINDS, PPC_STATS, plot_ppc

__all__ = [
    "kfold",
    "reloo",
    "compare",
    "average_predictions",
    "model_weights",
    "plot_ppc",
    "PPC_KINDS",
    "PPC_STATS",
    "KFoldFits",
    "RelooFits",
    "DEFAULT_K_THRESHOLD",
    "DEFAULT_K",
    "NEW_GROUPS",
    "assign_folds",
    "row_folds",
    "group_folds",
]
