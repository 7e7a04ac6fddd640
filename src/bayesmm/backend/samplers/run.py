"""Running a sampler on a built model: the sampler ``"auto"`` chooses, the summed model when
one is exact and worth it, the fallback when JAX cannot translate a model, and the tidied
InferenceData ``fit()`` returns."""

from __future__ import annotations

import logging
import os
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr
from pytensor.compile.sharedvalue import SharedVariable

from ..._errors import BackendError
from ..graph.built import BuiltModel, user_facing
from ..graph.variables import CATEGORY_DIM, OBS_DIM
from ..programs.compiled import CompiledCache
from ..programs.jax_ops import cannot_translate
from .choice import summed_for
from .convergence import check_fit
from .registry import (
    AUTO,
    AUTO_JAX_MAX_ROWS,
    SAMPLERS,
    RunSettings,
    choose_sampler,
    require_method,
    sampler_arguments,
)

__all__ = [
    "sample",
    "tidy",
    "run_sampler",
    "default_chains",
    "log_likelihood_default",
    "LOG_LIKELIHOOD_MAX_VALUES",
]

#: Largest log-likelihood stored by default: 25 million float64 values, 200 MB.
LOG_LIKELIHOOD_MAX_VALUES = 25_000_000

_log = logging.getLogger("bayesmm")


def log_likelihood_default(given: bool | None, n_obs: int, draws: int, chains: int) -> bool:
    """Whether to store the log-likelihood: as ``given``, or (``None``) when it takes at most
    :data:`LOG_LIKELIHOOD_MAX_VALUES` numbers."""
    if given is not None:
        return bool(given)
    size = n_obs * draws * chains
    if size > LOG_LIKELIHOOD_MAX_VALUES:
        _log.info(
            "Not storing the log-likelihood (%d values, %.1f GB); pass log_likelihood=True "
            "to store it anyway.",
            size,
            size * 8 / 1e9,
        )
        return False
    return True


def default_chains() -> int:
    """As PyMC: one chain per core, at least 2 and at most 4."""
    return max(2, min(4, os.cpu_count() or 1))


def run_sampler(
    model: pm.Model,
    inference_method: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    cache: CompiledCache | None = None,
    log_likelihood: bool = False,
    **kwargs: Any,
) -> az.InferenceData:
    """Run the registered sampler ``inference_method`` on ``model`` (its record's ``run``,
    :data:`~bayesmm.backend.samplers.SAMPLERS`); the raw InferenceData it returns.

    With a ``cache``, nutpie reuses the compiled sampler of an earlier model of the same
    structure; the other samplers compile as usual. NumPyro and nutpie compute the
    log-likelihood too when asked (with the sampler's compiled functions); for the others
    :func:`sample` does.
    """
    settings = RunSettings(
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=progressbar,
        log_likelihood=log_likelihood,
        cache=cache,
    )
    return SAMPLERS[inference_method].run(model, settings, **kwargs)


def _resolved(
    inference_method: str, n_obs: int, cache: CompiledCache | None, kwargs: dict[str, Any]
) -> str:
    """The sampler that runs: the one asked for, or what ``"auto"`` chooses for ``n_obs``
    rows (with nutpie's low-rank mass matrix added to ``kwargs`` on large data).

    Raises
    ------
    BackendError
        If a nutpie ``cache`` is given for another sampler.
    """
    require_method(inference_method)
    if inference_method == AUTO:
        inference_method = choose_sampler(n_obs, cache)
        if inference_method == "nutpie" and n_obs > AUTO_JAX_MAX_ROWS:
            # Large data: the intercept and the effects of a grouping factor with few levels
            # are strongly correlated a posteriori; nutpie's low-rank mass matrix follows
            # that and roughly triples the smallest ESS on InstEval (benchmarks/README.md).
            kwargs.setdefault("low_rank_modified_mass_matrix", True)
    if cache is not None and inference_method != "nutpie":
        raise BackendError(
            "cache= holds compiled nutpie samplers: use it with inference_method='nutpie' or "
            f"'auto'; got {inference_method!r} (NumPyro reuses its compiled sampler by itself)."
        )
    return inference_method


def sample(
    built: BuiltModel,
    *,
    draws: int,
    tune: int,
    chains: int | None,
    inference_method: str,
    random_seed: int | None,
    progressbar: bool,
    log_likelihood: bool | None,
    cache: CompiledCache | None = None,
    sufficient_statistics: bool | None = None,
    **kwargs: Any,
) -> az.InferenceData:
    """Run NUTS and return the tidied InferenceData.

    ``log_likelihood=None`` stores the pointwise log-likelihood when it is cheap: at most
    :data:`LOG_LIKELIHOOD_MAX_VALUES` numbers (observations x draws x chains).

    ``sufficient_statistics`` chooses whether the sampler reads the rows summed (see
    :func:`~bayesmm.backend.samplers.choice.summed_for`); the log-likelihood of each row, when
    stored, comes from ``built``, which has the same variables once the summed model's
    ``complete`` (if any) has drawn those it integrated out.

    The posterior keeps the user-facing variables; the internal ones of
    :attr:`BuiltModel.internal` are dropped after the log-likelihood is computed.
    """
    summed = summed_for(built, sufficient_statistics, (draws, tune, chains), inference_method)
    asked = inference_method
    automatic = inference_method == AUTO
    inference_method = _resolved(inference_method, len(built.observed), cache, kwargs)
    chains = chains or default_chains()
    model = (summed or built).model
    log_likelihood = log_likelihood_default(log_likelihood, len(built.observed), draws, chains)
    options = {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "random_seed": random_seed,
        "progressbar": progressbar,
        "log_likelihood": log_likelihood and summed is None,
        **({"cache": cache} if cache is not None else {}),
        **kwargs,
    }
    arguments = sampler_arguments(inference_method, options, asked)
    reads_rows = summed is None or arguments.get("batch_size") is not None
    recentres = SAMPLERS[inference_method].recentres
    if recentres and built.recentred is not None and reads_rows:
        # The same posterior without the ridge of the intercept and the effects that
        # stochastic gradients, and L-BFGS, crawl along (a million-row bernoulli: ADVI 12 SDs
        # off without); the group term is reported under its own name. Not for Laplace,
        # whose mode search then ran to a group sd near 0 (docs/large-data.md).
        built = built.recentred()
        model = built.model
    if arguments.get("batch_size") is not None:  # minibatch ADVI reads the rows, not sums
        model, arguments["batched"] = built.model, built.batched
    try:
        idata = run_sampler(model, inference_method, **arguments)
    except (ValueError, NotImplementedError) as err:
        record = SAMPLERS[inference_method]
        if not record.jax or not cannot_translate(err):
            raise
        if not automatic:
            raise BackendError(
                f"{record.label} cannot sample this model: JAX cannot compute "
                f"its log density or gradient ({type(err).__name__}: {err}). Use "
                "inference_method='nutpie' or 'pymc'."
            ) from None
        # e.g. the gradient of the incomplete beta function in its shape parameters, which
        # the truncated negative binomial of hurdle_negativebinomial needs.
        inference_method = "nutpie" if SAMPLERS["nutpie"].installed() else "pymc"
        _log.info(
            "JAX cannot differentiate this model (%s); sampling with %s.", err, inference_method
        )
        arguments = sampler_arguments(inference_method, options, asked)
        idata = run_sampler(model, inference_method, **arguments)
    ran = summed if summed is not None and model is summed.model else built
    if ran.complete is not None:
        completed = ran.complete(idata["posterior"], random_seed, log_likelihood)
        idata.posterior = completed  # type: ignore[attr-defined]
    idata = tidy(built, idata, inference_method, log_likelihood)
    idata.attrs["likelihood"] = ran.likelihood
    return idata


def tidy(
    built: BuiltModel, idata: az.InferenceData, inference_method: str, log_likelihood: bool
) -> az.InferenceData:
    """A sampler's raw InferenceData made what ``fit()`` returns: the log-likelihood (when
    asked and the sampler did not add it), the data and observations, the sampler's name,
    and the user-facing variables of the posterior in reading order; a NUTS fit is checked
    (:func:`~bayesmm.backend.convergence.check_fit`)."""
    model = built.model
    if log_likelihood and "log_likelihood" not in idata.groups():
        pm.compute_log_likelihood(idata, model=model, progressbar=False)
    idata.attrs["inference_method"] = inference_method
    _set_constant_data(idata, model)
    if "observed_data" not in idata.groups() and len(built.observed):  # none: stored sums
        dims = (OBS_DIM, CATEGORY_DIM)[: np.ndim(built.observed)]  # a multinomial's counts
        found = built.observations or ((built.response, dims, built.observed),)
        named = {d for _, each, _ in found for d in each[1:]}
        coords = {d: list(model.coords[d]) for d in sorted(named)}
        observed = xr.Dataset(
            {name: (each, values) for name, each, values in found},
            coords={OBS_DIM: np.arange(len(built.observed)), **coords},
        )
        idata.add_groups(observed_data=observed)
    idata.posterior = user_facing(built, idata["posterior"])  # type: ignore[attr-defined]
    record = SAMPLERS.get(inference_method)
    if record is None or not record.approximation:  # each approximation checks its k-hat
        check_fit(idata, inference_method)
    return idata


def _set_constant_data(idata: az.InferenceData, model: pm.Model) -> None:
    """Store the model's data containers as ``constant_data``, as ``pm.sample`` does.

    Every sampler gets the same group, with this model's values (a reused compiled sampler
    would otherwise report its first model's). ``pm.sample_posterior_predictive`` compares it
    with the model's data to tell which variables it must not take from the trace.
    """
    from pymc.backends.arviz import find_constants

    dims = model.named_vars_to_dims
    variables = {}
    for name, value in find_constants(model).items():
        value = np.asarray(value)
        names = dims.get(name) or tuple(f"{name}_dim_{i}" for i in range(value.ndim))
        variables[name] = (tuple(names), value)
    length = model.dim_lengths.get(OBS_DIM)  # none in a model of stored sums alone
    # The length is a shared value: read it, as compiling a function to evaluate it costs
    # more than the rest of this step.
    rows = {}
    if length is not None:
        n_obs = int(length.get_value() if isinstance(length, SharedVariable) else length.eval())
        rows = {OBS_DIM: np.arange(n_obs)}
    group = xr.Dataset(variables, coords=rows)
    if "constant_data" in idata.groups():
        del idata["constant_data"]
    idata.add_groups(constant_data=group)
