"""The ``Model`` facade: formula and data in, InferenceData out."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import DataError, NotFittedError, PriorError
from ._validation import check_count, check_counts, check_sampling, choice_message
from ._version import __version__
from .backend.samplers import AUTO, check_options
from .design import Design, build_design
from .design.gps import warn_if_too_coarse
from .display import model_html, model_summary, model_text
from .families import Family, get_family
from .fitted import FittedModel
from .formula import Formula
from .links import Link
from .priors import Prior, PriorSet
from .scaling import AUTOMATIC_PRIORS, resolve_priors
from .spec import ModelSpec, build_spec, check_same_rows, rebuild_arguments

if TYPE_CHECKING:
    import arviz as az

    from .backend.graph import BuiltModel
    from .backend.programs import CompiledCache

__all__ = ["Model"]

_log = logging.getLogger("bayesmm")


class Model:
    """A Bayesian (generalised) linear mixed model written as a formula.

    Parameters
    ----------
    formula : str or Formula
        An lme4-style formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``. Binomial
        responses are written ``p(successes, trials)``; ``y['level']`` picks the event of a
        bernoulli response. ``Formula("y ~ x", "sigma ~ z")`` also models auxiliary
        parameters (distributional regression; see ``docs/formulas.md``).
    data : pandas.DataFrame
        The data, one row per observation (long format).
    family : str or Family, default "gaussian"
        The response family; see ``bayesmm.families.FAMILIES``.
    priors : dict, optional
        Priors replacing the defaults, keyed by term or parameter name, e.g.
        ``{"Days": Prior("Normal", mu=0, sigma=10), "sigma": Prior("HalfNormal", sigma=50)}``.
        Keys may also be tuples of names sharing one prior, or ``"common"`` /
        ``"group_specific"`` for every term of that kind (named keys win). A number for an
        auxiliary parameter fixes it. With ``automatic_priors="mle"``, a named scale
        (``"narrow"``, ``"medium"``, ``"wide"``, ``"superwide"``) or a number in (0, 1] sets
        a term's scale on the partial-correlation scale. User priors are used as given,
        never rescaled: they are on the data's scale.
    link : str, Link or dict, optional
        The link of the family's parent parameter; the family's default if omitted. A dict
        sets links by parameter, e.g. ``{"mu": "identity", "sigma": "log"}``, including
        those of parameters with distributional formulas (default: log for positive
        parameters, logit for probabilities).
    categorical : str or list of str, optional
        Columns to treat as categorical whatever their dtype.
    dropna : bool, default False
        Drop rows with missing values in the columns the formula uses, with a warning.
        If false, missing values are an error.
    auto_scale : bool, default True
        Scale the default priors from the data (see ``docs/priors.md``). If false, the
        defaults are proper unit-scale priors (``Normal(0, 2.5)`` and the like), not flat ones.
    automatic_priors : {"default", "mle"}
        How default priors are scaled: ``"default"`` follows rstanarm's rules; ``"mle"``
        puts them on the partial-correlation scale from a maximum-likelihood GLM
        (Westfall 2017; see ``docs/priors.md``).
    noncentered : bool or "auto", default "auto"
        Use the non-centred parameterisation of group-specific effects. ``"auto"`` uses it
        for each group term whose levels have fewer than 20 rows on average, and the centred
        one otherwise, which mixes better when each level has many rows (see
        ``docs/fitting.md``).
    center_predictors : bool, default True
        Centre common predictors internally when there is an intercept. The reported
        ``Intercept`` is always on the original scale.
    weights : str or array-like, optional
        Observation weights: a column of ``data``, or one number >= 0 per row. Each row's
        log-likelihood is multiplied by its weight, so an integer weight counts the row that
        many times (frequency weights, as brms's ``weights()``). See ``docs/fitting.md``.

    Examples
    --------
    >>> import bayesmm as bmm
    >>> model = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
    >>> model.design.n_obs
    180
    """

    def __init__(
        self,
        formula: str | Formula,
        data: pd.DataFrame,
        family: str | Family = "gaussian",
        priors: Mapping[str, Prior | float] | None = None,
        link: str | Link | Mapping[str, str | Link] | None = None,
        categorical: str | Sequence[str] | None = None,
        dropna: bool = False,
        auto_scale: bool = True,
        noncentered: bool | str = "auto",
        center_predictors: bool = True,
        automatic_priors: str = "default",
        weights: str | Sequence[float] | np.ndarray | None = None,
    ) -> None:
        if automatic_priors not in AUTOMATIC_PRIORS:
            raise PriorError(choice_message("automatic_priors", automatic_priors, AUTOMATIC_PRIORS))
        if not isinstance(noncentered, bool) and noncentered != "auto":
            raise DataError(f"noncentered must be True, False or 'auto'; got {noncentered!r}.")
        self.formula = formula if isinstance(formula, Formula) else Formula(formula)
        self.family = get_family(family)
        self.link, aux_links = self.family.resolve_links(link, self.formula.distributional)
        distributional = {p: (t, aux_links[p]) for p, t in self.formula.distributional.items()}
        self.design: Design = build_design(
            self.formula.main,
            data,
            self.family,
            categorical=categorical,
            dropna=dropna,
            distributional=distributional,
            weights=weights,
            imputation=self.formula.imputation,
        )
        self.categorical = list(self.design.state.categorical) if self.design.state else []
        self.dropna = dropna
        self.auto_scale = auto_scale
        self.noncentered = noncentered
        self.center_predictors = center_predictors
        self.automatic_priors = automatic_priors
        self.weights = self.design.weights_column
        self._scales: dict[str, float] = {}
        self._user_priors: dict[Any, Any] = {}
        self._built: BuiltModel | None = None
        self.priors: PriorSet = self._resolve_priors(priors)

    def _resolve_priors(self, priors: Mapping[Any, Any] | None) -> PriorSet:
        """Defaults (with the scales given so far) merged with every user prior so far."""
        merged, self._scales, self._user_priors = resolve_priors(
            self.design,
            self.family,
            self.link,
            priors,
            automatic_priors=self.automatic_priors,
            auto_scale=self.auto_scale,
            scales=self._scales,
            user=self._user_priors,
        )
        return merged

    def set_priors(
        self,
        priors: Mapping[str, Prior | float] | None = None,
        common: Prior | str | float | None = None,
        group_specific: Prior | str | float | None = None,
    ) -> None:
        """Replace priors after construction; the same keys as ``Model(priors=...)``.

        ``common`` and ``group_specific`` set the prior (or, with ``automatic_priors="mle"``,
        the scale) of every term of that kind that ``priors`` does not name. Priors set
        earlier stay unless replaced.
        """
        merged: dict[Any, Any] = {}
        if common is not None:
            merged["common"] = common
        if group_specific is not None:
            merged["group_specific"] = group_specific
        merged.update(priors or {})
        self.priors = self._resolve_priors(merged)
        self._built = None

    def build(self) -> None:
        """Build the PyMC model without sampling; it is then at ``model.backend.model``."""
        from .backend.graph import build_model

        self._built = build_model(
            self.design,
            self.family,
            self.link,
            self.priors,
            noncentered=self.noncentered,
            center_predictors=self.center_predictors,
        )

    @property
    def backend(self) -> BuiltModel:
        """The built PyMC model (built on first access)."""
        if self._built is None:
            self.build()
        assert self._built is not None
        return self._built

    def fit(
        self,
        draws: int = 1000,
        tune: int = 1000,
        chains: int | None = None,
        inference_method: str = AUTO,
        random_seed: int | None = None,
        progressbar: bool = True,
        log_likelihood: bool | None = None,
        cache: CompiledCache | None = None,
        sufficient_statistics: bool | None = None,
        **kwargs: Any,
    ) -> az.InferenceData:
        """Sample the posterior with NUTS.

        Parameters
        ----------
        draws : int, default 1000
            Draws kept per chain.
        tune : int, default 1000
            Tuning (warm-up) draws per chain, discarded.
        chains : int, optional
            Number of chains; one per core, between 2 and 4, by default.
        inference_method : str, default "auto"
            One of "auto", "numpyro", "nutpie", "pymc", "blackjax", "vi", "pathfinder",
            "laplace".
            The NUTS implementation. ``"auto"`` picks NumPyro when JAX is installed (a
            dependency of bayesmm) and the data have at most 5,000 rows, nutpie
            otherwise (and always with a ``cache``), and PyMC's sampler if neither is
            installed; ``idata.attrs["inference_method"]`` records the choice. See
            ``docs/fitting.md`` for the measurements behind it. ``"vi"`` (ADVI),
            ``"pathfinder"`` and ``"laplace"`` are approximations checked by Pareto k-hat
            (``docs/large-data.md``).
        random_seed : int, optional
            Seed for reproducible draws.
        progressbar : bool, default True
            Show the sampler's progress bar.
        log_likelihood : bool, optional
            Store the pointwise log-likelihood so that ``az.loo(idata)`` works directly. By
            default it is stored when it takes at most 25 million values (200 MB), which covers
            every bundled dataset except the full InstEval.
        cache : bayesmm.backend.compiled.CompiledCache, optional
            The compiled nutpie samplers to reuse (``inference_method="nutpie"``, or
            ``"auto"``, which then picks nutpie). Without one, nutpie uses the process's
            shared cache (``bayesmm.backend.compiled.shared_cache()``), so a refit of the
            same structure (formula, family, priors, shapes; other data) compiles nothing on
            any route: NumPyro keeps its compiled programs too. A reused sampler draws what a
            fresh compile draws. See ``docs/many-fits.md``.
        sufficient_statistics : bool, optional
            Sample a gaussian model with the identity link from its rows summed into exact
            sufficient statistics (``bayesmm.backend.sufficient``): the same posterior, at a
            cost per step independent of the number of rows. By default (``None``) this is
            done from 10,000 rows on, when the statistics are at most a quarter the size of
            the rows; ``True`` insists (a ``DataError`` says why a model cannot), ``False``
            declines; effects on one factor (two columns at most) are integrated out, then
            drawn exactly. ``idata.attrs["likelihood"]`` says which ran (docs/large-data.md).
        **kwargs
            Passed on to the sampler (e.g. ``target_accept`` for ``"pymc"`` and
            ``"numpyro"``, ``max_tree_depth`` for ``"numpyro"``).

        Returns
        -------
        arviz.InferenceData
            With ``posterior``, ``sample_stats``, ``observed_data`` and ``log_likelihood``.

        Raises
        ------
        BackendError
            If the sampler is unknown or not installed.
        DataError
            For a bad count, seed or option (checked before any work), or options that
            cannot go together (``batch_size`` with ``sufficient_statistics=True``).
        """
        from .backend.samplers import sample

        check_counts(draws=draws, tune=tune, chains=chains)
        check_sampling(random_seed, kwargs)
        check_options(inference_method, kwargs, self.design.n_obs, sufficient_statistics)
        idata = sample(
            self.backend,
            sufficient_statistics=sufficient_statistics,
            draws=draws,
            tune=tune,
            chains=chains,
            inference_method=inference_method,
            random_seed=random_seed,
            progressbar=progressbar,
            log_likelihood=log_likelihood,
            cache=cache,
            **kwargs,
        )
        return self.annotate(idata)

    def annotate(self, idata: az.InferenceData) -> az.InferenceData:
        """Add to a fit's attributes what makes it document itself: the bayesmm version, the
        formula, the family and the link (``fit()``, ``fit_many``); warns of coarse hsgp()s."""
        warn_if_too_coarse(self.design, idata["posterior"])
        idata.attrs.update(
            {
                "bayesmm_version": __version__,
                "formula": self.formula.main,
                "family": self.family.name,
                "link": self.link.name,
            }
        )
        return idata

    def prior_predictive(
        self, draws: int = 500, random_seed: int | None = None
    ) -> az.InferenceData:
        """Draw from the priors and the prior predictive distribution, before any fitting.

        Returns
        -------
        arviz.InferenceData
            ``prior`` holds the parameters (named as in the posterior); ``prior_predictive``
            holds simulated responses with the observed response's shape.
        """
        from .backend.graph import prior_predictive

        check_count("draws", draws, minimum=1)
        return prior_predictive(self.backend, draws=draws, random_seed=random_seed)

    def plot_priors(
        self,
        draws: int = 5000,
        var_names: str | Sequence[str] | None = None,
        random_seed: int | None = None,
        hdi_prob: float | str = 0.94,
        figsize: tuple[float, float] | None = None,
        ax: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Plot the marginal prior of each parameter; works before :meth:`fit`.

        Parameters
        ----------
        draws : int, default 5000
            Draws from the prior.
        var_names : str or list of str, optional
            Parameters to plot. By default the common terms, the scales (``*_sigma``) of the
            group-specific terms and the auxiliary parameters: the group effects themselves
            share their prior and would add one panel per level.
        random_seed : int, optional
            Seed for the draws.
        hdi_prob, figsize, ax, **kwargs
            Passed to ``arviz.plot_posterior``.

        Returns
        -------
        numpy.ndarray of matplotlib.axes.Axes
            One panel per parameter (and per level of a multi-column term).
        """
        import arviz as az

        from .backend.graph import prior_predictive, prior_variables

        check_count("draws", draws, minimum=1)
        built = self.backend
        names = prior_variables(built, self.design, self.priors, var_names)
        idata = prior_predictive(built, draws=draws, random_seed=random_seed, var_names=names)
        return az.plot_posterior(
            idata,
            group="prior",
            var_names=names,
            hdi_prob=hdi_prob,
            figsize=figsize,
            ax=ax,
            **kwargs,
        )

    def fitted(self, idata: az.InferenceData) -> FittedModel:
        """Pair this model with the result of :meth:`fit`, for predictions and summaries.

        The returned :class:`~bayesmm.fitted.FittedModel` stacks the posterior once and has
        ``predict``, ``draws``, ``point``, ``interval``, ``quantiles``, ``density`` and ``r2``.
        """
        # The spec is built on first use, from this moment's design, priors and options; the
        # FittedModel keeps no reference to this Model.
        spec = partial(build_spec, *self._spec_parts())
        return FittedModel(
            self.design,
            self.family,
            self.link,
            idata,
            fixed=self.priors.fixed(),
            normal_groups=self.priors.normal_groups(),
            spec=spec,
        )

    @classmethod
    def from_fitted(
        cls,
        fitted: FittedModel,
        data: pd.DataFrame,
        priors: Mapping[str, Any] | None = None,
        *,
        require_same_data: bool = False,
    ) -> Model:
        """Rebuild the model of a fitted (or loaded) one, with the same spec, for a refit on
        ``data``.

        The formula, family, link, options and the priors as used in the fit (the defaults
        already scaled from the training data) are the same; ``priors`` overrides some of them.

        Parameters
        ----------
        fitted : FittedModel
            What ``model.fitted(idata)`` or ``bmm.load(path)`` returned.
        data : pandas.DataFrame
            The data to fit: the training data again, or new data of the same form.
        priors : dict, optional
            Priors to use instead of the stored ones, keyed like ``Model(priors=...)``.
        require_same_data : bool, default False
            Raise a DataError unless ``data`` gives the same training rows as the fit (same
            SHA-256 fingerprint of the formula's columns).

        Raises
        ------
        NotFittedError
            If ``fitted`` has no model spec.
        DataError
            If ``require_same_data`` and the rows differ.
        """
        spec = fitted.spec
        if spec is None:
            raise NotFittedError("This FittedModel has no model spec to rebuild the model from.")
        formulas, arguments = rebuild_arguments(
            spec, fitted.family, fitted.link, fitted.design, priors
        )
        model = cls(Formula(*formulas), data, **arguments)
        if require_same_data:
            state = model.design.state
            check_same_rows(spec, state.frame if state is not None else None)
        return model

    def _options(self) -> dict[str, Any]:
        return {
            "categorical": list(self.categorical),
            "dropna": self.dropna,
            "auto_scale": self.auto_scale,
            "noncentered": self.noncentered,
            "center_predictors": self.center_predictors,
            "automatic_priors": self.automatic_priors,
            # Only when given, so that specs of unweighted models are as before.
            **({"weights": self.weights} if self.weights is not None else {}),
        }

    def spec(self) -> ModelSpec:
        """Everything needed to rebuild this model, as JSON-ready values (see ``docs/io.md``).

        Raises
        ------
        DataError
            If a level or a transform's state cannot be written as JSON (e.g. dates).
        """
        return build_spec(*self._spec_parts())

    def _spec_parts(self) -> tuple[Any, ...]:
        """The arguments of ``spec.build_spec`` for this model, as it is now."""
        return (
            self.formula.main,
            self.family.name,
            self.link.name,
            self._options(),
            self.priors,
            self.design,
        )

    def save(
        self,
        path: str | os.PathLike[str],
        idata: az.InferenceData,
        *,
        posterior_only: bool = False,
        draws: int | None = None,
        sample_new_groups: bool | str = False,
        storage_options: Mapping[str, Any] | None = None,
    ) -> Path | str:
        """Save the fitted model to one portable netCDF file; ``bayesmm.load`` reads it back.

        The file holds the InferenceData, the model spec as JSON (formula, family, link, priors
        as used, levels, transform parameters, new-group policy), the library versions, and a
        SHA-256 fingerprint of the training rows. Loading it needs neither a refit, nor the
        data, nor pymc. See ``docs/io.md``.

        Parameters
        ----------
        path : str or path-like
            The file to write (``.nc`` by convention); replaced if it exists. Or a URL
            (``s3://``, ``gs://``, ...) written through fsspec when it and the
            filesystem's package are installed (the ``remote`` extra).
        idata : arviz.InferenceData
            What :meth:`fit` returned.
        posterior_only : bool, default False
            Keep only the ``posterior`` group: drop the log-likelihood, sample stats, observed
            data and training rows. The loaded model then predicts only for new data, and
            ``az.loo`` needs a refit.
        draws : int, optional
            Thin to this many draws per chain, evenly spaced.
        sample_new_groups : bool or str, default False
            The loaded model's default policy for unseen group levels.
        storage_options : mapping, optional
            For a URL: options of its fsspec filesystem (credentials, endpoint, ...).

        Returns
        -------
        pathlib.Path or str
            The path written, or the URL.
        """
        return self.fitted(idata).save(
            path,
            posterior_only=posterior_only,
            draws=draws,
            sample_new_groups=sample_new_groups,
            storage_options=storage_options,
        )

    def predict(
        self,
        idata: az.InferenceData,
        data: pd.DataFrame | None = None,
        kind: str = "response_params",
        **options: Any,
    ) -> az.InferenceData:
        """Predict for the training rows or new rows; returns a new InferenceData.

        Parameters
        ----------
        idata : arviz.InferenceData
            What :meth:`fit` returned. It is not modified.
        data : pandas.DataFrame, optional
            New rows. Without it, predicts for the training rows.
        kind : {"response_params", "response"}
            ``"response_params"``: the posterior of the family's mean parameter (``mu``,
            ``p``). ``"response"``: posterior predictive draws of the response.
        **options
            The prediction options (:class:`~bayesmm.predict.PredictOptions`):
            ``include_group_specific`` (default True; ``False`` predicts from the common
            effects), ``sample_new_groups`` (the policy for group levels not seen at fit
            time: ``False`` raises an error naming them; ``True`` or ``"uncertainty"``
            borrows a random fitted level per draw; ``"gaussian"`` draws new effects from the
            fitted population distribution; ``"old_levels"`` borrows one random fitted level
            for all draws; ``"population"`` sets the new level's effects to zero) and
            ``random_seed`` (for the response draws and the new-group policies).

        Returns
        -------
        arviz.InferenceData
            For the training rows: ``posterior`` gains the parent parameter
            (``kind="response_params"``) or ``posterior_predictive`` is added
            (``kind="response"``). For new rows: a ``predictions`` group, and the rows'
            predictors in ``predictions_constant_data``.

        Raises
        ------
        DataError
            If ``data`` lacks a column the formula uses, has missing values, a level of a
            categorical predictor not seen at fit time, or (with ``sample_new_groups=False``)
            a level of a grouping factor not seen at fit time; or an option is unknown.
        """
        return self.fitted(idata).predict(data, kind, **options)

    def __getstate__(self) -> dict[str, Any]:
        # The PyMC model is rebuilt on demand (`backend`); it is large and not always
        # picklable.
        return {**self.__dict__, "_built": None}

    def _summary(self) -> Any:
        return model_summary(self.formula, self.family, self.link, self.design, self.priors)

    def __str__(self) -> str:
        return model_text(self._summary())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        # Jupyter's rich display: the same summary as ``print(model)``, as tables.
        return model_html(self._summary())
