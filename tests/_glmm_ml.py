"""An independent maximum-likelihood fit of random-intercept GLMMs, for checking posteriors.

The marginal likelihood integrates each group's random intercept b ~ Normal(0, sd) out with
Gauss-Hermite quadrature (lme4's glmer with nAGQ > 1 does the same, adaptively), and scipy
maximises it. It shares no code with bayesmm.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special


def _loglik_rows(family: str, y: np.ndarray, trials: np.ndarray, eta: np.ndarray) -> np.ndarray:
    if family == "poisson":
        return y * eta - np.exp(eta) - special.gammaln(y + 1)
    # binomial (bernoulli when trials == 1): y log p + (n - y) log(1 - p)
    return y * eta - trials * np.logaddexp(0, eta)


def fit_random_intercept_glmm(
    family: str,
    y: np.ndarray,
    X: np.ndarray,
    group: np.ndarray,
    trials: np.ndarray | None = None,
    n_nodes: int = 40,
) -> tuple[np.ndarray, float]:
    """Maximum-likelihood (beta, sd) of ``y ~ X beta + b[group]``, ``b ~ Normal(0, sd)``."""
    trials = np.ones_like(y) if trials is None else trials
    nodes, weights = np.polynomial.hermite.hermgauss(n_nodes)
    n_groups = group.max() + 1
    log_w = np.log(weights / np.sqrt(np.pi))

    def negative_loglik(theta: np.ndarray) -> float:
        beta, sd = theta[:-1], np.exp(theta[-1])
        eta = (X @ beta)[:, None] + np.sqrt(2) * sd * nodes[None, :]
        rows = _loglik_rows(family, y[:, None], trials[:, None], eta)
        per_group = np.zeros((n_groups, n_nodes))
        np.add.at(per_group, group, rows)
        return -special.logsumexp(per_group + log_w, axis=1).sum()

    start = np.zeros(X.shape[1] + 1)
    result = optimize.minimize(negative_loglik, start, method="BFGS", options={"gtol": 1e-7})
    if not result.success and result.status != 2:  # 2: precision loss at the optimum is fine
        raise RuntimeError(f"ML fit did not converge: {result.message}")
    return result.x[:-1], float(np.exp(result.x[-1]))
