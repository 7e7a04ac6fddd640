"""The NUTS engines run through PyMC or nutpie, and the options read from their signatures.

Each function here is the ``run`` or ``options`` of a record in
:data:`~bayesmm.backend.samplers.SAMPLERS`; the table imports this module on first use, so
that checking an ``inference_method`` loads neither pymc nor nutpie.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import TYPE_CHECKING, Any

from ..programs.compiled import shared_cache, structure_key

if TYPE_CHECKING:
    import arviz as az
    import pymc as pm

    from .registry import RunSettings

__all__ = [
    "BLACKJAX_OPTIONS",
    "nutpie_options",
    "pymc_options",
    "run_nutpie",
    "run_pymc",
    "signature_options",
]

#: Arguments of ``pm.sample`` (and of ``nutpie.sample``) that bayesmm sets itself.
_SET_BY_BAYESMM = {
    "draws",
    "tune",
    "chains",
    "random_seed",
    "seed",
    "progressbar",
    "progress_bar",
    "model",
    "nuts_sampler",
    "return_inferencedata",
    "compiled_model",
    "kwargs",
    "self",
    "vars",
}

#: What blackjax takes through PyMC's external-sampler route.
BLACKJAX_OPTIONS = frozenset(
    {"initvals", "var_names", "idata_kwargs", "nuts_sampler_kwargs"}
    | {"compute_convergence_checks", "target_accept", "cores"}
)


def signature_options(function: Any) -> set[str]:
    """The named parameters of ``function`` that bayesmm does not set itself."""
    variadic = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    named = inspect.signature(function).parameters.items()
    return {n for n, p in named if p.kind not in variadic} - _SET_BY_BAYESMM


def nutpie_options() -> frozenset[str]:
    """What ``nutpie.sample`` and its NUTS settings take (bayesmm's own names aside)."""
    import nutpie
    from nutpie import _lib

    settings = _lib.PyNutsSettings.Diag(0)
    attributes = {a for a in dir(settings) if not a.startswith("_") and a[0].islower()}
    own = signature_options(nutpie.sample) | attributes
    own -= {"num_chains", "num_draws", "num_tune", "set_target_accept"}
    own -= {"blocking", "return_raw_trace"}  # fit() returns the finished InferenceData
    return frozenset(own)


def pymc_options() -> frozenset[str]:
    """What ``pm.sample`` and PyMC's NUTS step take (bayesmm's own names aside)."""
    import pymc as pm
    from pymc.step_methods.hmc.base_hmc import BaseHMC

    step = signature_options(pm.NUTS.__init__) | signature_options(BaseHMC.__init__)
    step -= {"potential", "rng", "initial_point", "dtype", "blocked", "step_rand"}
    return frozenset(signature_options(pm.sample) | step)


def run_nutpie(model: pm.Model, settings: RunSettings, **kwargs: Any) -> az.InferenceData:
    """nutpie, with the compiled sampler (and log-likelihood) of the settings' cache, or the
    shared one: a model of a structure seen before compiles nothing."""
    import nutpie

    cache = settings.cache if settings.cache is not None else shared_cache()
    seed = None if settings.random_seed is None else int(settings.random_seed)
    key = structure_key(model)
    with cache.use(model, key) as compiled:
        idata = nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            seed=seed,
            progress_bar=settings.progressbar,
            **{"save_warmup": False, **kwargs},
        )
    if settings.log_likelihood:
        pointwise = cache.log_likelihood(model, idata["posterior"], key)
        if pointwise is not None:
            idata.add_groups(log_likelihood=pointwise)
    return idata


def run_pymc(
    model: pm.Model, settings: RunSettings, nuts_sampler: str = "pymc", **kwargs: Any
) -> az.InferenceData:
    """``pm.sample``: PyMC's own NUTS, or (``nuts_sampler``) an external one such as
    blackjax. The log-likelihood is left to ``pymc.sample``, as for every sampler alike."""
    import pymc as pm

    options: dict[str, Any] = {"cores": min(settings.chains, os.cpu_count() or 1), **kwargs}
    if nuts_sampler == "pymc" and options["cores"] > 1 and "jax" in sys.modules:
        # JAX runs threads of its own: forking this process after it started can deadlock.
        options.setdefault("mp_ctx", "forkserver")
    options["idata_kwargs"] = {**kwargs.get("idata_kwargs", {}), "log_likelihood": False}
    if nuts_sampler != "pymc":
        options["nuts_sampler"] = nuts_sampler
    return pm.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        random_seed=settings.random_seed,
        progressbar=settings.progressbar,
        model=model,
        **options,
    )
