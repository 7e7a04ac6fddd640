"""The PyMC backend: the only module that imports pymc and pytensor.

It turns a :class:`~bayesmm.design.Design`, a family, a link and a
:class:`~bayesmm.priors.PriorSet` into a ``pm.Model``, and runs a NUTS sampler on it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from .._errors import BackendError, PriorError
from .._validation import choice_message, did_you_mean
from ..design import Design, GroupTerm
from ..families import Family
from ..links import Link
from ..priors import Prior, PriorSet, TermPrior

__all__ = ["BuiltModel", "build_model", "sample", "prior_predictive", "SAMPLERS", "OBS_DIM"]

OBS_DIM = "__obs__"

#: Largest log-likelihood stored by default: 25 million float64 values, 200 MB.
LOG_LIKELIHOOD_MAX_VALUES = 25_000_000

_log = logging.getLogger("bayesmm")

#: pytensor versions of the operations that inverse links use.
PYTENSOR_OPS = SimpleNamespace(
    exp=pt.exp,
    log=pt.log,
    sqrt=pt.sqrt,
    expit=pt.sigmoid,
    normal_cdf=lambda x: 0.5 * (1 + pt.erf(x / np.sqrt(2.0))),
)


@dataclass(frozen=True)
class BuiltModel:
    """A compiled PyMC model and what is needed to tidy its samples.

    Attributes
    ----------
    model : pymc.Model
        The model.
    response : str
        The name of the observed variable.
    observed : numpy.ndarray
        The observed response.
    internal : tuple of str
        Variables sampled for the sampler's sake (non-centred offsets, the intercept of the
        centred predictors), dropped from the returned posterior.
    """

    model: pm.Model
    response: str
    observed: np.ndarray
    internal: tuple[str, ...]
    order: tuple[str, ...] = ()


def _common_dim(name: str) -> str:
    return f"{name}_dim"


def factor_dim(factor: str) -> str:
    """The dimension name of a grouping factor's levels."""
    return f"{factor}__factor_dim"


def expr_dim(expr: str) -> str:
    """The dimension name of the columns of a group term's expression."""
    return f"{expr}__expr_dim"


def _distribution(prior: Prior, where: str) -> Any:
    dist = getattr(pm, prior.name, None)
    if not (isinstance(dist, type) and issubclass(dist, pm.Distribution)):
        names = [
            n
            for n in dir(pm)
            if isinstance(getattr(pm, n), type) and issubclass(getattr(pm, n), pm.Distribution)
        ]
        raise PriorError(
            f"The prior of {where!r} names the distribution {prior.name!r}, which PyMC does not "
            "have." + did_you_mean(prior.name, names)
        )
    return dist


def _random_variable(name: str, prior: Prior, dims: tuple[str, ...] | None) -> Any:
    """Create ``name ~ prior``; parameters that are Priors become ``name_param`` variables.

    Hyperparameters of a vector-valued term get the term's last dimension when their own
    default values are vectors, and are scalars otherwise.
    """
    dist = prior.dist if prior.dist is not None else _distribution(prior, name)
    kwargs = {}
    for param, value in prior.params.items():
        if isinstance(value, Prior):
            sub_dims = _hyper_dims(value, dims)
            kwargs[param] = _random_variable(f"{name}_{param}", value, sub_dims)
        else:
            kwargs[param] = np.asarray(value, dtype=float) if not isinstance(value, str) else value
    try:
        return dist(name, dims=dims, **kwargs)
    except (TypeError, ValueError) as err:
        raise PriorError(f"The prior {prior!r} of {name!r} is invalid: {err}") from None


def _hyper_dims(prior: Prior, dims: tuple[str, ...] | None) -> tuple[str, ...] | None:
    vector = any(np.ndim(v) > 0 for v in prior.params.values() if not isinstance(v, Prior))
    if vector and dims:
        return (dims[-1],)
    return None


def _group_effect(term: GroupTerm, prior: Prior, noncentered: bool, internal: list[str]) -> Any:
    dims: tuple[str, ...] = (factor_dim(term.factor),)
    if len(term.columns) > 1:
        dims = (*dims, expr_dim(term.expr))
    is_normal = prior.name == "Normal" and isinstance(prior.params.get("sigma"), Prior)
    if not (noncentered and is_normal):
        return _random_variable(term.name, prior, dims)
    # Non-centred: b = mu + sigma * z with z ~ Normal(0, 1) (Papaspiliopoulos et al. 2007).
    sigma_prior = prior.params["sigma"]
    sigma = _random_variable(f"{term.name}_sigma", sigma_prior, _hyper_dims(sigma_prior, dims))
    mu = prior.params.get("mu", 0.0)
    if isinstance(mu, Prior):
        mu = _random_variable(f"{term.name}_mu", mu, _hyper_dims(mu, dims))
    offset = pm.Normal(f"{term.name}_offset", mu=0.0, sigma=1.0, dims=dims)
    internal.append(f"{term.name}_offset")
    return pm.Deterministic(term.name, mu + offset * sigma, dims=dims)


def _coords(design: Design) -> dict[str, Any]:
    coords: dict[str, Any] = {OBS_DIM: np.arange(design.n_obs)}
    for term in design.common_terms:
        if term.levels is not None:
            coords[_common_dim(term.name)] = list(term.levels)
    for group in design.group_terms:
        coords[factor_dim(group.factor)] = list(group.levels)
        if group.expr_levels is not None:
            coords[expr_dim(group.expr)] = list(group.expr_levels)
    return coords


def _common_predictor(design: Design, priors: PriorSet, center: bool, internal: list[str]) -> Any:
    """The common part of the linear predictor; registers ``Intercept`` on the user's scale."""
    slopes = [t for t in design.common_terms if not t.is_intercept]
    eta: Any = 0.0
    coefficients = []
    for term in slopes:
        dims = (_common_dim(term.name),) if term.levels is not None else None
        beta = _random_variable(term.name, _as_prior(priors, term.name), dims)
        coefficients.append(pt.atleast_1d(beta))
    columns = [j for t in slopes for j in range(t.start, t.stop)]
    X = design.common[:, columns] if slopes else None
    means = X.mean(axis=0) if X is not None else None
    centred = center and design.has_intercept and X is not None
    if X is not None:
        beta_all = pt.concatenate(coefficients) if len(coefficients) > 1 else coefficients[0]
        eta = pt.dot(X - means if centred else X, beta_all)
    if design.has_intercept:
        intercept_prior = _as_prior(priors, "Intercept")
        if centred:
            # Sample the intercept of the centred predictors (less correlated with the slopes),
            # and report it on the user's scale: b0 = b0_c - mean(x) . beta.
            inner = _random_variable("Intercept_centered", intercept_prior, None)
            internal.append("Intercept_centered")
            pm.Deterministic("Intercept", inner - pt.dot(means, beta_all))
            eta = eta + inner
        else:
            eta = eta + _random_variable("Intercept", intercept_prior, None)
    return eta


def _as_prior(priors: PriorSet, name: str) -> Prior:
    prior = priors[name]
    if not isinstance(prior, Prior):
        raise PriorError(f"The prior of {name!r} must be a Prior; got {prior!r}.")
    return prior


def build_model(
    design: Design,
    family: Family,
    link: Link,
    priors: PriorSet,
    *,
    noncentered: bool = True,
    center_predictors: bool = True,
) -> BuiltModel:
    """Build the PyMC model of a design.

    Parameters
    ----------
    design : Design
        The encoded data.
    family : Family
        The response family.
    link : Link
        The link of the family's parent parameter.
    priors : PriorSet
        The priors of every term and auxiliary parameter.
    noncentered : bool, default True
        Use the non-centred parameterisation of group-specific effects.
    center_predictors : bool, default True
        Centre the common predictors when the model has an intercept.

    Returns
    -------
    BuiltModel
    """
    internal: list[str] = []
    with pm.Model(coords=_coords(design)) as model:
        eta = _common_predictor(design, priors, center_predictors, internal)
        for group in design.group_terms:
            effect = _group_effect(group, _as_prior(priors, group.name), noncentered, internal)
            index = group.index
            if group.values is None:
                eta = eta + effect[index]
            elif group.values.shape[1] == 1:
                eta = eta + effect[index] * group.values[:, 0]
            else:
                eta = eta + (effect[index] * group.values).sum(axis=1)
        eta = eta + pt.zeros(design.n_obs) if np.ndim(eta) == 0 else eta

        values = _auxiliary(priors.of_kind("auxiliary"))
        likelihood = family.likelihood
        if link.name == "logit" and likelihood.logit_kwarg is not None:
            kwargs = likelihood.dist_kwargs(values)
            kwargs[likelihood.logit_kwarg] = eta
        else:
            values[likelihood.parent] = link.inverse(eta, PYTENSOR_OPS)
            kwargs = likelihood.dist_kwargs(values)
        if likelihood.trials_kwarg is not None:
            kwargs[likelihood.trials_kwarg] = design.response.trials
        dist = getattr(pm, likelihood.name)
        dist(design.response.name, observed=design.response.values, dims=OBS_DIM, **kwargs)
    return BuiltModel(
        model=model,
        response=design.response.name,
        observed=design.response.values,
        internal=tuple(internal),
        order=_display_order(design, priors),
    )


def _display_order(design: Design, priors: PriorSet) -> tuple[str, ...]:
    """Posterior variables in reading order: intercept, slopes, group terms, auxiliaries."""
    names = [t.name for t in design.common_terms]
    for group in design.group_terms:
        names += [group.name, f"{group.name}_mu", f"{group.name}_sigma"]
    return tuple(names + [t.name for t in priors.of_kind("auxiliary")])


def _auxiliary(terms: list[TermPrior]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for term in terms:
        if isinstance(term.prior, Prior):
            values[term.name] = _random_variable(term.name, term.prior, None)
        else:
            values[term.name] = float(term.prior)
    return values


# --- sampling --------------------------------------------------------------------------------

#: Each sampler and the packages it needs.
#: The pip requirement that brings each sampler's packages.
_INSTALL = {"nutpie": "nutpie", "numpyro": '"bayesmm[jax]"', "blackjax": '"bayesmm[jax]"'}

SAMPLERS: dict[str, tuple[str, ...]] = {
    "pymc": (),
    "nutpie": ("nutpie",),
    "numpyro": ("jax", "numpyro"),
    "blackjax": ("jax", "blackjax"),
}


def _require(method: str) -> None:
    if method not in SAMPLERS:
        raise BackendError(choice_message("inference_method", method, SAMPLERS))
    missing = [p for p in SAMPLERS[method] if importlib.util.find_spec(p) is None]
    if missing:
        raise BackendError(
            f"inference_method={method!r} needs the package(s) {missing}, which are not "
            f"installed. Install them with: pip install {_INSTALL[method]}"
        )


def default_chains() -> int:
    """As PyMC: one chain per core, at least 2 and at most 4."""
    return max(2, min(4, os.cpu_count() or 1))


def run_sampler(
    model: pm.Model,
    inference_method: str,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    **kwargs: Any,
) -> az.InferenceData:
    """Run one NUTS implementation on ``model``; the raw InferenceData it returns."""
    if inference_method == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model)
        seed = None if random_seed is None else int(random_seed)
        return nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            seed=seed,
            progress_bar=progressbar,
            **{"save_warmup": False, **kwargs},
        )
    options: dict[str, Any] = {"cores": min(chains, os.cpu_count() or 1), **kwargs}
    # The log-likelihood is computed afterwards, by `sample`, for every sampler alike.
    options["idata_kwargs"] = {**kwargs.get("idata_kwargs", {}), "log_likelihood": False}
    if inference_method != "pymc":
        options["nuts_sampler"] = inference_method
    return pm.sample(
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=progressbar,
        model=model,
        **options,
    )


def sample(
    built: BuiltModel,
    *,
    draws: int,
    tune: int,
    chains: int | None,
    inference_method: str,
    random_seed: int | None,
    progressbar: bool,
    log_likelihood: bool | None,
    **kwargs: Any,
) -> az.InferenceData:
    """Run NUTS and return the tidied InferenceData.

    ``log_likelihood=None`` stores the pointwise log-likelihood when it is cheap: at most
    :data:`LOG_LIKELIHOOD_MAX_VALUES` numbers (observations x draws x chains).

    The posterior keeps the user-facing variables; the internal ones of
    :attr:`BuiltModel.internal` are dropped after the log-likelihood is computed.
    """
    _require(inference_method)
    chains = chains or default_chains()
    model = built.model
    idata = run_sampler(
        model,
        inference_method,
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=progressbar,
        **kwargs,
    )
    if "observed_data" not in idata.groups():
        observed = xr.Dataset(
            {built.response: ((OBS_DIM,), built.observed)},
            coords={OBS_DIM: np.arange(len(built.observed))},
        )
        idata.add_groups(observed_data=observed)
    size = len(built.observed) * draws * chains
    if log_likelihood is None:
        log_likelihood = size <= LOG_LIKELIHOOD_MAX_VALUES
        if not log_likelihood:
            _log.info(
                "Not storing the log-likelihood (%d values, %.1f GB); pass log_likelihood=True "
                "to store it anyway.",
                size,
                size * 8 / 1e9,
            )
    if log_likelihood:
        pm.compute_log_likelihood(idata, model=model, progressbar=False)
    idata.posterior = _user_facing(built, idata["posterior"])  # type: ignore[attr-defined]
    return idata


def _user_facing(built: BuiltModel, draws: xr.Dataset) -> xr.Dataset:
    """The user-facing variables in reading order: no internal ones, no ``*_log__`` values."""
    model = built.model
    keep = {v.name for v in (*model.free_RVs, *model.deterministics)} - set(built.internal)
    ordered = [v for v in built.order if v in keep and v in draws]
    rest = [v for v in draws.data_vars if v in keep and v not in ordered]
    return draws[ordered + rest]


# --- prior draws -------------------------------------------------------------------------------


def prior_predictive(
    built: BuiltModel,
    *,
    draws: int,
    random_seed: int | None,
    var_names: list[str] | None = None,
) -> az.InferenceData:
    """Draws from the prior (and, without ``var_names``, the prior predictive).

    The ``prior`` group keeps the user-facing variables, as the posterior of :func:`sample`
    does. With ``var_names``, only those variables (and what they depend on) are drawn, and
    the response is not.
    """
    model = built.model
    idata = pm.sample_prior_predictive(
        draws=draws, model=model, random_seed=random_seed, var_names=var_names
    )
    idata.prior = _user_facing(built, idata["prior"])
    return idata
