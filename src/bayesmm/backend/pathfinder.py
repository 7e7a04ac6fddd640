"""Multi-path Pathfinder (Zhang et al. 2022) on the JAX route, for data of any size.

Each path runs L-BFGS (blackjax's, on optax) on the model's log density compiled to JAX with
the data as arguments, from the initial point jittered by ``Uniform(-jitter, jitter)``. At
every iterate of the path, the normal approximation that the L-BFGS history defines
(blackjax's inverse-Hessian factors and BFGS sampler) is scored by its ELBO, estimated from
``num_elbo_draws`` draws; the path's best iterate gives its draws, and the paths' draws are
pooled (the caller checks them by Pareto k-hat).

Why not blackjax's own ``pathfinder.approximate``: it scores all ``maxiter + 1`` iterates at
once (a ``vmap``), so its memory grows with ``maxiter x num_elbo_draws x rows``, and it scores
the iterates after convergence too. Here the iterates are scored one after another
(``lax.map``), only those the path reached, so memory stays at a few arrays of the rows
(the final draws' log densities are computed ten at a time).
And why not pymc-extras' (the fallback when JAX is missing or cannot translate the model):
its log density is PyTensor's C, about three times slower than JAX at a million rows, and
it scores each iterate from Python.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
from pymc.blocking import DictToArrayBijection

__all__ = ["PathSettings", "Paths", "available", "run_paths"]

#: The draws whose log density is computed side by side (memory: this many x rows).
_BATCH = 10


def available() -> bool:
    """Whether JAX and blackjax are installed."""
    return all(importlib.util.find_spec(p) is not None for p in ("jax", "blackjax"))


@dataclass(frozen=True)
class PathSettings:
    """How each path runs: L-BFGS's iterations, history (``maxcor``), tolerances (relative
    improvement ``ftol``, gradient norm ``gtol``) and line-search steps, the draws that
    estimate each iterate's ELBO, and the half-width of the starts' jitter (pymc-extras'
    names, so the same settings serve both engines)."""

    maxiter: int
    maxcor: int
    ftol: float
    gtol: float
    maxls: int
    num_elbo_draws: int
    jitter: float


@dataclass
class Paths:
    """The draws of the paths that succeeded: ``samples`` (paths, draws, parameters), the
    normal approximations' log densities ``log_q`` and the model's ``log_p`` (paths,
    draws), and each path's L-BFGS iterations and best iterate."""

    samples: np.ndarray
    log_q: np.ndarray
    log_p: np.ndarray
    iterations: list[int]
    best: list[int]


def _flat_log_density(model: pm.Model) -> tuple[Callable[..., Any], list[np.ndarray], int]:
    """The log density as a JAX function of ``(flat values, *data)``, the data, and the
    number of values. Raises ``NotImplementedError`` if JAX lacks an operation."""
    from .jax import log_density_function

    function = log_density_function(model)
    info = DictToArrayBijection.map(model.initial_point()).point_map_info
    starts = np.cumsum([0] + [size for _, _, size, _ in info])

    def log_density(x: Any, *data: Any) -> Any:
        bounds = itertools.pairwise(starts)
        parts = [x[a:b].reshape(part[1]) for part, (a, b) in zip(info, bounds, strict=True)]
        return function(*parts, *data)

    data = [np.asarray(v.get_value()) for v in model.data_vars]
    return log_density, data, int(starts[-1])


def _path_program(
    log_density: Callable[..., Any], settings: PathSettings, draws: int
) -> Callable[..., Any]:
    """One path as one jitted function of ``(key, start, data)``: its draws, their log
    densities under the approximation and the model, its iterations and best iterate."""
    import jax
    import jax.numpy as jnp
    from blackjax.optimizers.lbfgs import (
        bfgs_sample,
        lbfgs_inverse_hessian_factors,
        minimize_lbfgs,
    )

    maxiter, maxcor = settings.maxiter, settings.maxcor

    def path(key: Any, start: Any, data: tuple[Any, ...]) -> Any:
        def log_p(x: Any) -> Any:
            return log_density(x, *data)

        last, history = minimize_lbfgs(
            lambda x: -log_p(x),
            start,
            settings.maxiter,
            settings.maxcor,
            settings.gtol,
            settings.ftol,
            settings.maxls,
        )
        reached = last.state.iter_num
        # The steps and gradient changes, zero where L-BFGS skipped an update, padded in
        # front so that every iterate has a window of ``maxcor`` of them.
        kept = history.update_mask[1:]
        steps = jnp.where(kept, jnp.diff(history.x, axis=0), 0.0)
        changes = jnp.where(kept, jnp.diff(history.g, axis=0), 0.0)
        steps = jnp.pad(steps, ((maxcor, 0), (0, 0)))
        changes = jnp.pad(changes, ((maxcor, 0), (0, 0)))
        elbo_key, draw_key = jax.random.split(key)

        def normal(i: Any) -> tuple[Any, ...]:
            window = jax.lax.dynamic_slice_in_dim(steps, i, maxcor).T
            moved = jax.lax.dynamic_slice_in_dim(changes, i, maxcor).T
            beta, gamma = lbfgs_inverse_hessian_factors(window, moved, history.alpha[i])
            return history.x[i], -history.g[i], history.alpha[i], beta, gamma

        def elbo(i: Any) -> Any:
            def scored(_: Any) -> Any:
                phi, log_q = bfgs_sample(
                    jax.random.fold_in(elbo_key, i), settings.num_elbo_draws, *normal(i)
                )
                value = jnp.mean(jax.lax.map(log_p, phi) - log_q)
                return jnp.where(jnp.isfinite(value), value, -jnp.inf)

            return jax.lax.cond(i <= reached, scored, lambda _: -jnp.inf, None)

        elbos = jax.lax.map(elbo, jnp.arange(maxiter + 1))
        best = jnp.argmax(elbos)
        phi, log_q = bfgs_sample(draw_key, draws, *normal(best))
        return phi, log_q, jax.lax.map(log_p, phi, batch_size=_BATCH), reached, best, elbos[best]

    return jax.jit(path)


def run_paths(
    model: pm.Model,
    settings: PathSettings,
    *,
    num_paths: int,
    draws_per_path: int,
    rng: np.random.Generator,
    progressbar: bool,
) -> Paths:
    """Run ``num_paths`` paths, one after the other; the paths whose best ELBO is finite.

    Raises ``NotImplementedError`` if JAX lacks an operation of the model's graph.
    """
    from .jax import configure

    jax = configure()
    log_density, data, size = _flat_log_density(model)
    program = _path_program(log_density, settings, draws_per_path)
    start = DictToArrayBijection.map(model.initial_point()).data
    on_device = tuple(jax.device_put(d) for d in data)
    found: list[tuple[Any, ...]] = []
    paths = range(num_paths)
    if progressbar:
        from tqdm.auto import tqdm

        paths = tqdm(paths, desc="Pathfinder paths", leave=False)
    for _ in paths:
        key = jax.random.PRNGKey(int(rng.integers(2**31)))
        jittered = start + rng.uniform(-settings.jitter, settings.jitter, size)
        phi, log_q, log_p, reached, best, elbo = jax.device_get(program(key, jittered, on_device))
        if np.isfinite(elbo):
            found.append((phi, log_q, log_p, int(reached), int(best)))
    if not found:
        return Paths(
            np.empty((0, draws_per_path, size)), np.empty((0, 0)), np.empty((0, 0)), [], []
        )
    return Paths(
        samples=np.stack([f[0] for f in found]),
        log_q=np.stack([f[1] for f in found]),
        log_p=np.stack([f[2] for f in found]),
        iterations=[f[3] for f in found],
        best=[f[4] for f in found],
    )
