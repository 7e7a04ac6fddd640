"""The log prior density of each posterior draw, from the ``Prior`` records, with scipy.

What brms's ``lprior`` and a ``log_prior`` group of an InferenceData hold for priorsense: one
value per draw and parameter, the log density of the parameter's prior at the draw. It covers
the population-level coefficients, the auxiliary parameters, and the hyperparameters of the
group terms (their sds, means and correlations), each prior's own hyperparameters read from
the same draw. It leaves out the group effects' distribution given their sd, as brms's
``lprior`` does (and so priorsense's power-scaling): that is the model's structure, not a
prior a user chose.

Two parameterisations are undone first: an intercept sampled on centred predictors has its
prior on the centred intercept, ``b0 + mean(x) . beta``; and a block's correlations have an
LKJ prior on their matrix. A prior with no scipy density (an improper, custom or shrinkage
prior) gets no value; :func:`log_prior_density` names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy.special import betaln

from ..design import Design, GroupBlock
from ..priors import Prior
from ..priors.scipy_table import SCIPY_PRIORS

__all__ = ["LogPrior", "log_prior_density", "lkj_log_density"]


@dataclass(frozen=True)
class LogPrior:
    """Per-draw log prior densities (``values``: one ``(chain, draw)`` variable per parameter,
    named as the posterior names it) and the priors that have none (``missing``, with why)."""

    values: xr.Dataset
    missing: Mapping[str, str]

    def total(self) -> np.ndarray:
        """The sum over parameters, ``(chain, draw)``."""
        arrays = [v.to_numpy() for v in self.values.data_vars.values()]
        return np.sum(arrays, axis=0) if arrays else np.zeros(())


def lkj_log_density(corr: np.ndarray, eta: float) -> np.ndarray:
    """The LKJ log density of correlation matrices ``corr`` (``(..., d, d)``).

    ``(eta - 1) log det R`` minus the log of its integral over correlation matrices,
    Lewandowski, Kurowicka and Joe (2009), section 3.2:
    ``sum_k (2 eta - 2 + d - k)(d - k) log 2 + (d - k) log B(eta + (d-k-1)/2, same)``,
    ``k = 1 .. d-1``.
    """
    d = corr.shape[-1]
    k = np.arange(1, d)
    half = eta + (d - k - 1) / 2
    log_integral = np.sum(
        (2 * eta - 2 + d - k) * (d - k) * np.log(2.0) + (d - k) * betaln(half, half)
    )
    sign, logdet = np.linalg.slogdet(corr)
    return np.where(sign > 0, (eta - 1) * logdet - log_integral, -np.inf)


def log_prior_density(
    posterior: xr.Dataset, priors: Mapping[str, Any], design: Design, center: bool
) -> LogPrior:
    """Each parameter's log prior density at each draw of ``posterior``.

    ``priors`` are the priors as used (``ModelSpec.prior_dict()``), ``design`` the design
    fitted, and ``center`` whether the intercepts were sampled on centred predictors (the
    model's ``center_predictors``).
    """
    out: dict[str, np.ndarray] = {}
    missing: dict[str, str] = {}
    designs = [design, *(d.design for d in design.distributional)]
    group_terms = {t.name for d in designs for t in d.group_terms}
    blocks = {b.prior_name: (d, b) for d in designs for b in d.blocks}
    intercepts = {t.name: d for d in designs for t in d.common_terms if t.is_intercept}
    for name, prior in priors.items():
        if not isinstance(prior, Prior):  # a fixed number
            continue
        if name in blocks:
            _correlations(posterior, name, prior, *blocks[name], out, missing)
            continue
        own = name not in group_terms  # a group term's effects are left out; its sd is not
        values = None
        if own and name in intercepts and center and _has_slopes(intercepts[name]):
            values = _centred_intercept(posterior, name, intercepts[name], missing)
            if values is None:
                continue
        _add(posterior, name, prior, own, values, out, missing)
    dims = ("chain", "draw")
    data = {name: (dims, values) for name, values in out.items()}
    coords = {d: posterior[d].to_numpy() for d in dims if d in posterior.coords}
    return LogPrior(xr.Dataset(data, coords=coords), missing)


def _has_slopes(design: Design) -> bool:
    return any(not t.is_intercept for t in design.common_terms)


def _add(
    posterior: xr.Dataset,
    name: str,
    prior: Prior,
    own: bool,
    values: np.ndarray | None,
    out: dict[str, np.ndarray],
    missing: dict[str, str],
) -> None:
    """Add the log density of ``name`` (if ``own``) and of its hyperparameters, the variables
    ``name_param`` of the parameters that are priors, recursively."""
    hyper: dict[str, np.ndarray] = {}
    for param, value in prior.params.items():
        if isinstance(value, Prior):
            variable = f"{name}_{param}"
            if variable not in posterior:
                missing[variable] = "it is not a variable of the posterior"
                own = False
                continue
            _add(posterior, variable, value, True, None, out, missing)
            hyper[param] = posterior[variable].to_numpy()
    if not own:
        return
    if values is None:
        if name not in posterior:
            missing[name] = "it is not a variable of the posterior"
            return
        values = posterior[name].to_numpy()
    density = _scipy_density(prior, hyper, values.ndim)
    if density is None:
        missing[name] = f"its prior {prior!r} has no scipy density"
        return
    logpdf = np.asarray(density.logpdf(values), dtype=float)
    out[name] = logpdf.reshape(*values.shape[:2], -1).sum(axis=-1)


def _scipy_density(prior: Prior, hyper: Mapping[str, np.ndarray], ndim: int) -> Any:
    """The scipy distribution of ``prior``, its parameters that are priors taken from the
    draws ``hyper`` (``(chain, draw, ...)``, aligned on the value's trailing dimensions)."""
    if prior.dist is not None or prior.name not in SCIPY_PRIORS:
        return None
    kwargs: dict[str, Any] = {}
    for param, value in prior.params.items():
        if isinstance(value, Prior):
            drawn = hyper[param]
            pad = (1,) * (ndim - drawn.ndim)
            kwargs[param] = drawn.reshape(*drawn.shape[:2], *pad, *drawn.shape[2:])
        elif isinstance(value, str):
            return None
        else:
            kwargs[param] = np.asarray(value, dtype=float)
    try:
        return SCIPY_PRIORS[prior.name](**kwargs)
    except TypeError:  # a parameterisation the table does not take (Normal's tau, say)
        return None


def _centred_intercept(
    posterior: xr.Dataset, name: str, design: Design, missing: dict[str, str]
) -> np.ndarray | None:
    """The intercept of the centred predictors, ``b0 + mean(x) . beta``, whose prior the
    ``Intercept``'s is; ``None`` (and why, in ``missing``) where it cannot be rebuilt."""
    if design.n_obs == 0:
        missing[name] = "its prior is on the centred predictors, whose means are not known"
        return None
    means = design.common.mean(axis=0)
    total = posterior[name].to_numpy()
    for term in (t for t in design.common_terms if not t.is_intercept):
        if term.kind is not None or term.name not in posterior:
            missing[name] = (
                f"its prior is on the centred predictors, and {term.name!r} is not a plain slope"
            )
            return None
        beta = posterior[term.name].to_numpy().reshape(*total.shape[:2], -1)
        total = total + beta @ means[term.start : term.stop]
    return total


def _correlations(
    posterior: xr.Dataset,
    name: str,
    prior: Prior,
    design: Design,
    block: GroupBlock,
    out: dict[str, np.ndarray],
    missing: dict[str, str],
) -> None:
    """The LKJ log density of a block's correlation matrix at each draw."""
    eta = prior.params.get("eta", 1.0)
    if prior.name != "LKJCorr" or isinstance(eta, Prior) or np.ndim(eta) > 0:
        missing[name] = f"its prior {prior!r} is not an LKJCorr with a fixed eta"
        return
    pairs = design.correlation_names(block)
    if not pairs or any(label not in posterior for *_, label in pairs):
        missing[name] = "its correlations are not variables of the posterior"
        return
    width = max(j for _, j, _ in pairs) + 1
    first = posterior[pairs[0][2]].to_numpy()
    corr = np.broadcast_to(np.eye(width), (*first.shape, width, width)).copy()
    for i, j, label in pairs:
        corr[..., i, j] = corr[..., j, i] = posterior[label].to_numpy()
    out[name] = lkj_log_density(corr, float(eta))
