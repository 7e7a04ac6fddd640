"""Plots of predictions, comparisons and slopes, and caterpillar plots of group effects.

Each conditioning variable takes one role in order: the x axis, the colour, the panels. A
numeric x axis gets a line with a ribbon for the interval; a categorical one, points with
interval bars, side by side for the colours. The figures are matplotlib's; each function
returns ``(figure, axes)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .contrasts import comparisons, slopes
from .effects import predictions
from .grid import as_fitted, conditional_values, fitted_and

__all__ = ["plot_predictions", "plot_comparisons", "plot_slopes", "plot_group_effects"]

#: The transparency of an interval's ribbon.
RIBBON_ALPHA = 0.25


def _roles(conditional: Any, table: pd.DataFrame, extra: str | None) -> tuple[str, ...]:
    """x, colour and panel columns: the conditioning variables, then ``extra`` (a category
    or a contrast's label) where a role is free."""
    names = list(conditional_values(conditional).names)
    if not 1 <= len(names) <= 3:
        raise DataError(
            "conditional must name one to three variables (x axis, colour, panels) to plot; "
            f"got {names}."
        )
    if extra is not None and extra in table and table[extra].nunique() > 1:
        if len(names) == 3:
            raise DataError(
                f"The plot shows each {extra} in colour: condition on at most two variables "
                f"(x axis and panels); got {names}."
            )
        names = [names[0], extra, *names[1:]]
    return tuple(names)


def _series(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The table with a ``comparison`` column that tells its series apart: the values of
    those of ``columns`` that vary, joined (a variable, a contrast, a category)."""
    varying = [c for c in columns if c in table and table[c].nunique() > 1]
    if not varying:
        return table.assign(comparison=table.get(columns[1], ""))
    label = table[varying[0]].astype(str)
    for column in varying[1:]:
        label = label + ", " + table[column].astype(str)
    return table.assign(comparison=label)


def _figure(n_panels: int, ax: Any, figsize: Any) -> tuple[Any, list[Any]]:
    import matplotlib.pyplot as plt

    if ax is not None:
        axes = list(np.atleast_1d(ax).ravel())
        if len(axes) < n_panels:
            raise DataError(f"ax must hold {n_panels} axes, one per panel; got {len(axes)}.")
        return axes[0].figure, axes
    columns = min(n_panels, 3)
    rows = -(-n_panels // columns)
    size = figsize or (4.5 * columns, 3.5 * rows)
    fig, grid = plt.subplots(rows, columns, figsize=size, squeeze=False, sharey=True)
    axes = list(grid.ravel())
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig, axes


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
        column.dtype
    )


def _observed_points(
    ax: Any,
    data: tuple[pd.DataFrame, str] | None,
    x: str,
    where: dict[str, Any],
    levels: list[str],
    **style: Any,
) -> None:
    """The observed responses of the rows whose columns have the values of ``where``; on a
    categorical x axis, at the positions of their levels."""
    if data is None:
        return
    observed, response = data
    if x not in observed:
        return
    for column, value in where.items():
        if column in observed:
            observed = observed[observed[column].astype(str) == str(value)]
    position = observed[x]
    if levels:
        text = observed[x].astype(str)
        keep = text.isin(levels).to_numpy()
        observed, position = observed[keep], [levels.index(v) for v in text[keep]]
    ax.scatter(position, observed[response], s=10, alpha=0.6, **style)


def _draw_panel(
    ax: Any,
    table: pd.DataFrame,
    x: str,
    colour: str | None,
    data: tuple[pd.DataFrame, str] | None = None,
    where: dict[str, Any] | None = None,
) -> None:
    where = dict(where or {})
    groups = [(None, table)] if colour is None else list(table.groupby(colour, sort=False))
    numeric = _is_numeric(table[x])
    levels = list(dict.fromkeys(table[x].astype(str))) if not numeric else []
    if colour is None:
        _observed_points(ax, data, x, where, levels, color="0.4")
    width = 0.6 / max(len(groups), 1)
    for i, (label, part) in enumerate(groups):
        name = None if label is None else str(label)
        if numeric:
            part = part.sort_values(x)
            (line,) = ax.plot(part[x], part["estimate"], label=name)
            ax.fill_between(
                part[x], part["lower"], part["upper"], alpha=RIBBON_ALPHA, color=line.get_color()
            )
            if colour is not None:
                style = {"color": line.get_color()}
                _observed_points(ax, data, x, {**where, colour: label}, levels, **style)
        else:
            offset = (i - (len(groups) - 1) / 2) * width
            position = np.array([levels.index(str(v)) for v in part[x]]) + offset
            bars = ax.errorbar(
                position,
                part["estimate"],
                yerr=[part["estimate"] - part["lower"], part["upper"] - part["estimate"]],
                fmt="o",
                capsize=3,
                label=name,
            )
            if colour is not None:
                style = {"color": bars.lines[0].get_color()}
                _observed_points(ax, data, x, {**where, colour: label}, levels, **style)
    if not numeric:
        ax.set_xticks(range(len(levels)), levels)
    ax.set_xlabel(x)
    if colour is not None:
        ax.legend(title=colour, fontsize="small")


def _draw(
    table: pd.DataFrame,
    roles: Sequence[str],
    ylabel: str,
    ax: Any,
    figsize: Any,
    data: tuple[pd.DataFrame, str] | None = None,
) -> tuple[Any, Any]:
    x, colour, panel = roles[0], (*roles[1:], None, None)[0], (*roles[2:], None)[0]
    panels = [(None, table)] if panel is None else list(table.groupby(panel, sort=False))
    fig, axes = _figure(len(panels), ax, figsize)
    for target, (value, part) in zip(axes, panels, strict=False):
        where = {} if panel is None else {panel: value}
        _draw_panel(target, part, x, colour, data, where)
        if value is not None:
            target.set_title(f"{panel} = {value}")
        target.set_ylabel(ylabel)
    return fig, np.array(axes[: len(panels)]) if len(panels) > 1 else axes[0]


def _ylabel(fitted: Any, options: dict[str, Any], what: str = "") -> str:
    """The y axis's label: what is predicted, of which response, on which scale."""
    target = options.get("target", "mean")
    kind = options.get("kind", "response_params")
    scale = options.get("scale", "response")
    response = fitted.design.response.name
    if kind == "response":
        label = f"{response} (predictive)"
    else:
        param = fitted.family.parent if target == "mean" else target
        label = f"{param} of {response}" + (" (link scale)" if scale == "link" else "")
    return f"{what} of {label}" if what else label


def plot_predictions(
    model: Any,
    idata: Any = None,
    conditional: Any = None,
    *,
    show_data: bool = False,
    ax: Any = None,
    figsize: tuple[float, float] | None = None,
    response: str | None = None,
    **options: Any,
) -> tuple[Any, Any]:
    """Plot predictions on a grid of up to three variables (x axis, colour, panels).

    ``options`` are those of :func:`predictions` (``target``, ``kind``, ``scale``, ``prob``,
    ``method``, ``include_group_specific``, ``sample_new_groups``, ``random_seed``).
    ``show_data=True`` draws the observed responses too (on the response's scale). For a
    multivariate model, ``response=`` names the response to plot (required).

    Returns
    -------
    (matplotlib.figure.Figure, matplotlib.axes.Axes or array of them)
    """
    fitted, conditional = fitted_and(
        "plot_predictions", model, idata, "conditional", conditional, response
    )
    table = predictions(fitted, conditional=conditional, **options)
    roles = _roles(conditional, table, "category")
    label = _ylabel(fitted, options)
    data = None
    if show_data:
        rows = fitted.training_rows.assign(
            **{fitted.design.response.name: fitted.design.response.values}
        )
        data = (rows, fitted.design.response.name)
    return _draw(table, roles, label, ax, figsize, data)


def plot_comparisons(
    model: Any,
    idata: Any = None,
    contrast: Any = None,
    conditional: Any = None,
    *,
    ax: Any = None,
    figsize: tuple[float, float] | None = None,
    response: str | None = None,
    **options: Any,
) -> tuple[Any, Any]:
    """Plot comparisons (see :func:`comparisons`) over a grid of up to three variables; a
    contrast of several pairs shows them in colour; ``response=`` as for
    :func:`plot_predictions`."""
    fitted, contrast = fitted_and("plot_comparisons", model, idata, "contrast", contrast, response)
    table = comparisons(fitted, contrast=contrast, conditional=conditional, **options)
    table = _series(table, ["term", "contrast", "category"])
    roles = _roles(conditional, table, "comparison")
    what = options.get("comparison", "difference")
    label = _ylabel(fitted, options, what)
    return _draw(table, roles, label, ax, figsize)


def plot_slopes(
    model: Any,
    idata: Any = None,
    wrt: str | None = None,
    conditional: Any = None,
    *,
    ax: Any = None,
    figsize: tuple[float, float] | None = None,
    response: str | None = None,
    **options: Any,
) -> tuple[Any, Any]:
    """Plot slopes (see :func:`slopes`) over a grid of up to three variables; ``response=``
    as for :func:`plot_predictions`."""
    fitted, wrt = fitted_and("plot_slopes", model, idata, "wrt", wrt, response)
    table = slopes(fitted, wrt=wrt, conditional=conditional, **options)
    roles = _roles(conditional, table, "category")
    what = f"{options.get('slope', 'dydx')} by {wrt}"
    label = _ylabel(fitted, options, what)
    return _draw(table, roles, label, ax, figsize)


def plot_group_effects(
    model: Any,
    term: str,
    idata: Any = None,
    *,
    column: int | str | None = None,
    prob: float = 0.9,
    method: str = "hdi",
    ax: Any = None,
    figsize: tuple[float, float] | None = None,
    response: str | None = None,
) -> tuple[Any, Any]:
    """A caterpillar plot: each level's effect of a group term with its ``prob`` interval,
    sorted by the posterior mean.

    Parameters
    ----------
    model, idata
        A ``FittedModel``, or a ``Model`` and its fit's InferenceData.
    term : str
        A group term, e.g. ``"1|Subject"`` or ``"Days|Subject"``.
    column : int or str, optional
        For a term with several columns (a factor's levels), which one.
    response : str, optional
        For a multivariate model, the response whose group term ``term`` is, named as in a
        model of that response alone (``"1|g"``; required).

    Raises
    ------
    DataError
        For a term the model does not have.
    """
    import matplotlib.pyplot as plt

    from ..predict import check_interval, interval

    check_interval(prob, method)
    fitted = as_fitted(model, idata, response)
    terms = {t.name: t for t in fitted.design.group_terms}
    for part in fitted.design.distributional:
        terms.update({t.name: t for t in part.design.group_terms})
    if not isinstance(term, str) or term not in terms:
        from .._validation import did_you_mean

        raise DataError(
            f"term must be a group term of the model, one of {sorted(terms)}; got {term!r}."
            + did_you_mean(term, terms)
        )
    info = terms[term]
    effects = fitted.idata["posterior"][term].stack(sample=("chain", "draw"))
    values = (
        effects.transpose("sample", ...)
        .to_numpy()
        .reshape(effects.sizes["sample"], len(info.levels), -1)
    )
    if values.shape[2] > 1:
        labels = [str(c) for c in (info.expr_levels or info.columns)]
        if isinstance(column, int) and not isinstance(column, bool) and 0 <= column < len(labels):
            index = column
        elif column is not None and str(column) in labels:
            index = labels.index(str(column))
        else:
            raise DataError(
                f"term {term!r} has the columns {labels}: pass column= one of them (or its "
                f"position); got {column!r}."
            )
        values = values[:, :, index]
    else:
        values = values[:, :, 0]
    order = np.argsort(values.mean(axis=0))
    bounds = interval(values, prob, method)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize or (5, max(2.5, 0.22 * len(order) + 1)))
    else:
        fig = ax.figure
    mean = values.mean(axis=0)[order]
    ax.errorbar(
        mean,
        np.arange(len(order)),
        xerr=[mean - bounds[order, 0], bounds[order, 1] - mean],
        fmt="o",
        capsize=2,
    )
    ax.axvline(0.0, color="0.5", linewidth=0.8)
    ax.set_yticks(range(len(order)), [str(info.levels[i]) for i in order])
    ax.set_xlabel(f"{term} ({prob:.0%} {method.upper()})")
    ax.set_ylabel(info.factor)
    return fig, ax
