"""NUTS with NumPyro on the model's log density compiled to JAX, with the data as arguments.

PyMC's own JAX route (``pm.sample(nuts_sampler="numpyro")``) writes the data into the
compiled program as constants, so every new process, and every new data set, compiles
again. Here the data containers (``@params``, ``@rows``) are arguments of the compiled
functions instead:

- JAX's persistent compilation cache (:func:`cache_dir`) then serves every later process
  that fits a model of the same structure and shapes, whatever its data;
- a refit in the same process, on other data of the same shapes, reuses the traced sampler
  (:class:`_Program`), so it neither traces nor compiles.

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
from collections.abc import Callable
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

from .._errors import BackendError
from .._version import __version__
from .compiled import structure_key

__all__ = ["CACHE_ENV", "cache_dir", "clear_programs", "sample_numpyro"]

#: The environment variable that sets the persistent compilation cache's folder ("" turns
#: it off).
CACHE_ENV = "BAYESMM_JAX_CACHE"

#: Compiled samplers kept in this process, one per structure, least recently used dropped.
MAX_PROGRAMS = 8

_log = logging.getLogger("bayesmm")
_lock = threading.Lock()
_programs: OrderedDict[tuple[Any, ...], _Program] = OrderedDict()
_configured = False


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


def _configure() -> Any:
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

    if _configured:
        return jax
    _configured = True
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
    return jax


def clear_programs() -> None:
    """Forget the samplers compiled in this process (the disk cache is kept)."""
    with _lock:
        _programs.clear()


def _data_arguments(model: pm.Model) -> tuple[list[Any], dict[Any, Any]]:
    """Inputs standing for the model's data containers, and the replacements for its graphs.

    Each container becomes an input of static shape (JAX needs static shapes, and the
    structure key tells shapes apart).
    """
    inputs = []
    replace: dict[Any, Any] = {}
    for variable in model.data_vars:
        value = np.asarray(variable.get_value())
        stand_in = pt.tensor(name=variable.name, dtype=value.dtype, shape=value.shape)
        inputs.append(stand_in)
        replace[variable] = stand_in
    return inputs, replace


def _rewrite(model: pm.Model, inputs: list[Any], outputs: list[Any]) -> FunctionGraph:
    """``outputs`` as a graph of ``inputs`` and the model's data containers, rewritten for
    JAX."""
    from pytensor.compile.mode import JAX

    try:  # newer pytensor moved the graph walkers here (the old place warns)
        from pytensor.graph.traversal import graph_inputs
    except ImportError:  # pragma: no cover - older pytensor
        from pytensor.graph.basic import graph_inputs  # type: ignore[no-redef]

    data, replace = _data_arguments(model)
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

    with warnings.catch_warnings():
        # PyMC's parameter checks (e.g. sigma > 0) cannot run inside JAX; the transforms
        # keep the sampled values valid, and the priors' numbers were checked when built.
        warnings.filterwarnings("ignore", "Skipping .* as JAX tracing would remove it")
        return jax_funcify(fgraph)


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
    key (with the data's shapes) and the versions of pytensor, pymc and bayesmm; a file that
    cannot be read is rewritten.
    """
    import pytensor

    folder = cache_dir()
    if not folder:
        return _build_graphs(model)
    tag = f"{key}-{pytensor.__version__}-{pm.__version__}-{__version__}"
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
class _Program:
    """Everything compiled for one structure: the sampler and the functions of its draws."""

    names: list[str]
    shapes: list[tuple[int, ...]]
    outputs: list[str]
    observed: list[str]
    mcmc: Any
    draws: Callable[..., Any]
    draws_and_log_likelihood: Callable[..., Any]
    lock: threading.Lock = field(default_factory=threading.Lock)


def _chain_method(jax: Any, chains: int) -> str:
    if jax.default_backend() != "cpu":
        return "vectorized"  # one accelerator runs the chains side by side
    return "parallel" if jax.local_device_count() >= chains else "sequential"


def _program(
    model: pm.Model,
    point: dict[str, np.ndarray],
    jax: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    progressbar: bool,
    nuts: dict,
) -> _Program:
    """The compiled program for ``model``'s structure: this process's, or a new one."""
    method = _chain_method(jax, chains)
    structure = structure_key(model)
    shapes = tuple(np.shape(v.get_value()) for v in model.data_vars)
    key = (
        structure,
        shapes,
        draws,
        tune,
        chains,
        method,
        progressbar,
        repr(sorted(nuts.items())),
    )
    with _lock:
        program = _programs.get(key)
        if program is not None:
            _programs.move_to_end(key)
            return program
    graphs_key = f"{structure}-{shapes}"
    program = _compile(
        model, graphs_key, point, jax, draws, tune, chains, method, progressbar, nuts
    )
    with _lock:
        _programs[key] = program
        while len(_programs) > MAX_PROGRAMS:
            _programs.popitem(last=False)
    return program


def _compile(
    model: pm.Model,
    key: str,
    point: dict[str, np.ndarray],
    jax: Any,
    draws: int,
    tune: int,
    chains: int,
    method: str,
    progressbar: bool,
    nuts: dict,
) -> _Program:
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    names = [v.name for v in model.value_vars]
    shapes = [tuple(np.shape(point[n])) for n in names]
    graphs = _graphs(model, key)
    logp = _funcify(graphs.logp)
    per_draw = _funcify(graphs.per_draw)
    count = len(graphs.outputs)

    def potential(*data: Any) -> None:
        # Improper flat "priors" on the unconstrained values: the density is PyMC's.
        xs = [
            numpyro.sample(n, dist.ImproperUniform(dist.constraints.real, (), event_shape=s))
            for n, s in zip(names, shapes, strict=True)
        ]
        numpyro.factor("logp", logp(*xs, *data)[0])

    mcmc = MCMC(
        NUTS(potential, **nuts),
        num_warmup=tune,
        num_samples=draws,
        num_chains=chains,
        chain_method=method,
        progress_bar=progressbar,
        jit_model_args=True,
    )

    def over_draws(with_log_likelihood: bool) -> Callable[..., Any]:
        def run(samples: list[Any], data: list[Any]) -> Any:
            def one(*xs: Any) -> Any:
                out = per_draw(*xs, *data)
                # Without the log-likelihood, XLA drops the work for it.
                return out if with_log_likelihood else out[:count]

            return jax.vmap(jax.vmap(one))(*samples)

        return jax.jit(run)

    return _Program(
        names=names,
        shapes=shapes,
        outputs=graphs.outputs,
        observed=graphs.observed,
        mcmc=mcmc,
        draws=over_draws(False),
        draws_and_log_likelihood=over_draws(True),
    )


def _check_nuts_options(nuts: dict[str, Any]) -> None:
    """Refuse options that ``numpyro.infer.NUTS`` does not take, naming those it does."""
    import inspect

    from numpyro.infer import NUTS

    taken = set(inspect.signature(NUTS).parameters) - {"model", "potential_fn"}
    unknown = sorted(set(nuts) - taken)
    if unknown:
        raise BackendError(
            f"inference_method='numpyro' got options it does not take: {unknown}. It passes "
            f"target_accept and these to numpyro.infer.NUTS: {sorted(taken)}."
        )


def _initial_points(
    point: dict[str, np.ndarray], program: _Program, chains: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """PyMC's start ("jitter+adapt_diag"): the initial point plus Uniform(-1, 1) per chain."""
    starts = {
        n: np.asarray(point[n])[None] + rng.uniform(-1, 1, (chains, *s))
        for n, s in zip(program.names, program.shapes, strict=True)
    }
    # NumPyro takes a single chain's start without the chain axis.
    return {n: v[0] for n, v in starts.items()} if chains == 1 else starts


def sample_numpyro(
    model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    log_likelihood: bool,
    target_accept: float = 0.8,
    **nuts: Any,
) -> az.InferenceData:
    """Sample ``model`` with NumPyro's NUTS; ``posterior``, ``sample_stats`` and, when asked,
    ``log_likelihood``, with the model's dimensions and coordinates.

    ``nuts`` goes to ``numpyro.infer.NUTS`` (e.g. ``max_tree_depth``, ``dense_mass``).
    """
    jax = _configure()
    nuts = {"target_accept_prob": float(target_accept), **nuts}
    _check_nuts_options(nuts)
    point = model.initial_point()
    program = _program(
        model,
        point,
        jax,
        draws=draws,
        tune=tune,
        chains=chains,
        progressbar=progressbar,
        nuts=nuts,
    )
    rng = np.random.default_rng(random_seed)
    data = [np.asarray(v.get_value()) for v in model.data_vars]
    start = time.perf_counter()
    with program.lock:
        program.mcmc.run(
            jax.random.PRNGKey(int(rng.integers(2**31))),
            *data,
            init_params=_initial_points(point, program, chains, rng),
            extra_fields=("diverging", "num_steps", "accept_prob", "energy", "potential_energy"),
        )
        samples = program.mcmc.get_samples(group_by_chain=True)
        stats = program.mcmc.get_extra_fields(group_by_chain=True)
        values = [samples[n] for n in program.names]
        if log_likelihood:
            both = program.draws_and_log_likelihood(values, data)
            drawn, pointwise = both[: len(program.outputs)], both[len(program.outputs) :]
        else:
            drawn, pointwise = program.draws(values, data), None
        jax.block_until_ready(drawn)
    elapsed = time.perf_counter() - start
    dims = {k: list(v) for k, v in model.named_vars_to_dims.items() if v}
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    attrs = {"sampling_time": elapsed, "tuning_steps": tune}
    num_steps = np.asarray(stats["num_steps"])
    sample_stats = {
        "diverging": np.asarray(stats["diverging"]),
        "n_steps": num_steps,
        "tree_depth": np.floor(np.log2(np.maximum(num_steps, 1))).astype(int) + 1,
        "acceptance_rate": np.asarray(stats["accept_prob"]),
        "energy": np.asarray(stats["energy"]),
        "lp": -np.asarray(stats["potential_energy"]),
    }
    groups: dict[str, Any] = {
        "posterior": {n: np.asarray(d) for n, d in zip(program.outputs, drawn, strict=True)},
        "sample_stats": sample_stats,
    }
    if pointwise is not None:
        groups["log_likelihood"] = {
            n: np.asarray(d) for n, d in zip(program.observed, pointwise, strict=True)
        }
    import numpyro

    idata = az.from_dict(
        **groups,
        coords=coords,
        dims=dims,
        attrs={
            **attrs,
            "inference_library": "numpyro",
            "inference_library_version": numpyro.__version__,
        },
    )
    idata.posterior.attrs.update(attrs)
    return idata
