"""``predictions``, and what ``comparisons`` and ``slopes`` share: the quantity computed on
each row, the rows it is computed on, averages, and the tidy table of a summary.

Everything is numpy on the stacked posterior draws (``FittedModel.parameters``,
``linear_predictors`` and ``draws``): no graph is compiled, so these work on a model loaded
from a file in a process without pymc. Each function computes, for every posterior draw, the
quantity on some rows (a grid, or the observed rows), then summarises it over draws (the
posterior mean, and a ``prob`` interval), averaged within ``average_by`` groups if asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import check_choice, check_flag
from ..fitted import FittedModel
from ..predict import KINDS, PredictOptions, check_interval, interval
from .grid import data_grid, fitted_and

__all__ = [
    "rows_to_use",
    "averaged",
    "long_table",
    "summary",
    "check_summary",
    "group_note",
    "prediction_options",
    "SCALES",
    "Effect",
    "predictions",
    "quantity",
]

#: The scales of a prediction: the response's, or the linear predictor's.
SCALES = ("response", "link")


@dataclass(frozen=True)
class Effect:
    """What to compute on each row: the family's ``target`` parameter (``"mean"``: the one
    the main formula models), or predictive draws (``kind="response"``), on ``scale``."""

    target: str = "mean"
    kind: str = "response_params"
    scale: str = "response"

    def check(self, fitted: FittedModel) -> Effect:
        check_choice("kind", self.kind, KINDS)
        check_choice("scale", self.scale, SCALES)
        check_choice(
            "target", self.target, ("mean", fitted.family.parent, *fitted.family.aux_params)
        )
        if self.kind == "response" and (self.scale == "link" or self.target != "mean"):
            raise DataError(
                "kind='response' gives draws of the response itself: it takes no target and "
                "no scale='link'; use kind='response_params' for a parameter or the link scale."
            )
        return self


def quantity(
    fitted: FittedModel, frame: pd.DataFrame, effect: Effect, options: PredictOptions
) -> np.ndarray:
    """The effect's draws on the rows of ``frame``: ``(draws, rows)``, or ``(draws, rows, K)``
    for the probabilities of a family of categories."""
    param = fitted.family.parent if effect.target == "mean" else effect.target
    if effect.scale == "link":
        etas = fitted.linear_predictors(frame, options=options)
        if param not in etas:
            raise DataError(
                f"scale='link' needs a formula for {param!r}, which has none in this model; "
                f"the formulas' parameters are {sorted(etas)}."
            )
        return etas[param]
    if effect.kind == "response":
        values = fitted.draws(frame, "response", options=options)
        return fitted.family.point_draws(values, fitted.design.response.levels, "response", "mean")
    value = fitted.parameters(frame, options=options)[param]
    return np.broadcast_to(value, (value.shape[0], len(frame), *value.shape[2:]))


def prediction_options(**options: Any) -> PredictOptions:
    """The prediction options of an interpretation (``include_group_specific``,
    ``sample_new_groups``, ``random_seed``), one random stream for all its rows.

    Raises
    ------
    DataError
        For an option that is not one, naming the options.
    """
    return PredictOptions.from_kwargs(**options).seeded()


def group_note(fitted: FittedModel, frame: pd.DataFrame, options: PredictOptions) -> list[str]:
    """How each row's group effects were taken: the population's, fitted levels', or drawn
    for new levels under the policy."""
    if not options.include_group_specific or not fitted.design.group_terms:
        return ["population"] * len(frame)
    state = fitted.design.state
    if state is None:
        return ["fitted levels"] * len(frame)
    rows = state.encode(frame)
    new = np.zeros(len(frame), dtype=bool)
    for term, group in zip(fitted.design.group_terms, rows.groups, strict=True):
        new |= group.index >= len(term.levels)
    policy = options.policy(fitted.sample_new_groups)
    return [f"new levels ({policy})" if n else "fitted levels" for n in new]


def long_table(
    values: np.ndarray, table: pd.DataFrame, levels: Any
) -> tuple[np.ndarray, pd.DataFrame]:
    """``(draws, rows, K)`` draws as ``(draws, rows * K)``, the table with a ``category``
    column (each row repeated per category)."""
    if values.ndim == 2:
        return values, table
    k = values.shape[2]
    labels = [str(v) for v in (levels or range(k))]
    long = table.loc[table.index.repeat(k)].reset_index(drop=True)
    long.insert(0, "category", labels * len(table))
    return values.reshape(values.shape[0], -1), long


def _averaged(
    values: np.ndarray, rows: pd.DataFrame, average_by: Any
) -> tuple[np.ndarray, pd.DataFrame]:
    """The draws averaged over rows within each ``average_by`` group (``True``: all rows)."""
    if average_by is True:
        return values.mean(axis=1, keepdims=True), pd.DataFrame(index=[0])
    names = [average_by] if isinstance(average_by, str) else list(average_by)
    missing = [n for n in names if n not in rows]
    if missing:
        raise DataError(
            f"average_by names {missing}, which are not columns of the rows averaged over; "
            f"the columns are {list(rows.columns)}."
        )
    keys = rows[names].astype(object)
    groups = keys.drop_duplicates().reset_index(drop=True)
    member = pd.MultiIndex.from_frame(groups).get_indexer(pd.MultiIndex.from_frame(keys))
    # Sums over each group's rows (sorted together): a row that is NaN or infinite spoils its
    # own group only, and memory stays (draws, rows).
    order = np.argsort(member, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(member[order])) + 1]
    totals = np.add.reduceat(values[:, order], starts, axis=1)
    which = member[order][starts]
    means = np.empty((values.shape[0], len(groups)))
    means[:, which] = totals / np.bincount(member, minlength=len(groups))[which]
    return means, groups


#: The columns the tables add; a predictor of one of these names would be overwritten.
RESERVED = ("estimate", "lower", "upper", "category", "term", "contrast", "group_effects")


def check_columns(rows: pd.DataFrame) -> None:
    """Raise a DataError if a predictor has the name of a column the tables add."""
    clash = [c for c in rows.columns if c in RESERVED]
    if clash:
        raise DataError(
            f"The predictor(s) {clash} have the names of columns the tables of "
            f"bayesmm.interpret add ({list(RESERVED)}): rename them in the data."
        )


def check_summary(prob: Any, method: Any, return_draws: Any) -> None:
    """Check the arguments of a table's summary before any work (:func:`summary`).

    Raises
    ------
    DataError
        For a ``prob`` outside (0, 1), an unknown ``method``, or a ``return_draws`` that is
        not a bool.
    """
    check_interval(prob, method)
    check_flag("return_draws", return_draws)


def summary(
    values: np.ndarray, table: pd.DataFrame, prob: float, method: str, return_draws: bool
) -> Any:
    bounds = interval(values, prob, method)
    out = table.reset_index(drop=True).assign(
        estimate=values.mean(axis=0), lower=bounds[:, 0], upper=bounds[:, 1]
    )
    return (out, values) if return_draws else out


def rows_to_use(fitted: FittedModel, conditional: Any, average_by: Any) -> pd.DataFrame:
    """The rows to compute on: a grid of ``conditional``, else the observed rows."""
    if conditional is not None and average_by is not None:
        raise DataError(
            "give conditional (a grid of new rows) or average_by (averages over the observed "
            "rows), not both."
        )
    if conditional is not None:
        rows = data_grid(fitted, conditional=conditional)
        check_columns(rows)
        return rows
    try:
        rows = fitted.training_rows
    except DataError:
        raise DataError(
            "Without conditional, the functions work on the observed rows, which this model "
            "was saved without (posterior_only=True): pass conditional= for a grid of new "
            "rows."
        ) from None
    check_columns(rows)
    return _with_imputed_means(fitted, rows).reset_index(drop=True)


def _with_imputed_means(fitted: FittedModel, rows: pd.DataFrame) -> pd.DataFrame:
    """The observed rows with each ``mi()`` column's missing values at their posterior means.

    A row passed as data is a new row, whose missing values are drawn afresh from the
    column's model, ignoring the row's response; the posterior's imputed values use it. The
    functions here shift one variable at a time and compare, which needs the same values on
    both sides, so they take the posterior means (a plug-in: the imputation's own
    uncertainty is left out of these averages).
    """
    posterior = fitted.idata["posterior"] if fitted.design.imputed else None
    for imputed in fitted.design.imputed:
        name = f"{imputed.column}_missing"
        if posterior is None or name not in posterior or not imputed.missing.any():
            continue
        means = posterior[name].mean(("chain", "draw")).to_numpy()
        rows = rows.copy()
        rows.loc[rows.index[imputed.missing], imputed.column] = means
    return rows


def predictions(
    model: Any,
    idata: Any = None,
    conditional: Any = None,
    average_by: Any = None,
    *,
    target: str = "mean",
    kind: str = "response_params",
    scale: str = "response",
    prob: float = 0.9,
    method: str = "hdi",
    return_draws: bool = False,
    response: str | None = None,
    **options: Any,
) -> Any:
    """Predictions on a grid of new rows, or averaged over the observed rows.

    Parameters
    ----------
    model, idata
        A ``FittedModel``, or a ``Model`` and its fit's InferenceData.
    conditional : str, list of str or dict, optional
        The variables of a grid (see :func:`data_grid`): x axis, colour, panels.
    average_by : str, list of str or True, optional
        Average over the observed rows within each group of these columns (``True``: all
        rows). Without ``conditional`` or ``average_by``, one prediction per observed row.
    target : str, default "mean"
        ``"mean"`` (the parameter the main formula models: ``mu``, ``p``, the category
        probabilities), or any parameter of the family (``"sigma"``).
    kind : {"response_params", "response"}, default "response_params"
        The parameter, or posterior predictive draws of the response.
    scale : {"response", "link"}, default "response"
        The parameter's scale, or its formula's linear predictor.
    prob : float, default 0.9
        The probability of the interval.
    method : {"hdi", "eti"}, default "hdi"
        Highest-density or equal-tailed interval.
    return_draws : bool, default False
        Also return the draws ``(draws, rows of the table)``, e.g. for :func:`hypothesis`.
    response : str, optional
        The response of a multivariate model to predict (required for one, whose responses
        the message of its absence names); its marginal predictions, as a model of that
        response alone would give them from its part of the posterior.
    **options
        The prediction options (:class:`~bayesmm.predict.PredictOptions`):
        ``include_group_specific=False`` leaves the group effects out (the population);
        ``sample_new_groups`` is the policy for group levels the fit has not seen;
        ``random_seed`` seeds new groups and response draws. The column ``group_effects``
        says which applied to each row.

    Returns
    -------
    pandas.DataFrame, or (pandas.DataFrame, numpy.ndarray)
        The rows' columns, then ``estimate`` (the posterior mean), ``lower`` and ``upper``;
        for a family of categories a ``category`` column and one row per category.

    Raises
    ------
    DataError
        For an unknown variable, target, kind, scale or response, or averages without
        observed rows.
    """
    check_summary(prob, method, return_draws)
    fitted, conditional = fitted_and(
        "predictions", model, idata, "conditional", conditional, response
    )
    effect = Effect(target, kind, scale).check(fitted)
    chosen = prediction_options(**options)
    rows = rows_to_use(fitted, conditional, average_by)
    values = quantity(fitted, rows, effect, chosen)
    table = rows.assign(group_effects=group_note(fitted, rows, chosen))
    if average_by is not None:
        values, table = averaged(values, table, average_by)
    values, table = long_table(values, table, fitted.design.response.levels)
    return summary(values, table, prob, method, return_draws)


def averaged(
    values: np.ndarray, rows: pd.DataFrame, average_by: Any
) -> tuple[np.ndarray, pd.DataFrame]:
    """The draws averaged over rows within each ``average_by`` group (``True``: all rows),
    category by category for ``(draws, rows, K)`` draws."""
    if values.ndim == 2:
        return _averaged(values, rows, average_by)
    parts = [_averaged(values[:, :, k], rows, average_by) for k in range(values.shape[2])]
    return np.stack([p[0] for p in parts], axis=-1), parts[0][1]
