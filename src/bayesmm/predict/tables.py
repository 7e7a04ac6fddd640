"""Per-row summaries of prediction draws as tables, and predictions as InferenceData groups.

What ``FittedModel``'s ``point``, ``interval``, ``quantiles``, ``density`` and ``predict``
return, laid out from the draws and the rows' labels they are given: one row per row of
``data`` (or of the training rows), and for a family of categories one column per summary
and category (``"mean[1]"``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._errors import DataError
from .._names import CATEGORY_DIM, OBS_DIM
from .summaries import density, interval, per_category, point_estimate, quantiles

__all__ = [
    "row_index",
    "point_table",
    "interval_table",
    "quantile_table",
    "density_table",
    "prediction_array",
    "constant_data",
    "predictions_idata",
]


def row_index(data: pd.DataFrame | None, values: np.ndarray) -> pd.Index:
    """The index of ``data``, or ``0 .. rows - 1`` for the training rows (``data=None``)."""
    return data.index if data is not None else pd.RangeIndex(values.shape[1])


def _category_table(
    table: np.ndarray, names: list[str], levels: Sequence[Any] | None, index: pd.Index, n: int
) -> pd.DataFrame:
    """A table of per-category summaries, its columns named ``"<summary>[<category>]"``."""
    labels = levels or tuple(range(n))
    columns = [f"{name}[{level}]" for level in labels for name in names]
    return pd.DataFrame(table, columns=columns, index=index)


def point_table(
    values: np.ndarray, stat: str, levels: Sequence[Any] | None, index: pd.Index
) -> pd.DataFrame:
    """The ``stat`` of each row's draws ``(draws, rows[, categories])``, one column."""
    if values.ndim == 3:
        table = per_category(values, lambda v: point_estimate(v, stat)[:, None])
        return _category_table(table, [stat], levels, index, values.shape[2])
    return pd.DataFrame({stat: point_estimate(values, stat)}, index=index)


def interval_table(
    values: np.ndarray, prob: float, method: str, levels: Sequence[Any] | None, index: pd.Index
) -> pd.DataFrame:
    """A ``prob`` interval of each row's draws: columns ``lower`` and ``upper``."""
    if values.ndim == 3:
        table = per_category(values, lambda v: interval(v, prob, method))
        return _category_table(table, ["lower", "upper"], levels, index, values.shape[2])
    bounds = interval(values, prob, method)
    return pd.DataFrame(bounds, columns=["lower", "upper"], index=index)


def quantile_table(
    values: np.ndarray, probs: Sequence[float], levels: Sequence[Any] | None, index: pd.Index
) -> pd.DataFrame:
    """Quantiles of each row's draws, one column per probability (``"q0.05"``, ...)."""
    columns = [f"q{p:g}" for p in probs]
    if values.ndim == 3:
        table = per_category(values, lambda v: quantiles(v, probs))
        return _category_table(table, columns, levels, index, values.shape[2])
    return pd.DataFrame(quantiles(values, probs), columns=columns, index=index)


def density_table(
    values: np.ndarray, bins: int | np.ndarray, index: pd.Index, family: str, kind: str
) -> pd.DataFrame:
    """A histogram of each row's draws: columns ``edges`` and ``density``, one array each.

    Raises
    ------
    DataError
        For draws of category probabilities (``values`` of three dimensions): a histogram
        is of one number per draw.
    """
    if values.ndim == 3:
        raise DataError(
            f"density(kind={kind!r}) is a histogram of each row's draws of one number; "
            f"family {family!r} predicts a probability for each category. Use "
            "kind='response' for the predictive distribution of the categories, or "
            "point() and interval() for the probabilities."
        )
    edges, heights = density(values, bins)
    return pd.DataFrame({"edges": list(edges), "density": list(heights)}, index=index)


def prediction_array(
    values: np.ndarray, posterior: xr.Dataset, levels: Sequence[Any] | None, name: str
) -> xr.DataArray:
    """Draws ``(chains * draws, rows[, categories])`` as a DataArray ``name`` of dimensions
    ``(chain, draw, __obs__[, category])``, with the ``posterior``'s chain and draw labels."""
    extra = values.shape[2:]
    dims = ("chain", "draw", OBS_DIM, *([CATEGORY_DIM] if extra else []))
    shape = (posterior.sizes["chain"], posterior.sizes["draw"], values.shape[1], *extra)
    rows = _rows_index(values.shape[1])
    # The posterior's own chain and draw indexes, and the new rows' index made directly:
    # xarray's default indexes, and a DataArray's copies of its coordinates, were most of a
    # one-row Model.predict.
    labels = {dim: _labels(posterior, dim) for dim in ("chain", "draw")}
    indexes = {dim: index for dim, (_, index) in labels.items()} | {OBS_DIM: rows}
    variables = {dim: variable for dim, (variable, _) in labels.items()}
    coords = xr.Coordinates(variables | rows.create_variables(), indexes=indexes)
    if extra:  # category probabilities: the last axis is labelled by the categories
        names = {CATEGORY_DIM: [str(v) for v in levels]} if levels else {}
        coords = coords.assign(xr.Coordinates(names))
    variable = xr.Variable(dims, values.reshape(shape))
    return xr.Dataset({name: variable}, coords=coords)[name]


def _rows_index(n: int) -> xr.indexes.PandasIndex:
    """The index of the rows' dimension, ``0 .. n - 1``, as xarray makes it by default."""
    return xr.indexes.PandasIndex(pd.Index(np.arange(n)), OBS_DIM)


def _labels(posterior: xr.Dataset, dim: str) -> tuple[xr.Variable, xr.indexes.Index]:
    """The coordinate and index of ``dim``, without attributes, as ``posterior[dim]`` gives
    them: the posterior's own, or ``0 .. n - 1`` for a dimension without labels."""
    if dim not in posterior.xindexes:
        index = xr.indexes.PandasIndex(pd.Index(np.arange(posterior.sizes[dim])), dim)
        return index.create_variables()[dim], index
    variable = posterior.variables[dim]
    if variable.attrs:
        variable = variable.copy(deep=False)
        variable.attrs = {}
    return variable, posterior.xindexes[dim]


def constant_data(data: pd.DataFrame, predictors: Sequence[str]) -> xr.Dataset:
    """The new rows' predictors, ArviZ's ``predictions_constant_data``: categories as text."""
    variables = {}
    for name in predictors:
        column = data[name]
        values = column.to_numpy()
        if isinstance(column.dtype, pd.CategoricalDtype) or values.dtype == object:
            values = column.astype(str).to_numpy()
        variables[name] = xr.Variable((OBS_DIM,), values)
    rows = _rows_index(len(data))
    return xr.Dataset(variables, coords=xr.Coordinates(rows.create_variables(), {OBS_DIM: rows}))


def predictions_idata(
    idata: Any,
    name: str,
    array: xr.DataArray,
    data: pd.DataFrame | None,
    kind: str,
    predictors: Sequence[str],
) -> Any:
    """A new InferenceData: the fit's ``idata`` (not changed) with the predictions ``array``
    added by ArviZ's convention.

    For the training rows (``data=None``) the parent parameter joins ``posterior``
    (``kind="response_params"``) or makes ``posterior_predictive`` (``kind="response"``);
    for new rows both make ``predictions``, with the rows' predictors in
    ``predictions_constant_data``.
    """
    import arviz as az

    groups = {g: idata[g] for g in idata.groups()}
    if data is None and kind == "response_params":
        groups["posterior"] = groups["posterior"].assign({name: array})
    elif data is None:
        groups["posterior_predictive"] = array.to_dataset(name=name)
    else:
        groups["predictions"] = array.to_dataset(name=name)
        groups["predictions_constant_data"] = constant_data(data, predictors)
    result = az.InferenceData(**groups)
    result.attrs.update(getattr(idata, "attrs", {}) or {})
    return result
