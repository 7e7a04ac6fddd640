"""NUTS as one compiled JAX program whose arguments are the data.

NumPyro's ``MCMC.run`` maps its chains over a function that holds the model's arguments as
constants, so every new data set compiles the sampler again (and each compile maps more
machine code into the process, which is never given back). Here NumPyro's NUTS kernel
(``numpyro.infer.hmc.hmc``: its step, tree building and warm-up adaptation) runs inside a
function of ``(keys, initial values, data)``, compiled once per structure and shapes:

- :func:`chain_program` is one chain: warm-up, then the kept draws with their statistics;
- :func:`over_chains` runs the chains of one fit, on one CPU device each when there are
  enough (``shard_map``), one after the other when not, side by side on an accelerator;
- :func:`over_fits` runs the chains of many fits of one structure in one program (a
  ``vmap`` over the data sets), the vectorised route of ``fit_many``.

The log density is PyMC's, translated by PyTensor's JAX backend (``backend.jax``).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "NutsSettings",
    "STATS",
    "nuts_settings",
    "chain_program",
    "chain_method",
    "chain_shardings",
    "over_chains",
    "over_fits",
    "fit_devices",
]

#: The per-draw statistics a program returns, in order (NumPyro's names).
STATS = ("diverging", "num_steps", "accept_prob", "energy", "potential_energy")

#: Options of NumPyro's kernel that bayesmm sets itself, or that belong to plain HMC.
_NOT_OPTIONS = {
    "init_params",
    "num_warmup",
    "model_args",
    "model_kwargs",
    "rng_key",
    "num_steps",
    "trajectory_length",
    "target_accept_prob",
}

#: How many updates a progress bar gets over a chain.
_PROGRESS_UPDATES = 20


@dataclass(frozen=True)
class NutsSettings:
    """What a compiled NUTS program is specialised to: its lengths and kernel options.

    ``options`` are passed to NumPyro's NUTS kernel (``max_tree_depth``, ``dense_mass``,
    ``step_size``, ``adapt_mass_matrix``, ...); two settings with equal fields share a
    program.
    """

    draws: int
    tune: int
    chains: int
    target_accept: float = 0.8
    options: tuple[tuple[str, Any], ...] = ()
    progressbar: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> tuple[Any, ...]:
        return (
            self.draws,
            self.tune,
            self.chains,
            self.target_accept,
            tuple((name, _value_key(value)) for name, value in self.options),
            self.progressbar,
        )


def _value_key(value: Any) -> Any:
    """An option's value as part of a key: arrays by their bytes (their repr elides)."""
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        array = np.ascontiguousarray(np.asarray(value))
        return (array.dtype.str, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
    return repr(value)


def numpyro_options() -> set[str]:
    """The options of NumPyro's NUTS kernel that a fit may set, and ``target_accept``."""
    from numpyro.infer.hmc import hmc

    init_kernel, _ = hmc(potential_fn=lambda z: 0.0, algo="NUTS")
    return (set(inspect.signature(init_kernel).parameters) - _NOT_OPTIONS) | {"target_accept"}


def nuts_settings(
    *,
    draws: int,
    tune: int,
    chains: int,
    progressbar: bool,
    target_accept: float = 0.8,
    **nuts: Any,
) -> NutsSettings:
    """The settings of a fit; the options are checked by ``options.translate_options``."""
    target = float(target_accept)
    return NutsSettings(
        draws=int(draws),
        tune=int(tune),
        chains=int(chains),
        target_accept=target,
        options=tuple(sorted(nuts.items())),
        progressbar=bool(progressbar),
    )


def _progress(total: int, chains: int) -> Callable[[Any, Any], None]:
    """A host callback that advances one bar over all chains' iterations."""
    from tqdm.auto import tqdm

    state: dict[str, Any] = {}

    def update(chain: Any, step: Any) -> None:
        step = int(step)
        bar = state.get("bar")
        if bar is None or bar.n >= total * chains:
            bar = state["bar"] = tqdm(total=total * chains, desc="Sampling", leave=False)
        bar.update(max(1, total // _PROGRESS_UPDATES))
        if bar.n >= total * chains:
            bar.close()

    return update


def chain_program(
    logp: Callable[..., Any], settings: NutsSettings
) -> Callable[[Any, tuple[Any, ...], tuple[Any, ...]], tuple[Any, Any]]:
    """One chain: ``(key, initial values, data) -> (draws of each value, statistics)``.

    ``logp(*values, *data)`` is the model's log density (its first output); the values are
    on the unconstrained space, as PyMC's value variables. The draws have a leading axis of
    ``settings.draws``; the statistics are :data:`STATS`, each of that length.
    """
    import jax
    from jax import lax
    from numpyro.infer.hmc import hmc

    def potential_gen(*data: Any) -> Callable[[Any], Any]:
        return lambda z: -logp(*z, *data)[0]

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo="NUTS")
    options = dict(settings.options)
    total = settings.tune + settings.draws
    every = max(1, total // _PROGRESS_UPDATES)
    report = _progress(total, settings.chains) if settings.progressbar else None

    def step(state: Any, data: tuple[Any, ...], chain: Any) -> Any:
        state = sample_kernel(state, model_args=data)
        if report is not None:
            lax.cond(
                state.i % every == 0,
                lambda: jax.debug.callback(report, chain, state.i),
                lambda: None,
            )
        return state

    def run(key: Any, init: tuple[Any, ...], data: tuple[Any, ...], chain: Any = 0) -> Any:
        state = init_kernel(
            tuple(init),
            settings.tune,
            target_accept_prob=settings.target_accept,
            model_args=data,
            rng_key=key,
            **options,
        )
        state = lax.fori_loop(0, settings.tune, lambda i, s: step(s, data, chain), state)

        def keep(state: Any, _: Any) -> tuple[Any, Any]:
            state = step(state, data, chain)
            stats = (
                state.diverging,
                state.num_steps,
                state.accept_prob,
                state.energy,
                state.potential_energy,
            )
            return state, (state.z, stats)

        _, (z, stats) = lax.scan(keep, state, None, length=settings.draws)
        return z, stats

    return run


def chain_method(jax: Any, chains: int) -> str:
    """How the chains of one fit run: ``"parallel"`` (one CPU device each), ``"sequential"``
    (too few CPU devices) or ``"vectorized"`` (an accelerator runs them side by side)."""
    if jax.default_backend() != "cpu":
        return "vectorized"
    return "parallel" if jax.local_device_count() >= chains > 1 else "sequential"


def chain_shardings(method: str, chains: int) -> tuple[Any, ...] | None:
    """The input shardings of :func:`over_chains`'s function: in parallel, keys, initial
    values and chain ids split over a mesh of ``chains`` CPU devices and the data on each;
    ``None`` otherwise (one device)."""
    if method != "parallel":
        return None
    import jax
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = Mesh(np.array(jax.devices()[:chains]), ("chain",))
    by_chain, shared = NamedSharding(mesh, P("chain")), NamedSharding(mesh, P())
    return (by_chain, by_chain, shared, by_chain)


def over_chains(
    one_chain: Callable[..., Any], method: str, chains: int
) -> tuple[Callable[..., Any], Any]:
    """``(keys[C], init of [C, ...], data, ids[C]) -> (draws [C, N, ...], stats [C, N])``,
    jitted, and its input shardings (``None`` on one device): compiled once, and the data
    are arguments, so any data set of the same shapes reuses it.

    In parallel, each chain runs on its own CPU device (``shard_map`` over a mesh of
    ``chains`` devices, one chain each: what ``pmap`` does, in a form ``jax.export`` takes).
    """
    import jax

    shardings = chain_shardings(method, chains)
    if shardings is not None:
        from jax.sharding import PartitionSpec as P

        def own(keys: Any, init: Any, data: Any, ids: Any) -> Any:
            out = one_chain(keys[0], tuple(x[0] for x in init), data, ids[0])
            return jax.tree.map(lambda x: x[None], out)

        specs = tuple(s.spec for s in shardings)
        # No check of which values vary between chains: NumPyro's branches would fail it.
        mapped = jax.shard_map(
            own, mesh=shardings[0].mesh, in_specs=specs, out_specs=P("chain"), check_vma=False
        )
        return jax.jit(mapped, in_shardings=shardings), shardings
    if method == "vectorized":
        return jax.jit(jax.vmap(one_chain, in_axes=(0, 0, None, 0))), None

    def in_turn(keys: Any, init: Any, data: Any, ids: Any) -> Any:
        def one(args: Any) -> Any:
            return one_chain(args[0], args[1], data, args[2])

        return jax.lax.map(one, (keys, init, ids))

    return jax.jit(in_turn), None


def fit_devices(fits: int | None = None) -> int:
    """How many devices :func:`over_fits` splits ``fits`` fits between (a multiple of which
    their number is padded to): the CPU's devices, at most one per fit; one accelerator."""
    import jax

    if jax.default_backend() != "cpu":
        return 1
    devices = jax.local_device_count()
    return devices if fits is None else max(1, min(devices, fits))


def over_fits(one_chain: Callable[..., Any], devices: int | None = None) -> Callable[..., Any]:
    """``(keys[B, C], init of [B, C, ...], data of [B, ...]) -> (draws [B, C, N, ...],
    stats [B, C, N])``: the chains of ``B`` fits of one structure in one program.

    On a CPU with several devices the fits are split between them (``pmap`` over devices of
    a ``vmap`` over each device's share); the caller pads ``B`` to a multiple of the
    device count.
    """
    import jax

    def fit(keys: Any, init: Any, data: Any) -> Any:
        import jax.numpy as jnp

        ids = jnp.arange(keys.shape[0])
        return jax.vmap(one_chain, in_axes=(0, 0, None, 0))(keys, init, data, ids)

    batched = jax.vmap(fit, in_axes=(0, 0, 0))
    devices = fit_devices() if devices is None else devices
    if devices > 1:
        per_device = jax.pmap(batched, in_axes=(0, 0, 0))

        def run(keys: Any, init: Any, data: Any) -> Any:
            def split(x: Any) -> Any:
                return x.reshape(devices, x.shape[0] // devices, *x.shape[1:])

            def join(x: Any) -> Any:
                return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])

            out = per_device(split(keys), jax.tree.map(split, init), jax.tree.map(split, data))
            return jax.tree.map(join, out)

        return run
    return jax.jit(batched)
