"""Comparing fitted models by their expected predictive accuracy, and averaging their
predictions with weights from that comparison.

:func:`compare` is ``az.compare`` (stacking weights by default; Yao, Vehtari, Simpson and
Gelman 2018) for fitted models, after checking that they saw the same rows and the same
response: a comparison of models fitted to different data is not one. Each model's ELPD
comes from PSIS-LOO (:meth:`~bayesmm.fitted.FittedModel.loo`), or is given (a
:func:`~bayesmm.workflow.kfold` result, an ``az.ELPDData``).

:func:`average_predictions` draws responses from the mixture of the models' posterior
predictive distributions: ``round(w_k S)`` of ``S`` draws from model ``k`` (as brms's
``pp_average``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import DataError
from .._validation import check_seed, choice_message
from ..fitted import FittedModel

if TYPE_CHECKING:
    pass

__all__ = ["compare", "average_predictions", "model_weights", "draw_counts", "WEIGHT_METHODS"]

#: The ``weights`` :func:`average_predictions` computes, and ``az.compare``'s names of them.
WEIGHT_METHODS = {"stacking": "stacking", "pseudo-BMA": "pseudo-BMA"}


def _named(fits: Mapping[str, Any] | Sequence[Any], where: str) -> dict[str, Any]:
    """``fits`` by name: a mapping as given, a sequence as ``model0``, ``model1``, ..."""
    named = (
        dict(fits) if isinstance(fits, Mapping) else {f"model{i}": f for i, f in enumerate(fits)}
    )
    if len(named) < 2:
        raise DataError(f"{where} takes at least two fitted models; got {len(named)}.")
    for name, fit in named.items():
        if not isinstance(fit, FittedModel) and type(fit).__name__ != "ELPDData":
            raise DataError(
                f"{where}: {name!r} must be a FittedModel (model.fitted(idata), bmm.load(...)) "
                f"or an az.ELPDData (a kfold result); got {type(fit).__name__}."
            )
    return named


def _check_same_data(fits: Mapping[str, Any], where: str) -> None:
    """The fitted models saw the same response on the same rows."""
    models = {n: f for n, f in fits.items() if isinstance(f, FittedModel)}
    if len(models) < 2:
        return
    (first, reference), *others = models.items()
    y = np.asarray(reference.design.response.values)
    for name, fit in others:
        response = fit.design.response
        if response.name != reference.design.response.name:
            raise DataError(
                f"{where}: {name!r} models the response {response.name!r} and {first!r} "
                f"{reference.design.response.name!r}; compare models of one response."
            )
        values = np.asarray(response.values)
        if values.shape != y.shape or not np.array_equal(values, y, equal_nan=True):
            raise DataError(
                f"{where}: {name!r} and {first!r} were fitted to different rows ({len(values)} "
                f"and {len(y)} rows, or other values of {response.name!r}); compare models of "
                "the same data (a formula that uses other columns may drop other incomplete rows)."
            )


def _elpd(fit: Any) -> Any:
    return fit.loo() if isinstance(fit, FittedModel) else fit


def compare(
    fits: Mapping[str, Any] | Sequence[Any], method: str = "stacking", **options: Any
) -> pd.DataFrame:
    """``az.compare``'s table of fitted models, ranked by ELPD, with their weights.

    Parameters
    ----------
    fits : mapping or sequence
        Fitted models (:class:`~bayesmm.fitted.FittedModel`), or their ELPD (``az.ELPDData``:
        :func:`~bayesmm.workflow.kfold`'s result, say), by name.
    method : {"stacking", "pseudo-BMA", "BB-pseudo-BMA"}, default "stacking"
        How ``az.compare`` weights the models.
    **options
        More of ``az.compare``'s arguments (``seed``, ``b_samples``, ...).

    Raises
    ------
    DataError
        For fewer than two models, a value that is neither, or fitted models of different
        rows or responses.
    """
    import arviz as az

    named = _named(fits, "compare")
    _check_same_data(named, "compare")
    methods = ("stacking", "pseudo-BMA", "BB-pseudo-BMA")
    if method not in methods:
        raise DataError(choice_message("method", method, methods))
    elpd = {name: _elpd(fit) for name, fit in named.items()}
    # Stacking's objective takes the log of each row's weighted predictive density, which is
    # 0 where every model gives the row a density that underflows: log(0) = -inf is the
    # right value there, and numpy's warning about it is not the user's concern.
    with np.errstate(divide="ignore"):
        return az.compare(elpd, method=method, **options)  # type: ignore[arg-type]


def model_weights(fits: Mapping[str, Any], weights: str | Sequence[float]) -> np.ndarray:
    """The weight of each model, in order: ``az.compare``'s, or numbers summing to 1."""
    if isinstance(weights, str):
        if weights not in WEIGHT_METHODS:
            raise DataError(choice_message("weights", weights, [*WEIGHT_METHODS, "numbers"]))
        table = compare(fits, method=WEIGHT_METHODS[weights])
        return table.loc[list(fits), "weight"].to_numpy(dtype=float)
    values = np.asarray(weights, dtype=float)
    if values.shape != (len(fits),) or np.any(values < 0) or not np.isclose(values.sum(), 1):
        raise DataError(
            f"weights must be 'stacking', 'pseudo-BMA', or {len(fits)} numbers >= 0 summing to "
            f"1 (one per model); got {list(np.atleast_1d(weights))}."
        )
    return values


def draw_counts(weights: np.ndarray, total: int) -> np.ndarray:
    """How many of ``total`` draws each model gives: ``round(w_k total)``, adjusted to sum
    to ``total`` by the largest remainders (ties to the first model)."""
    counts = np.floor(weights * total).astype(int)
    left = total - int(counts.sum())
    counts[np.argsort(-(weights * total - counts), kind="stable")[:left]] += 1
    return counts


def average_predictions(
    fits: Mapping[str, FittedModel] | Sequence[FittedModel],
    weights: str | Sequence[float] = "stacking",
    *,
    data: pd.DataFrame | None = None,
    random_seed: int | np.random.Generator | None = None,
    **options: Any,
) -> np.ndarray:
    """Response draws from the models' predictive distributions mixed by ``weights``:
    ``(draws, rows)``, as ``FittedModel.draws(data, kind="response")`` gives one model's.

    Of ``S`` draws (the first model's number), ``round(w_k S)`` come from model ``k``
    (their sum adjusted to ``S`` by the largest remainders), each from distinct posterior
    draws of that model, in a random order.

    Parameters
    ----------
    fits : mapping or sequence of FittedModel
        The models, fitted to the same rows.
    weights : "stacking", "pseudo-BMA" or sequence of float, default "stacking"
        The models' weights: from :func:`compare`, or given (one per model, summing to 1).
    data : pandas.DataFrame, optional
        The rows to predict; the training rows if omitted.
    random_seed : int or numpy.random.Generator, optional
        Seeds the choice of draws and the responses.
    **options
        Prediction options of every model's ``draws`` (``sample_new_groups``, ...).

    Raises
    ------
    DataError
        For fewer than two models, models of different data, or weights that are not
        one of the methods or numbers summing to 1.
    """
    named = _named(fits, "average_predictions")
    if any(not isinstance(f, FittedModel) for f in named.values()):
        raise DataError("average_predictions takes fitted models, which can draw responses.")
    _check_same_data(named, "average_predictions")
    w = model_weights(named, weights)
    check_seed(random_seed, also=("generator",))
    rng = np.random.default_rng(random_seed)
    models = list(named.values())
    counts = draw_counts(w, models[0].posterior_draws.chains * models[0].posterior_draws.draws)
    pieces = []
    for fit, count in zip(models, counts, strict=True):
        if count == 0:
            continue
        seed = int(rng.integers(2**32))
        draws = fit.draws(data, kind="response", random_seed=seed, **options)
        if count > len(draws):
            raise DataError(
                f"A model has {len(draws)} draws and its weight asks for {count}: refit it with "
                "as many draws as the first model."
            )
        pieces.append(draws[rng.choice(len(draws), size=count, replace=False)])
    mixed = np.concatenate(pieces, axis=0)
    return mixed[rng.permutation(len(mixed))]
