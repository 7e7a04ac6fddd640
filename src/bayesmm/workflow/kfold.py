"""K-fold cross-validation and leave-one-group-out, by refitting the model on each fold.

``kfold`` splits the training rows into folds (:mod:`bayesmm.workflow.folds`), rebuilds the
model on the rows of all folds but one, fits the fold models and the full model in one
:func:`~bayesmm.fit_many` call (so an executor or a Dask cluster runs them), and scores each
held-out row by its log predictive density under the fit that did not see it:
``elpd_i = log(mean_s p(y_i | theta_s))`` over that fit's draws ``theta_s``. The sum is the
expected log pointwise predictive density of new data, estimated by cross-validation
(Vehtari, Gelman and Gabry 2017), returned as an ``az.ELPDData`` that
``az.compare`` takes beside ``az.loo`` results.

Every fold's model has the formula, family, links, options and priors of the full model:
the priors as they were used (default priors already scaled from all the rows), so every
fold fits the same model, and only the rows differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from .._errors import BackendError, BayesmmError, DataError
from .._names import OBS_DIM
from .._validation import check_seed, describe_values
from ..design import Design
from ..design.state import training_frame
from ..families import Family
from ..fitted import FittedModel
from ..formula import Formula
from ..many import FitFailure, ManyFits, fit_many
from ..model import Model
from ..predict import resolve_policy
from ..spec import data_fingerprint, rebuild_arguments
from .folds import DEFAULT_K, assign_folds, row_labels

if TYPE_CHECKING:
    import arviz as az

__all__ = [
    "kfold",
    "KFoldFits",
    "NEW_GROUPS",
    "CHUNK_ROWS",
    "response_strata",
    "observed_responses",
    "fold_models",
    "model_builder",
    "missing_columns",
    "log_predictive_density",
    "held_out_density",
    "in_sample_density",
    "elpd_data",
    "seed_streams",
    "SeedStreams",
    "fit_results",
    "scoring_options",
]

#: The new-group policy for the levels a fold's fit never saw (all of a held-out group's):
#: a new group's effects drawn from the fitted population distribution.
NEW_GROUPS = "gaussian"

#: Rows scored at a time for the full fit's in-sample density (memory: draws x rows).
CHUNK_ROWS = 20_000


@dataclass(frozen=True, eq=False)
class KFoldFits:
    """The fits behind a :func:`kfold` result, kept as its ``fits`` attribute for reuse.

    Attributes
    ----------
    folds : tuple of FittedModel
        Fold ``j``'s fit, on every row whose fold is not ``j``; its held-out rows are those
        with ``result.folds == j``.
    full : FittedModel
        The fit of all the rows: the ``fitted`` given, the ``FittedModel`` given as the
        model, or the one :func:`kfold` fitted.
    diagnostics : pandas.DataFrame
        ``fit_many``'s table of the fits it ran (divergences, largest R-hat, smallest bulk
        ESS, seconds): the folds in order, then the full fit if it ran.
    """

    folds: tuple[FittedModel, ...]
    full: FittedModel
    diagnostics: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class SeedStreams:
    """The independent random streams of one call, all spawned from its ``random_seed``."""

    folds: np.random.Generator
    fits: np.random.SeedSequence
    predictions: np.random.SeedSequence


def seed_streams(random_seed: Any) -> SeedStreams:
    """Three independent streams from one ``random_seed`` (an int, ``SeedSequence`` or
    ``Generator``): the folds' generator, the fits' and the predictions' seed sequences.

    Raises
    ------
    DataError
        For a seed of another kind, or a negative integer.
    """
    check_seed(random_seed, also=("generator", "sequence"))
    if isinstance(random_seed, np.random.Generator):
        root = np.random.SeedSequence(int(random_seed.integers(2**63)))
    elif isinstance(random_seed, np.random.SeedSequence):
        root = random_seed
    else:
        root = np.random.SeedSequence(random_seed)
    folds, fits, predictions = root.spawn(3)
    return SeedStreams(np.random.default_rng(folds), fits, predictions)


def _as_model(model: Any) -> Model:
    """The ``Model`` to refit: ``model`` itself, or a fitted model's, rebuilt on its rows.

    Raises
    ------
    DataError
        For anything else, a fitted model saved without its training rows, or a model with
        ``mi()`` columns.
    """
    if isinstance(model, FittedModel):
        if model.design.n_obs == 0:
            raise DataError(
                "kfold refits the model on its training rows, which this FittedModel was "
                "saved without (posterior_only=True). Pass fitted.to_model(data) with the data "
                "it was fitted on, or a bmm.Model."
            )
        model = model.to_model(model.training_rows)
    if not isinstance(model, Model):
        raise DataError(
            "model must be a bayesmm.Model or a FittedModel with its training rows; got "
            f"{type(model).__name__}."
        )
    if model.design.imputed:
        raise DataError(
            "kfold cannot score a model with mi() columns: a held-out row's missing value has "
            "no draws in the fit that left it out."
        )
    return model


def _full_fit(model: Any, fitted: Any, rows: pd.DataFrame) -> FittedModel | None:
    """The fit of all the rows that is given (``fitted``, or ``model`` if fitted), else None.

    Raises
    ------
    DataError
        If ``fitted`` is not a FittedModel, or not a fit of the same rows.
    """
    if fitted is None:
        return model if isinstance(model, FittedModel) else None
    if not isinstance(fitted, FittedModel):
        raise DataError(
            f"fitted must be a FittedModel of all the rows (model.fitted(idata)); got "
            f"{type(fitted).__name__}."
        )
    expected = fitted.data_sha256
    if expected is not None and expected != data_fingerprint(rows):
        raise DataError(
            "fitted must be a fit of the same rows as model (its SHA-256 fingerprint of the "
            f"training rows is {expected[:12]}..., the model's rows give "
            f"{data_fingerprint(rows)[:12]}...); fit the model itself, or leave fitted out."
        )
    return fitted


def response_strata(family: Family, design: Design) -> np.ndarray:
    """The response as strata for ``stratify=True``: its category (or 0/1) per row.

    Raises
    ------
    DataError
        For a family whose response is not one category per row (gaussian, counts,
        multinomial counts): the caller names a column instead.
    """
    one_category = family.is_categorical() and not family.counts_each_category()
    if not (one_category or family.binary):
        raise DataError(
            "stratify=True stratifies by the response's categories, which a response of "
            f"family {family.name!r} does not have (only categorical, ordinal and bernoulli "
            "responses do); pass a column name or one label per row instead."
        )
    return np.asarray(design.response.values)


def observed_responses(family: Family, design: Design) -> Any:
    """The training rows' responses as ``FittedModel.log_likelihood`` reads them: the
    categories of a response with categories (the design holds their codes), counts of
    each category for multinomial, the values otherwise."""
    response = design.response
    values = np.asarray(response.values)
    if response.levels is None or family.counts_each_category():
        return values
    return np.asarray(list(response.levels), dtype=object)[values.astype(int)]


def _term_columns(design: Design) -> list[str]:
    """The columns of the design's terms, common and group-specific."""
    common = [f"{term.name}: {column}" for term in design.common_terms for column in term.columns]
    group = [f"{term.name}: {column}" for term in design.group_terms for column in term.columns]
    return common + group


def model_builder(model: Model) -> Callable[[pd.DataFrame], Model]:
    """A function of rows that builds ``model`` on them: its formula, family, links, options
    and priors as used (default priors scaled once, from all its rows), only the rows new."""
    formulas, arguments = rebuild_arguments(
        model.spec(), model.family, model.link, model.design, None
    )

    def build(rows: pd.DataFrame) -> Model:
        return Model(Formula(*formulas), rows, **arguments)

    return build


def missing_columns(model: Model, rebuilt: Model) -> list[str]:
    """The columns of ``model``'s terms that ``rebuilt`` (on fewer rows) lacks: the levels
    of a categorical predictor found only in the rows left out."""
    have = set(_term_columns(rebuilt.design))
    return [c for c in _term_columns(model.design) if c not in have]


def fold_models(model: Model, rows: pd.DataFrame, folds: np.ndarray) -> list[Model]:
    """One model per fold, built on the rows of the other folds, with ``model``'s formula,
    family, links, options and priors (as used: scaled from all the rows).

    Raises
    ------
    DataError
        If a fold's rows give other columns than all the rows (a level of a categorical
        predictor found only in the held-out fold), naming the fold and the columns; an
        error building a fold's model, of its own type, names the fold.
    """
    build = model_builder(model)
    built = []
    for fold in range(int(folds.max()) + 1):
        try:
            rebuilt = build(rows[folds != fold])
        except BayesmmError as err:
            raise type(err)(f"kfold: building the model of fold {fold}: {err}") from err
        missing = missing_columns(model, rebuilt)
        if missing:
            raise DataError(
                f"kfold: the rows outside fold {fold} lack the columns {missing[:5]} of the "
                "model: a level of a categorical predictor occurs only in that fold's rows. "
                "Stratify by that column (stratify='<column>'), or use fewer folds."
            )
        built.append(rebuilt)
    return built


def log_predictive_density(
    fitted: FittedModel, rows: pd.DataFrame, y: Any, **options: Any
) -> np.ndarray:
    """Each row's log predictive density under ``fitted``: the log of the mean over its
    draws of the row's likelihood, computed stably (``logsumexp``). ``options`` are the
    prediction options of ``FittedModel.log_likelihood``."""
    pointwise = fitted.log_likelihood(rows, y, **options)
    return np.asarray(logsumexp(pointwise, axis=0) - np.log(pointwise.shape[0]), dtype=float)


def held_out_density(
    fits: Sequence[FittedModel],
    rows: pd.DataFrame,
    y: Any,
    folds: np.ndarray,
    policy: bool | str,
    seeds: np.random.SeedSequence,
    where: Callable[[int, np.ndarray], str] | None = None,
) -> np.ndarray:
    """Each row's log predictive density under the fit of its fold (which left it out):
    ``fits[j]`` scores the rows whose fold is ``j``. A scoring error is raised again with
    ``where(j, rows)``, what the caller calls those rows (by default kfold's fold)."""
    where = where or (
        lambda fold, held: (
            f"kfold: scoring the held-out rows of fold {fold} (positions {describe_values(held)})"
        )
    )
    elpd = np.empty(len(rows))
    children = seeds.spawn(len(fits))
    for fold, (fit, seed) in enumerate(zip(fits, children, strict=True)):
        held = np.flatnonzero(folds == fold)
        try:
            elpd[held] = log_predictive_density(
                fit,
                rows.iloc[held],
                y[held],
                sample_new_groups=policy,
                random_seed=int(seed.generate_state(1)[0]),
            )
        except DataError as err:
            raise DataError(f"{where(fold, held)}: {err}") from err
    return elpd


def in_sample_density(fit: FittedModel, rows: pd.DataFrame, y: Any) -> float:
    """The full fit's log pointwise predictive density of its own rows (``lppd``), summed,
    ``CHUNK_ROWS`` rows at a time; a row of a series (``ar()``, ``cosy()``) given the rows
    before it, so that a series' densities sum to its joint one."""
    if fit.design.series is not None:
        density = fit.family.log_density(np.asarray(y, dtype=float), fit.parameters())
        return float((logsumexp(density, axis=0) - np.log(len(density))).sum())
    total = 0.0
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = slice(start, start + CHUNK_ROWS)
        total += float(log_predictive_density(fit, rows.iloc[chunk], y[chunk]).sum())
    return total


def elpd_data(elpd_i: np.ndarray, lppd: float, n_samples: int, folds: np.ndarray) -> az.ELPDData:
    """The result as ``az.loo(idata, pointwise=True)`` lays it out, so that ``az.compare``
    takes it: ``elpd_loo`` (the sum of ``elpd_i``), ``se`` (``sqrt(n) * sd(elpd_i)``),
    ``p_loo`` (``lppd - elpd_loo``), ``n_samples``, ``n_data_points``, ``warning``,
    ``loo_i`` and ``scale``; then ``kind`` (``"kfold"``) and ``folds``."""
    import arviz as az  # on first use: arviz takes longer to import than bayesmm

    n = len(elpd_i)
    elpd = float(elpd_i.sum())
    values = {
        "elpd_loo": elpd,
        "se": float(np.sqrt(n * np.var(elpd_i))),
        "p_loo": float(lppd - elpd),
        "n_samples": int(n_samples),
        "n_data_points": n,
        "warning": False,
        "loo_i": xr.DataArray(np.asarray(elpd_i, dtype=float), dims=OBS_DIM, name="loo_i"),
        "scale": "log",
        "kind": "kfold",
        "folds": np.asarray(folds, dtype=np.int64),
    }
    return az.ELPDData(data=list(values.values()), index=list(values))


def fit_results(fits: ManyFits, names: Sequence[str], caller: str) -> list[Any]:
    """The InferenceData of each fit, or a BackendError from ``caller`` naming those that
    failed by their ``names`` (one per fit)."""
    bad = [i for i, result in enumerate(fits) if result is None or isinstance(result, FitFailure)]
    if bad:
        failed = [names[i] for i in bad]
        said = "; ".join(str(fits[i]) for i in bad[:3] if fits[i] is not None)
        raise BackendError(
            f"{caller}: the fits of {', '.join(failed[:10])} failed or did not run"
            + (f" ({said})" if said else "")
            + "; the held-out rows cannot be scored without them."
        )
    return list(fits)


def _series_labels(design: Design, k: int | None) -> tuple[np.ndarray, int | None]:
    """Each row's series of an ``ar()``/``cosy()`` model, and the folds: ``k``, or 10 (as for
    rows) or one per series where there are fewer; a fold leaves whole series out.

    Raises
    ------
    DataError
        For a model of one series, whose rows no fold can leave out without a gap.
    """
    assert design.series is not None
    state = design.series.state
    if len(state.labels) < 2:
        raise DataError(
            f"kfold leaves whole series of {state.term.call} out, and this model has one "
            "series; name a column that groups rows into series (gr=), or compare forecasts "
            "of its later times (fit on the earlier ones)."
        )
    labels = np.asarray(state.labels, dtype=object)[design.series.series]
    return labels, k if k is not None else min(DEFAULT_K, len(state.labels))


def _strata(stratify: Any, model: Model, rows: pd.DataFrame) -> np.ndarray | None:
    if stratify is None or stratify is False:
        return None
    if stratify is True:
        return response_strata(model.family, model.design)
    return row_labels(rows, "stratify", stratify)


def scoring_options(
    fit_kwargs: Mapping[str, Any], caller: str
) -> tuple[bool | str, dict[str, Any]]:
    """The new-group policy for held-out groups (``sample_new_groups``, ``NEW_GROUPS``
    unless given), and the other options, for ``fit_many``.

    Raises
    ------
    DataError
        For an unknown policy, or ``keep``: ``caller`` needs every fit's InferenceData.
    """
    options = dict(fit_kwargs)
    policy = options.pop("sample_new_groups", NEW_GROUPS)
    resolve_policy(policy)
    if "keep" in options:
        raise DataError(
            f"{caller} keeps every fit's InferenceData to score the held-out rows; keep is not "
            "one of its options. Save the fits from result.fits afterwards."
        )
    return policy, options


def kfold(
    model: Model | FittedModel,
    k: int | None = None,
    *,
    groups: str | Sequence[Any] | np.ndarray | pd.Series | None = None,
    stratify: bool | str | Sequence[Any] | np.ndarray | pd.Series | None = None,
    executor: Any = None,
    random_seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    fitted: FittedModel | None = None,
    **fit_kwargs: Any,
) -> az.ELPDData:
    """K-fold cross-validation, or leave-one-group-out, of a model by refitting it.

    The training rows are split into folds; for each fold the model is fitted on the other
    folds' rows and each held-out row scored by its log predictive density,
    ``elpd_i = log(mean over draws of p(y_i | draw))``. The fold fits and the fit of all
    the rows run in one :func:`~bayesmm.fit_many` call.

    Parameters
    ----------
    model : Model or FittedModel
        The model to cross-validate: a ``bmm.Model``, or a fitted model with its training
        rows (``model.fitted(idata)`` or ``bmm.load(path)``), rebuilt with ``to_model``.
        Every fold's model keeps its formula, family, links, options and priors as used
        (default priors scaled once, from all the rows).
    k : int, optional
        The number of folds, from 2 to the number of rows (or of groups, with ``groups``).
        Without ``k`` and ``groups``, 10 folds of rows; ``k`` equal to the number of rows
        is exact leave-one-out.
    groups : str or sequence, optional
        A column of the training rows (or one label per row) whose groups stay whole: alone,
        one fold per group (leave-one-group-out, fold ``j`` the ``j``-th group in sorted
        order); with ``k``, ``k`` folds of whole groups, as even in rows as the groups allow.
    stratify : bool, str or sequence, optional
        ``True`` spreads each category of the response evenly over the folds (categorical,
        ordinal and bernoulli responses); a column name (or one label per row) spreads that
        column's values. Not with ``groups``.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where the fits run, as for :func:`~bayesmm.fit_many`.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the folds, the fits and the draws of held-out groups: one seed gives the same
        result again. ``None`` draws fresh entropy.
    fitted : FittedModel, optional
        A fit of all the rows, for ``p_loo``; by default ``model`` if it is fitted, else
        fitted here with the folds.
    **fit_kwargs
        Passed to :func:`~bayesmm.fit_many` (``draws``, ``tune``, ``chains``, ``progressbar``,
        ``inference_method``, ``vectorize``, ...), except ``sample_new_groups``: the
        policy for held-out group levels, ``"gaussian"`` (new effects drawn from the fitted
        population) unless given.

    Returns
    -------
    arviz.ELPDData
        Laid out as ``az.loo(idata, pointwise=True)`` is, for ``az.compare``: ``elpd_loo``
        (the sum of ``loo_i``), ``se`` (``sqrt(n) * sd(loo_i)``), ``p_loo`` (the full
        fit's in-sample log predictive density minus ``elpd_loo``), ``n_samples`` (the
        draws of a fold's fit), ``n_data_points``, ``warning`` (False), ``loo_i`` (each
        row's ``elpd_i``, over ``__obs__``), ``scale`` ("log"); and ``kind`` ("kfold") and
        ``folds`` (each row's fold). Its attribute ``fits`` is a :class:`KFoldFits` with
        the fold fits, the full fit and ``fit_many``'s diagnostics.

    Raises
    ------
    DataError
        For a ``k`` outside 2 to the number of rows (or groups), a ``groups`` or
        ``stratify`` column the rows lack, ``groups`` with ``stratify``, a model without
        training rows, a ``fitted`` of other rows, or a held-out level of a categorical
        predictor that the other folds lack.
    BackendError
        If a fit failed (``fit_many`` warns with its message first).

    Examples
    --------
    >>> result = bmm.kfold(model, k=5, random_seed=1, draws=500)  # doctest: +SKIP
    >>> logo = bmm.kfold(model, groups="Subject", random_seed=1)  # doctest: +SKIP
    >>> az.compare({"k-fold": result, "by subject": logo})  # doctest: +SKIP
    """
    policy, options = scoring_options(fit_kwargs, "kfold")
    base = _as_model(model)
    rows = training_frame(base.design)
    full = _full_fit(model, fitted, rows)
    streams = seed_streams(random_seed)
    group_labels = None if groups is None else row_labels(rows, "groups", groups)
    if groups is None and base.design.series is not None:  # whole series, by default
        group_labels, k = _series_labels(base.design, k)
    folds = assign_folds(len(rows), k, streams.folds, group_labels, _strata(stratify, base, rows))
    models = fold_models(base, rows, folds)
    to_fit = models if full is not None else [*models, base]
    fits = fit_many(to_fit, executor, random_seed=streams.fits, **options)
    names = [f"fold {i}" for i in range(len(models))] + ["the full fit"]
    results = fit_results(fits, names, "kfold")
    fold_fits = tuple(
        m.fitted(idata) for m, idata in zip(models, results[: len(models)], strict=True)
    )
    full_fit = full if full is not None else base.fitted(results[-1])
    y = observed_responses(base.family, base.design)
    elpd_i = held_out_density(fold_fits, rows, y, folds, policy, streams.predictions)
    posterior = results[0].posterior
    n_samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    result = elpd_data(elpd_i, in_sample_density(full_fit, rows, y), n_samples, folds)
    # A pandas Series takes plain attributes; ELPDData.copy() does not carry this one.
    result.fits = KFoldFits(fold_fits, full_fit, fits.diagnostics)
    return result
