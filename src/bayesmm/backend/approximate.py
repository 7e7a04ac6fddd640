"""Approximate inference, checked: ADVI (PyMC's ``pm.fit``), with the Pareto k-hat of the
importance ratios of the exact posterior to the approximation (PSIS, Vehtari et al. 2024,
through ArviZ) computed on the draws and stored.

k-hat says whether the approximation can stand in for the posterior: below 0.5 the draws are
good, below 0.7 importance resampling (``importance_resampling=True``) corrects them, above
0.7 neither can be trusted, and a warning says so and suggests NUTS.
"""

from __future__ import annotations

import warnings
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from .._errors import BayesmmWarning, DataError

__all__ = ["VI_METHODS", "VI_OPTIONS", "KHAT_TRUSTED", "sample_vi"]

#: bayesmm's names of PyMC's variational methods.
VI_METHODS = {"meanfield": "advi", "fullrank": "fullrank_advi"}

#: The options ``fit(inference_method="vi", ...)`` takes.
VI_OPTIONS = ("vi_method", "steps", "importance_resampling", "cores")

#: Above this k-hat the approximation is not to be trusted.
KHAT_TRUSTED = 0.7


def _flat_draws(
    approx: Any, full_rank: bool, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of the approximation's flat unconstrained vector, and their log density:
    ``mean + L z`` with ``z`` standard normal and ``L`` the Cholesky factor of its covariance
    (the standard deviations, for mean-field)."""
    mean = np.asarray(approx.mean.eval(), dtype=float)
    z = rng.standard_normal((n, mean.size))
    if full_rank:
        chol = np.linalg.cholesky(np.asarray(approx.cov.eval(), dtype=float))
        draws, log_det = mean + z @ chol.T, np.sum(np.log(np.diag(chol)))
    else:
        std = np.asarray(approx.std.eval(), dtype=float)
        draws, log_det = mean + z * std, np.sum(np.log(std))
    log_q = -0.5 * np.sum(z**2, axis=1) - log_det - 0.5 * mean.size * np.log(2 * np.pi)
    return draws, log_q


def _points(approx: Any, flat: np.ndarray) -> list[dict[str, np.ndarray]]:
    ordering = approx.groups[0].ordering
    return [
        {name: row[info[1]].reshape(info[2]) for name, info in ordering.items()} for row in flat
    ]


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


def sample_vi(
    model: pm.Model,
    *,
    draws: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    vi_method: str = "meanfield",
    steps: int = 20_000,
    importance_resampling: bool = False,
    cores: int | None = None,
) -> az.InferenceData:
    """Fit ``model`` by ADVI and draw ``chains * draws`` from the approximation.

    ``idata.attrs`` records the method, the steps and ``pareto_k``; ``sample_stats`` holds
    each draw's log importance ratio.
    """
    if vi_method not in VI_METHODS:
        raise DataError(f"vi_method must be one of {sorted(VI_METHODS)}; got {vi_method!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise DataError(f"steps must be an integer >= 1; got {steps!r}.")
    rng = np.random.default_rng(random_seed)
    with model:
        approx = pm.fit(
            n=steps,
            method=VI_METHODS[vi_method],
            random_seed=int(rng.integers(2**31)),
            progressbar=progressbar,
        )
    losses = np.asarray(approx.hist)
    if not np.all(np.isfinite(losses[-max(1, steps // 10) :])):
        raise DataError(
            f"ADVI ({vi_method}) did not converge: its loss is not finite after {steps} steps. "
            "Use inference_method='nutpie' (NUTS), or try more steps or the other vi_method."
        )
    n = draws * chains
    flat, log_q = _flat_draws(approx, vi_method == "fullrank", n, rng)
    points = _points(approx, flat)
    log_p_fn = model.compile_logp(jacobian=True)
    log_ratio = np.array([log_p_fn(p) for p in points]) - log_q
    smoothed, khat = az.psislw(log_ratio.copy())
    khat = float(khat)
    if importance_resampling:
        weights = np.exp(smoothed - np.max(smoothed))
        chosen = rng.choice(n, size=n, replace=True, p=weights / weights.sum())
        points, log_ratio = [points[i] for i in chosen], log_ratio[chosen]
    if not khat < KHAT_TRUSTED:
        warnings.warn(
            f"The {vi_method} ADVI approximation is not trustworthy here: Pareto k-hat "
            f"{khat:.2f} > {KHAT_TRUSTED} (the posterior has a shape it cannot follow, e.g. a "
            "funnel). Use NUTS (inference_method='auto').",
            BayesmmWarning,
            stacklevel=4,
        )
    posterior = _posterior(model, points, chains)
    stats = xr.Dataset(
        {"log_importance_ratio": (("chain", "draw"), log_ratio.reshape(chains, draws))}
    )
    idata = az.InferenceData(posterior=posterior, sample_stats=stats)
    idata.attrs.update(
        {
            "vi_method": vi_method,
            "vi_steps": steps,
            "vi_final_loss": float(losses[-1]),
            "pareto_k": khat,
            "importance_resampling": int(importance_resampling),
        }
    )
    return idata
