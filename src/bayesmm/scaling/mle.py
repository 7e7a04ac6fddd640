"""``automatic_priors="mle"``: priors of slopes on the partial-correlation scale.

A scale (a name of :data:`NAMED_SCALES` or a number in (0, 1]) is the prior sd of a
coefficient's partial correlation with the response (Westfall 2017, arXiv:1702.01201); the
maximum-likelihood GLMs of :mod:`bayesmm.scaling.glm` turn it into a prior sd per column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import PriorError
from .._validation import did_you_mean
from ..priors import Prior, PriorSet, TermPrior
from .default import default_priors, eta_scale
from .glm import fit_glm, lr_statistic

if TYPE_CHECKING:
    from ..design import Design
    from ..families import Family
    from ..links import Link


#: Named scales of ``automatic_priors="mle"``: the prior sd of a coefficient on the
#: partial-correlation scale (Westfall 2017). ``"wide"`` is the sd of a uniform on (-1, 1).
NAMED_SCALES: dict[str, float] = {
    "narrow": 0.2,
    "medium": 0.4,
    "wide": float(np.sqrt(1 / 3)),
    "superwide": 0.8,
}


AUTOMATIC_PRIORS = ("default", "mle")


def resolve_scale(key: str, value: Any) -> float:
    """A named scale or a number in (0, 1], as a number; a PriorError otherwise."""
    if isinstance(value, str):
        if value not in NAMED_SCALES:
            raise PriorError(
                f"priors[{key!r}] = {value!r} is not a named scale; named scales are "
                f"{list(NAMED_SCALES)}, or give a number in (0, 1]."
                + did_you_mean(value, NAMED_SCALES)
            )
        return NAMED_SCALES[value]
    number = float(value)
    if not 0 < number <= 1:
        raise PriorError(
            f"priors[{key!r}] = {value!r} is a scale on the partial-correlation scale, which "
            f"must be in (0, 1]; got {value!r}. Named scales are {list(NAMED_SCALES)}."
        )
    return number


def is_scale(value: Any) -> bool:
    """Whether a ``priors=`` value is a scale (a name or a bare number)."""
    if isinstance(value, str):
        return True
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def partial_correlation_factors(
    X: np.ndarray,
    y: np.ndarray,
    link: Link,
    variance: str,
    weights: np.ndarray | None = None,
    columns: Any = None,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """For each column ``j``, the slope per unit of partial correlation, ``k_j``.

    Fits the maximum-likelihood GLM with all columns and without column ``j``; the
    likelihood-ratio statistic ``LR_j`` gives the partial correlation
    ``r_j = sqrt(1 - exp(-LR_j / n))`` and ``k_j = |beta_j| / r_j``. For a Gaussian response
    ``r_j`` is exactly the sample partial correlation of ``y`` and ``x_j`` given the other
    columns, and ``k_j = sqrt(SS(y | others) / SS(x_j | others))``, so a slope prior with sd
    ``scale * k_j`` has sd ``scale`` on the partial-correlation scale (Westfall 2017,
    arXiv:1702.01201). For other families ``r_j`` is the likelihood-ratio (Cox-Snell)
    generalisation of the partial correlation.
    """
    n = y.shape[0]
    columns = range(X.shape[1]) if columns is None else columns
    full = fit_glm(X, y, link, variance, weights, offset)
    factors = []
    for j in columns:
        reduced = fit_glm(np.delete(X, j, axis=1), y, link, variance, weights, offset)
        lr = lr_statistic(full, reduced, n, variance)
        r = np.sqrt(-np.expm1(-lr / n))
        if r < 1e-6:
            # beta_j is (almost) exactly zero: use k = delta / r(delta), with beta_j held at a
            # small delta (by an offset), which tends to the same limit.
            delta = 1e-3 / max(float(np.std(X[:, j])), 1e-12)
            held_offset = X[:, j] * delta + (0.0 if offset is None else offset)
            held = fit_glm(np.delete(X, j, axis=1), y, link, variance, weights, held_offset)
            lr = lr_statistic(full, held, n, variance)
            r = np.sqrt(-np.expm1(-lr / n))
            factors.append(float(delta / r) if r > 0 else np.inf)
            continue
        factors.append(float(abs(full.coef[j]) / r))
    return np.asarray(factors)


def mle_priors(
    design: Design,
    family: Family,
    link: Link,
    scales: Mapping[str, float],
) -> PriorSet:
    """Default priors on the partial-correlation scale (``automatic_priors="mle"``).

    ``scales`` maps term names, ``"common"`` and ``"group_specific"`` to scales in (0, 1];
    terms not named get their kind's scale, or ``"wide"``. The intercept and the auxiliary
    parameters keep the default rules.

    Raises
    ------
    PriorError
        If the family has no ML GLM, or the GLM cannot be fitted (no convergence,
        separation, collinear predictors).
    """
    if family.glm_variance is None:
        raise PriorError(
            f"automatic_priors='mle' needs a maximum-likelihood GLM of family "
            f"{family.name!r}, which it does not define (Family.glm_variance)."
        )
    base = default_priors(design, family, link, auto_scale=True)
    response = design.response
    y = response.values if response.trials is None else response.values / response.trials
    X = design.common
    offset = None if design.offset is None else design.offset.values
    factors = np.full(X.shape[1], np.nan)
    slopes = [j for t in design.common_terms if not t.is_intercept for j in range(t.start, t.stop)]
    if slopes:
        factors[slopes] = partial_correlation_factors(
            X, y, link, family.glm_variance, response.trials, columns=slopes, offset=offset
        )
    wide = NAMED_SCALES["wide"]

    def scale_of(name: str, kind: str) -> float:
        return float(scales.get(name, scales.get(kind, wide)))

    terms = []
    for term in base.terms:
        if term.param is not None:  # a distributional formula's: the default rules
            terms.append(term)
        elif term.kind == "common":
            common = next(t for t in design.common_terms if t.name == term.name)
            sigma = scale_of(term.name, "common") * factors[common.start : common.stop]
            value = float(sigma[0]) if sigma.size == 1 else sigma
            terms.append(TermPrior(term.name, "common", Prior("Normal", mu=0.0, sigma=value)))
        elif term.kind == "group":
            group = next(g for g in design.group_terms if g.name == term.name)
            k = _group_factors(group, design, factors, link, family, y, response.trials)
            sigma = scale_of(term.name, "group_specific") * k
            value = float(sigma[0]) if sigma.size == 1 else sigma
            prior = Prior("Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=value))
            terms.append(TermPrior(term.name, "group", prior))
        else:
            terms.append(term)
    return PriorSet(tuple(terms))


def _group_factors(
    group: Any,
    design: Design,
    factors: np.ndarray,
    link: Link,
    family: Family,
    y: np.ndarray,
    trials: np.ndarray | None,
) -> np.ndarray:
    """Scale basis of a group term's columns: their common slope's factor; for intercepts,
    the scale of the linear predictor (sd(y) for the identity link)."""
    if group.values is None:
        return np.array([eta_scale(link, design.response.stats(family.prior_scale))])
    out = []
    for c in range(group.values.shape[1]):
        column = group.values[:, c]
        match = [
            j
            for j in range(design.common.shape[1])
            if np.isfinite(factors[j]) and np.allclose(design.common[:, j], column)
        ]
        if match:
            out.append(factors[match[0]])
            continue
        X = np.column_stack([design.common, column])
        assert family.glm_variance is not None
        out.append(
            partial_correlation_factors(
                X,
                y,
                link,
                family.glm_variance,
                trials,
                columns=[X.shape[1] - 1],
                offset=None if design.offset is None else design.offset.values,
            )[0]
        )
    return np.asarray(out)
