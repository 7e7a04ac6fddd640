"""Multi-path Pathfinder (Zhang et al. 2022) on the JAX route, for data of any size.

Each path runs L-BFGS (blackjax's, on optax) on the model's log density compiled to JAX with
the data as arguments, from the initial point jittered by ``Uniform(-jitter, jitter)``. At
every iterate of the path, the normal approximation that the L-BFGS history defines
(blackjax's inverse-Hessian factors and BFGS sampler) is scored by its ELBO, estimated from
``num_elbo_draws`` draws; the path's best iterate gives its draws, and the paths' draws are
pooled (the caller checks them by Pareto k-hat).

A path's normal is centred near the joint mode: its best iterate plus a Newton step. In a
hierarchical model of a binary outcome the joint mode is not where the posterior mass is
(maximising over the group effects along with the slopes pulls the slopes toward zero and
the group sd down, by a fraction of a posterior SD or more at a million rows). With
``refine``, the centre then moves to where the ELBO is highest with the covariance held
(:func:`refined_centre`), which is where the model's gradient averages to zero over the
normal's draws: at a million bernoulli rows, the largest gap of a fixed effect's mean from
NUTS went from 0.37 to 0.02 posterior SDs (``benchmarks/large_bernoulli.py``).

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

__all__ = ["PathSettings", "Paths", "available", "refined_centre", "run_paths"]

#: The draws whose log density is computed side by side (memory: this many x rows).
_BATCH = 10
#: The antithetic pairs of draws over which the centre's refinement averages the gradient.
_REFINE_PAIRS = 32
#: The refinement's most L-BFGS iterations, and the step (in the normal's SDs) that ends it.
_REFINE_STEPS = 20
_REFINE_TOLERANCE = 0.01


def available() -> bool:
    """Whether JAX, blackjax and optax are installed."""
    return all(importlib.util.find_spec(p) is not None for p in ("jax", "blackjax", "optax"))


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
    from ..programs.jax import log_density_function

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
    log_density: Callable[..., Any], settings: PathSettings, draws: int, refine: bool
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
        position, gradient, alpha, beta, gamma = normal(best)
        centre = position + _covariance_times(alpha, beta, gamma, gradient)
        if refine:
            refine_key, draw_key = jax.random.split(draw_key)
            centre = refined_centre(log_p, refine_key, centre, alpha, beta, gamma)
        zero = jnp.zeros_like(position)
        spread, log_q = bfgs_sample(draw_key, draws, zero, zero, alpha, beta, gamma)
        phi = centre + spread
        return phi, log_q, jax.lax.map(log_p, phi, batch_size=_BATCH), reached, best, elbos[best]

    return jax.jit(path)


def _covariance_times(alpha: Any, beta: Any, gamma: Any, v: Any) -> Any:
    """The approximation's covariance (L-BFGS's inverse Hessian) times ``v``."""
    return alpha * v + beta @ (gamma @ (beta.T @ v))


def _covariance_root(alpha: Any, beta: Any, gamma: Any) -> Callable[[Any], Any]:
    """A linear map ``T`` with ``T T' = diag(alpha) + beta gamma beta'`` (the paper's
    Algorithm 4: a thin QR of the scaled low-rank part and a small Cholesky factor)."""
    import jax.numpy as jnp

    scale = jnp.sqrt(alpha)
    q, r = jnp.linalg.qr(beta / scale[:, None], mode="reduced")
    identity = jnp.eye(r.shape[0])
    lower = jnp.linalg.cholesky(identity + r @ gamma @ r.T)
    return lambda z: scale * (q @ ((lower - identity) @ (q.T @ z)) + z)


def refined_centre(
    log_p: Callable[[Any], Any], key: Any, centre: Any, alpha: Any, beta: Any, gamma: Any
) -> Any:
    """The centre that maximises the ELBO of the normal with covariance ``diag(alpha) +
    beta gamma beta'`` (L-BFGS's inverse Hessian) held: where the gradient of the log
    density averages to zero over the normal's draws.

    The average is over :data:`_REFINE_PAIRS` fixed antithetic pairs of draws, so the
    gradient's linear part cancels exactly and what moves the centre is the posterior's
    skew. The centre is found by optax's L-BFGS in the normal's standardised coordinates
    (where its covariance is the identity, so the first step is the quasi-Newton step of
    the covariance), for at most :data:`_REFINE_STEPS` iterations or until the gradient's
    norm there (the next step's length, in the normal's SDs) is under
    :data:`_REFINE_TOLERANCE`. Where the averaged density is not finite the centre stays.
    """
    import jax
    import jax.numpy as jnp
    import optax

    root = _covariance_root(alpha, beta, gamma)
    half = jax.vmap(root)(jax.random.normal(key, (_REFINE_PAIRS, centre.shape[0])))
    spread = jnp.concatenate([half, -half])
    value_and_grad = jax.value_and_grad(log_p)

    def averaged(z: Any) -> tuple[Any, Any]:
        """Minus the averaged log density at ``centre + root(z)``, and its gradient in z."""
        values, grads = jax.lax.map(value_and_grad, centre + root(z) + spread, batch_size=_BATCH)
        _, pull = jax.vjp(root, z)
        return -jnp.mean(values), -pull(jnp.mean(grads, axis=0))[0]

    # Each value comes with its gradient, computed draw by draw (memory: _BATCH x rows).
    @jax.custom_vjp
    def objective(z: Any) -> Any:
        return averaged(z)[0]

    objective.defvjp(averaged, lambda grad, cotangent: (cotangent * grad,))

    solver = optax.lbfgs(memory_size=5)
    cached = optax.value_and_grad_from_state(objective)

    def step(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        z, state, _, count = carry
        value, grad = cached(z, state=state)
        updates, state = solver.update(grad, state, z, value=value, grad=grad, value_fn=objective)
        return optax.apply_updates(z, updates), state, jnp.linalg.norm(grad), count + 1

    def moving(carry: tuple[Any, ...]) -> Any:
        _, _, size, count = carry
        return (count < _REFINE_STEPS) & (size > _REFINE_TOLERANCE)

    zero = jnp.zeros_like(centre)
    start = (zero, solver.init(zero), jnp.asarray(jnp.inf), jnp.asarray(0))
    z, state, _, _ = jax.lax.while_loop(moving, step, start)
    value, grad = cached(z, state=state)  # the line search's, at z: not computed again
    usable = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
    return jnp.where(usable, centre + root(z), centre)


def run_paths(
    model: pm.Model,
    settings: PathSettings,
    *,
    num_paths: int,
    draws_per_path: int,
    rng: np.random.Generator,
    progressbar: bool,
    refine: bool = True,
) -> Paths:
    """Run ``num_paths`` paths, one after the other; the paths whose best ELBO is finite.

    Raises ``NotImplementedError`` if JAX lacks an operation of the model's graph.
    """
    from ..programs.jax import configure

    jax = configure()
    log_density, data, size = _flat_log_density(model)
    program = _path_program(log_density, settings, draws_per_path, refine)
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
