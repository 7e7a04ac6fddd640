"""What the model says: predictions, comparisons, slopes and hypotheses, as tables and plots.

Everything is numpy on the posterior draws, so it works on a fitted model in this process
and on a ``FittedModel`` loaded from a file without pymc. The names follow Bambi's
``interpret`` module; the arguments follow bayesmm's prediction API (``kind``, ``prob``,
``method``). Each function takes a ``FittedModel`` (``model.fitted(idata)`` or
``bmm.load(path)``), or a ``Model`` and the InferenceData of its fit.

>>> import bayesmm as bmm
>>> from bayesmm import interpret
>>> interpret.predictions(fitted, conditional="Days")  # doctest: +SKIP
>>> interpret.comparisons(fitted, contrast={"Days": 1}, average_by=True)  # doctest: +SKIP
>>> interpret.hypothesis(fitted, "Days > 5")  # doctest: +SKIP
"""

from __future__ import annotations

from .contrasts import COMPARISONS, SLOPES, comparisons, slopes
from .effects import SCALES, predictions
from .grid import data_grid
from .hypothesis import hypothesis
from .plots import plot_comparisons, plot_group_effects, plot_predictions, plot_slopes

__all__ = [
    "data_grid",
    "predictions",
    "comparisons",
    "slopes",
    "hypothesis",
    "plot_predictions",
    "plot_comparisons",
    "plot_slopes",
    "plot_group_effects",
    "SCALES",
    "COMPARISONS",
    "SLOPES",
]
