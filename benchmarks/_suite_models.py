"""The benchmark suite's models (M1-M5) and their hand-written references.

Each model is a formula for bayesmm and the same statistical model written by hand in plain
PyMC and in NumPyro: the same likelihood, the same group effects (non-centred), and the same
weakly informative priors (bayesmm's defaults, in the spirit of rstanarm: centred predictors,
``Normal(g(mean y), 2.5 S)`` on the intercept, ``Normal(0, 2.5 S / sd(x))`` on slopes,
``HalfNormal(2.5 S / sd(x))`` on group sds, ``HalfStudentT(4, sd(y))`` on sigma, with
``S = sd(y)`` for the identity link and 1 for logit). The references name their parameters
as bayesmm does, so posterior means compare by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    dataset: str
    formula: str
    family: str
    #: The response column (successes for binomial) and, for binomial, the trials column.
    response: str
    trials: str | None
    #: Common predictors in formula order: numeric columns as they are, categorical ones
    #: (pandas category dtype) as treatment dummies of every level but the first.
    common: tuple[str, ...]
    #: Group terms: (factor, None) for an intercept, (factor, column) for a slope.
    groups: tuple[tuple[str, str | None], ...]
    event: str | None = None


CASES = {
    "M1": Case(
        "M1",
        "sleepstudy LMM",
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
        "gaussian",
        "Reaction",
        None,
        ("Days",),
        (("Subject", None), ("Subject", "Days")),
    ),
    "M2": Case(
        "M2",
        "cbpp binomial GLMM",
        "cbpp",
        "p(incidence, size) ~ period + (1 | herd)",
        "binomial",
        "incidence",
        "size",
        ("period",),
        (("herd", None),),
    ),
    "M3": Case(
        "M3",
        "radon LMM",
        "radon",
        "log_radon ~ floor + uranium + (1 | county)",
        "gaussian",
        "log_radon",
        None,
        ("floor", "uranium"),
        (("county", None),),
    ),
    "M4": Case(
        "M4",
        "InstEval LMM (73k rows)",
        "InstEval",
        "y ~ service + (1 | s) + (1 | d) + (1 | dept)",
        "gaussian",
        "y",
        None,
        ("service",),
        (("s", None), ("d", None), ("dept", None)),
    ),
    "M5": Case(
        "M5",
        "bacteria bernoulli GLMM",
        "bacteria",
        "y['y'] ~ trt + week + (1 | ID)",
        "bernoulli",
        "y",
        None,
        ("trt", "week"),
        (("ID", None),),
        event="y",
    ),
}


@dataclass(frozen=True)
class Arrays:
    """A case's data as plain arrays, with the default prior scales."""

    y: np.ndarray
    trials: np.ndarray | None
    X: np.ndarray  # centred common predictors
    names: list[str]
    means: np.ndarray
    groups: list[tuple[str, np.ndarray, int, np.ndarray | None]]  # name, index, levels, x
    intercept: tuple[float, float]  # location and scale of the centred intercept
    slope_sd: np.ndarray
    group_sd: list[float]
    sigma_scale: float | None


def arrays(case: Case, data: pd.DataFrame) -> Arrays:
    if case.family == "bernoulli":
        y = (data[case.response].astype(str) == case.event).to_numpy(float)
    else:
        y = data[case.response].to_numpy(float)
    trials = data[case.trials].to_numpy(float) if case.trials else None
    columns, names = [], []
    for name in case.common:
        values = data[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            for level in values.cat.categories[1:]:
                columns.append((values == level).to_numpy(float))
                names.append(f"{name}[{level}]")
        else:
            columns.append(values.to_numpy(float))
            names.append(name)
    X = np.column_stack(columns)
    means = X.mean(axis=0)
    p = y / trials if trials is not None else y
    if case.family == "gaussian":
        scale = float(np.std(y, ddof=1))
        location = float(np.mean(y))
    else:  # logit link
        scale = 1.0
        mean = float(np.clip(np.mean(p), 0.01, 0.99))
        location = float(np.log(mean / (1 - mean)))
    groups, group_sd = [], []
    for factor, column in case.groups:
        codes, levels = pd.factorize(data[factor].astype(str), sort=True)
        x = data[column].to_numpy(float) if column else None
        name = f"{column or 1}|{factor}"
        groups.append((name, codes.astype(np.int32), len(levels), x))
        group_sd.append(2.5 * scale / (float(np.std(x, ddof=1)) if x is not None else 1.0))
    return Arrays(
        y=y,
        trials=trials,
        X=X - means,
        names=names,
        means=means,
        groups=groups,
        intercept=(location, 2.5 * scale),
        slope_sd=2.5 * scale / X.std(axis=0, ddof=1),
        group_sd=group_sd,
        sigma_scale=float(np.std(y, ddof=1)) if case.family == "gaussian" else None,
    )


def reference_pymc(case: Case, a: Arrays) -> Any:
    """The case as a plain PyMC model, written by hand."""
    import pymc as pm
    import pytensor.tensor as pt

    with pm.Model() as model:
        intercept = pm.Normal("Intercept_centered", *a.intercept)
        beta = pm.Normal("beta", 0.0, a.slope_sd, shape=len(a.names))
        pm.Deterministic("Intercept", intercept - pt.dot(a.means, beta))
        eta = intercept + pt.dot(a.X, beta)
        for (name, index, n_levels, x), sd in zip(a.groups, a.group_sd, strict=True):
            sigma = pm.HalfNormal(f"{name}_sigma", sd)
            offset = pm.Normal(f"{name}_offset", 0.0, 1.0, shape=n_levels)
            effect = pm.Deterministic(name, offset * sigma)
            eta = eta + (effect[index] if x is None else effect[index] * x)
        if case.family == "gaussian":
            sigma = pm.HalfStudentT("sigma", nu=4, sigma=a.sigma_scale)
            pm.Normal("y", eta, sigma, observed=a.y)
        elif case.family == "binomial":
            pm.Binomial("y", n=a.trials.astype(int), logit_p=eta, observed=a.y.astype(int))
        else:
            pm.Bernoulli("y", logit_p=eta, observed=a.y.astype(int))
    return model


def reference_numpyro(case: Case, a: Arrays) -> Any:
    """The case as a NumPyro model function, written by hand."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    X, means = jnp.asarray(a.X), jnp.asarray(a.means)
    groups = [
        (n, jnp.asarray(i), k, None if x is None else jnp.asarray(x)) for n, i, k, x in a.groups
    ]
    y = jnp.asarray(a.y)

    def model() -> None:
        intercept = numpyro.sample("Intercept_centered", dist.Normal(*a.intercept))
        beta = numpyro.sample("beta", dist.Normal(0.0, jnp.asarray(a.slope_sd)))
        numpyro.deterministic("Intercept", intercept - means @ beta)
        eta = intercept + X @ beta
        for (name, index, n_levels, x), sd in zip(groups, a.group_sd, strict=True):
            sigma = numpyro.sample(f"{name}_sigma", dist.HalfNormal(sd))
            offset = numpyro.sample(f"{name}_offset", dist.Normal(jnp.zeros(n_levels), 1.0))
            effect = numpyro.deterministic(name, offset * sigma)
            eta = eta + (effect[index] if x is None else effect[index] * x)
        if case.family == "gaussian":
            half_t = dist.FoldedDistribution(dist.StudentT(4.0, 0.0, a.sigma_scale))
            sigma = numpyro.sample("sigma", half_t)
            numpyro.sample("y", dist.Normal(eta, sigma), obs=y)
        elif case.family == "binomial":
            numpyro.sample("y", dist.Binomial(jnp.asarray(a.trials), logits=eta), obs=y)
        else:
            numpyro.sample("y", dist.Bernoulli(logits=eta), obs=y)

    return model
