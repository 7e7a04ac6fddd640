"""The options each NUTS route takes, checked before anything is compiled.

bayesmm's own names work on every route that has the setting and are translated to the
sampler's: ``target_accept``, ``max_tree_depth`` (PyMC's ``max_treedepth``, nutpie's
``maxdepth``) and ``cores``. Any other option is passed on unchanged when the sampler takes
it, and otherwise refused with the list of those it takes. Each list is read from the
sampler's own signature, so a new release's options are known without a change here.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from functools import cache
from typing import Any

from .._errors import DataError
from .._validation import did_you_mean

__all__ = [
    "APPROXIMATIONS",
    "COMMON_OPTIONS",
    "sampler_options",
    "translate_options",
    "sampler_arguments",
]

#: Options with one name on every route (blackjax has no tree depth of its own).
COMMON_OPTIONS = ("target_accept", "max_tree_depth", "cores")

#: What each route calls ``max_tree_depth``.
_TREE_DEPTH = {"numpyro": "max_tree_depth", "nutpie": "maxdepth", "pymc": "max_treedepth"}

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


def _parameters(function: Any) -> set[str]:
    variadic = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    named = inspect.signature(function).parameters.items()
    return {n for n, p in named if p.kind not in variadic} - _SET_BY_BAYESMM


#: The ``inference_method`` values that approximate the posterior (backend.approximate,
#: whose ``<METHOD>_OPTIONS`` list what each takes).
APPROXIMATIONS = ("vi", "laplace", "pathfinder")


@cache
def sampler_options(method: str) -> frozenset[str]:
    """The option names ``fit(inference_method=method, ...)`` takes, bayesmm's own included."""
    if method == "numpyro":
        from .nuts import numpyro_options

        own = set(numpyro_options())
    elif method == "nutpie":
        import nutpie
        from nutpie import _lib

        settings = _lib.PyNutsSettings.Diag(0)
        attributes = {a for a in dir(settings) if not a.startswith("_") and a[0].islower()}
        own = _parameters(nutpie.sample) | attributes
        own -= {"num_chains", "num_draws", "num_tune", "set_target_accept"}
        own -= {"blocking", "return_raw_trace"}  # fit() returns the finished InferenceData
    elif method == "pymc":
        import pymc as pm
        from pymc.step_methods.hmc.base_hmc import BaseHMC

        step = _parameters(pm.NUTS.__init__) | _parameters(BaseHMC.__init__)
        step -= {"potential", "rng", "initial_point", "dtype", "blocked", "step_rand"}
        own = _parameters(pm.sample) | step
    elif method in APPROXIMATIONS:
        from . import approximate

        return frozenset(getattr(approximate, f"{method.upper()}_OPTIONS"))
    else:  # blackjax, through PyMC's external-sampler route
        own = {"initvals", "var_names", "idata_kwargs", "nuts_sampler_kwargs"}
        own |= {"compute_convergence_checks", "target_accept", "cores"}
        return frozenset(own)
    return frozenset(own | set(COMMON_OPTIONS))


def translate_options(
    method: str, options: Mapping[str, Any], asked: str | None = None
) -> dict[str, Any]:
    """``options`` in the names ``method``'s sampler uses (``asked``: the
    ``inference_method`` the user gave, when "auto" picked ``method``).

    Raises
    ------
    DataError
        For an option the route does not take, naming the ones it does.
    """
    known = sampler_options(method)
    unknown = sorted(set(options) - known)
    if unknown:
        hint = did_you_mean(unknown[0], known) if len(unknown) == 1 else ""
        route = f"inference_method={method!r}"
        if asked is not None and asked != method:
            route = f"inference_method={asked!r} (which picked {method!r} here)"
        raise DataError(
            f"{route} does not take the option(s) {unknown}.{hint} It takes {sorted(known)}."
        )
    translated = dict(options)
    if "max_tree_depth" in translated and method in _TREE_DEPTH:
        translated[_TREE_DEPTH[method]] = translated.pop("max_tree_depth")
    if method == "numpyro":
        translated.pop("cores", None)  # its chains are spread over JAX's devices
    return translated


#: Arguments of ``run_sampler`` that are not sampler options.
_RUN_ARGUMENTS = {
    "draws",
    "tune",
    "chains",
    "random_seed",
    "progressbar",
    "log_likelihood",
    "cache",
}


def sampler_arguments(method: str, arguments: Mapping[str, Any], asked: str) -> dict[str, Any]:
    """``run_sampler``'s ``arguments`` with the sampler options among them translated."""
    options = {k: v for k, v in arguments.items() if k not in _RUN_ARGUMENTS}
    fixed = {k: v for k, v in arguments.items() if k in _RUN_ARGUMENTS}
    return {**fixed, **translate_options(method, options, asked)}
