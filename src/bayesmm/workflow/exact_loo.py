"""Exact leave-one-out for the rows where PSIS-LOO is unreliable, by refitting without them.

PSIS-LOO (``FittedModel.loo()``) reweights the draws of the full fit to approximate each
row's leave-one-out density. Where a row's Pareto shape ``k`` is large (above 0.7, Vehtari,
Gelman and Gabry 2017; Vehtari et al. 2024, "Pareto smoothed importance sampling") the
weights' variance is too large to trust. :func:`reloo` refits the model without each such
row, all the refits in one :func:`~bayesmm.fit_many` call, and replaces that row's value by
its exact log predictive density under the refit,
``elpd_i = log(mean_s p(y_i | theta_s))`` over the refit's draws. The other rows keep their
PSIS values; the totals are recomputed from the mixed pointwise values.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import BayesmmWarning, DataError
from ..fitted import FittedModel
from ..many import fit_many
from ..model import Model
from ..predict.fit_checks import refit_settings
from .kfold import (
    fit_results,
    held_out_density,
    in_sample_density,
    missing_columns,
    model_builder,
    observed_responses,
    scoring_options,
    seed_streams,
)

if TYPE_CHECKING:
    import arviz as az

__all__ = ["reloo", "RelooFits", "DEFAULT_K_THRESHOLD", "select_refits", "exact_elpd"]

#: Above this Pareto k the PSIS estimate is unreliable for any number of draws
#: (Vehtari et al. 2024, section 3).
DEFAULT_K_THRESHOLD = 0.7


@dataclass(frozen=True, eq=False)
class RelooFits:
    """The refits behind a :func:`reloo` result, kept as its ``refits`` attribute.

    Attributes
    ----------
    rows : numpy.ndarray
        The positions (among the training rows) of the refitted rows, largest k first.
    fits : tuple of FittedModel
        ``fits[j]`` is the fit of every training row but ``rows[j]``.
    diagnostics : pandas.DataFrame
        ``fit_many``'s table of the refits (divergences, largest R-hat, smallest bulk ESS,
        seconds), in the order of ``rows``.
    """

    rows: np.ndarray
    fits: tuple[FittedModel, ...]
    diagnostics: pd.DataFrame = field(repr=False)


def _check_threshold(k_threshold: Any) -> float:
    if (
        isinstance(k_threshold, bool)
        or not isinstance(k_threshold, Real)
        or not 0 < float(k_threshold) < math.inf
    ):
        raise DataError(
            "k_threshold must be a number in (0, inf), the Pareto k above which a row is "
            f"refitted ({DEFAULT_K_THRESHOLD} by default); got {k_threshold!r}."
        )
    return float(k_threshold)


def _check_max_refits(max_refits: Any) -> int | None:
    if max_refits is None:
        return None
    if isinstance(max_refits, bool) or not isinstance(max_refits, int | np.integer):
        raise DataError(
            f"max_refits must be a positive integer or None (no cap); got {max_refits!r}."
        )
    if max_refits < 1:
        raise DataError(
            f"max_refits must be a positive integer or None (no cap); got {max_refits!r}. "
            "To keep every PSIS value, use fitted.loo() instead."
        )
    return int(max_refits)


def select_refits(
    pareto_k: np.ndarray, k_threshold: float, max_refits: int | None
) -> tuple[np.ndarray, int]:
    """The rows to refit: those whose Pareto k exceeds ``k_threshold`` (or is NaN, where
    PSIS could not fit the tail), largest k first, at most ``max_refits`` of them; and the
    number of such rows left out by the cap.

    Examples
    --------
    >>> select_refits(np.array([0.2, 0.9, 1.4, 0.8]), 0.7, 2)
    (array([2, 1]), 1)
    """
    shape = np.where(np.isnan(pareto_k), np.inf, np.asarray(pareto_k, dtype=float))
    bad = np.flatnonzero(shape > k_threshold)
    # A stable sort keeps equal k in row order.
    bad = bad[np.argsort(-shape[bad], kind="stable")]
    if max_refits is None or len(bad) <= max_refits:
        return bad, 0
    return bad[:max_refits], len(bad) - max_refits


def exact_elpd(
    loo: az.ELPDData,
    rows: np.ndarray,
    exact: np.ndarray,
    lppd: float,
    refit_seconds: float,
) -> az.ELPDData:
    """``loo`` with the pointwise values of ``rows`` replaced by their ``exact`` values and
    their Pareto k set to 0; ``elpd_loo`` (the sum), ``se`` (``sqrt(n) * sd``), ``p_loo``
    (``lppd - elpd_loo``) and ``warning`` (any k left above ``good_k``) recomputed; and
    ``n_refits`` and ``refit_seconds`` added. ``loo`` itself is not changed."""
    import arviz as az  # on first use: arviz takes longer to import than bayesmm

    loo_i = loo["loo_i"].copy(deep=True)
    pareto_k = loo["pareto_k"].copy(deep=True)
    loo_i.values[rows] = exact
    pareto_k.values[rows] = 0.0
    pointwise = np.asarray(loo_i.values, dtype=float)
    elpd = float(pointwise.sum())
    good_k = float(loo["good_k"]) if "good_k" in loo.index else DEFAULT_K_THRESHOLD
    values = {name: loo[name] for name in loo.index}
    values.update(
        elpd_loo=elpd,
        se=float(np.sqrt(len(pointwise) * np.var(pointwise))),
        p_loo=float(lppd - elpd),
        warning=bool(np.any(pareto_k.values > good_k)),
        loo_i=loo_i,
        pareto_k=pareto_k,
        n_refits=len(rows),
        refit_seconds=float(refit_seconds),
    )
    return az.ELPDData(data=list(values.values()), index=list(values))


def _refittable(fitted: Any) -> Model:
    """The model of ``fitted`` rebuilt on its training rows, for the refits.

    Raises
    ------
    DataError
        For anything but a FittedModel, one saved without its training rows, or one with
        ``mi()`` columns.
    """
    if not isinstance(fitted, FittedModel):
        raise DataError(
            f"fitted must be a FittedModel (model.fitted(idata) or bmm.load(path)); got "
            f"{type(fitted).__name__}."
        )
    if fitted.design.n_obs == 0:
        raise DataError(
            "reloo refits the model without each row of high Pareto k, and needs the training "
            "rows, which this FittedModel was saved without (posterior_only=True). Pass "
            "fitted.to_model(data).fitted(fitted.idata) with the data it was fitted on."
        )
    if fitted.design.imputed:
        raise DataError(
            "reloo cannot score a model with mi() columns: a left-out row's missing value has "
            "no draws in the refit."
        )
    return fitted.to_model(fitted.training_rows)


def _psis(fitted: FittedModel, loo: Any) -> az.ELPDData:
    """``loo`` if it is a pointwise PSIS-LOO result of the training rows, else fitted.loo()."""
    if loo is None:
        return fitted.loo()
    n_rows = fitted.design.n_obs
    # az.ELPDData is a pandas Series of named fields.
    has = set(loo.index) if isinstance(loo, pd.Series) else set()
    if "pareto_k" not in has or "loo_i" not in has or np.size(loo["pareto_k"]) != n_rows:
        raise DataError(
            "loo must be fitted.loo() or az.loo(idata, pointwise=True) of the same fit: an "
            f"az.ELPDData with loo_i and pareto_k for each of the {n_rows} training rows; got "
            f"{type(loo).__name__}"
            + (f" with {np.size(loo['pareto_k'])} Pareto k." if "pareto_k" in has else ".")
        )
    return loo


def _models_without(model: Model, rows: pd.DataFrame, positions: np.ndarray) -> list[Model]:
    """One model per position, built on every training row but that one.

    Raises
    ------
    DataError
        If a row holds the only instance of a level of a categorical predictor, naming it.
    """
    build = model_builder(model)
    built = []
    for position in positions:
        keep = np.ones(len(rows), dtype=bool)
        keep[position] = False
        rebuilt = build(rows[keep])
        missing = missing_columns(model, rebuilt)
        if missing:
            raise DataError(
                f"reloo: row {position} holds the only instance of the columns {missing[:5]} "
                "of the model, which a refit without it cannot estimate. Pass a larger "
                "k_threshold or a smaller max_refits to keep its PSIS value."
            )
        built.append(rebuilt)
    return built


def _warn_left(left: int, max_refits: int | None, k_threshold: float) -> None:
    warnings.warn(
        f"reloo: {left} row(s) with Pareto k above {k_threshold} keep their PSIS values: "
        f"max_refits={max_refits} refitted only those with the largest k. Raise max_refits "
        "to refit them too.",
        BayesmmWarning,
        stacklevel=3,
    )


def reloo(
    fitted: FittedModel,
    k_threshold: float = DEFAULT_K_THRESHOLD,
    max_refits: int | None = None,
    *,
    executor: Any = None,
    random_seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    loo: az.ELPDData | None = None,
    **fit_kwargs: Any,
) -> az.ELPDData:
    """PSIS-LOO with exact leave-one-out refits for the rows whose Pareto k is too large.

    Every training row whose Pareto k exceeds ``k_threshold`` is refitted without that row
    (the other rows are not refitted), all the refits in one :func:`~bayesmm.fit_many`
    call, and its value replaced by its log predictive density under that refit:
    ``elpd_i = log(mean over the refit's draws of p(y_i | draw))``.

    Parameters
    ----------
    fitted : FittedModel
        A fit with its training rows (``model.fitted(idata)`` or ``bmm.load(path)`` of a
        file saved with them).
    k_threshold : float, default 0.7
        Rows with a Pareto k above it (or a NaN k) are refitted; in (0, inf).
    max_refits : int, optional
        At most this many refits, of the rows with the largest k; the rest keep their PSIS
        values, with a warning. ``None``: every such row.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where the refits run, as for :func:`~bayesmm.fit_many`.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the refits (and the draws of a new group, for a row that was its group's
        only one). ``None`` draws fresh entropy.
    loo : arviz.ELPDData, optional
        PSIS-LOO of ``fitted`` already computed (``fitted.loo()`` or
        ``az.loo(idata, pointwise=True)``); by default ``fitted.loo()``.
    **fit_kwargs
        Passed to :func:`~bayesmm.fit_many`. By default the refits take the original fit's
        ``draws``, ``chains`` and ``inference_method`` (and ``tune`` where its sampler
        recorded it); ``sample_new_groups`` is the policy for a left-out row's group
        levels that no other row has (``"gaussian"`` unless given).

    Returns
    -------
    arviz.ELPDData
        ``loo``'s fields, for ``az.compare``, with each refitted row's ``loo_i`` its exact
        value and its ``pareto_k`` 0; ``elpd_loo``, ``se``, ``p_loo`` (the full fit's
        in-sample log predictive density minus ``elpd_loo``) and ``warning`` recomputed;
        and ``n_refits`` and ``refit_seconds`` (the wall time of the refits). Its
        attribute ``refits`` is a :class:`RelooFits`. With no row above ``k_threshold``,
        ``loo`` itself, unchanged, and nothing is fitted.

    Raises
    ------
    DataError
        For a bad ``k_threshold``, ``max_refits`` or ``loo``, a ``fitted`` without its
        training rows, or a row whose refit would lack a level of a categorical predictor.
    BackendError
        If a refit failed (``fit_many`` warns with its message first).

    Warns
    -----
    BayesmmWarning
        If ``max_refits`` left rows above ``k_threshold`` with their PSIS values.

    Examples
    --------
    >>> result = bmm.reloo(fitted, random_seed=1)  # doctest: +SKIP
    >>> result.n_refits, result.elpd_loo  # doctest: +SKIP
    """
    threshold = _check_threshold(k_threshold)
    cap = _check_max_refits(max_refits)
    policy, options = scoring_options(fit_kwargs, "reloo")
    base = _refittable(fitted)
    psis = _psis(fitted, loo)
    positions, left = select_refits(np.asarray(psis["pareto_k"]), threshold, cap)
    if left:
        _warn_left(left, cap, threshold)
    if len(positions) == 0:
        return psis
    streams = seed_streams(random_seed)
    rows = fitted.training_rows
    models = _models_without(base, rows, positions)
    start = time.perf_counter()
    many = fit_many(
        models, executor, random_seed=streams.fits, **refit_settings(fitted.idata, options)
    )
    seconds = time.perf_counter() - start
    results = fit_results(many, [f"row {p}" for p in positions], "reloo")
    refits = tuple(m.fitted(idata) for m, idata in zip(models, results, strict=True))
    y = observed_responses(base.family, base.design)
    exact = held_out_density(  # each refitted row its own fold
        refits,
        rows.iloc[positions],
        y[positions],
        np.arange(len(positions)),
        policy,
        streams.predictions,
        lambda j, _: f"reloo: scoring row {positions[j]} under its refit",
    )
    result = exact_elpd(psis, positions, exact, in_sample_density(fitted, rows, y), seconds)
    # A pandas Series takes plain attributes; ELPDData.copy() does not carry this one.
    result.refits = RelooFits(positions, refits, many.diagnostics)
    return result
