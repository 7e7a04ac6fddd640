"""Joint shrinkage priors of the common slopes: the regularised horseshoe and R2-D2.

Both write each slope as ``z * scale`` with ``z ~ Normal(0, 1)`` (non-centred, as brms does),
so the funnel between a slope and its scale never reaches the sampler, and each term keeps
its own posterior variable (``x1``, ``x2``, ...), so prediction is unchanged.

* ``Horseshoe`` (Piironen & Vehtari 2017): ``b = z tau lambda~``, with local scales
  ``lambda ~ HalfStudentT(df, 1)`` (``hs_local``), the global ``tau ~ HalfStudentT(df_global,
  scale_global * sigma)`` (``hs_global``; ``scale_global = par_ratio / sqrt(n)`` when
  ``par_ratio`` is given) and the slab ``c^2 = scale_slab^2 * hs_slab``, ``hs_slab ~
  InverseGamma(df_slab / 2, df_slab / 2)``; ``lambda~^2 = c^2 lambda^2 / (c^2 + tau^2
  lambda^2)``.
* ``R2D2`` (Zhang, Naughton, Bondell & Reich 2022): ``R2 ~ Beta(mean_R2 * prec_R2, (1 -
  mean_R2) * prec_R2)`` (``R2D2_R2``), ``tau2 = R2 / (1 - R2)`` (``R2D2_tau2``), the
  variance split by ``phi ~ Dirichlet(cons_D2)`` (``R2D2_phi``), ``b = z sqrt(phi tau2)
  sigma``.

``sigma`` is the family's residual sd when ``autoscale`` is true and the family has a
``sigma`` not modelled by a formula (brms's ``autoscale``); 1 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ...._names import common_dim
from ....design import CommonTerm
from ....priors import Prior
from ..context import Added

__all__ = ["SHRINKAGE_DIM", "shrunk_slopes"]

#: The dimension of the slopes a shrinkage prior covers, labelled by column.
SHRINKAGE_DIM = "shrinkage__dim"


def _labels(terms: Sequence[CommonTerm]) -> list[str]:
    labels = []
    for term in terms:
        if term.levels is None:
            labels.append(term.name)
        else:
            labels += [f"{term.name}[{level}]" for level in term.levels]
    return labels


def _horseshoe(p: dict[str, Any], n_obs: int, unit: Any) -> Added:
    local = pm.HalfStudentT("hs_local", nu=p["df"], sigma=1.0, dims=SHRINKAGE_DIM)
    scale_global = p["scale_global"] if p["par_ratio"] is None else p["par_ratio"] / np.sqrt(n_obs)
    raw = pm.HalfStudentT("hs_global_raw", nu=p["df_global"], sigma=1.0)
    tau = pm.Deterministic("hs_global", raw * scale_global * unit)
    slab = pm.InverseGamma("hs_slab", alpha=p["df_slab"] / 2, beta=p["df_slab"] / 2)
    c2 = p["scale_slab"] ** 2 * slab
    return Added(tau * pt.sqrt(c2 * local**2 / (c2 + tau**2 * local**2)), ("hs_global_raw",))


def _r2d2(p: dict[str, Any], k: int, unit: Any) -> Any:
    mean, precision = p["mean_R2"], p["prec_R2"]
    r2 = pm.Beta("R2D2_R2", alpha=mean * precision, beta=(1 - mean) * precision)
    tau2 = pm.Deterministic("R2D2_tau2", r2 / (1 - r2))
    phi = pm.Dirichlet("R2D2_phi", a=np.full(k, p["cons_D2"]), dims=SHRINKAGE_DIM)
    return pt.sqrt(phi * tau2) * unit


def shrunk_slopes(
    prior: Prior,
    terms: Sequence[CommonTerm],
    n_obs: int,
    sigma: Callable[[], Any],
) -> Added:
    """The coefficients of ``terms`` under one shrinkage ``prior``, by term name: a scalar
    for a one-column term, a vector (over the term's columns) otherwise. ``sigma()`` gives
    the residual sd the scales are relative to (asked only when ``autoscale`` is on)."""
    labels = _labels(terms)
    pm.modelcontext(None).add_coord(SHRINKAGE_DIM, labels)
    p = prior.with_defaults()
    unit = sigma() if p["autoscale"] else 1.0
    if prior.name == "Horseshoe":
        scale = _horseshoe(p, n_obs, unit)
    else:
        scale = Added(_r2d2(p, len(labels), unit))
    z = pm.Normal("shrinkage_z", mu=0.0, sigma=1.0, dims=SHRINKAGE_DIM)
    slopes = z * scale.value
    out: dict[str, Any] = {}
    start = 0
    for term in terms:
        width = term.stop - term.start
        if term.levels is None:
            out[term.name] = pm.Deterministic(term.name, slopes[start])
        else:
            dims = (common_dim(term.name),)
            out[term.name] = pm.Deterministic(term.name, slopes[start : start + width], dims=dims)
        start += width
    return Added(out, (*scale.internal, "shrinkage_z"))
