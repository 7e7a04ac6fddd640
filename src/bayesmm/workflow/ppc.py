"""Posterior predictive checks: the observed responses against the model's predictive draws,
as matplotlib axes (:func:`plot_ppc`, also ``FittedModel.plot_ppc``).

The training rows, or new rows with their observed responses, are drawn from the posterior
predictive distribution once (``FittedModel.draws(kind="response")``), and each kind of
check compares the observed responses with those draws:

- ``"density"``: ArviZ's ``az.plot_ppc`` of the draws' densities over the observed one;
- ``"stat"``: a histogram of a statistic of each draw's responses, and the observed value;
- ``"intervals"``: by the levels of a grouping column, the 50% and 90% predictive intervals
  of the group's mean response, and its observed mean;
- ``"bars"``: for counts and categories, the observed number of each value against the
  median and 90% interval of the predicted numbers;
- ``"loo_pit"``: ArviZ's ``az.plot_loo_pit``, where each training row's predictive draws are
  weighted by its PSIS-LOO weights (the row left out); new rows were not fitted, so their
  draws are weighted equally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import check_choice, check_seed

if TYPE_CHECKING:
    from ..fitted import FittedModel

__all__ = ["PPC_KINDS", "PPC_STATS", "plot_ppc"]

PPC_KINDS = ("density", "stat", "intervals", "bars", "loo_pit")
#: The statistics ``stat=`` names; any callable of a 1-d array works too.
PPC_STATS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": np.mean,
    "sd": lambda y: float(np.std(y, ddof=1)),
    "max": np.max,
    "min": np.min,
    "median": np.median,
}


def plot_ppc(
    fitted: FittedModel,
    kind: str = "density",
    data: pd.DataFrame | None = None,
    *,
    stat: str | Callable[[np.ndarray], float] = "mean",
    group: str | None = None,
    num_pp_samples: int | None = 100,
    random_seed: int | np.random.Generator | None = 0,
    ax: Any = None,
    **options: Any,
) -> Any:
    """A posterior predictive check of ``fitted`` on its training rows or on ``data``.

    Parameters
    ----------
    fitted : FittedModel
        The model.
    kind : str, default "density"
        One of ``"density"``, ``"stat"``, ``"intervals"``, ``"bars"``, ``"loo_pit"`` (see
        the module's description).
    data : DataFrame, optional
        New rows with their observed responses (the response column), instead of the
        training rows.
    stat : {"mean", "sd", "max", "min", "median"} or callable, default "mean"
        For ``kind="stat"``: the statistic of a vector of responses.
    group : str, optional
        For ``kind="intervals"``: the grouping column (of ``data``, or of the training rows).
    num_pp_samples : int, default 100
        For ``kind="density"``: how many predictive draws to plot.
    random_seed : int or Generator, default 0
        For the predictive draws.
    ax : matplotlib Axes, optional
        Where to draw.
    **options
        Prediction options for the draws (``sample_new_groups``, ``include_group_specific``).

    Returns
    -------
    matplotlib Axes (or ArviZ's array of them)

    Raises
    ------
    DataError
        For an unknown ``kind`` or ``stat``, a missing or unknown ``group``, ``data``
        without its response column, or ``kind="bars"`` for a response that is not whole
        numbers or categories.
    """
    check_choice("kind", kind, PPC_KINDS)
    check_seed(random_seed)
    statistic = _statistic(stat) if kind == "stat" else None
    frame = _grouping_frame(fitted, data, group) if kind == "intervals" else None
    y = _observed(fitted, data)
    if kind == "bars" and not np.all(np.mod(y, 1) == 0):
        raise DataError(
            "kind='bars' is for counts and categories; the response "
            f"{fitted.design.response.name!r} has values that are not whole numbers. "
            "Use kind='density'."
        )
    if kind == "loo_pit" and "n_samples" in options:
        raise DataError("kind='loo_pit' weighs every posterior draw; leave out n_samples.")
    y_rep = np.asarray(
        fitted.draws(data, kind="response", random_seed=random_seed, **options), dtype=float
    )
    if ax is None and kind in ("stat", "intervals", "bars"):
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    name = fitted.design.response.name
    if kind == "density":
        return _density(name, y, y_rep, num_pp_samples, random_seed, ax)
    if kind == "stat":
        assert statistic is not None
        return _stat(ax, y, y_rep, statistic, stat, name)
    if kind == "intervals":
        assert frame is not None and group is not None
        return _intervals(ax, y, y_rep, frame[group], group, name)
    if kind == "bars":
        return _bars(ax, y, y_rep, name)
    return _loo_pit(fitted, data, y, y_rep, ax, options)


def _statistic(stat: Any) -> Callable[[np.ndarray], float]:
    if callable(stat):
        return stat
    return PPC_STATS[check_choice("stat", stat, PPC_STATS)]


def _grouping_frame(fitted: FittedModel, data: pd.DataFrame | None, group: Any) -> pd.DataFrame:
    frame = fitted.training_rows if data is None else data
    if group is None:
        raise DataError("kind='intervals' needs group=, the column whose levels to compare.")
    if not isinstance(group, str) or group not in frame.columns:
        where = "the training rows" if data is None else "data"
        raise DataError(
            f"group must be a column of {where}, one of {list(frame.columns)}; got {group!r}."
            + (" Pass data= with that column." if data is None else "")
        )
    return frame


def _observed(fitted: FittedModel, data: pd.DataFrame | None) -> np.ndarray:
    """The observed responses, on the scale of the predictive draws."""
    response = fitted.design.response
    if data is None:
        return np.asarray(response.values, dtype=float)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a DataFrame; got {type(data).__name__}.")
    if response.name not in data.columns:
        raise DataError(
            f"data must hold the observed response {response.name!r} for a predictive check; "
            f"its columns are {list(data.columns)}."
        )
    values = data[response.name]
    if response.levels is not None:  # categories: their codes, as the draws give them
        codes = pd.Categorical(values.astype(str), categories=[str(v) for v in response.levels])
        if np.any(codes.codes < 0):
            raise DataError(f"data's {response.name!r} has values outside {response.levels}.")
        return codes.codes.astype(float)
    if values.isna().any():
        raise DataError(f"data's {response.name!r} has {int(values.isna().sum())} missing values.")
    return values.to_numpy(dtype=float)


def _density(
    name: str, y: np.ndarray, y_rep: np.ndarray, samples: int | None, seed: Any, ax: Any
) -> Any:
    import arviz as az

    idata = az.from_dict(posterior_predictive={name: y_rep[None]}, observed_data={name: y})
    seed = seed if isinstance(seed, int) else None
    return az.plot_ppc(idata, num_pp_samples=samples, random_seed=seed, ax=ax)


def _stat(
    ax: Any, y: np.ndarray, y_rep: np.ndarray, statistic: Callable[..., Any], stat: Any, name: str
) -> Any:
    label = stat if isinstance(stat, str) else getattr(stat, "__name__", "stat")
    predicted = np.array([float(statistic(row)) for row in y_rep])
    observed = float(statistic(y))
    ax.hist(predicted, bins="auto", color="C0", alpha=0.6, label=f"{label} of predicted")
    ax.axvline(observed, color="k", linewidth=2, label=f"{label} of observed")
    share = float(np.mean(predicted >= observed))
    ax.set_title(f"{label}({name}): P(predicted >= observed) = {share:.2f}")
    ax.set_xlabel(f"{label}({name})")
    ax.legend()
    return ax


def _intervals(
    ax: Any, y: np.ndarray, y_rep: np.ndarray, column: pd.Series, group: str, name: str
) -> Any:
    codes, levels = pd.factorize(column, sort=True)
    positions = np.arange(len(levels))
    observed, inner, outer, middle = [], [], [], []
    for k in positions:
        rows = codes == k
        means = y_rep[:, rows].mean(axis=1)
        observed.append(y[rows].mean())
        low5, low25, median, high75, high95 = np.quantile(means, [0.05, 0.25, 0.5, 0.75, 0.95])
        inner.append((low25, high75))
        outer.append((low5, high95))
        middle.append(median)
    for bounds, width, label in ((outer, 1, "90% interval"), (inner, 4, "50% interval")):
        low, high = np.transpose(bounds)
        ax.vlines(positions, low, high, color="C0", linewidth=width, alpha=0.7, label=label)
    ax.plot(positions, middle, "o", color="C0", markersize=3, label="predicted (median)")
    ax.plot(positions, observed, "o", color="k", label="observed")
    ax.set_xticks(positions, [str(v) for v in levels], rotation=90 if len(levels) > 8 else 0)
    ax.set_xlabel(group)
    ax.set_ylabel(f"mean {name}")
    ax.legend()
    return ax


def _bars(ax: Any, y: np.ndarray, y_rep: np.ndarray, name: str) -> Any:
    values = np.unique(np.concatenate([np.unique(y), np.unique(y_rep)]))
    if len(values) > 200:
        values = values[values <= np.max(y) + 1]
    observed = np.array([np.sum(y == v) for v in values])
    counts = np.stack([np.sum(y_rep == v, axis=1) for v in values], axis=1)
    low, median, high = np.quantile(counts, [0.05, 0.5, 0.95], axis=0)
    ax.bar(values, observed, color="C0", alpha=0.5, width=0.9, label="observed")
    ax.errorbar(
        values,
        median,
        yerr=[median - low, high - median],
        fmt="o",
        color="k",
        markersize=3,
        label="predicted: median and 90% interval",
    )
    ax.set_xlabel(name)
    ax.set_ylabel("count")
    ax.legend()
    return ax


def _loo_pit(
    fitted: FittedModel,
    data: pd.DataFrame | None,
    y: np.ndarray,
    y_rep: np.ndarray,
    ax: Any,
    options: dict[str, Any],
) -> Any:
    import arviz as az

    from ..predict.loo import relative_efficiency

    if data is None:  # each row's draws weighted by its PSIS-LOO weights
        ll = fitted.log_likelihood(fitted.training_rows, fitted.design.response.values, **options)
        reff = relative_efficiency(fitted.idata["posterior"])
        log_weights, _ = az.psislw(-np.asarray(ll, dtype=float).T.copy(), reff)
    else:  # rows the fit never saw: the posterior predictive is already out of sample
        log_weights = np.full(y_rep.T.shape, -np.log(y_rep.shape[0]))
    axes = az.plot_loo_pit(y=y, y_hat=y_rep.T.copy(), log_weights=log_weights, ax=ax)
    # ArviZ labels the x axis with the text of ``y`` when it is an array: every response.
    (axes if not isinstance(axes, np.ndarray) else axes.ravel()[0]).set_xlabel("LOO-PIT")
    return axes
