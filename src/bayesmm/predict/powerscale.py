"""Power-scaling sensitivity (Kallioinen, Paananen, Bürkner & Vehtari 2023), by importance
sampling from the posterior draws.

Raising the prior (or the likelihood) to a power ``alpha`` near 1 reweights the posterior
draws by ``p(theta)^(alpha - 1)``; how far each parameter's marginal moves, per unit of
``log2(alpha)``, measures how much the posterior depends on that component.

Implementation choice: arviz-stats' ``psense`` does this on the ArviZ 1 stack, which our
pinned arviz 0.2x does not install, so it is written here, following priorsense's
definitions:

- the weights of ``alpha`` are Pareto-smoothed (``az.psislw``) from the log ratios
  ``(alpha - 1) * log p_component(theta)``, at priorsense's ``alpha`` of 0.99 and 1.01;
- the distance between a parameter's unweighted and weighted draws is the cumulative
  Jensen–Shannon distance (Nguyen & Vreeken 2015) between their ECDFs: the square root of
  the symmetrised divergence over its upper bound, the larger of the values for ``x`` and
  ``-x``;
- the sensitivity is the sum of the two distances over ``2 log2(upper alpha)``, the
  finite-difference estimate of the distance's rate of change in ``log2(alpha)``;
- the diagnosis at the threshold 0.05: prior and likelihood sensitivity both at least the
  threshold, ``"prior-data conflict"``; the prior's above and the likelihood's below,
  ``"strong prior / weak likelihood"``; otherwise ``"-"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = [
    "LOWER_ALPHA",
    "UPPER_ALPHA",
    "THRESHOLD",
    "CONFLICT",
    "WEAK_LIKELIHOOD",
    "powerscale_weights",
    "cjs_distance",
    "diagnosis",
    "sensitivity_table",
]

#: priorsense's default powers, and its threshold of a sensitive parameter.
LOWER_ALPHA, UPPER_ALPHA, THRESHOLD = 0.99, 1.01, 0.05
CONFLICT, WEAK_LIKELIHOOD = "prior-data conflict", "strong prior / weak likelihood"


def powerscale_weights(
    log_component: np.ndarray, alpha: float, reff: float = 1.0
) -> tuple[np.ndarray, float]:
    """Normalised importance weights (over the draws) of the posterior with one component,
    whose per-draw log density is ``log_component``, raised to the power ``alpha``; and the
    Pareto k-hat of their smoothing."""
    import arviz as az  # on first use: arviz takes longer to import than bayesmm

    log_ratios = (alpha - 1.0) * np.asarray(log_component, dtype=float).ravel()
    log_weights, k = az.psislw(log_ratios[None, :].copy(), reff)
    weights = np.exp(log_weights[0] - log_weights[0].max())
    return weights / weights.sum(), float(np.asarray(k).ravel()[0])


def _one_sided_cjs(x: np.ndarray, weights: np.ndarray) -> float:
    """The normalised CJS distance between the ECDFs of ``x`` unweighted and weighted."""
    order = np.argsort(x, kind="stable")
    widths = np.diff(x[order])
    p = np.arange(1, len(x)) / len(x)  # the ECDFs at each step but the last, which is 1
    q = np.cumsum(weights[order])[:-1]
    p_int, q_int = float(np.sum(p * widths)), float(np.sum(q * widths))
    bound = p_int + q_int
    if bound <= 0:
        return 0.0

    def divergence(a: np.ndarray, b: np.ndarray, a_int: float, b_int: float) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * (np.log2(a) - np.log2(0.5 * (a + b))), 0.0)
        return float(np.sum(widths * terms)) + (b_int - a_int) / (2 * np.log(2))

    total = divergence(p, q, p_int, q_int) + divergence(q, p, q_int, p_int)
    return float(np.sqrt(max(total, 0.0) / bound))


def cjs_distance(x: np.ndarray, weights: np.ndarray) -> float:
    """The cumulative Jensen–Shannon distance between draws ``x`` and the same draws with
    normalised ``weights``: the larger of the values for ``x`` and ``-x`` (the divergence
    reads the ECDF from one side), between 0 and 1."""
    x = np.asarray(x, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float).ravel()
    return max(_one_sided_cjs(x, weights), _one_sided_cjs(-x, weights))


def sensitivity_table(
    draws: Mapping[str, np.ndarray],
    log_prior: np.ndarray,
    log_likelihood: np.ndarray,
    *,
    reff: float = 1.0,
    lower_alpha: float = LOWER_ALPHA,
    upper_alpha: float = UPPER_ALPHA,
    threshold: float = THRESHOLD,
) -> pd.DataFrame:
    """The power-scaling sensitivity of each parameter to the prior and to the likelihood.

    ``draws`` maps each parameter to its draws (chains stacked, one number per draw);
    ``log_prior`` and ``log_likelihood`` are the per-draw log densities of the power-scaled
    components. Returns a DataFrame indexed by parameter with columns ``prior``,
    ``likelihood`` and ``diagnosis``; its ``attrs["pareto_k"]`` holds the k-hat of each
    component's weights at each power.
    """
    scale = 2 * np.log2(upper_alpha)
    columns: dict[str, list[float]] = {}
    pareto_k: dict[str, float] = {}
    for component, log_density in (("prior", log_prior), ("likelihood", log_likelihood)):
        sides = []
        for alpha in (lower_alpha, upper_alpha):
            weights, pareto_k[f"{component}@{alpha}"] = powerscale_weights(log_density, alpha, reff)
            sides.append(weights)
        columns[component] = [
            (cjs_distance(values, sides[0]) + cjs_distance(values, sides[1])) / scale
            for values in draws.values()
        ]
    table = pd.DataFrame(columns, index=pd.Index(list(draws), name="parameter"))
    table["diagnosis"] = [
        diagnosis(prior, likelihood, threshold)
        for prior, likelihood in zip(table["prior"], table["likelihood"], strict=True)
    ]
    table.attrs["pareto_k"] = pareto_k
    return table


def diagnosis(prior: float, likelihood: float, threshold: float = THRESHOLD) -> str:
    """priorsense's reading of a parameter's two sensitivities."""
    if prior >= threshold and likelihood >= threshold:
        return CONFLICT
    if prior > threshold and likelihood < threshold:
        return WEAK_LIKELIHOOD
    return "-"
