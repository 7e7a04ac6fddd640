"""Many fits in one call: simulation studies, calibration, bootstrap, per-segment models.

:func:`fit_many` fits a sequence of models and returns their results in order. Fits of one
structure and shapes reuse one compiled program (any route); on the JAX route they can also
run as one vectorised program. With an ``executor`` (any ``concurrent.futures.Executor``,
or a ``dask.distributed.Client``) the fits go to worker processes or machines: what travels
is each model's spec and data (a ``Model``, or a multivariate ``MvModel``, pickles without
its PyMC graph), and each worker compiles once per structure and keeps it.

One ``random_seed`` gives every fit its own independent stream (``SeedSequence.spawn``), the
same whatever the executor. A failed fit is reported with its index and message, and the
others are kept; an interrupt (Ctrl-C) keeps the fits finished so far.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import BayesmmWarning, DataError
from ._validation import check_counts, check_sampling, check_seed
from .backend.samplers import AUTO, check_options
from .model import Model
from .mv import MvModel

if TYPE_CHECKING:
    import arviz as az

__all__ = ["fit_many", "FitFailure", "ManyFits", "FitManyWarning", "KEEP"]

_log = logging.getLogger("bayesmm")

#: What each result holds: the InferenceData, or its summary table.
KEEP = ("idata", "summary")

#: What fit_many fits: models of one response, and multivariate models.
AnyModel = Model | MvModel

#: The fewest fits of one structure that the vectorised route runs together.
VECTORIZE_MIN_FITS = 2


class FitManyWarning(BayesmmWarning):
    """Some fits of :func:`fit_many` failed, or the call was interrupted."""


@dataclass(frozen=True)
class FitFailure:
    """A fit that failed: its position among the models, the error and where it arose.

    Stands in the results in the failed fit's place, so that the results stay in order.
    """

    index: int
    error: str
    message: str
    traceback: str = field(default="", repr=False)

    def __str__(self) -> str:
        return f"fit {self.index} failed: {self.error}: {self.message}"


@dataclass(frozen=True)
class _Outcome:
    """What one fit gives back to the caller (from any process)."""

    index: int
    result: Any
    diagnostics: dict[str, Any]


class ManyFits(Sequence[Any]):
    """The results of :func:`fit_many`, in the order of the models.

    Each item is the fit's ``InferenceData`` (``keep="idata"``), its ``az.summary`` table
    (``keep="summary"``) or the path of its file (``keep`` a folder), or a
    :class:`FitFailure`; an interrupted call leaves ``None`` for the fits that did not run.

    Attributes
    ----------
    diagnostics : pandas.DataFrame
        One row per fit: ``ok``, ``inference_method``, ``divergences``, ``max_rhat``,
        ``min_ess_bulk``, ``seconds`` and ``error``.
    interrupted : bool
        Whether the call was interrupted before every fit finished.
    """

    def __init__(self, results: list[Any], diagnostics: pd.DataFrame, interrupted: bool):
        self._results = results
        self.diagnostics = diagnostics
        self.interrupted = interrupted

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, index: Any) -> Any:
        return self._results[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._results)

    @property
    def failures(self) -> list[FitFailure]:
        """The fits that failed, in order."""
        return [r for r in self._results if isinstance(r, FitFailure)]

    def __repr__(self) -> str:
        done = sum(r is not None and not isinstance(r, FitFailure) for r in self._results)
        state = ", interrupted" if self.interrupted else ""
        return f"ManyFits({len(self)} fits: {done} done, {len(self.failures)} failed{state})"


def spawn_seeds(random_seed: Any, n: int) -> list[int]:
    """An independent seed per fit, spawned from ``random_seed`` (reproducibly)."""
    check_seed(random_seed, also=("sequence",))
    sequence = (
        random_seed
        if isinstance(random_seed, np.random.SeedSequence)
        else np.random.SeedSequence(random_seed)
    )
    return [int(child.generate_state(1)[0]) for child in sequence.spawn(n)]


def fit_diagnostics(idata: az.InferenceData) -> dict[str, Any]:
    """Divergences, the largest R-hat and the smallest bulk ESS of a fit's posterior: those
    the check after every NUTS fit recorded (:mod:`~bayesmm.backend.convergence`), else
    (an approximation's draws) computed the same way."""
    from .backend.samplers import fit_check

    attrs = idata.attrs
    if "sampling_max_rhat" not in attrs:
        attrs = {**attrs, **fit_check(idata).attrs()}
    return {
        "inference_method": idata.attrs.get("inference_method"),
        "divergences": int(attrs["sampling_divergences"]),
        "max_rhat": float(attrs["sampling_max_rhat"]),
        "min_ess_bulk": float(attrs["sampling_min_ess_bulk"]),
    }


def _kept(
    index: int, model: AnyModel, idata: az.InferenceData, keep: str | Path
) -> tuple[Any, dict[str, Any]]:
    """The result to keep of one finished fit, and its diagnostics (also in its attrs)."""
    diagnostics = fit_diagnostics(idata)
    idata.attrs.update(
        {k: v for k, v in diagnostics.items() if k != "inference_method"} | {"fit_index": index}
    )
    if keep == "idata":
        return idata, diagnostics
    if keep == "summary":
        import arviz as az

        return az.summary(idata), diagnostics
    save = _saver(model)
    if save is None:  # _check_keep refuses a folder for these before any fit
        raise DataError(f"A {type(model).__name__} cannot be saved to a file yet.")
    return save(Path(keep) / f"fit-{index:05d}.nc", idata), diagnostics


def fit_one(
    index: int, model: AnyModel, seed: int, keep: str | Path, fit_kwargs: Mapping[str, Any]
) -> _Outcome:
    """One fit of :func:`fit_many`, as a worker runs it: any error becomes a
    :class:`FitFailure` in the result, so one fit cannot lose the others."""
    start = time.perf_counter()
    try:
        idata = model.fit(random_seed=seed, **{"progressbar": False, **fit_kwargs})
        result, diagnostics = _kept(index, model, idata, keep)
    except Exception as err:  # any failure of this fit is its result
        failure = FitFailure(index, type(err).__name__, str(err), traceback.format_exc())
        return _Outcome(index, failure, {"error": f"{type(err).__name__}: {err}"})
    diagnostics["seconds"] = time.perf_counter() - start
    return _Outcome(index, result, diagnostics)


def _check_models(models: Any) -> list[AnyModel]:
    """``models`` as a list, each a model ``fit_many`` fits.

    Raises
    ------
    DataError
        For one model instead of a list, or anything else, naming its position.
    """
    if isinstance(models, AnyModel) or not isinstance(models, Iterable):
        raise DataError(
            f"models must be a list of bayesmm.Model objects; got {type(models).__name__}. "
            "Pass a list, e.g. fit_many([model]) for one model."
        )
    models = list(models)
    bad = [i for i, m in enumerate(models) if not isinstance(m, AnyModel)]
    if bad:
        raise DataError(
            f"models must be bayesmm.Model objects; got {type(models[bad[0]]).__name__} at "
            f"position(s) {bad[:10]}."
        )
    return models


def _saver(model: AnyModel) -> Callable[..., Path | str] | None:
    """The model's ``save(path, idata)``, where its kind has one (multivariate models do not
    yet)."""
    save = getattr(model, "save", None)
    return save if callable(save) else None


def _check_keep(keep: Any, models: Sequence[AnyModel]) -> str | Path:
    if isinstance(keep, str) and keep in KEEP:
        return keep
    if isinstance(keep, str | os.PathLike):
        folder = Path(keep)
        if not folder.is_dir():
            raise DataError(
                f"keep must be one of {list(KEEP)} or an existing folder to write each fit "
                f"to; got {str(keep)!r}, which is not a folder."
            )
        unsaved = [i for i, m in enumerate(models) if _saver(m) is None]
        if unsaved:
            raise DataError(
                f"keep={str(keep)!r} saves each fit to a file, but the model(s) at position(s) "
                f"{unsaved[:10]} cannot be saved yet ({type(models[unsaved[0]]).__name__}); "
                f"keep one of {list(KEEP)} instead."
            )
        return folder
    raise DataError(
        f"keep must be one of {list(KEEP)} or a folder to write each fit to; got {keep!r}."
    )


def _as_executor(executor: Any) -> Executor | None:
    """An Executor: as given, or a ``dask.distributed.Client``'s."""
    if executor is None or isinstance(executor, Executor):
        return executor
    if type(executor).__module__.startswith("distributed") and hasattr(executor, "get_executor"):
        # pure=False: every fit runs, even two of equal arguments (Dask would reuse one).
        return executor.get_executor(pure=False)
    raise DataError(
        "executor must be a concurrent.futures.Executor, a dask.distributed.Client or None; "
        f"got {type(executor).__name__}."
    )


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Fits", unit="fit", disable=not enabled)


def fit_many(
    models: Sequence[AnyModel],
    executor: Any = None,
    *,
    random_seed: int | np.random.SeedSequence | None = None,
    keep: str | os.PathLike[str] = "idata",
    vectorize: bool | str = "auto",
    progressbar: bool = True,
    **fit_kwargs: Any,
) -> ManyFits:
    """Fit many models and return their results in order.

    Parameters
    ----------
    models : sequence of Model or MvModel
        The models to fit (built with ``bmm.Model``, of one response or several; their PyMC
        graphs need not be built).
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where the fits run: in this process (``None``), or on the executor's workers (a
        ``ProcessPoolExecutor``, a Dask ``Client`` of a local or remote cluster). Each
        worker compiles once per structure and keeps it for the next fits.
    random_seed : int or numpy.random.SeedSequence, optional
        Spawns an independent seed per fit: the same fits give the same draws whatever the
        executor. ``None`` draws fresh entropy.
    keep : {"idata", "summary"} or path, default "idata"
        What to keep of each fit: its ``InferenceData``, its ``az.summary`` table, or, given
        an existing folder, nothing in memory: each fit is saved there as
        ``fit-00000.nc``, ... (with ``Model.save``) and the result is its path.
    vectorize : bool or "auto", default "auto"
        On the JAX route (``inference_method="numpyro"``, or ``"auto"`` where it picks
        NumPyro), run the fits of one structure and shapes as one vectorised program.
        ``"auto"`` does so where it wins (on an accelerator; see ``docs/many-fits.md``).
        Only without an executor.
    progressbar : bool, default True
        A progress bar over the fits.
    **fit_kwargs
        Passed to every ``Model.fit`` (``draws``, ``tune``, ``chains``,
        ``inference_method``, ...).

    Returns
    -------
    ManyFits
        The results in order, failures as :class:`FitFailure` in their place, and
        ``diagnostics``, a table of each fit's divergences, largest R-hat and smallest bulk
        ESS (also in each ``InferenceData``'s attrs).

    Raises
    ------
    BackendError
        For an unknown ``inference_method``, or one whose packages are missing.
    DataError
        For ``models`` that is not a list of ``bmm.Model``, a bad ``keep`` (a folder for
        models that cannot be saved yet), ``executor``,
        ``random_seed``, count or sampler option (under ``"auto"``, one that no route it
        may pick takes), all checked once before any fit.

    Examples
    --------
    >>> fits = bmm.fit_many(models, random_seed=1, draws=500)  # doctest: +SKIP
    >>> fits.diagnostics[["divergences", "max_rhat"]].max()  # doctest: +SKIP
    """
    models = _check_models(models)
    if "random_seed" in fit_kwargs or "cache" in fit_kwargs:
        raise DataError("fit_many gives each fit its seed from random_seed, and its own cache.")
    counts = ("draws", "tune", "chains")
    check_counts(**{k: fit_kwargs[k] for k in counts if k in fit_kwargs})
    check_sampling(None, fit_kwargs)
    fit_arguments = set(inspect.signature(Model.fit).parameters)
    check_options(
        fit_kwargs.get("inference_method", AUTO),
        {k: v for k, v in fit_kwargs.items() if k not in fit_arguments},
        sufficient_statistics=fit_kwargs.get("sufficient_statistics"),
    )
    keep = _check_keep(keep, models)
    pool = _as_executor(executor)
    seeds = spawn_seeds(random_seed, len(models))
    outcomes: dict[int, _Outcome] = {}
    interrupted = False
    bar = _progress(len(models), progressbar)
    try:
        if pool is None:
            groups = _vector_groups(models, vectorize, fit_kwargs)
            for indexes in groups.vectorised:
                for outcome in _fit_vectorised(indexes, models, seeds, keep, fit_kwargs):
                    outcomes[outcome.index] = outcome
                    bar.update(1)
            for i in groups.one_by_one:
                outcomes[i] = fit_one(i, models[i], seeds[i], keep, fit_kwargs)
                bar.update(1)
        else:
            interrupted = _run_on(pool, models, seeds, keep, fit_kwargs, outcomes, bar)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    return _results(len(models), outcomes, interrupted)


def _run_on(
    pool: Executor,
    models: list[AnyModel],
    seeds: list[int],
    keep: str | Path,
    fit_kwargs: Mapping[str, Any],
    outcomes: dict[int, _Outcome],
    bar: Any,
) -> bool:
    """The fits on an executor's workers; whether it was interrupted."""
    futures: dict[Future[_Outcome], int] = {
        pool.submit(fit_one, i, model, seeds[i], keep, dict(fit_kwargs)): i
        for i, model in enumerate(models)
    }
    try:
        for future in as_completed(futures):
            i = futures[future]
            try:
                outcomes[i] = future.result()
            except Exception as err:  # the worker itself failed (killed, out of memory, ...)
                failure = FitFailure(i, type(err).__name__, str(err))
                outcomes[i] = _Outcome(i, failure, {"error": f"{type(err).__name__}: {err}"})
            bar.update(1)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        return True
    return False


@dataclass
class _Groups:
    vectorised: list[list[int]]
    one_by_one: list[int]


def _vector_groups(
    models: list[AnyModel], vectorize: Any, fit_kwargs: Mapping[str, Any]
) -> _Groups:
    """Which fits run together in one vectorised program, and which one by one."""
    if not (isinstance(vectorize, bool) or (isinstance(vectorize, str) and vectorize == "auto")):
        raise DataError(f"vectorize must be True, False or 'auto'; got {vectorize!r}.")
    everything = list(range(len(models)))
    if vectorize is False or (vectorize == "auto" and not _vectorising_wins()):
        return _Groups([], everything)
    from .backend.batch import vector_key

    keys: dict[Any, list[int]] = {}
    for i, model in enumerate(models):
        key = vector_key(model.backend, fit_kwargs)
        keys.setdefault(key if key is not None else ("one", i), []).append(i)
    vectorised = [g for k, g in keys.items() if k[0] != "one" and len(g) >= VECTORIZE_MIN_FITS]
    together = {i for g in vectorised for i in g}
    return _Groups(vectorised, [i for i in everything if i not in together])


def _vectorising_wins() -> bool:
    """Whether ``vectorize="auto"`` runs fits together: on an accelerator, where the fits'
    chains run side by side; on a CPU, one fit after the other is faster
    (``benchmarks/many_fits.py``)."""
    from .backend.batch import accelerator

    return accelerator()


def _fit_vectorised(
    indexes: list[int],
    models: list[AnyModel],
    seeds: list[int],
    keep: str | Path,
    fit_kwargs: Mapping[str, Any],
) -> list[_Outcome]:
    """Fits of one structure as one program; if it fails, each fit one by one."""
    from .backend.batch import sample_many

    start = time.perf_counter()
    try:
        idatas = sample_many(
            [models[i].backend for i in indexes], [seeds[i] for i in indexes], **fit_kwargs
        )
    except Exception as err:  # any failure of the batch (e.g. out of memory): one by one
        _log.info("The vectorised fits failed (%s); fitting them one by one.", err)
        return [fit_one(i, models[i], seeds[i], keep, fit_kwargs) for i in indexes]
    share = (time.perf_counter() - start) / len(indexes)
    outcomes = []
    for i, idata in zip(indexes, idatas, strict=True):
        try:
            result, diagnostics = _kept(i, models[i], models[i].annotate(idata), keep)
        except Exception as err:  # e.g. a full disk with keep=<folder>: this fit's result
            failure = FitFailure(i, type(err).__name__, str(err), traceback.format_exc())
            outcomes.append(_Outcome(i, failure, {"error": f"{type(err).__name__}: {err}"}))
            continue
        diagnostics["seconds"] = share
        outcomes.append(_Outcome(i, result, diagnostics))
    return outcomes


def _results(n: int, outcomes: dict[int, _Outcome], interrupted: bool) -> ManyFits:
    results: list[Any] = [None] * n
    rows = []
    for i in range(n):
        outcome = outcomes.get(i)
        row: dict[str, Any] = {"fit": i, "ok": False}
        if outcome is not None:
            results[i] = outcome.result
            row["ok"] = not isinstance(outcome.result, FitFailure)
            row.update(outcome.diagnostics)
        rows.append(row)
    columns = ["fit", "ok", "inference_method", "divergences", "max_rhat", "min_ess_bulk"]
    table = pd.DataFrame(rows).reindex(columns=[*columns, "seconds", "error"])
    fits = ManyFits(results, table.set_index("fit"), interrupted)
    if fits.failures or interrupted:
        missing = sum(r is None for r in results)
        warnings.warn(
            f"fit_many: {len(fits.failures)} of {n} fits failed"
            + (f", and {missing} did not run (interrupted)" if interrupted else "")
            + "; see .failures and .diagnostics. "
            + "; ".join(str(f) for f in fits.failures[:3]),
            FitManyWarning,
            stacklevel=3,
        )
    return fits
