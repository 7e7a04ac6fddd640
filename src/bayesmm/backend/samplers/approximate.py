"""Approximate inference, checked: ADVI (PyMC's ``pm.fit``) and a Laplace approximation at
the posterior mode on the unconstrained space, each with the Pareto k-hat of the importance
ratios of the exact posterior to the approximation (PSIS, Vehtari et al. 2024, through
ArviZ) computed on the draws and stored.

k-hat says whether the approximation can stand in for the posterior: below 0.5 the draws are
good, below 0.7 importance resampling (``importance_resampling=True``) corrects them, above
0.7 neither can be trusted, and a warning says so and suggests NUTS.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import pytensor
import xarray as xr
from pymc.blocking import DictToArrayBijection, RaveledVars
from scipy import optimize

from ..._errors import BackendError, BayesmmWarning, DataError
from ..._validation import check_count, check_flag, choice_message
from ..programs.jax_ops import cannot_translate

__all__ = [
    "VI_METHODS",
    "VI_OPTIONS",
    "LAPLACE_OPTIONS",
    "PATHFINDER_OPTIONS",
    "KHAT_TRUSTED",
    "check_approximation_options",
    "sample_vi",
    "sample_laplace",
    "sample_pathfinder",
]

#: bayesmm's names of PyMC's variational methods.
VI_METHODS = {"meanfield": "advi", "fullrank": "fullrank_advi"}

#: The options ``fit(inference_method="vi", ...)`` takes.
VI_OPTIONS = (
    "vi_method",
    "steps",
    "batch_size",
    "learning_rate",
    "importance_resampling",
    "cores",
)

#: The options ``fit(inference_method="pathfinder", ...)`` takes.
PATHFINDER_OPTIONS = (
    "num_paths",
    "maxiter",
    "num_elbo_draws",
    "refine",
    "importance_resampling",
    "cores",
)

#: Pathfinder's L-BFGS stops when an iteration improves the log density by less than this
#: fraction of its size. pymc-extras' 1e-5 is about 6 units of log density at a million
#: rows, where the paths stopped before the intercept and the group sd had settled.
PATHFINDER_FTOL = 1e-9

#: The options ``fit(inference_method="laplace", ...)`` takes.
LAPLACE_OPTIONS = ("importance_resampling", "cores")

#: The largest number of unconstrained parameters whose Hessian a Laplace fit forms.
LAPLACE_MAX_PARAMETERS = 4_000

#: Above this k-hat the approximation is not to be trusted.
KHAT_TRUSTED = 0.7


def _check_vi_method(name: str, value: Any) -> None:
    if not isinstance(value, str) or value not in VI_METHODS:
        raise DataError(choice_message(name, value, VI_METHODS))


def _check_rate(name: str, value: Any) -> None:
    number = isinstance(value, int | float | np.integer | np.floating)
    if isinstance(value, bool) or not number or not 0 < float(value) < np.inf:
        raise DataError(f"{name} must be a positive number; got {value!r}.")


def _check_optional_count(name: str, value: Any) -> None:
    if value is not None:
        check_count(name, value, 1)


#: How each option of the approximations is checked, before any work.
_OPTION_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "vi_method": _check_vi_method,
    "steps": partial(check_count, minimum=1),
    "batch_size": _check_optional_count,
    "learning_rate": _check_rate,
    "importance_resampling": check_flag,
    "cores": _check_optional_count,
    "num_paths": partial(check_count, minimum=1),
    "maxiter": partial(check_count, minimum=1),
    "num_elbo_draws": partial(check_count, minimum=1),
    "refine": check_flag,
}


def check_approximation_options(options: Mapping[str, Any]) -> None:
    """Check the values of an approximation's options (their names are checked against
    ``<METHOD>_OPTIONS`` by ``samplers.translate_options``).

    Raises
    ------
    DataError
        Naming the option, what it must be and what it was.
    """
    for name, value in options.items():
        if name in _OPTION_CHECKS:
            _OPTION_CHECKS[name](name, value)


def _normal_draws(
    mean: np.ndarray, scale: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of ``mean + L z`` (``z`` standard normal; ``scale`` is ``L``, lower
    triangular, or the standard deviations), and their log density."""
    z = rng.standard_normal((n, mean.size))
    if scale.ndim == 2:
        draws, log_det = mean + z @ scale.T, np.sum(np.log(np.diag(scale)))
    else:
        draws, log_det = mean + z * scale, np.sum(np.log(scale))
    log_q = -0.5 * np.sum(z**2, axis=1) - log_det - 0.5 * mean.size * np.log(2 * np.pi)
    return draws, log_q


def _posterior(model: pm.Model, points: list[dict[str, np.ndarray]], chains: int) -> xr.Dataset:
    """The constrained variables and deterministics of ``points``, as a posterior."""
    outputs = model.unobserved_value_vars
    function = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    values = [function(point) for point in points]
    draws = len(points) // chains
    variables = {}
    for i, variable in enumerate(outputs):
        stacked = np.stack([v[i] for v in values]).reshape(chains, draws, *np.shape(values[0][i]))
        dims = list(model.named_vars_to_dims.get(variable.name, ()))
        dims += [f"{variable.name}_dim_{k}" for k in range(len(dims), stacked.ndim - 2)]
        variables[variable.name] = (("chain", "draw", *dims), stacked)
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    used = {d for _, (dims, _) in variables.items() for d in dims}
    return xr.Dataset(variables, coords={k: v for k, v in coords.items() if k in used})


def _log_density(model: pm.Model) -> Callable[[dict[str, np.ndarray]], float]:
    """The model's log density at a point: compiled to JAX when it is installed and can
    (at a million rows a third of the time, which matters for thousands of draws), else
    PyMC's compiled function."""
    if importlib.util.find_spec("jax") is not None:
        from ..programs.jax import log_density

        try:
            return log_density(model)
        except NotImplementedError:  # an operation JAX lacks
            pass
    compiled = model.compile_logp(jacobian=True)
    return lambda point: float(compiled(point))


def _checked(
    model: pm.Model,
    name: str,
    flat: np.ndarray,
    log_q: np.ndarray,
    shape: tuple[int, int],
    rng: np.random.Generator,
    importance_resampling: bool,
    info: Any = None,
    log_p: np.ndarray | None = None,
) -> az.InferenceData:
    """Draws ``flat`` of an approximation on the unconstrained space (one row per draw, with
    its log density ``log_q``; ``log_p``, the model's log density there, when already
    known), checked by Pareto k-hat: the posterior and, in ``sample_stats``, each draw's log
    importance ratio."""
    chains, _ = shape
    if info is None:  # how the flat vector splits into the model's value variables
        info = DictToArrayBijection.map(model.initial_point()).point_map_info
    points = [DictToArrayBijection.rmap(RaveledVars(row, info)) for row in flat]
    if log_p is None:
        density = _log_density(model)
        log_p = np.array([density(p) for p in points])
    log_ratio = np.asarray(log_p, dtype=float) - log_q
    smoothed, khat = az.psislw(log_ratio.copy())
    if importance_resampling:
        weights = np.exp(smoothed - np.max(smoothed))
        chosen = rng.choice(len(points), size=len(points), p=weights / weights.sum())
        points, log_ratio = [points[i] for i in chosen], log_ratio[chosen]
    if not float(khat) < KHAT_TRUSTED:
        warnings.warn(
            f"The {name} approximation is not trustworthy here: Pareto k-hat {float(khat):.2f} "
            f"> {KHAT_TRUSTED} (the posterior has a shape it cannot follow, e.g. a funnel). "
            "Use NUTS (inference_method='auto').",
            BayesmmWarning,
            stacklevel=5,
        )
    ratios = xr.Dataset({"log_importance_ratio": (("chain", "draw"), log_ratio.reshape(shape))})
    idata = az.InferenceData(posterior=_posterior(model, points, chains), sample_stats=ratios)
    idata.attrs.update(
        {"pareto_k": float(khat), "importance_resampling": int(importance_resampling)}
    )
    return idata


def _mode(model: pm.Model, start: RaveledVars) -> optimize.OptimizeResult:
    """The posterior mode on the unconstrained space by L-BFGS from ``start`` (the model's
    initial point, raveled), with the log density and gradient in one compiled function."""
    info = start.point_map_info
    both = model.compile_fn(
        [model.logp(jacobian=True), model.dlogp(jacobian=True)], inputs=model.value_vars
    )

    def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
        log_p, grad = both(DictToArrayBijection.rmap(RaveledVars(x, info)))
        return -float(log_p), -np.asarray(grad, dtype=float)

    return optimize.minimize(negative, start.data, jac=True, method="L-BFGS-B")


class _Settling:
    """A ``pm.fit`` callback that makes Adam settle over the second half of the steps: it
    lowers the step size geometrically to a tenth and averages the approximation's
    parameters there (Polyak-Ruppert averaging). With noisy gradients (a Monte-Carlo ELBO,
    minibatches) the iterates wander around the optimum by an amount set by the step size;
    the smaller steps and the average settle on it."""

    def __init__(self, steps: int, learning_rate: float) -> None:
        self.steps, self.start, self.count = steps, steps // 2, 0
        self.full = learning_rate
        self.rate = pytensor.shared(np.asarray(learning_rate, dtype=pytensor.config.floatX))
        self.sums: list[np.ndarray] = []

    def __call__(self, approx: Any, losses: Any, i: int) -> None:
        if i < self.start:
            return
        done = (i - self.start) / max(self.steps - self.start, 1)
        self.rate.set_value(np.asarray(self.full * 0.1**done, dtype=self.rate.dtype))
        values = [p.get_value(borrow=True) for p in approx.params]
        if not self.sums:
            self.sums = [np.array(v, dtype=float) for v in values]
        else:
            for total, value in zip(self.sums, values, strict=True):
                total += value
        self.count += 1

    def apply(self, approx: Any) -> None:
        """Set the approximation's parameters to their averages (if the fit got as far as
        the second half: an interrupted one keeps its last iterate)."""
        if not self.count:
            return
        for param, total in zip(approx.params, self.sums, strict=True):
            param.set_value((total / self.count).astype(param.dtype))


def sample_vi(
    model: pm.Model,
    *,
    draws: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    vi_method: str = "meanfield",
    steps: int = 20_000,
    batch_size: int | None = None,
    learning_rate: float = 0.01,
    importance_resampling: bool = False,
    cores: int | None = None,
    batched: Callable[..., Any] | None = None,
) -> az.InferenceData:
    """Fit ``model`` by ADVI and draw ``chains * draws`` from the approximation.

    With ``batch_size``, each step's gradient reads a random minibatch of that many rows of
    the model ``batched(batch_size=...)`` builds (the same variables as ``model``, its
    likelihood scaled to all the rows); the draws are then checked against ``model``, all
    the rows.

    The optimiser is Adam at ``learning_rate``, lowered to a tenth and averaged over the
    second half of the steps (:class:`_Settling`). The model's intercept, and the common
    slopes a correlated block shares, are carried by a group term's or block's levels where
    one can (``predictors.intercept_carrier``; the caller builds the model so).

    ``idata.attrs`` records the method, the steps, the batch size and ``pareto_k``;
    ``sample_stats`` holds each draw's log importance ratio.
    """
    check_approximation_options(
        {
            "vi_method": vi_method,
            "steps": steps,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "importance_resampling": importance_resampling,
            "cores": cores,
        }
    )
    rng = np.random.default_rng(random_seed)
    fitted = model
    if batch_size is not None:
        if batched is None:
            raise DataError("batch_size (minibatch ADVI) does not apply to this model's family.")
        fitted = batched(batch_size=batch_size).model
    averaged = _Settling(steps, learning_rate)
    with fitted:
        approx = pm.fit(
            n=steps,
            method=VI_METHODS[vi_method],
            random_seed=int(rng.integers(2**31)),
            progressbar=progressbar,
            obj_optimizer=pm.adam(learning_rate=averaged.rate),
            callbacks=[averaged],
        )
    averaged.apply(approx)
    losses = np.asarray(approx.hist)
    if not np.all(np.isfinite(losses[-max(1, steps // 10) :])):
        raise DataError(
            f"ADVI ({vi_method}) did not converge: its loss is not finite after {steps} steps. "
            "Use inference_method='nutpie' (NUTS), or try more steps or the other vi_method."
        )
    mean = np.asarray(approx.mean.eval(), dtype=float)
    if vi_method == "fullrank":
        scale = np.linalg.cholesky(np.asarray(approx.cov.eval(), dtype=float))
    else:
        scale = np.asarray(approx.std.eval(), dtype=float)
    flat, log_q = _normal_draws(mean, scale, chains * draws, rng)
    name = f"{vi_method} ADVI"
    idata = _checked(model, name, flat, log_q, (chains, draws), rng, importance_resampling)
    idata.attrs.update(
        {
            "vi_method": vi_method,
            "vi_steps": steps,
            "vi_final_loss": float(losses[-1]),
            "vi_batch_size": 0 if batch_size is None else batch_size,
            "vi_learning_rate": float(learning_rate),
            "vi_optimizer": "adam, settled over the second half",
        }
    )
    return idata


def sample_laplace(
    model: pm.Model,
    *,
    draws: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    importance_resampling: bool = False,
    cores: int | None = None,
) -> az.InferenceData:
    """A normal approximation at the posterior mode on the unconstrained space, with the
    inverse of the negative Hessian there as its covariance; ``chains * draws`` draws."""
    check_approximation_options({"importance_resampling": importance_resampling, "cores": cores})
    start = DictToArrayBijection.map(model.initial_point())
    info = start.point_map_info
    if start.data.size > LAPLACE_MAX_PARAMETERS:
        raise DataError(
            f"inference_method='laplace' forms the Hessian of all {start.data.size} "
            f"unconstrained parameters, more than {LAPLACE_MAX_PARAMETERS}; use 'vi' or NUTS."
        )
    found = _mode(model, start)
    mode = DictToArrayBijection.rmap(RaveledVars(found.x, info))
    # The Hessian of -log p: the precision of the approximation.
    hessian = model.compile_d2logp(jacobian=True, negate_output=False)(mode)
    try:
        scale = np.linalg.cholesky(np.linalg.inv(-np.asarray(hessian, dtype=float)))
    except np.linalg.LinAlgError:
        raise DataError(
            "inference_method='laplace' found no proper mode (the Hessian there is not "
            f"positive definite; the optimiser said: {found.message}). Use NUTS."
        ) from None
    rng = np.random.default_rng(random_seed)
    shape = (chains, draws)
    flat, log_q = _normal_draws(found.x, scale, chains * draws, rng)
    idata = _checked(model, "Laplace", flat, log_q, shape, rng, importance_resampling, info)
    idata.attrs.update({"laplace_converged": int(bool(found.success))})
    return idata


def sample_pathfinder(
    model: pm.Model,
    *,
    draws: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    num_paths: int = 4,
    maxiter: int = 1_000,
    num_elbo_draws: int = 5,
    refine: bool = True,
    importance_resampling: bool = False,
    cores: int | None = None,
) -> az.InferenceData:
    """Multi-path Pathfinder (Zhang et al. 2022): ``num_paths`` L-BFGS runs from jittered
    starts, each giving the normal approximation of its best point by ELBO (estimated from
    ``num_elbo_draws`` draws); ``chains * draws`` draws pooled from the paths that succeeded.

    With ``refine`` (the default; the JAX route only), each path's normal is then moved to
    the centre that maximises its ELBO with its covariance held
    (:func:`.pathfinder.refined_centre`): a path's normal is centred near the joint mode,
    which in a hierarchical model with a binary outcome sits measurably away from the
    posterior mean.

    On the JAX route (:mod:`.pathfinder`) when JAX and blackjax are installed and can
    translate the model, else pymc-extras'. L-BFGS stops when an iteration improves the log
    density by less than :data:`PATHFINDER_FTOL` of its size, or its gradient's norm is below
    1e-8. The importance ratio of a draw is taken against the normal of the path that made
    it, as the paper does for multi-path resampling; its Pareto k-hat is checked and stored
    like ADVI's.
    """
    check_approximation_options(
        {
            "num_paths": num_paths,
            "maxiter": maxiter,
            "num_elbo_draws": num_elbo_draws,
            "refine": refine,
            "importance_resampling": importance_resampling,
            "cores": cores,
        }
    )
    rng = np.random.default_rng(random_seed)
    total = chains * draws
    n_parameters = DictToArrayBijection.map(model.initial_point()).data.size
    from .pathfinder import PathSettings

    settings = PathSettings(
        maxiter=maxiter,
        # as pymc-extras' default: about 3 log(N) corrections, at least 5
        maxcor=max(5, int(np.ceil(3 * np.log(max(n_parameters, 2))))),
        ftol=PATHFINDER_FTOL,
        gtol=1e-8,
        maxls=1_000,
        num_elbo_draws=num_elbo_draws,
        jitter=2.0,
    )
    samples, log_q, log_p, engine = _pathfinder_paths(
        model, num_paths, -(-total // num_paths), settings, rng, progressbar, refine
    )
    flat = samples.reshape(-1, samples.shape[-1])
    log_q, log_p = log_q.reshape(-1), log_p.reshape(-1)
    usable = np.isfinite(log_q) & np.isfinite(log_p)
    if not usable.any():
        raise DataError(
            "Pathfinder's draws all have a non-finite density. Use NUTS (inference_method='auto')."
        )
    keep = np.flatnonzero(usable)
    chosen = rng.choice(keep, size=total, replace=keep.size < total)
    idata = _checked(
        model,
        "Pathfinder",
        flat[chosen],
        log_q[chosen],
        (chains, draws),
        rng,
        importance_resampling,
        log_p=log_p[chosen],
    )
    idata.attrs.update(
        {
            "pathfinder_engine": engine,
            "pathfinder_paths": num_paths,
            "pathfinder_paths_succeeded": int(samples.shape[0]),
            "pathfinder_maxiter": maxiter,
            "pathfinder_ftol": PATHFINDER_FTOL,
            "pathfinder_num_elbo_draws": num_elbo_draws,
            "pathfinder_refined": int(refine and engine == "jax"),
        }
    )
    return idata


def _pathfinder_paths(
    model: pm.Model,
    num_paths: int,
    per_path: int,
    settings: Any,
    rng: np.random.Generator,
    progressbar: bool,
    refine: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The paths' draws ``(paths, per_path, parameters)``, their log densities under the
    approximation and the model, and the engine that made them."""
    from . import pathfinder

    if pathfinder.available():
        try:
            paths = pathfinder.run_paths(
                model,
                settings,
                num_paths=num_paths,
                draws_per_path=per_path,
                rng=rng,
                progressbar=progressbar,
                refine=refine,
            )
        except (ValueError, NotImplementedError) as err:
            if not cannot_translate(err):
                raise
            if importlib.util.find_spec("pymc_extras") is None:
                raise BackendError(
                    "Pathfinder cannot run on this model: JAX cannot compute its log density "
                    f"or gradient ({type(err).__name__}: {err}). Install pymc-extras (pip "
                    'install "bayesmm[approx]") for its Pathfinder, or use NUTS '
                    "(inference_method='auto')."
                ) from None
            # e.g. an operation JAX lacks: pymc-extras' Pathfinder, on PyTensor's C
        else:
            if not paths.iterations:
                raise DataError(
                    "Pathfinder found no usable path (no iterate had a finite ELBO). Use NUTS "
                    "(inference_method='auto'), or try more num_paths or maxiter."
                )
            return paths.samples, paths.log_q, paths.log_p, "jax"
    elif importlib.util.find_spec("pymc_extras") is None:
        raise BackendError(
            "inference_method='pathfinder' needs JAX and blackjax (pip install "
            '"bayesmm[jax]") or pymc-extras (pip install "bayesmm[approx]"); neither is '
            "installed."
        )
    from pymc_extras.inference.pathfinder.pathfinder import multipath_pathfinder

    try:
        result = multipath_pathfinder(
            model,
            num_paths=num_paths,
            num_draws=num_paths * per_path,
            num_draws_per_path=per_path,
            epsilon=1e-12,
            importance_sampling=None,
            progressbar=progressbar,
            concurrent=None,
            random_seed=int(rng.integers(2**31)),
            display_summary=False,
            **dataclasses.asdict(settings),
        )
    except ValueError as err:
        raise DataError(
            f"Pathfinder found no usable path ({err}). Use NUTS (inference_method='auto'), "
            "or try more num_paths or maxiter."
        ) from None
    samples = np.asarray(result.samples, dtype=float)
    log_q = np.asarray(result.logQ, dtype=float).reshape(samples.shape[:2])
    log_p = np.asarray(result.logP, dtype=float).reshape(samples.shape[:2])
    return samples, log_q, log_p, "pymc-extras"
