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
    "ChainProgram",
    "chain_program",
    "run_chains",
    "stops",
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
    """The settings of a fit; the options are checked by ``samplers.translate_options``."""
    target = float(target_accept)
    return NutsSettings(
        draws=int(draws),
        tune=int(tune),
        chains=int(chains),
        target_accept=target,
        options=tuple(sorted(nuts.items())),
        progressbar=bool(progressbar),
    )


def stops(total: int, progressbar: bool) -> list[int]:
    """Where the calls of a fit's ``advance`` stop: once at the end, or in
    :data:`_PROGRESS_UPDATES` segments for a progress bar updated between them."""
    if not progressbar:
        return [total]
    segments = range(1, _PROGRESS_UPDATES + 1)
    return sorted({max(1, round(total * k / _PROGRESS_UPDATES)) for k in segments})


def run_chains(
    start: Callable[..., Any],
    advance: Callable[..., Any],
    arguments: tuple[Any, Any, Any],
    settings: NutsSettings,
    values: int,
    progressbar: bool,
) -> tuple[list[Any], tuple[Any, ...]]:
    """Run :func:`over_chains`'s ``start`` and ``advance`` on ``(keys, init, data)``, in
    segments under a progress bar when asked: ``(draws of each of the values, statistics)``.
    """
    import jax

    keys, init, data = arguments
    total = settings.tune + settings.draws
    carry = start(keys, init, data)
    bar = None
    if progressbar:
        from tqdm.auto import tqdm

        bar = tqdm(total=total * settings.chains, desc="Sampling", leave=False)
    done = 0
    try:
        for stop in stops(total, progressbar):
            carry = advance(carry, data, np.asarray(stop, dtype=np.int64))
            if bar is not None:
                jax.block_until_ready(carry)
                bar.update((stop - done) * settings.chains)
                done = stop
    finally:
        if bar is not None:
            bar.close()
    return list(carry[:values]), tuple(carry[values : values + len(STATS)])


@dataclass(frozen=True)
class ChainProgram:
    """One chain of NUTS as two JAX functions of the data, so that it can run in segments
    (a progress bar between them, with no callback into Python inside the program):

    - ``start(key, initial values, data) -> carry``: NumPyro's initial state, and empty
      buffers for the draws and their statistics;
    - ``advance(carry, data, stop) -> carry``: steps until ``stop`` iterations (warm-up
      first, then the kept draws, written into the buffers); ``stop`` is an argument, so one
      compiled program serves every segment.

    The carry is ``(draws of each value, statistics, NumPyro's state)``; the draws have a
    leading axis of ``draws`` and the statistics are :data:`STATS`.
    """

    start: Callable[..., Any]
    advance: Callable[..., Any]
    total: int

    def run(self, key: Any, init: tuple[Any, ...], data: tuple[Any, ...], chain: Any = 0) -> Any:
        """The whole chain in one call: ``(draws of each value, statistics)``."""
        carry = self.advance(self.start(key, init, data), data, self.total)
        return carry[0], carry[1]


def chain_program(logp: Callable[..., Any], settings: NutsSettings) -> ChainProgram:
    """One chain of ``settings``' NUTS on ``logp(*values, *data)``, the model's log density
    (its first output) on the unconstrained space, as PyMC's value variables."""
    import jax
    import jax.numpy as jnp
    from jax import lax
    from numpyro.infer.hmc import hmc

    def potential_gen(*data: Any) -> Callable[[Any], Any]:
        return lambda z: -logp(*z, *data)[0]

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_gen, algo="NUTS")
    options = dict(settings.options)
    tune, draws = settings.tune, settings.draws

    def statistics(state: Any) -> tuple[Any, ...]:
        return (
            state.diverging,
            state.num_steps,
            state.accept_prob,
            state.energy,
            state.potential_energy,
        )

    def start(key: Any, init: tuple[Any, ...], data: tuple[Any, ...]) -> Any:
        state = init_kernel(
            tuple(init),
            tune,
            target_accept_prob=settings.target_accept,
            model_args=data,
            rng_key=key,
            **options,
        )
        empty = jax.tree.map(lambda x: jnp.zeros((draws, *jnp.shape(x)), x.dtype), state.z)
        stats = tuple(jnp.zeros((draws,), jnp.asarray(x).dtype) for x in statistics(state))
        return tuple(empty), stats, state

    def advance(carry: Any, data: tuple[Any, ...], stop: Any) -> Any:
        def step(carry: Any) -> Any:
            z, stats, state = carry
            state = sample_kernel(state, model_args=data)
            kept = state.i - tune - 1  # the draw this step makes, negative in warm-up
            at = jnp.maximum(kept, 0)

            def write(buffer: Any, value: Any) -> Any:
                return buffer.at[at].set(jnp.where(kept >= 0, value, buffer[at]))

            z = tuple(write(b, v) for b, v in zip(z, state.z, strict=True))
            stats = tuple(write(b, v) for b, v in zip(stats, statistics(state), strict=True))
            return z, stats, state

        return lax.while_loop(lambda carry: carry[2].i < stop, step, carry)

    return ChainProgram(start=start, advance=advance, total=tune + draws)


def chain_method(jax: Any, chains: int) -> str:
    """How the chains of one fit run: ``"parallel"`` (one CPU device each), ``"sequential"``
    (too few CPU devices) or ``"vectorized"`` (an accelerator runs them side by side)."""
    if jax.default_backend() != "cpu":
        return "vectorized"
    return "parallel" if jax.local_device_count() >= chains > 1 else "sequential"


def chain_shardings(method: str, chains: int) -> dict[str, tuple[Any, ...] | None]:
    """The input shardings of :func:`over_chains`'s ``start`` and ``advance``: in parallel,
    what belongs to a chain split over a mesh of ``chains`` CPU devices, and the data and
    the stop on each; ``None`` otherwise (one device)."""
    if method != "parallel":
        return {"start": None, "advance": None}
    import jax
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    mesh = Mesh(np.array(jax.devices()[:chains]), ("chain",))
    by_chain, shared = NamedSharding(mesh, P("chain")), NamedSharding(mesh, P())
    return {"start": (by_chain, by_chain, shared), "advance": (by_chain, shared, shared)}


def over_chains(
    program: ChainProgram, method: str, chains: int
) -> tuple[Callable[..., Any], Callable[..., Any], dict[str, Any]]:
    """The chains of one fit, jitted: ``start(keys[C], init of [C, ...], data) -> carry``
    and ``advance(carry, data, stop) -> carry``, with their input shardings. The carry is a
    flat list of arrays, each with a leading axis of chains, whose first entries are the draws
    of each value (``[C, N, ...]``) and then the :data:`STATS` (``[C, N]``). Compiled once:
    the data are arguments, so any data set of the same shapes reuses them.

    In parallel, each chain runs on its own CPU device (``shard_map`` over a mesh of
    ``chains`` devices, one chain each: what ``pmap`` does, in a form ``jax.export`` takes).
    """
    import jax

    shape: list[Any] = []  # the carry's tree structure, found when ``start`` is traced

    def flat_start(key: Any, init: Any, data: Any) -> list[Any]:
        leaves, tree = jax.tree.flatten(program.start(key, init, data))
        shape[:] = [tree]
        return leaves

    def flat_advance(leaves: list[Any], data: Any, stop: Any) -> list[Any]:
        carry = jax.tree.unflatten(shape[0], leaves)
        return jax.tree.leaves(program.advance(carry, data, stop))

    shardings = chain_shardings(method, chains)
    if method == "parallel":
        from jax.sharding import PartitionSpec as P

        def chain_start(keys: Any, init: Any, data: Any) -> list[Any]:
            # Each device holds one chain: drop the chains' axis, and put it back.
            leaves = flat_start(keys[0], tuple(x[0] for x in init), data)
            return [x[None] for x in leaves]

        def chain_advance(leaves: list[Any], data: Any, stop: Any) -> list[Any]:
            return [x[None] for x in flat_advance([x[0] for x in leaves], data, stop)]

        def on_devices(function: Callable[..., Any], name: str) -> Callable[..., Any]:
            found = shardings[name]
            assert found is not None
            # No check of which values vary between chains: NumPyro's branches would fail it.
            mapped = jax.shard_map(
                function,
                mesh=found[0].mesh,
                in_specs=tuple(s.spec for s in found),
                out_specs=P("chain"),
                check_vma=False,
            )
            return jax.jit(mapped, in_shardings=found)

        start = on_devices(chain_start, "start")
        advance = on_devices(chain_advance, "advance")
        return start, advance, shardings
    if method == "vectorized":
        start = jax.jit(jax.vmap(flat_start, in_axes=(0, 0, None)))
        advance = jax.jit(jax.vmap(flat_advance, in_axes=(0, None, None)))
        return start, advance, shardings

    def start_in_turn(keys: Any, init: Any, data: Any) -> Any:
        return jax.lax.map(lambda args: flat_start(args[0], args[1], data), (keys, init))

    def advance_in_turn(leaves: Any, data: Any, stop: Any) -> Any:
        return jax.lax.map(lambda mine: flat_advance(mine, data, stop), leaves)

    return jax.jit(start_in_turn), jax.jit(advance_in_turn), shardings


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
