"""``FitChecks``: the methods of a fitted model that judge the fit rather than predict:
PSIS-LOO, Bayesian R², the log prior density of each draw and power-scaling sensitivity.

A base class of :class:`~bayesmm.fitted.FittedModel`, kept apart so that ``fitted.py`` holds
the prediction methods; what it reads of the model is declared below.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .._errors import BayesmmWarning, DataError, PriorError, warn_user
from .._validation import check_flag
from ..design.state import check_training_rows
from .log_prior import LogPrior, log_prior_density
from .loo import loo_r2, relative_efficiency, training_loo
from .pointwise import r2_response
from .powerscale import (
    LOWER_ALPHA,
    THRESHOLD,
    UPPER_ALPHA,
    powerscale_weights,
    sensitivity_table,
)

if TYPE_CHECKING:
    import arviz as az

    from ..design import Design
    from ..families import Family
    from ..links import Link
    from ..model import Model
    from ..spec import ModelSpec
    from .draws import PosteriorDraws

__all__ = ["FitChecks", "PSIS_K_THRESHOLD", "REFIT_ALPHAS", "refit_settings"]

#: Above this Pareto k-hat, importance weights are unreliable (Vehtari et al. 2024).
PSIS_K_THRESHOLD = 0.7
#: The powers of the prior that ``sensitivity(refit=True)`` refits with.
REFIT_ALPHAS = (0.8, 1.25)


class FitChecks:
    """PSIS-LOO, R², log prior densities and prior sensitivity of a fitted model."""

    design: Design
    family: Family
    link: Link

    if TYPE_CHECKING:  # FittedModel's

        @property
        def idata(self) -> az.InferenceData: ...

        @property
        def spec(self) -> ModelSpec | None: ...

        @property
        def training_rows(self) -> pd.DataFrame: ...

        def draws(self, data: Any = None, kind: str = ..., **options: Any) -> np.ndarray: ...

        def log_likelihood(self, data: pd.DataFrame, y: Any, **options: Any) -> np.ndarray: ...

        @property
        def posterior_draws(self) -> PosteriorDraws: ...

        def linear_predictors(self, data: Any = None, **options: Any) -> dict[str, np.ndarray]: ...

        def to_model(self, data: pd.DataFrame) -> Model: ...

    def loo(self, chunk_rows: int = 20_000) -> az.ELPDData:
        """PSIS-LOO of the training rows as ``az.loo(idata, pointwise=True)`` gives it, from
        the posterior ``chunk_rows`` rows at a time: no stored log-likelihood needed. Rows of
        a series (``ar()``, ``cosy()``) are each scored given the rest of their series."""
        reff = relative_efficiency(self.idata["posterior"])
        model = (self.design, self.family, self.link, self.posterior_draws)
        return training_loo(*model, reff, chunk_rows, self.log_likelihood, self.linear_predictors)

    def r2(self, loo: bool = False) -> pd.Series:
        """Bayesian R² (Gelman, Goodrich, Gabry & Vehtari 2019) on the training rows.

        For each draw, the variance of the fitted means over the variance of the fitted means
        plus the variance of the residuals, as computed by ``arviz.r2_score``; returns its
        posterior mean (``r2``) and standard deviation (``r2_std``). ``loo=True`` gives the
        LOO-adjusted R² instead (brms's ``loo_R2``, :func:`~bayesmm.predict.loo.loo_r2`).
        """
        check_training_rows(self.design)
        y = r2_response(self.family, self.design.response)
        mu = self.draws(None, "response_params")
        if loo:  # each row's mean predicted from the other rows (PSIS)
            ll = self.log_likelihood(self.training_rows, self.design.response.values)
            return pd.Series(loo_r2(y, mu, ll, relative_efficiency(self.idata["posterior"])))
        import arviz as az

        return az.r2_score(y, mu)

    def log_prior(self) -> xr.Dataset:
        """The log prior density of each parameter at each posterior draw, ``(chain, draw)``.

        One variable per parameter with a prior of its own, named as in the posterior (a
        block's LKJ correlation prior by its key, e.g. ``"Subject_corr"``; a vector term's
        values summed), computed with scipy from the priors as used
        (:mod:`~bayesmm.predict.log_prior`). The group effects' distribution given their sd
        is left out, as in brms's ``lprior``. Add it to the fit for priorsense-style tools
        with ``idata.add_groups(log_prior=fitted.log_prior())``.

        Warns (``BayesmmWarning``) naming the priors that have no scipy density (improper,
        custom or shrinkage priors), which are left out.

        Raises
        ------
        PriorError
            For a fitted model without its spec (its priors are not known).
        """
        found = self._log_prior()
        if found.missing:
            described = "; ".join(f"{k}: {why}" for k, why in found.missing.items())
            warn_user(f"log_prior() leaves out {described}.", BayesmmWarning)
        return found.values

    def _log_prior(self) -> LogPrior:
        spec = self.spec
        if spec is None:
            raise PriorError(
                "log_prior() needs the model's priors, and this FittedModel has no model spec."
            )
        center = bool(spec.options.get("center_predictors", True))
        return log_prior_density(self.idata["posterior"], spec.prior_dict(), self.design, center)

    def sensitivity(
        self,
        *,
        refit: bool = False,
        lower_alpha: float = LOWER_ALPHA,
        upper_alpha: float = UPPER_ALPHA,
        threshold: float = THRESHOLD,
        random_seed: Any = None,
        **fit_kwargs: Any,
    ) -> pd.DataFrame:
        """Power-scaling prior and likelihood sensitivity of each parameter (Kallioinen,
        Paananen, Bürkner & Vehtari 2023), by importance sampling from the posterior.

        The prior (the priors of the population-level parameters and the hyperparameters,
        :meth:`log_prior`) and the likelihood are each raised to the powers ``lower_alpha``
        and ``upper_alpha``; the draws are reweighted by Pareto-smoothed importance weights
        and each parameter's sensitivity is the cumulative Jensen–Shannon distance of its
        reweighted from its unweighted draws per unit of ``log2(alpha)``
        (:mod:`~bayesmm.predict.powerscale`).

        Parameters
        ----------
        refit : bool, default False
            Also refit the training rows with the prior powered by 0.8 and 1.25
            (:data:`REFIT_ALPHAS`), and add each parameter's posterior mean under each power,
            by refit (``refit_mean_0.8``, ``refit_mean_1.25``) and by importance sampling
            (``is_mean_0.8``, ``is_mean_1.25``), beside its ``mean``: where the two disagree,
            the importance weights are not to be trusted. The power is data in the model's
            graph (``PriorSet.power``), so the second refit compiles nothing.
        lower_alpha, upper_alpha : float, default 0.99 and 1.01
            The powers, ``0 < lower_alpha < 1 < upper_alpha`` (priorsense's defaults).
        threshold : float, default 0.05
            The sensitivity above which a parameter is flagged (priorsense's).
        random_seed : int, optional
            Seeds the refits.
        **fit_kwargs
            Options of the refits (``draws``, ``chains``, ``inference_method``, ...); by
            default the fit's own draws, chains, tuning steps and sampler.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter (``"name[level]"`` for an element of a vector): columns
            ``prior``, ``likelihood`` and ``diagnosis`` (``"prior-data conflict"``,
            ``"strong prior / weak likelihood"`` or ``"-"``); ``attrs["pareto_k"]`` holds the
            k-hat of each component's weights at each power.

        Raises
        ------
        DataError
            For powers or a threshold out of range, or a model saved without its log
            likelihood and its training rows.
        BackendError
            If a refit fails.
        """
        check_flag("refit", refit)
        _check_alphas(lower_alpha, upper_alpha, threshold)
        posterior = self.idata["posterior"]
        found = self._log_prior()
        if found.missing:
            described = ", ".join(found.missing)
            warn_user(
                f"sensitivity() does not power-scale the priors of {described}.", BayesmmWarning
            )
        table = sensitivity_table(
            parameter_draws(posterior, self.design),
            found.total().ravel(),
            self._summed_log_likelihood(),
            reff=relative_efficiency(posterior),
            lower_alpha=lower_alpha,
            upper_alpha=upper_alpha,
            threshold=threshold,
        )
        if refit:
            table = self._powered_refits(table, found.total().ravel(), random_seed, fit_kwargs)
        high = {k: v for k, v in table.attrs["pareto_k"].items() if v > PSIS_K_THRESHOLD}
        if high:
            warn_user(
                f"sensitivity(): Pareto k-hat above {PSIS_K_THRESHOLD} for {sorted(high)}: the "
                "importance weights of those powers are unreliable.",
                BayesmmWarning,
            )
        return table

    def _powered_refits(
        self,
        table: pd.DataFrame,
        log_prior: np.ndarray,
        random_seed: Any,
        fit_kwargs: dict[str, Any],
    ) -> pd.DataFrame:
        """``table`` with each parameter's mean, and its means under the prior powered by
        each of :data:`REFIT_ALPHAS`, by refit and by importance sampling."""
        posterior = self.idata["posterior"]
        draws = parameter_draws(posterior, self.design)
        table = table.copy()
        table["mean"] = [float(draws[name].mean()) for name in table.index]
        settings = refit_settings(self.idata, {"progressbar": False, **fit_kwargs})
        rows = self.training_rows
        reff = relative_efficiency(posterior)
        seeds = np.random.SeedSequence(random_seed).generate_state(len(REFIT_ALPHAS))
        for alpha, seed in zip(REFIT_ALPHAS, seeds, strict=True):
            model = self.to_model(rows)
            model.priors = replace(model.priors, power=alpha)
            idata = model.fit(random_seed=int(seed), **settings)
            refitted = parameter_draws(idata["posterior"], self.design)
            weights, k = powerscale_weights(log_prior, alpha, reff)
            table.attrs["pareto_k"][f"prior@{alpha}"] = k
            table[f"refit_mean_{alpha:g}"] = [float(refitted[n].mean()) for n in table.index]
            table[f"is_mean_{alpha:g}"] = [float(draws[n] @ weights) for n in table.index]
        return table

    def _summed_log_likelihood(self) -> np.ndarray:
        """The log likelihood of all the training rows at each draw (chains stacked)."""
        stored = self.idata["log_likelihood"] if "log_likelihood" in self.idata.groups() else None
        if stored is not None and len(stored.data_vars):
            total = sum(
                v.sum([d for d in v.dims if d not in ("chain", "draw")]).transpose("chain", "draw")
                for v in stored.data_vars.values()
            )
            return np.asarray(total, dtype=float).ravel()
        ll = self.log_likelihood(self.training_rows, self.design.response.values)
        return ll.sum(axis=1)


def refit_settings(idata: az.InferenceData, fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The fit's sampler, draws and chains (and tuning steps where recorded), unless
    ``fit_kwargs`` gives them, then the rest of ``fit_kwargs``: what a refit of the same
    model (``reloo``, ``sensitivity(refit=True)``) samples with."""
    posterior = idata["posterior"]
    settings: dict[str, Any] = {
        "draws": int(posterior.sizes["draw"]),
        "chains": int(posterior.sizes["chain"]),
    }
    method = idata.attrs.get("inference_method")
    if method is not None:
        settings["inference_method"] = str(method)
    if "sample_stats" in idata.groups():
        tune = idata["sample_stats"].attrs.get("tuning_steps")
        if tune is not None:
            settings["tune"] = int(tune)
    return {**settings, **fit_kwargs}


def parameter_draws(posterior: xr.Dataset, design: Design) -> dict[str, np.ndarray]:
    """Each scalar parameter's draws, chains stacked: every posterior variable but the group
    effects, a vector's elements as ``"name[level]"``."""
    designs = [design, *(d.design for d in design.distributional)]
    effects = {t.name for d in designs for t in d.group_terms}
    out: dict[str, np.ndarray] = {}
    for name, variable in posterior.data_vars.items():
        if name in effects:
            continue
        values = variable.to_numpy()
        flat = values.reshape(values.shape[0] * values.shape[1], -1)
        if flat.shape[1] == 1 and values.ndim == 2:
            out[str(name)] = flat[:, 0]
            continue
        extra = [d for d in variable.dims if d not in ("chain", "draw")]
        labels = pd.MultiIndex.from_product(
            [
                variable[d].to_numpy() if d in variable.coords else range(variable.sizes[d])
                for d in extra
            ]
        )
        for k, label in enumerate(labels):
            out[f"{name}[{','.join(str(v) for v in label)}]"] = flat[:, k]
    return out


def _check_alphas(lower: Any, upper: Any, threshold: Any) -> None:
    for name, value, ok, wanted in (
        ("lower_alpha", lower, lambda v: 0 < v < 1, "a number between 0 and 1"),
        ("upper_alpha", upper, lambda v: v > 1, "a number above 1"),
        ("threshold", threshold, lambda v: v >= 0, "a number >= 0"),
    ):
        number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        )
        if not number or not np.isfinite(value) or not ok(value):
            raise DataError(f"{name} must be {wanted}; got {value!r}.")
