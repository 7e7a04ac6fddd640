"""The options each NUTS route takes, checked before anything is compiled.

bayesmm's own names work on every route that has the setting and are translated to the
sampler's: ``target_accept``, ``max_tree_depth`` (PyMC's ``max_treedepth``, nutpie's
``maxdepth``) and ``cores``. Any other option is passed on unchanged when the sampler takes
it, and otherwise refused with the list of those it takes. Each list is read from the
sampler's own signature, so a new release's options are known without a change here.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Mapping
from functools import cache
from typing import Any

from .._errors import BackendError, DataError
from .._validation import choice_message, did_you_mean

__all__ = [
    "APPROXIMATIONS",
    "AUTO",
    "COMMON_OPTIONS",
    "SAMPLERS",
    "auto_routes",
    "check_options",
    "require_method",
    "sampler_options",
    "translate_options",
    "sampler_arguments",
]

#: The ``inference_method`` that picks a sampler from the model and what is installed.
AUTO = "auto"

#: Each ``inference_method`` and the packages it needs.
SAMPLERS: dict[str, tuple[str, ...]] = {
    "pymc": (),
    "nutpie": ("nutpie",),
    "numpyro": ("jax", "numpyro"),
    "blackjax": ("jax", "blackjax"),
    # Approximations, checked by Pareto k-hat (backend.approximate).
    "vi": (),
    "laplace": (),
    # JAX and blackjax (backend.pathfinder), else pymc-extras: checked when it runs.
    "pathfinder": (),
}

#: The pip requirement that brings each sampler's packages.
_INSTALL = {
    "nutpie": "nutpie",
    "numpyro": '"bayesmm[jax]"',
    "blackjax": '"bayesmm[jax]"',
    "pathfinder": '"bayesmm[jax]" (or "bayesmm[approx]")',
}

#: The routes ``"auto"`` may pick, in its order of preference (``pymc.choose_sampler``).
_AUTO_ROUTES = ("numpyro", "nutpie", "pymc")


def _installed(method: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in SAMPLERS[method])


def require_method(method: Any) -> None:
    """Check an ``inference_method``: ``"auto"``, or a route whose packages are installed.

    Raises
    ------
    BackendError
        For an unknown method (with the valid ones and a did-you-mean), or one whose
        packages are missing (with the command that installs them).
    """
    if not isinstance(method, str) or method not in (AUTO, *SAMPLERS):
        raise BackendError(choice_message("inference_method", method, (AUTO, *SAMPLERS)))
    missing = [p for p in SAMPLERS.get(method, ()) if importlib.util.find_spec(p) is None]
    if missing:
        raise BackendError(
            f"inference_method={method!r} needs the package(s) {missing}, which are not "
            f"installed. Install them with: pip install {_INSTALL[method]}"
        )


def auto_routes() -> tuple[str, ...]:
    """The installed routes ``inference_method="auto"`` may pick, whatever the data."""
    return tuple(m for m in _AUTO_ROUTES if _installed(m))


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


def check_options(
    method: str,
    options: Mapping[str, Any],
    n_obs: int | None = None,
    sufficient_statistics: bool | None = None,
) -> None:
    """Check a fit's ``inference_method`` and sampler ``options`` before any work.

    A named route must take every option, and an approximation checks their values too.
    Under ``"auto"``, an option that no route it may pick takes is refused. With ``n_obs``
    (the model's rows), ``batch_size`` may not exceed it; ``sufficient_statistics=True``
    is refused with options that read the rows themselves.

    Raises
    ------
    BackendError
        For an unknown or uninstalled ``method`` (:func:`require_method`).
    DataError
        For an option no route takes (with a did-you-mean), a bad value, or options that
        cannot go together.
    """
    require_method(method)
    if method == AUTO:
        routes = auto_routes()
        known = frozenset().union(*(sampler_options(m) for m in routes))
        unknown = sorted(set(options) - known)
        if unknown:
            hint = did_you_mean(unknown[0], known) if len(unknown) == 1 else ""
            raise DataError(
                f"inference_method='auto' does not take the option(s) {unknown} on any route it "
                f"may pick here {list(routes)}.{hint} They take {sorted(known)}."
            )
        return
    translate_options(method, options)
    if method in APPROXIMATIONS:
        from .approximate import check_approximation_options

        check_approximation_options(options)
    batch = options.get("batch_size")
    if batch is not None and n_obs is not None and batch > n_obs:
        raise DataError(
            f"batch_size must be at most the model's number of rows, {n_obs}; got {batch!r} "
            "(a minibatch draws its rows from them with replacement). Fit without batch_size "
            "to read every row at each step."
        )
    if sufficient_statistics is True and batch is not None:
        raise DataError(
            "sufficient_statistics=True sums the rows before the fit, but batch_size "
            "(minibatch ADVI) reads batches of the rows themselves: pass one or the other."
        )
