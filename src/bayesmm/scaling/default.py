"""Default priors scaled from the data (``automatic_priors="default"``).

Default rules (documented with their formulas in ``docs/priors.md``), in the spirit of
rstanarm's autoscaling (Gabry & Goodrich, "Prior distributions for rstanarm models"):

* ``S`` is the scale of the linear predictor: ``sd(y)`` for the identity link,
  ``1`` for logit, probit, cloglog and log links, and ``|g'(mean(y))| * sd(y)`` (delta method)
  for the inverse and inverse-squared links.
* Intercept ``~ Normal(g(mean(y)), 2.5 * S)``, on centred predictors when they are centred.
* Slope of column ``x`` ``~ Normal(0, 2.5 * S / sd(x))``.
* Group effects of column ``x`` ``~ Normal(0, sigma)``, ``sigma ~ HalfNormal(2.5 * S / sd(x))``
  (``sd(x) = 1`` for group intercepts).
* Auxiliary parameters: the family's own defaults (see :mod:`bayesmm.families`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._errors import DataError
from .._names import sigma_name
from ..design.autocorrelation import series_priors
from ..design.gps import KERNELS
from ..design.kinds import TERM_KINDS
from ..design.moments import Scales
from ..design.types import CommonTerm, GPBasis
from ..design.weights import mean_sd
from ..links import get_link
from ..priors import DEFAULT_CORRELATION_PRIOR, Prior, PriorSet, ResponseStats, TermPrior

if TYPE_CHECKING:
    from ..design import Design
    from ..families import Family
    from ..links import Link

__all__ = [
    "DEFAULT_SCALE",
    "PRIOR_PIECES",
    "SlopeScale",
    "default_priors",
    "eta_scale",
    "eta_location",
    "prior_piece",
]

#: Multiplier of the data scale in the default priors: rstanarm's 2.5.
DEFAULT_SCALE = 2.5


# --- defaults --------------------------------------------------------------------------------

#: Links whose linear predictor is unit-free: default scale 1 (rstanarm's convention).
_UNIT_SCALE_LINKS = frozenset({"logit", "probit", "cloglog", "log"})


def eta_scale(link: Link, stats: ResponseStats) -> float:
    """The scale ``S`` of the linear predictor (see the module docstring)."""
    if link.name == "identity":
        return stats.sd
    if link.name in _UNIT_SCALE_LINKS:
        return 1.0
    # Delta method: sd(g(y)) ~ |g'(mean y)| * sd(y).
    return float(abs(link.derivative(np.asarray(stats.mean))) * stats.sd)


def eta_location(link: Link, stats: ResponseStats) -> float:
    mean = stats.mean
    if link.name in {"logit", "probit", "cloglog"}:
        mean = float(np.clip(mean, 0.01, 0.99))
    elif link.name in {"log", "inverse", "inverse_squared"}:
        mean = max(mean, 1e-3)
    return float(link.link(np.asarray(mean)))


def default_priors(
    design: Design,
    family: Family,
    link: Link,
    auto_scale: bool = True,
    scales: Scales | None = None,
) -> PriorSet:
    """The default priors of a model, scaled from the data.

    Parameters
    ----------
    design : Design
        The encoded data.
    family : Family
        The response family; gives the auxiliary parameters' defaults.
    link : Link
        The link of the parent parameter.
    auto_scale : bool, default True
        Scale the priors from the data. If false, unit-scale priors are used, as if the
        response and predictors were standardised: ``S = 1``, ``sd(x) = 1`` and a zero
        intercept location.
    scales : Scales, optional
        The means and sds of the rows, where they are not ``design``'s own (an update from
        stored statistics, :meth:`bayesmm.design.moments.Moments.scales`); ``design`` then
        gives the terms alone. For the main formula of a model without ``mi()`` terms.

    Returns
    -------
    PriorSet

    Raises
    ------
    DataError
        If the response is constant, so that no scale can be derived from it.
    """
    # Weighted by the observation weights: rows of weight 0 do not set the scales.
    weights = design.weights
    if scales is None:
        stats = design.response.stats(family.prior_scale, weights)
    else:
        stats = scales.response
    if auto_scale:
        scale = eta_scale(link, stats)
        if scales is not None and not (np.isfinite(scale) and scale > 0):
            raise DataError(
                f"The response {design.response.name!r} is constant over all the rows; "
                "default priors cannot be scaled from it. Pass auto_scale=False."
            )
        if not np.isfinite(scale) or scale <= 0:
            values = design.response.values
            counted = values if weights is None else values[weights > 0]
            rows = "" if weights is None else " of the rows with weight > 0"
            raise DataError(
                f"The response {design.response.name!r} is constant (every value{rows} is "
                f"{counted[0]:g}); default priors cannot be scaled from it. Check the data, "
                "or pass auto_scale=False."
            )
        location = eta_location(link, stats)
        if family.is_categorical():
            location = 0.0  # a multinomial logit's log odds against its reference category
        if scales is not None and scales.offset is not None:
            location -= scales.offset
        elif design.offset is not None:  # eta = intercept + offset: centre the rest
            location -= float(np.average(design.offset.values, weights=weights))
    else:
        stats = ResponseStats(mean=0.0, sd=1.0)
        scale, location = 1.0, 0.0

    terms = _formula_priors(design, scale, location, auto_scale, None, weights, scales)
    modelled = {d.param for d in design.distributional}
    known = design.response.known_sd
    modelled.update(known.replaced if known is not None else ())  # se(): the spread is known
    for name in family.aux_params:
        if name not in modelled:
            terms.append(TermPrior(name, "auxiliary", family.aux_priors[name](stats)))
    if design.series is not None:  # ar(), cosy(): their correlations' bounds
        terms += series_priors(design.series.state.term)
    for part in design.distributional:
        scale, location = _distributional_scale(family, part.param, get_link(part.link), stats)
        terms += _formula_priors(part.design, scale, location, auto_scale, part.param, weights)
    for imputed in design.imputed:  # x ~ z of mi(x): gaussian, scaled from the observed x
        observed = imputed.design.response.values[~imputed.missing]
        sd = float(observed.std()) or 1.0
        terms += _formula_priors(
            imputed.design, sd, float(observed.mean()), auto_scale, imputed.column
        )
        spread = Prior("HalfStudentT", nu=4, sigma=sd)
        terms.append(TermPrior(sigma_name(imputed.column), "imputation", spread, imputed.column))
    return PriorSet(tuple(terms))


def _formula_priors(
    design: Design,
    scale: float,
    location: float,
    auto_scale: bool,
    param: str | None,
    weights: np.ndarray | None = None,
    scales: Scales | None = None,
) -> list[TermPrior]:
    """The default priors of one formula's terms, for a linear predictor of scale ``scale``;
    predictors' sds weighted by the observation ``weights``, or taken from ``scales``."""
    if not auto_scale:
        column_sd = np.ones(design.common.shape[1])
    else:
        column_sd = design.column_sd(weights) if scales is None else scales.columns
    terms: list[TermPrior] = []
    for term in design.common_terms:
        if term.is_intercept:
            prior = Prior("Normal", mu=location, sigma=DEFAULT_SCALE * scale)
            terms.append(TermPrior(term.name, "intercept", prior, param))
            continue
        sigma = DEFAULT_SCALE * scale / column_sd[term.start : term.stop]
        piece = prior_piece(term)
        terms += piece(term, SlopeScale(scale, sigma, param))

    for group in design.group_terms:
        if group.values is None or not auto_scale:
            sd = np.ones(len(group.columns))
        else:
            sd = mean_sd(group.values, weights)[1] if scales is None else scales.groups[group.name]
            sd = np.where(sd > 0, sd, 1.0)
        sigma = DEFAULT_SCALE * scale / sd
        value = float(sigma[0]) if sigma.size == 1 else sigma
        prior = Prior("Normal", mu=0.0, sigma=Prior("HalfNormal", sigma=value))
        terms.append(TermPrior(group.name, "group", prior, param))
    for block in design.blocks:
        terms.append(TermPrior(block.prior_name, "correlation", DEFAULT_CORRELATION_PRIOR, param))
    return terms


@dataclass(frozen=True)
class SlopeScale:
    """What a kind's default priors are scaled by: the scale ``S`` of the linear predictor,
    the default sd of each of the term's columns as a plain slope's (``2.5 S / sd(x)``), and
    the parameter of the term's formula (``None``: the response's)."""

    scale: float
    sigma: np.ndarray
    param: str | None


def _slope_priors(term: CommonTerm, at: SlopeScale) -> list[TermPrior]:
    """A plain slope's prior: ``Normal(0, 2.5 S / sd(x))`` per column."""
    value = float(at.sigma[0]) if at.sigma.size == 1 else at.sigma
    return [TermPrior(term.name, "common", Prior("Normal", mu=0.0, sigma=value), at.param)]


def _smooth_priors(term: CommonTerm, at: SlopeScale) -> list[TermPrior]:
    """A smooth's linear trends, as slopes, and its wiggliness, as a group sd's."""
    sigma = at.sigma[list(term.fixed_columns)]
    value = float(sigma[0]) if sigma.size == 1 else sigma
    # mo() and s() terms are set by name: "common" and the "mle" rules are for slopes.
    trends = TermPrior(term.name, "smooth", Prior("Normal", mu=0.0, sigma=value), at.param)
    wiggly = Prior("HalfStudentT", nu=3, sigma=DEFAULT_SCALE * at.scale)
    return [trends, TermPrior(sigma_name(term.name), "smooth", wiggly, at.param)]


def _monotonic_priors(term: CommonTerm, at: SlopeScale) -> list[TermPrior]:
    """A monotonic effect's average change per step, scaled as the slope of its codes."""
    value = float(at.sigma[0]) if at.sigma.size == 1 else at.sigma
    return [TermPrior(term.name, "monotonic", Prior("Normal", mu=0.0, sigma=value), at.param)]


def _gp_term_priors(term: CommonTerm, at: SlopeScale) -> list[TermPrior]:
    assert term.gp is not None
    return _gp_priors(term.name, term.gp, at.scale, at.param)


#: The scaling stage's table of kinds (:data:`bayesmm.design.kinds.TERM_KINDS`): each kind's
#: default priors, ``piece(term, SlopeScale) -> [TermPrior, ...]``. A kind without a piece
#: here has a plain slope's prior, or its record's own (:func:`prior_piece`).
PRIOR_PIECES: dict[str, Callable[[CommonTerm, SlopeScale], list[TermPrior]]] = {
    "s": _smooth_priors,
    "hsgp": _gp_term_priors,
    "mo": _monotonic_priors,
}


def prior_piece(term: CommonTerm) -> Callable[[CommonTerm, SlopeScale], list[TermPrior]]:
    """The default priors of ``term``'s kind: the table's piece, a registered kind's own
    (its ``prior(options, scale)``, under the kind's name), or a plain slope's."""
    if term.kind is None:
        return _slope_priors
    if term.kind in PRIOR_PIECES:
        return PRIOR_PIECES[term.kind]
    kind = TERM_KINDS.get(term.kind)
    if kind is None or kind.prior is None:
        return _slope_priors
    own = kind.prior

    def registered(term: CommonTerm, at: SlopeScale) -> list[TermPrior]:
        # The sd a plain slope of the column would get, as one number (one column).
        prior = own(dict(term.options), float(np.max(at.sigma)))
        return [TermPrior(term.name, term.kind or "common", prior, at.param)]

    return registered


def _gp_priors(name: str, gp: GPBasis, scale: float, param: str | None) -> list[TermPrior]:
    """An ``hsgp()`` term's amplitude, ``HalfStudentT(3, 2.5 scale)`` as a group sd's, and
    lengthscale: an inverse gamma with 1% below the shortest lengthscale its ``m`` and ``c``
    can represent (Riutort-Mayol et al. 2022) and 1% above twice the inputs' half-range,
    past which the curve is almost a straight line over the data (brms's rule, on the
    approximation's own range)."""
    from scipy import optimize, stats

    half = max(gp.half_range)
    shortest = min(KERNELS[gp.kernel][2] * gp.c / gp.m, 1.0) * half
    longest = max(2.0 * half, 2.0 * shortest)

    def tails(log_params: np.ndarray) -> list[float]:
        a, b = np.exp(log_params)
        return [
            stats.invgamma.logcdf(shortest, a, scale=b) - np.log(0.01),
            stats.invgamma.logsf(longest, a, scale=b) - np.log(0.01),
        ]

    solution = optimize.root(tails, np.log([5.0, 5.0 * np.sqrt(shortest * longest)]))
    alpha, beta = (float(f"{v:.4g}") for v in np.exp(solution.x))  # 4 significant figures
    if not solution.success:  # not seen; the moments of the same tails instead
        alpha, beta = 3.0, float(f"{2.0 * np.sqrt(shortest * longest):.4g}")
    return [
        TermPrior(
            sigma_name(name), "gp", Prior("HalfStudentT", nu=3, sigma=DEFAULT_SCALE * scale), param
        ),
        TermPrior(
            f"{name}_lengthscale",
            "gp",
            Prior("InverseGamma", alpha=alpha, beta=beta),
            param,
        ),
    ]


def _distributional_scale(
    family: Family, param: str, link: Link, stats: ResponseStats
) -> tuple[float, float]:
    """Scale and location of the linear predictor of a distributional formula.

    The intercept is centred at ``link(v)`` for a typical value ``v`` of the parameter: the
    response's sd for a parameter on the response's scale (its default prior grows with
    it, as sigma's does), else the mean of its default prior (20 for the t family's
    ``Gamma(2, 0.1)`` on ``nu``), else the middle of its range. The scale is 1 on unit-free
    links, as for the main formula.
    """
    if param not in family.aux_priors:  # a category's linear predictor (multinomial logit)
        return 1.0, 0.0
    default = family.aux_priors[param]
    on_response_scale = default(ResponseStats(stats.mean, 1.0)) != default(
        ResponseStats(stats.mean, 2.0)
    )
    if on_response_scale and stats.sd > 0:
        typical = stats.sd
    else:
        prior = default(stats)
        mean = _prior_mean(prior) if isinstance(prior, Prior) else None
        typical = (
            mean
            if mean is not None
            else {"positive": 1.0, "unit": 0.5, "real": 0.0}[family.aux_range(param)]
        )
    location = float(link.link(np.asarray(typical)))
    if not np.isfinite(location):
        location = 0.0
    if link.name in _UNIT_SCALE_LINKS:
        return 1.0, location
    return (stats.sd if on_response_scale else max(abs(typical), 1.0)), location


def _prior_mean(prior: Prior) -> float | None:
    """The mean of a prior with numbers for parameters, for the distributions whose mean has a
    closed form here; ``None`` otherwise."""
    p = {k: v for k, v in prior.params.items() if not isinstance(v, Prior | str)}
    if len(p) != len(prior.params) or any(np.ndim(v) for v in p.values()):
        return None
    means: dict[str, Callable[[], float]] = {
        "Gamma": lambda: p["mu"] if "mu" in p else p["alpha"] / p["beta"],
        "Beta": lambda: p["mu"] if "mu" in p else p["alpha"] / (p["alpha"] + p["beta"]),
        "Exponential": lambda: p["scale"] if "scale" in p else 1 / p["lam"],
        "HalfNormal": lambda: p["sigma"] * np.sqrt(2 / np.pi),
        "LogNormal": lambda: np.exp(p["mu"] + p["sigma"] ** 2 / 2),
        "InverseGamma": lambda: p["beta"] / (p["alpha"] - 1) if p["alpha"] > 1 else np.inf,
    }
    try:
        mean = float(means[prior.name]())
    except (KeyError, ZeroDivisionError):
        return None
    return mean if np.isfinite(mean) else None
