"""The parts the built-in families are made of: their default auxiliary priors, the scales
their default priors are taken from (``Family.prior_scale``), with how each reads in the
docs' family table, and the makers of families of one kind (location, zero-inflated and
hurdle, ordinal).

:mod:`bayesmm.families.builtin` declares the records with them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..priors import Prior, ResponseStats
from .categories import Categories
from .densities import category_draw, category_logpmf, with_zeros
from .family import Family
from .likelihood import Likelihood
from .support import REAL, Support, counts

__all__ = [
    "SCALE_TEXT",
    "PRIOR_TEXT",
    "nonzero",
    "log_nonzero",
    "inside_unit",
    "sigma_prior",
    "shape_prior",
    "nu_prior",
    "zero_prior",
    "kappa_vonmises_prior",
    "threshold_prior",
    "median_quantile",
    "ABOVE_ZERO",
    "OPEN_UNIT",
    "ORDINAL_RESPONSES",
    "zeros_family",
    "ordinal_family",
    "location_family",
]

#: The open interval of a positive auxiliary parameter (``Family(aux_bounds=...)``).
ABOVE_ZERO = (0.0, np.inf)
#: The open interval of a probability.
OPEN_UNIT = (0.0, 1.0)

# --- the scale default priors are taken from (Family.prior_scale) ----------------------------


def nonzero(y: np.ndarray) -> np.ndarray:
    """The positive responses: what a hurdle family's parent describes."""
    above = y[y > 0]
    return above if above.size > 1 else y


def log_nonzero(y: np.ndarray) -> np.ndarray:
    """``log`` of the positive responses (hurdle lognormal: ``mu`` is their log-scale mean)."""
    above = y[y > 0]
    return np.log(above) if above.size > 1 else np.zeros(2)


def inside_unit(y: np.ndarray) -> np.ndarray:
    """The responses strictly between 0 and 1 (all of them if there are none)."""
    inside = y[(y > 0) & (y < 1)]
    return inside if inside.size else y


#: How each prior scale reads in the family table of the docs.
SCALE_TEXT: dict[Callable[[np.ndarray], np.ndarray], str] = {
    np.log: "log(y)",
    nonzero: "y[y > 0]",
    log_nonzero: "log(y[y > 0])",
}

# --- default auxiliary priors --------------------------------------------------------------


def sigma_prior(stats: ResponseStats) -> Prior:
    # Half-Student-t(4) on the response scale: weakly informative (Gelman 2006; rstanarm).
    return Prior("HalfStudentT", nu=4, sigma=stats.sd)


def shape_prior(stats: ResponseStats) -> Prior:
    # brms's default for shape and precision parameters.
    return Prior("Gamma", alpha=0.01, beta=0.01)


def nu_prior(stats: ResponseStats) -> Prior:
    # Juarez & Steel (2010), also brms's default for Student-t degrees of freedom.
    return Prior("Gamma", alpha=2, beta=0.1)


def zero_prior(stats: ResponseStats) -> Prior:
    # Uniform on the probability of a zero (zi, hu), brms's default; also on zoib's zoi, coi.
    return Prior("Beta", alpha=1, beta=1)


def kappa_vonmises_prior(stats: ResponseStats) -> Prior:
    # brms's default for the von Mises concentration: mean 200, mostly above 20, so it
    # leaves room for concentrated angles without piling mass on kappa near 0 (uniform).
    return Prior("Gamma", alpha=2, beta=0.01)


def threshold_prior(stats: ResponseStats) -> Prior:
    # Student-t(3, 0, 2.5) on the link scale for each threshold, brms's default for ordinal
    # intercepts: weakly informative, logits of +-5 cover probabilities 0.007 to 0.993.
    return Prior("StudentT", nu=3, mu=0, sigma=2.5)


def median_quantile(stats: ResponseStats) -> float:
    # Quantile regression fixes the quantile; the median unless priors={"q": ...} says not.
    return 0.5


#: How each default auxiliary prior reads in the docs ("{sd}" is the response's sd).
PRIOR_TEXT: dict[Callable[[ResponseStats], Prior | float], str] = {
    sigma_prior: "HalfStudentT(4, {sd})",
    shape_prior: "Gamma(0.01, 0.01)",
    nu_prior: "Gamma(2, 0.1)",
    zero_prior: "Beta(1, 1)",
    kappa_vonmises_prior: "Gamma(2, 0.01)",
    threshold_prior: "StudentT(3, 0, 2.5)",
}

# --- families of one kind ------------------------------------------------------------------

ORDINAL_RESPONSES = Support(
    counts, "ordered categories, at least 3 (an ordered factor, text or integers)"
)
# A response with categories is encoded as category codes 0, 1, ..., which ``counts`` checks;
# the design checks the number of categories (at least Categories.min_levels) with their
# labels, where it knows them.


def zeros_family(
    name: str,
    base: Family,
    pymc_name: str,
    zero: str,
    *,
    logpdf: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray],
    draw: Callable | None = None,
    **changes: Any,
) -> Family:
    """``base`` with an auxiliary probability of a zero, named as brms does: ``zi``, a
    structural zero beside the zeros of ``base`` (zero-inflated), or ``hu``, a zero whose
    non-zero responses are draws of ``base`` restricted to positive values, ``draw`` (hurdle).
    PyMC takes ``psi = 1 - zero``, the probability of the ``base`` process. ``logpdf`` is its
    log density; ``changes`` are other fields of the record that differ from ``base``'s. It
    has no GLM of the kind ``automatic_priors="mle"`` fits: its mean is not the parent."""
    likelihood = base.likelihood
    to_base = likelihood.dist_kwargs
    return replace(
        base,
        name=name,
        likelihood=replace(
            likelihood,
            name=pymc_name,
            params=(*likelihood.params, zero),
            to_dist=lambda v: {
                "psi": 1 - v[zero],
                **to_base({k: x for k, x in v.items() if k != zero}),
            },
            # PyMC's zero-inflated binomial takes p only.
            logit_kwarg=None,
            draw=with_zeros(draw or likelihood.draw, zero),  # type: ignore[arg-type]
            logpdf=logpdf,
        ),
        aux_priors={**base.aux_priors, zero: zero_prior},
        aux_bounds={**base.aux_bounds, zero: OPEN_UNIT},
        glm_variance=None,
        **changes,
    )


def ordinal_family(name: str, categories: Categories) -> Family:
    """An ordinal family: PyMC's Categorical with probabilities from K - 1 thresholds."""
    return Family(
        name,
        Likelihood(
            "Categorical", ("p", "threshold"), "p", draw=category_draw, logpdf=category_logpmf
        ),
        "logit",
        links=("logit", "probit", "cloglog"),
        aux_priors={"threshold": threshold_prior},
        support=ORDINAL_RESPONSES,
        # Models of categories have no GLM of this kind: only the default automatic priors.
        glm_variance=None,
        categories=categories,
    )


def location_family(
    name: str,
    likelihood: Likelihood,
    scale: str,
    *,
    glm_variance: str,
    **shape: Callable[[ResponseStats], Prior],
) -> Family:
    """A family of real responses with a location ``mu``, a scale on the response's scale,
    and any ``shape`` parameters (positive, with their default priors); ``glm_variance`` as
    for :class:`Family`."""
    return Family(
        name,
        likelihood,
        "identity",
        links=("identity", "log", "inverse"),
        aux_priors={scale: sigma_prior, **shape},
        support=REAL,
        glm_variance=glm_variance,
        aux_bounds={scale: ABOVE_ZERO, **dict.fromkeys(shape, ABOVE_ZERO)},
    )
