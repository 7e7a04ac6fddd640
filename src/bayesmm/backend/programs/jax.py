"""NUTS with NumPyro on the model's log density compiled to JAX, with the data as arguments.

PyMC's own JAX route (``pm.sample(nuts_sampler="numpyro")``) writes the data into the
compiled program as constants, so every new process, and every new data set, compiles
again. Here the data containers (``@params``, ``@rows``) are arguments of the compiled
functions instead:

- JAX's persistent compilation cache (:func:`cache_dir`) then serves every later process
  that fits a model of the same structure and shapes, whatever its data;
- a refit in the same process, on other data of the same shapes, reuses the compiled
  sampler (:class:`Program`, kept in :data:`PROGRAMS`), so it neither traces nor compiles.

The log density, the draws of the user-facing variables and the pointwise log-likelihood
are PyMC's own graphs, translated by PyTensor's JAX backend: nothing here writes a density.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.replace import clone_replace

try:  # newer pytensor moved the graph walkers here (the old place warns)
    from pytensor.graph.traversal import graph_inputs
except ImportError:  # pragma: no cover - older pytensor
    from pytensor.graph.basic import graph_inputs  # type: ignore[no-redef]

from ..._version import __version__
from . import exported
from .compiled import structure_key
from .jax_ops import register_jax_ops
from .nuts import (
    ChainProgram,
    NutsSettings,
    chain_method,
    chain_program,
    chain_shardings,
    fit_devices,
    nuts_settings,
    over_chains,
    over_fits,
    run_chains,
)
from .start import data_arguments, initial_point_function, initial_points

__all__ = [
    "CACHE_ENV",
    "MAX_PROGRAMS",
    "PROGRAMS",
    "Program",
    "ProgramCache",
    "cache_dir",
    "clear_programs",
    "log_density",
    "log_density_function",
    "program_for",
    "sample_numpyro",
    "sample_numpyro_many",
]

#: The environment variable that sets the persistent compilation cache's folder ("" turns
#: it off).
CACHE_ENV = "BAYESMM_JAX_CACHE"

#: Compiled samplers kept in this process, one per structure, least recently used dropped.
MAX_PROGRAMS = 8

_log = logging.getLogger("bayesmm")
_configured = False
_configure_lock = threading.Lock()


def cache_dir() -> str | None:
    """The folder of JAX's persistent compilation cache that bayesmm turns on.

    ``$BAYESMM_JAX_CACHE`` when set (an empty value turns the cache off), else
    ``$XDG_CACHE_HOME/bayesmm/jax`` (``~/.cache/bayesmm/jax``). A cache folder the user has
    already given JAX (``jax_compilation_cache_dir``) is kept as it is.
    """
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return value or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bayesmm", "jax")


def configure() -> Any:
    """Import JAX and set it up once, here and only here, through ``jax.config``: 64-bit
    floats (PyMC's graphs are float64), one CPU device per core (so that chains run in
    parallel), and the persistent compilation cache (:func:`cache_dir`).

    Settings the user already made are kept: a device count set before (by
    ``jax_num_cpu_devices`` or ``XLA_FLAGS``), or JAX's backends already started (the count
    is then fixed, and chains run one after the other if there are too few devices), and a
    cache folder already given to JAX. The environment is never changed.
    """
    global _configured
    import jax

    with _configure_lock:
        if _configured:
            return jax
        _apply_settings(jax)
        _configured = True
    return jax


def _apply_settings(jax: Any) -> None:
    jax.config.update("jax_enable_x64", True)
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        try:
            if jax.config.values.get("jax_num_cpu_devices", -1) in (-1, None):
                jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
        except RuntimeError:  # backends already initialised: the device count is fixed
            _log.debug("JAX's backends were already started; its CPU device count is kept.")
    folder = cache_dir()
    if folder and not jax.config.values.get("jax_compilation_cache_dir"):
        jax.config.update("jax_compilation_cache_dir", folder)
        # By default JAX keeps only programs that took a second to compile; a fit compiles
        # a few smaller ones too (the draws, the log-likelihood), and each is worth keeping.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def clear_programs() -> None:
    """Forget the samplers compiled in this process (the disk cache is kept)."""
    PROGRAMS.clear()


def _rewrite(model: pm.Model, inputs: list[Any], outputs: list[Any]) -> FunctionGraph:
    """``outputs`` as a graph of ``inputs`` and the model's data containers, rewritten for
    JAX."""
    from pytensor.compile.mode import JAX

    data, replace = data_arguments(model)
    # Dimension lengths (and any other shared value) become constants.
    for variable in graph_inputs(outputs):
        if isinstance(variable, SharedVariable) and variable not in replace:
            replace[variable] = pt.constant(variable.get_value(borrow=True))
    graph = clone_replace(outputs, replace=replace)
    fgraph = FunctionGraph(inputs=[*inputs, *data], outputs=graph, clone=True)
    JAX.optimizer.rewrite(fgraph)
    return fgraph


def _funcify(fgraph: FunctionGraph) -> Callable[..., Any]:
    from pytensor.link.jax.dispatch import jax_funcify

    register_jax_ops()
    with warnings.catch_warnings():
        # PyMC's parameter checks (e.g. sigma > 0) cannot run inside JAX; the transforms
        # keep the sampled values valid, and the priors' numbers were checked when built.
        warnings.filterwarnings("ignore", "Skipping .* as JAX tracing would remove it")
        return jax_funcify(fgraph)


def log_density(model: pm.Model) -> Callable[[Mapping[str, Any]], float]:
    """The model's log density (with the Jacobians of its transforms) as a jitted JAX
    function of a point (a value per value variable), its data on the device once: at a
    million rows about a third of the time of PyMC's compiled C function in a one-off timing.

    Raises
    ------
    NotImplementedError
        If JAX lacks an operation of the graph.
    """
    jax = configure()
    function = jax.jit(log_density_function(model))
    data = [jax.device_put(np.asarray(v.get_value())) for v in model.data_vars]
    names = [v.name for v in model.value_vars]

    def at(point: Mapping[str, Any]) -> float:
        return float(np.asarray(function(*[point[name] for name in names], *data)))

    return at


def log_density_function(model: pm.Model) -> Callable[..., Any]:
    """The model's log density as a JAX function of ``(*values, *data)`` (the value
    variables, then the data containers' values, as ``model.data_vars`` orders them).

    Raises
    ------
    NotImplementedError
        If JAX lacks an operation of the graph.
    """
    function = _funcify(_rewrite(model, list(model.value_vars), [model.logp()]))

    def log_p(*arguments: Any) -> Any:
        out = function(*arguments)
        return out[0] if isinstance(out, list | tuple) else out

    return log_p


@dataclass
class _Graphs:
    """The rewritten graphs of one structure: the log density, and per draw the user-facing
    variables followed by the pointwise log-likelihood of each observed variable."""

    logp: FunctionGraph
    per_draw: FunctionGraph
    outputs: list[str]
    observed: list[str]


def _build_graphs(model: pm.Model) -> _Graphs:
    values = list(model.value_vars)
    # One logp graph for both: the total, and the observed variables' pointwise terms.
    factors = model.logp(sum=False)
    first = len(model.free_RVs)
    pointwise = factors[first : first + len(model.observed_RVs)]
    total = pt.add(*(pt.sum(f) for f in factors)) if len(factors) > 1 else pt.sum(factors[0])
    outputs = [v for v in model.unobserved_value_vars if not v.name.endswith("__")]
    return _Graphs(
        logp=_rewrite(model, values, [total]),
        per_draw=_rewrite(model, values, [*outputs, *pointwise]),
        outputs=[v.name for v in outputs],
        observed=[rv.name for rv in model.observed_RVs],
    )


def _graphs(model: pm.Model, key: str) -> _Graphs:
    """The rewritten graphs, from the disk cache when an earlier process left them there.

    Rewriting is most of a warm start's compile time. The file's name holds the structure
    key (with the data's shapes), the versions of pytensor, pymc and bayesmm, and the digest
    of bayesmm's code (a pickle names its classes by module path, which code changes move);
    a file that cannot be read is rewritten.
    """
    import pytensor

    folder = cache_dir()
    if not folder:
        return _build_graphs(model)
    tag = f"{key}-{pytensor.__version__}-{pm.__version__}-{__version__}-{exported.code_digest()}"
    digest = hashlib.sha256(tag.encode()).hexdigest()[:32]
    path = Path(folder) / "graphs" / f"{digest}.pkl"
    try:
        with path.open("rb") as handle:
            graphs = pickle.load(handle)
        if isinstance(graphs, _Graphs):
            return graphs
    except FileNotFoundError:
        pass
    except Exception as error:  # a stale or damaged file: rewrite, and replace it
        _log.debug("Could not read the cached graphs %s (%s); rewriting.", path, error)
    graphs = _build_graphs(model)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            pickle.dump(graphs, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
    except Exception as error:  # a read-only folder, an unpicklable op: not worth failing
        _log.debug("Could not cache the graphs at %s (%s).", path, error)
    return graphs


@dataclass
class Program:
    """Everything compiled for one structure and shapes: the chains of one fit, the chains of
    many fits (made on first use), and the functions of the draws; the data are arguments."""

    key: tuple[Any, ...]
    names: list[str]
    shapes: list[tuple[int, ...]]
    outputs: list[str]
    observed: list[str]
    settings: NutsSettings
    #: The chains of a fit (:func:`.nuts.over_chains`): their start, and their steps.
    begin: Callable[..., Any]
    advance: Callable[..., Any]
    draws: Callable[..., Any]
    draws_and_log_likelihood: Callable[..., Any]
    #: ``model.initial_point()`` as a function of the data, compiled once.
    start: Callable[..., dict[str, np.ndarray]]
    #: One chain as JAX functions (for ``fit_many``'s program); ``None`` until needed when
    #: the programs were read from disk.
    one_chain: ChainProgram | None = None
    many: Callable[..., Any] | None = None
    many_devices: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def initial_point(self, model: pm.Model) -> dict[str, np.ndarray]:
        """``model.initial_point()``, without compiling a function for it."""
        return self.start(*(np.asarray(v.get_value()) for v in model.data_vars))


class ProgramCache:
    """The compiled programs of this process, one per structure, shapes and settings; the
    least recently used is dropped past ``max_size`` (its compiled code is then freed with
    it). The JAX route's one process-wide store, and bounded."""

    def __init__(self, max_size: int = MAX_PROGRAMS) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[tuple[Any, ...], Program] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Any, ...], make: Callable[[], Program]) -> Program:
        """The program of ``key``, made by ``make`` (outside the lock) when missing."""
        with self._lock:
            program = self._entries.get(key)
            if program is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return program
            self.misses += 1
        program = make()
        with self._lock:
            self._entries[key] = program
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
        return program

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: This process's compiled NUTS programs (see :class:`ProgramCache`).
PROGRAMS = ProgramCache()


def program_key(model: pm.Model, settings: NutsSettings, method: str) -> tuple[Any, ...]:
    """What a compiled program depends on: the model's structure, its data's shapes, the
    settings and how the chains run; never the data's values."""
    shapes = tuple(np.shape(v.get_value()) for v in model.data_vars)
    return (structure_key(model), shapes, method, *settings.key)


def program_for(model: pm.Model, settings: NutsSettings, jax: Any) -> Program:
    """The compiled program for ``model``'s structure: this process's, or a new one."""
    method = chain_method(jax, settings.chains)
    key = program_key(model, settings, method)
    return PROGRAMS.get(key, lambda: _compile(model, key, settings, method, jax))


def _compile(
    model: pm.Model, key: tuple[Any, ...], settings: NutsSettings, method: str, jax: Any
) -> Program:
    """The programs of ``key``: read from the disk cache when an earlier process stored
    them (:mod:`.exported`), else traced, and stored."""
    start = initial_point_function(model)
    data = [np.asarray(v.get_value()) for v in model.data_vars]
    point = start(*data)
    names = [v.name for v in model.value_vars]
    shapes = [tuple(np.shape(point[n])) for n in names]
    shardings = chain_shardings(method, settings.chains)
    folder = exported.folder_for(cache_dir(), key, jax.device_count(), jax.default_backend())
    stored = exported.read(jax, folder, shardings)
    one_chain = None
    if stored is None:
        keys = jax.random.split(jax.random.PRNGKey(0), settings.chains)
        init = tuple(np.zeros((settings.chains, *s)) for s in shapes)
        values = [np.zeros((settings.chains, settings.draws, *s)) for s in shapes]
        arguments: dict[str, tuple[Any, ...]] = {"start": (keys, init, tuple(data))}
        arguments["draws"] = arguments["draws_and_log_likelihood"] = (values, data)
        stored, one_chain = _trace(model, key, settings, method, jax, arguments, folder)
    programs = stored.programs
    return Program(
        key=key,
        names=names,
        shapes=shapes,
        outputs=stored.outputs,
        observed=stored.observed,
        settings=settings,
        begin=programs["start"],
        advance=programs["advance"],
        draws=programs["draws"],
        draws_and_log_likelihood=programs["draws_and_log_likelihood"],
        start=start,
        one_chain=one_chain,
    )


def _one_chain(
    model: pm.Model, key: tuple[Any, ...], settings: NutsSettings
) -> tuple[ChainProgram, _Graphs]:
    graphs = _graphs(model, f"{key[0]}-{key[1]}")
    return chain_program(_funcify(graphs.logp), settings), graphs


def _trace(
    model: pm.Model,
    key: tuple[Any, ...],
    settings: NutsSettings,
    method: str,
    jax: Any,
    arguments: dict[str, tuple[Any, ...]],
    folder: Path | None,
) -> tuple[exported.Stored, ChainProgram]:
    """Trace the programs of ``key``, and store them in ``folder``."""
    one_chain, graphs = _one_chain(model, key, settings)
    per_draw = _funcify(graphs.per_draw)
    count = len(graphs.outputs)

    def over_draws(with_log_likelihood: bool) -> Callable[..., Any]:
        def run(samples: list[Any], data: list[Any]) -> Any:
            def one(*xs: Any) -> Any:
                out = per_draw(*xs, *data)
                # Without the log-likelihood, XLA drops the work for it.
                return out if with_log_likelihood else out[:count]

            return jax.vmap(jax.vmap(one))(*samples)

        return jax.jit(run)

    begin, advance, shardings = over_chains(one_chain, method, settings.chains)
    carry = jax.eval_shape(begin, *arguments["start"])
    stop = np.asarray(0, dtype=np.int64)
    functions = {
        "start": (begin, exported.specs(jax, arguments["start"]), shardings["start"]),
        "advance": (
            advance,
            exported.specs(jax, (carry, arguments["start"][2], stop)),
            shardings["advance"],
        ),
        "draws": (over_draws(False), exported.specs(jax, arguments["draws"]), None),
        "draws_and_log_likelihood": (
            over_draws(True),
            exported.specs(jax, arguments["draws_and_log_likelihood"]),
            None,
        ),
    }
    programs = exported.write(jax, folder, functions, graphs.outputs, graphs.observed)
    return exported.Stored(programs, graphs.outputs, graphs.observed), one_chain


def sample_numpyro(
    model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | np.random.Generator | None,
    progressbar: bool,
    log_likelihood: bool,
    **nuts: Any,
) -> az.InferenceData:
    """Sample ``model`` with NumPyro's NUTS; ``posterior``, ``sample_stats`` and, when asked,
    ``log_likelihood``, with the model's dimensions and coordinates.

    ``nuts`` goes to NumPyro's NUTS kernel (e.g. ``target_accept``, ``max_tree_depth``,
    ``dense_mass``). A refit of the same structure and shapes reuses the compiled program.
    """
    jax = configure()
    settings = nuts_settings(draws=draws, tune=tune, chains=chains, progressbar=progressbar, **nuts)
    program = program_for(model, settings, jax)
    rng = np.random.default_rng(random_seed)
    data = tuple(np.asarray(v.get_value()) for v in model.data_vars)
    start = time.perf_counter()
    keys = jax.random.split(jax.random.PRNGKey(int(rng.integers(2**31))), chains)
    with program.lock:
        init = initial_points(program.initial_point(model), program, chains, rng)
        values, stats = run_chains(
            program.begin,
            program.advance,
            (keys, init, data),
            settings,
            len(program.names),
            progressbar,
        )
        # Host copies: split between devices, an LKJ factor's draws program deadlocked.
        values = jax.device_get(values)
        if log_likelihood:
            both = program.draws_and_log_likelihood(values, list(data))
            drawn, pointwise = both[: len(program.outputs)], both[len(program.outputs) :]
        else:
            drawn, pointwise = program.draws(values, list(data)), None
        jax.block_until_ready(drawn)
    elapsed = time.perf_counter() - start
    return to_inference_data(model, program, drawn, pointwise, stats, elapsed, tune)


def sample_numpyro_many(
    models: list[pm.Model],
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seeds: list[int],
    log_likelihood: bool,
    **nuts: Any,
) -> list[az.InferenceData]:
    """Sample models of one structure and shapes (other data) in one compiled program: the
    chains of every fit side by side (``vmap``), split between the CPU's devices. Each fit
    gets what :func:`sample_numpyro` gives it with the same seed: the same keys and starts.
    """
    jax = configure()
    settings = nuts_settings(draws=draws, tune=tune, chains=chains, progressbar=False, **nuts)
    program = program_for(models[0], settings, jax)
    start = time.perf_counter()
    keys, inits, datas = [], [], []
    with program.lock:
        for model, seed in zip(models, random_seeds, strict=True):
            rng = np.random.default_rng(seed)
            keys.append(jax.random.split(jax.random.PRNGKey(int(rng.integers(2**31))), chains))
            inits.append(initial_points(program.initial_point(model), program, chains, rng))
            datas.append(tuple(np.asarray(v.get_value()) for v in model.data_vars))
        devices = fit_devices(len(models))
        if program.one_chain is None:
            program.one_chain = _one_chain(models[0], program.key, settings)[0]
        if program.many is None or program.many_devices != devices:
            program.many = over_fits(program.one_chain.run, devices)
            program.many_devices = devices
        # Padded to a multiple of the devices the fits are split between.
        padded = -len(models) % devices
        order = list(range(len(models))) + [len(models) - 1] * padded
        z, stats = program.many(
            np.stack([np.asarray(keys[i]) for i in order]),
            tuple(np.stack([inits[i][j] for i in order]) for j in range(len(program.names))),
            tuple(np.stack([datas[i][j] for i in order]) for j in range(len(datas[0]))),
        )
        z, stats = jax.device_get((z, stats))
        share = (time.perf_counter() - start) / len(models)
        results = []
        for b, model in enumerate(models):
            values = [np.asarray(v[b]) for v in z]
            data = list(datas[b])
            if log_likelihood:
                both = program.draws_and_log_likelihood(values, data)
                drawn, pointwise = both[: len(program.outputs)], both[len(program.outputs) :]
            else:
                drawn, pointwise = program.draws(values, data), None
            fit_stats = tuple(np.asarray(s[b]) for s in stats)
            results.append(
                to_inference_data(model, program, drawn, pointwise, fit_stats, share, tune)
            )
    return results


def to_inference_data(
    model: pm.Model,
    program: Program,
    drawn: Any,
    pointwise: Any,
    stats: Any,
    elapsed: float,
    tune: int,
) -> az.InferenceData:
    """The InferenceData of one fit: its draws, statistics and log-likelihood, with the
    model's dimensions and coordinates."""
    from importlib.metadata import version

    diverging, num_steps, accept_prob, energy, potential_energy = (np.asarray(s) for s in stats)
    dims = {k: list(v) for k, v in model.named_vars_to_dims.items() if v}
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    attrs = {"sampling_time": elapsed, "tuning_steps": tune}
    sample_stats = {
        "diverging": diverging,
        "n_steps": num_steps,
        "tree_depth": np.floor(np.log2(np.maximum(num_steps, 1))).astype(int) + 1,
        "acceptance_rate": accept_prob,
        "energy": energy,
        "lp": -potential_energy,
    }
    groups: dict[str, Any] = {
        "posterior": {n: np.asarray(d) for n, d in zip(program.outputs, drawn, strict=True)},
        "sample_stats": sample_stats,
    }
    if pointwise is not None:
        groups["log_likelihood"] = {
            n: np.asarray(d) for n, d in zip(program.observed, pointwise, strict=True)
        }
    idata = az.from_dict(
        **groups,
        coords=coords,
        dims=dims,
        attrs={
            **attrs,
            "inference_library": "numpyro",
            "inference_library_version": version("numpyro"),
        },
    )
    idata.posterior.attrs.update(attrs)
    return idata
