"""The check run after every NUTS fit: divergences, R-hat and bulk ESS.

A fit whose chains failed comes back like any other unless something looks: every draw
divergent, chains that never moved (R-hat NaN, an ESS of 2). :func:`check_fit` looks after
each NUTS run on every route, records what it found in ``idata.attrs`` and warns
(:class:`~bayesmm.SamplingWarning`) above the thresholds of Vehtari et al. (2021),
"Rank-normalization, folding, and localization": R-hat above 1.01, or a bulk ESS below 100 per
chain; and any divergent transition, the sampler's own sign that it could not follow the
posterior's curvature (Betancourt 2017).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._errors import SamplingWarning, warn_user

if TYPE_CHECKING:
    import arviz as az

__all__ = ["MAX_RHAT", "MIN_ESS_PER_CHAIN", "FitCheck", "check_fit", "fit_check"]

#: R-hat above this: the chains disagree (Vehtari et al. 2021, section 4).
MAX_RHAT = 1.01
#: Bulk ESS below this many per chain: means and intervals are noisy (Vehtari et al. 2021).
MIN_ESS_PER_CHAIN = 100

#: The message that opens the warning of a fit whose chains did not move at all.
NOT_USABLE = "The posterior is not usable"
#: The message that opens the warning of a fit above the thresholds.
CHECK_FIT = "Check the fit before using it"


@dataclass(frozen=True)
class FitCheck:
    """What :func:`fit_check` found in a posterior.

    Attributes
    ----------
    divergences : int
        Divergent transitions, over all chains.
    draws : int
        Draws over all chains.
    max_rhat : float
        The largest R-hat of any quantity that varies (NaN with one chain).
    min_ess_bulk : float
        The smallest bulk ESS of any quantity that varies.
    stuck_chains : int
        Chains in which no quantity changed from its first draw.
    chains : int
        Chains in the posterior.
    """

    divergences: int
    draws: int
    max_rhat: float
    min_ess_bulk: float
    stuck_chains: int
    chains: int

    @property
    def moved(self) -> bool:
        """Whether the chains moved at all: not every draw divergent, no chain stuck, and
        R-hat defined wherever the chains vary (with two or more chains)."""
        all_divergent = self.draws > 0 and self.divergences >= self.draws
        undefined = self.chains > 1 and bool(np.isnan(self.max_rhat))
        return not (all_divergent or self.stuck_chains or undefined)

    def problems(self) -> list[str]:
        """The thresholds this fit is beyond, worded for a user."""
        found = []
        if self.divergences:
            found.append(f"{self.divergences} of {self.draws} draws are divergent")
        if self.max_rhat > MAX_RHAT:
            found.append(f"the largest R-hat is {self.max_rhat:.3f} (above {MAX_RHAT})")
        if self.min_ess_bulk < MIN_ESS_PER_CHAIN * self.chains:
            found.append(
                f"the smallest bulk ESS is {self.min_ess_bulk:.0f} (below {MIN_ESS_PER_CHAIN} "
                f"per chain, {MIN_ESS_PER_CHAIN * self.chains} for {self.chains} chains)"
            )
        if self.stuck_chains:
            found.append(f"{self.stuck_chains} of {self.chains} chains never moved")
        elif self.chains > 1 and np.isnan(self.max_rhat):
            found.append("R-hat is undefined (a chain did not vary)")
        return found

    def attrs(self) -> dict[str, int | float]:
        """The check as ``idata.attrs`` entries (numbers, which netCDF stores)."""
        return {
            "sampling_divergences": self.divergences,
            "sampling_max_rhat": self.max_rhat,
            "sampling_min_ess_bulk": self.min_ess_bulk,
            "sampling_stuck_chains": self.stuck_chains,
            "sampling_ok": int(self.moved and not self.problems()),
        }


def _varying(posterior: Any) -> dict[str, np.ndarray]:
    """Each variable as ``(chain, draw, -1)``, keeping the elements that vary somewhere
    (a correlation matrix's diagonal, a fixed value, never does)."""
    out = {}
    for name, var in posterior.data_vars.items():
        values = np.asarray(var.values, dtype=float)
        values = values.reshape(values.shape[0], values.shape[1], -1)
        keep = np.ptp(values, axis=(0, 1)) > 0
        if keep.any():
            out[name] = values[:, :, keep]
    return out


def fit_check(idata: az.InferenceData) -> FitCheck:
    """Divergences, the largest R-hat, the smallest bulk ESS and the stuck chains of a fit."""
    import arviz as az
    import xarray as xr

    posterior = idata["posterior"]
    chains, draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])
    stats = idata.get("sample_stats")
    diverging = None if stats is None else stats.get("diverging")
    divergences = 0 if diverging is None else int(np.asarray(diverging.values).sum())
    varying = _varying(posterior)
    stuck = np.ones(chains, dtype=bool)
    for values in varying.values():
        stuck &= ~(np.ptp(values, axis=1) > 0).any(axis=-1)
    max_rhat = min_ess = float("nan")
    if varying and draws >= 4:
        dataset = xr.Dataset(
            {f"v{i}": (("chain", "draw", f"v{i}_k"), v) for i, v in enumerate(varying.values())}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant chain: NaN, which the check reports
            ess = np.concatenate([v.values for v in az.ess(dataset, method="bulk").values()])
            if chains > 1:
                rhat = np.concatenate([v.values for v in az.rhat(dataset).values()])
                max_rhat = float("nan") if np.isnan(rhat).any() else float(rhat.max())
        min_ess = float(np.nanmin(ess)) if np.isfinite(ess).any() else float("nan")
    return FitCheck(
        divergences=divergences,
        draws=chains * draws,
        max_rhat=max_rhat,
        min_ess_bulk=min_ess,
        stuck_chains=int(stuck.sum()) if varying else 0,
        chains=chains,
    )


def check_fit(idata: az.InferenceData, inference_method: str) -> FitCheck:
    """Check a NUTS fit, record the check in ``idata.attrs``, and warn if it failed.

    Parameters
    ----------
    idata : arviz.InferenceData
        The fit, with a ``posterior`` and (from NUTS) ``sample_stats``.
    inference_method : str
        The sampler that ran, named in the warning.

    Returns
    -------
    FitCheck
    """
    found = fit_check(idata)
    idata.attrs.update(found.attrs())
    problems = found.problems()
    if not found.moved:
        warn_user(
            f"{NOT_USABLE}: the chains of {inference_method!r} did not move "
            f"({'; '.join(problems)}). Its draws are not draws from the posterior. Look at "
            "the priors (a prior far from the data, or a bound the data break), try "
            "noncentered=True, or another inference_method; docs/fitting.md says how.",
            SamplingWarning,
        )
    elif problems:
        warn_user(
            f"{CHECK_FIT}: {'; '.join(problems)}. Try more draws (draws=, tune=), a higher "
            "target_accept (e.g. 0.95), noncentered=True for group terms with little data "
            "each, or tighter priors on the group sds; docs/fitting.md says how.",
            SamplingWarning,
        )
    return found
