"""The samplers: one :class:`Sampler` record per NUTS engine and approximation, in one
table, and the checks of a fit's ``inference_method`` and options before anything is compiled.

bayesmm's own names work on every route that has the setting and are translated to the
sampler's: ``target_accept``, ``max_tree_depth`` (PyMC's ``max_treedepth``, nutpie's
``maxdepth``) and ``cores``. Any other option is passed on unchanged when the sampler takes
it, and otherwise refused with the list of those it takes. Each list is read from the
sampler's own signature, so a new release's options are known without a change here.

Adding an engine is adding one record with :func:`register_sampler` (and
:func:`unregister_sampler` to take it away): its name is then a valid ``inference_method``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Collection, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from ..._errors import BackendError, DataError
from ..._validation import choice_message, did_you_mean

if TYPE_CHECKING:
    import arviz as az
    import pymc as pm

    from ..programs.compiled import CompiledCache

__all__ = [
    "APPROXIMATIONS",
    "AUTO",
    "AUTO_JAX_MAX_ROWS",
    "COMMON_OPTIONS",
    "SAMPLERS",
    "RunSettings",
    "Sampler",
    "auto_routes",
    "check_options",
    "choose_sampler",
    "register_sampler",
    "require_method",
    "sampler_options",
    "translate_options",
    "sampler_arguments",
    "unregister_sampler",
]

#: The ``inference_method`` that picks a sampler from the model and what is installed.
AUTO = "auto"

#: ``"auto"`` uses NumPyro for models of at most this many rows, nutpie above (see
#: :func:`choose_sampler`).
AUTO_JAX_MAX_ROWS = 5_000

#: Options with one name on every route (blackjax has no tree depth of its own).
COMMON_OPTIONS = ("target_accept", "max_tree_depth", "cores")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What every sampler is given besides its own options.

    ``log_likelihood`` asks the sampler to add the pointwise log-likelihood when it can do
    so cheaply (NumPyro, nutpie); otherwise ``pymc.sample`` computes it afterwards.
    ``cache`` holds compiled nutpie samplers.
    """

    draws: int
    tune: int
    chains: int
    random_seed: int | None
    progressbar: bool
    log_likelihood: bool = False
    cache: CompiledCache | None = None


#: A sampler's run: ``run(model, settings, **options)`` -> the raw InferenceData, with the
#: options already in the sampler's own names (:func:`translate_options`).
RunFunction = Callable[..., "az.InferenceData"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sampler:
    """One ``inference_method``: a NUTS engine or an approximation.

    Parameters
    ----------
    name : str
        The ``inference_method`` that picks it.
    run : callable
        ``run(model: pm.Model, settings: RunSettings, **options) -> az.InferenceData``, the
        raw draws (``pymc.sample`` tidies them).
    options : callable
        Returns the option names it takes, bayesmm's own included; called on first use
        (reading them may import the engine) and kept.
    packages : tuple of str, default ()
        The packages it needs, checked before a fit.
    install : str, default ""
        What ``pip install`` brings them, for the error that says they are missing.
    label : str, default ""
        Its name in messages.
    jax : bool, default False
        Runs on JAX: when JAX cannot differentiate the model, ``"auto"`` falls back.
    approximation : bool, default False
        An approximation checked by Pareto k-hat, not NUTS checked by R-hat and ESS.
    recentres : bool, default False
        Fits better with the intercept carried by a group term's levels, where one can.
    tree_depth : str, optional
        Its own name of ``max_tree_depth``.
    ignores : tuple of str, default ()
        bayesmm's common options it takes but has no use for (dropped before ``run``).
    check : callable, optional
        ``check(options)`` checks the options' values before any work, raising ``DataError``.
    """

    name: str
    run: RunFunction
    options: Callable[[], Collection[str]]
    packages: tuple[str, ...] = ()
    install: str = ""
    label: str = ""
    jax: bool = False
    approximation: bool = False
    recentres: bool = False
    tree_depth: str | None = None
    ignores: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise DataError(f"Sampler name must be an identifier; got {self.name!r}.")
        if self.name == AUTO:
            raise DataError(f"Sampler name must not be {AUTO!r}, which picks one of them.")
        for field in ("run", "options"):
            value = getattr(self, field)
            if not callable(value):
                raise DataError(f"Sampler {field} must be callable; got {type(value).__name__}.")

    def installed(self) -> bool:
        """Whether every package it needs can be imported."""
        return all(importlib.util.find_spec(p) is not None for p in self.packages)

    def accepts(self) -> frozenset[str]:
        """The option names it takes (read once per ``options`` function)."""
        return _read_options(self.options)


@cache
def _read_options(options: Callable[[], Collection[str]]) -> frozenset[str]:
    return frozenset(options())


def _nuts_options(own: Callable[[], Collection[str]]) -> Callable[[], frozenset[str]]:
    """A NUTS engine's options: its own and bayesmm's common ones."""

    def options() -> frozenset[str]:
        return frozenset(own()) | frozenset(COMMON_OPTIONS)

    return options


def _numpyro_options() -> frozenset[str]:
    from ..programs.nuts import numpyro_options

    return frozenset(numpyro_options())


def _nutpie_options() -> frozenset[str]:
    from .engines import nutpie_options

    return nutpie_options()


def _pymc_options() -> frozenset[str]:
    from .engines import pymc_options

    return pymc_options()


def _blackjax_options() -> frozenset[str]:
    from .engines import BLACKJAX_OPTIONS

    return BLACKJAX_OPTIONS


def _run_numpyro(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    from ..programs.jax import sample_numpyro

    return sample_numpyro(
        model,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        random_seed=settings.random_seed,
        progressbar=settings.progressbar,
        log_likelihood=settings.log_likelihood,
        **options,
    )


def _run_nutpie(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    from .engines import run_nutpie

    return run_nutpie(model, settings, **options)


def _run_pymc(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    from .engines import run_pymc

    return run_pymc(model, settings, **options)


def _run_blackjax(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    from .engines import run_pymc

    return run_pymc(model, settings, nuts_sampler="blackjax", **options)


def _approximation_settings(settings: RunSettings) -> dict[str, Any]:
    """What an approximation takes of the settings: no warm-up, no cache, and the
    log-likelihood left to ``pymc.sample``."""
    return {
        "draws": settings.draws,
        "chains": settings.chains,
        "random_seed": settings.random_seed,
        "progressbar": settings.progressbar,
    }


def _run_vi(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    from .approximate import sample_vi

    return sample_vi(model, **_approximation_settings(settings), **options)


def _run_laplace(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    from .approximate import sample_laplace

    return sample_laplace(model, **_approximation_settings(settings), **options)


def _run_pathfinder(model: pm.Model, settings: RunSettings, **options: Any) -> az.InferenceData:
    from .approximate import sample_pathfinder

    return sample_pathfinder(model, **_approximation_settings(settings), **options)


def _vi_options() -> tuple[str, ...]:
    from .approximate import VI_OPTIONS

    return VI_OPTIONS


def _laplace_options() -> tuple[str, ...]:
    from .approximate import LAPLACE_OPTIONS

    return LAPLACE_OPTIONS


def _pathfinder_options() -> tuple[str, ...]:
    from .approximate import PATHFINDER_OPTIONS

    return PATHFINDER_OPTIONS


def _check_approximation(options: Mapping[str, Any]) -> None:
    from .approximate import check_approximation_options

    check_approximation_options(options)


_JAX_INSTALL = '"bayesmm[jax]"'

_BUILT_IN = (
    Sampler(
        name="pymc",
        label="PyMC",
        run=_run_pymc,
        options=_nuts_options(_pymc_options),
        tree_depth="max_treedepth",
    ),
    Sampler(
        name="nutpie",
        label="nutpie",
        run=_run_nutpie,
        options=_nuts_options(_nutpie_options),
        packages=("nutpie",),
        install="nutpie",
        tree_depth="maxdepth",
    ),
    Sampler(
        name="numpyro",
        label="NumPyro",
        run=_run_numpyro,
        options=_nuts_options(_numpyro_options),
        packages=("jax", "numpyro"),
        install=_JAX_INSTALL,
        jax=True,
        tree_depth="max_tree_depth",
        ignores=("cores",),  # its chains are spread over JAX's devices
    ),
    Sampler(
        name="blackjax",
        label="blackjax",
        run=_run_blackjax,
        options=_blackjax_options,
        packages=("jax", "blackjax"),
        install=_JAX_INSTALL,
        jax=True,
    ),
    Sampler(
        name="vi",
        label="ADVI",
        run=_run_vi,
        options=_vi_options,
        approximation=True,
        recentres=True,
        check=_check_approximation,
    ),
    Sampler(
        name="laplace",
        label="Laplace",
        run=_run_laplace,
        options=_laplace_options,
        approximation=True,
        check=_check_approximation,
    ),
    # JAX and blackjax (backend.pathfinder), else pymc-extras: checked when it runs.
    Sampler(
        name="pathfinder",
        label="Pathfinder",
        run=_run_pathfinder,
        options=_pathfinder_options,
        install='"bayesmm[jax]" (or "bayesmm[approx]")',
        approximation=True,
        recentres=True,
        check=_check_approximation,
    ),
)

#: Each ``inference_method`` and its record, the built-in ones first.
SAMPLERS: dict[str, Sampler] = {record.name: record for record in _BUILT_IN}

#: The built-in ``inference_method`` values that approximate the posterior
#: (:attr:`Sampler.approximation`).
APPROXIMATIONS = tuple(record.name for record in _BUILT_IN if record.approximation)

#: The routes ``"auto"`` may pick, in its order of preference (:func:`choose_sampler`).
_AUTO_ROUTES = ("numpyro", "nutpie", "pymc")


def register_sampler(sampler: Sampler, *, replace: bool = False) -> Sampler | None:
    """Add ``sampler`` to :data:`SAMPLERS`: ``fit(inference_method=sampler.name)`` runs it.

    Parameters
    ----------
    sampler : Sampler
        The record.
    replace : bool, default False
        Replace a record of the same name (a built-in one included).

    Returns
    -------
    Sampler or None
        The record it replaced.

    Raises
    ------
    DataError
        For something other than a ``Sampler``, or a name taken (without ``replace``).
    """
    if not isinstance(sampler, Sampler):
        raise DataError(f"sampler must be a Sampler record; got {type(sampler).__name__}.")
    if sampler.name in SAMPLERS and not replace:
        raise DataError(
            f"A sampler named {sampler.name!r} is registered already; pass replace=True to "
            "replace it, or choose another name."
        )
    previous = SAMPLERS.get(sampler.name)
    SAMPLERS[sampler.name] = sampler
    return previous


def unregister_sampler(name: str) -> Sampler:
    """Take the sampler ``name`` out of :data:`SAMPLERS`; the record taken out.

    Raises
    ------
    DataError
        For a name not registered.
    """
    if name not in SAMPLERS:
        raise DataError(choice_message("name", name, SAMPLERS))
    return SAMPLERS.pop(name)


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
    if method == AUTO:
        return
    record = SAMPLERS[method]
    missing = [p for p in record.packages if importlib.util.find_spec(p) is None]
    if missing:
        raise BackendError(
            f"inference_method={method!r} needs the package(s) {missing}, which are not "
            f"installed. Install them with: pip install {record.install}"
        )


def _installed(method: str, installed: Collection[str] | None) -> bool:
    if method not in SAMPLERS:
        return False
    return SAMPLERS[method].installed() if installed is None else method in installed


def choose_sampler(
    n_obs: int, cache: CompiledCache | None = None, *, installed: Collection[str] | None = None
) -> str:
    """The sampler ``inference_method="auto"`` picks, for a model of ``n_obs`` rows.

    - NumPyro (JAX), when installed, for up to :data:`AUTO_JAX_MAX_ROWS` rows: its compiled
      sampler is kept on disk, so a later process that fits a model of the same structure
      starts sampling almost at once, and a refit in the same process compiles nothing.
    - nutpie otherwise, and always with a ``cache`` (which holds nutpie samplers): its
      compile (about 5 seconds in every process) matters little once sampling dominates.
      Above :data:`AUTO_JAX_MAX_ROWS` rows ``pymc.sample`` turns on its low-rank mass matrix
      adaptation.
    - PyMC's own sampler when neither is installed.

    ``installed`` names the routes to take as installed (by default those whose packages
    are found). ``benchmarks/suite.py`` measures the choice (``docs/performance.md``).
    """
    if cache is None and n_obs <= AUTO_JAX_MAX_ROWS and _installed("numpyro", installed):
        return "numpyro"
    if _installed("nutpie", installed):
        return "nutpie"
    return "pymc"


def auto_routes(installed: Collection[str] | None = None) -> tuple[str, ...]:
    """The installed routes ``inference_method="auto"`` may pick, whatever the data."""
    return tuple(m for m in _AUTO_ROUTES if _installed(m, installed))


def sampler_options(method: str) -> frozenset[str]:
    """The option names ``fit(inference_method=method, ...)`` takes, bayesmm's own included."""
    return SAMPLERS[method].accepts()


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
    record = SAMPLERS[method]
    if "max_tree_depth" in translated and record.tree_depth is not None:
        translated[record.tree_depth] = translated.pop("max_tree_depth")
    for name in record.ignores:
        translated.pop(name, None)
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
    check = SAMPLERS[method].check
    if check is not None:
        check(options)
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
