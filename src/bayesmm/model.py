"""The ``Model`` facade: formula and data in, InferenceData out. Each method hands explicit
arguments to the stage that does its work: ``design``, ``scaling``, ``backend``, ``spec``,
``display``, or the ``FittedModel`` for predictions and files."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import DataError, NotFittedError, PriorError
from ._validation import check_count, check_counts, check_sampling, choice_message
from ._version import __version__
from .backend.samplers import AUTO, check_options
from .design import Design, formula_design
from .design.gps import warn_if_too_coarse
from .display import model_html, model_summary, model_text, plot_prior_draws
from .families import Family, get_family
from .fitted import FittedModel
from .formula import Formula, is_multivariate
from .links import Link
from .predict.cache import StackedDraws
from .priors import Prior, PriorSet
from .scaling import AUTOMATIC_PRIORS, GivenPriors
from .spec import MODEL_OPTIONS, ModelSpec, build_spec, check_same_rows, rebuild_arguments

if TYPE_CHECKING:
    import arviz as az

    from .backend.graph import BuiltModel
    from .backend.programs import CompiledCache

__all__ = ["Model"]


class Model:
    """A Bayesian (generalised) linear mixed model written as a formula.

    Parameters
    ----------
    formula : str or Formula
        An lme4-style formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``; binomial responses
        are written ``p(successes, trials)``, and ``y['level']`` picks a bernoulli response's
        event. ``Formula("y ~ x", "sigma ~ z")`` also models auxiliary parameters
        (distributional regression; ``docs/formulas.md``). A multivariate formula makes a
        ``bayesmm.mv.MvModel`` (``Formula + Formula``, ``"mvbind(y1, y2) ~ x"``).
    data : pandas.DataFrame
        The data, one row per observation (long format).
    family : str or Family, default "gaussian"
        The response family; see ``bayesmm.families.FAMILIES``.
    priors : dict, optional
        Priors replacing the defaults, by term or parameter name, e.g.
        ``{"Days": Prior("Normal", mu=0, sigma=10), "sigma": Prior("HalfNormal", sigma=50)}``;
        or by a tuple of names, or ``"common"`` / ``"group_specific"`` for every term of that
        kind (named keys win). A number fixes an auxiliary parameter; with
        ``automatic_priors="mle"``, a named scale (``"narrow"``, ..., ``"superwide"``) or a
        number in (0, 1] sets a term's scale on the partial-correlation scale. User priors are
        used as given, never rescaled (``docs/priors.md``).
    link : str, Link or dict, optional
        The link of the family's parent parameter (the family's default if omitted), or links
        by parameter, e.g. ``{"mu": "identity", "sigma": "log"}``, those of distributional
        formulas included (default: log for positive parameters, logit for probabilities).
    categorical : str or list of str, optional
        Columns to treat as categorical whatever their dtype.
    dropna : bool, default False
        Drop rows missing a value the formula uses, with a warning; else they are an error.
    auto_scale : bool, default True
        Scale the default priors from the data; else unit-scale ones (``Normal(0, 2.5)``...).
    automatic_priors : {"default", "mle"}
        How default priors are scaled: by rstanarm's rules, or on the partial-correlation scale
        of a maximum-likelihood GLM (Westfall 2017); see ``docs/priors.md``.
    noncentered : bool or "auto", default "auto"
        Use the non-centred parameterisation of group-specific effects; ``"auto"`` uses it for
        each group term whose levels have fewer than 20 rows on average, the centred one
        otherwise (``docs/fitting.md``).
    center_predictors : bool, default True
        Centre common predictors internally (with an intercept, reported on the data's scale).
    weights : str or array-like, optional
        Frequency weights, as brms's ``weights()``: a column of ``data``, or one number >= 0 per
        row, multiplying the row's log-likelihood (``docs/fitting.md``).

    Examples
    --------
    >>> import bayesmm as bmm
    >>> model = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
    >>> model.design.n_obs
    180
    """

    def __new__(cls, formula: Any = None, *args: Any, **kwargs: Any) -> Any:
        if is_multivariate(formula):  # a bayesmm.mv.MvModel (docs/multivariate.md)
            return import_module("bayesmm.mv").MvModel(formula, *args, **kwargs)
        return super().__new__(cls)

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
        self.link, links = self.family.resolve_links(link, self.formula.distributional)
        self.design: Design = formula_design(
            self.formula, data, self.family, links, categorical, dropna, weights
        )
        self.categorical = list(self.design.state.categorical) if self.design.state else []
        self.dropna = dropna
        self.auto_scale = auto_scale
        self.noncentered = noncentered
        self.center_predictors = center_predictors
        self.automatic_priors = automatic_priors
        self.weights = self.design.weights_column
        self._given = GivenPriors()  # the user's priors and scales, kept for set_priors
        self._built: BuiltModel | None = None
        self._stacked = StackedDraws()  # each live InferenceData's draws, for predict()
        self.priors: PriorSet = self._given.resolve(
            self.design, self.family, self.link, priors, automatic_priors, auto_scale
        )

    def set_priors(
        self,
        priors: Mapping[str, Prior | float] | None = None,
        common: Prior | str | float | None = None,
        group_specific: Prior | str | float | None = None,
    ) -> None:
        """Replace priors after construction; the same keys as ``Model(priors=...)``.

        ``common`` and ``group_specific`` set the prior (or, with ``automatic_priors="mle"``,
        the scale) of every term of that kind that ``priors`` does not name. Priors set earlier
        stay unless replaced.
        """
        kinds = (("common", common), ("group_specific", group_specific))
        merged = {kind: value for kind, value in kinds if value is not None}
        merged.update(priors or {})
        self.priors = self._given.resolve(
            self.design, self.family, self.link, merged, self.automatic_priors, self.auto_scale
        )
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
        """Sample the posterior with NUTS, or approximate it.

        Parameters
        ----------
        draws : int, default 1000
            Draws kept per chain.
        tune : int, default 1000
            Tuning (warm-up) draws per chain, discarded.
        chains : int, optional
            Number of chains; one per core, between 2 and 4, by default.
        inference_method : str, default "auto"
            NUTS by ``"numpyro"``, ``"nutpie"``, ``"pymc"`` or ``"blackjax"``; ``"auto"`` picks
            NumPyro for at most 5,000 rows, nutpie otherwise or with a ``cache``, PyMC's sampler
            if neither is installed (``docs/fitting.md``). Or an approximation checked by Pareto
            k-hat: ``"vi"``, ``"pathfinder"``, ``"laplace"`` (``docs/large-data.md``).
            ``idata.attrs["inference_method"]`` records what ran.
        random_seed : int, optional
            Seed for reproducible draws.
        progressbar : bool, default True
            Show the sampler's progress bar.
        log_likelihood : bool, optional
            Store the pointwise log-likelihood, for ``az.loo(idata)``; by default when it takes
            at most 25 million values (200 MB).
        cache : bayesmm.backend.programs.CompiledCache, optional
            The compiled nutpie samplers to reuse; by default the process's shared cache, so a
            refit of the same structure on other data compiles nothing (``docs/many-fits.md``).
        sufficient_statistics : bool, optional
            Sample a gaussian model with the identity link from exact sufficient statistics of
            its rows: the same posterior, at a cost per step independent of the rows. By default
            from 10,000 rows on, when the statistics are at most a quarter the rows' size;
            ``True`` insists (a ``DataError`` says why a model cannot), ``False`` declines.
            ``idata.attrs["likelihood"]`` says which ran (``docs/large-data.md``).
        **kwargs
            Passed on to the sampler (e.g. ``target_accept`` for ``"pymc"`` and ``"numpyro"``,
            ``max_tree_depth`` for ``"numpyro"``).

        Returns
        -------
        arviz.InferenceData
            With ``posterior``, ``sample_stats``, ``observed_data`` and ``log_likelihood``.

        Raises
        ------
        BackendError
            If the sampler is unknown or not installed.
        DataError
            For a bad count, seed or option (checked before any work), or options that cannot
            go together (``batch_size`` with ``sufficient_statistics=True``).
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
        names = {"formula": self.formula.main, "family": self.family.name, "link": self.link.name}
        idata.attrs.update({"bayesmm_version": __version__, **names})
        return idata

    def prior_predictive(
        self, draws: int = 500, random_seed: int | None = None
    ) -> az.InferenceData:
        """Draw from the priors and the prior predictive distribution, before any fitting:
        ``prior`` holds the parameters (named as in the posterior), ``prior_predictive``
        simulated responses with the observed response's shape (an ``arviz.InferenceData``)."""
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
        """Plot the marginal prior of each parameter from ``draws`` draws; works before
        :meth:`fit`.

        ``var_names`` are the parameters to plot: by default the common terms, the scales
        (``*_sigma``) of the group-specific terms and the auxiliary parameters (the group effects
        share their prior, and would add one panel per level). ``random_seed`` seeds the draws;
        ``hdi_prob``, ``figsize``, ``ax`` and ``kwargs`` go to ``arviz.plot_posterior``, whose
        numpy array of matplotlib axes is returned: one panel per parameter (and per level of a
        multi-column term).
        """
        from .backend.graph import prior_predictive, prior_variables

        check_count("draws", draws, minimum=1)
        built = self.backend
        names = prior_variables(built, self.design, self.priors, var_names)
        idata = prior_predictive(built, draws=draws, random_seed=random_seed, var_names=names)
        return plot_prior_draws(idata, names, hdi_prob=hdi_prob, figsize=figsize, ax=ax, **kwargs)

    def fitted(self, idata: az.InferenceData) -> FittedModel:
        """Pair this model with the result of :meth:`fit`, for predictions and summaries.

        The returned :class:`~bayesmm.fitted.FittedModel` stacks the posterior once and has
        ``predict``, ``draws``, ``point``, ``interval``, ``quantiles``, ``density`` and ``r2``.
        """
        # The spec: built on first use, from this moment's model; no reference to this Model.
        spec = partial(build_spec, **self._spec_parts())
        fixed, normal_groups = self.priors.fixed(), self.priors.normal_groups()
        return FittedModel(
            self.design,
            self.family,
            self.link,
            idata,
            fixed=fixed,
            normal_groups=normal_groups,
            spec=spec,
            stacked=self._stacked.get(idata, fixed, normal_groups),
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
        ``data``: the training data again, or new data of the same form.

        ``fitted`` is what ``model.fitted(idata)`` or ``bmm.load(path)`` returned. The formula,
        family, link, options and the priors as used in the fit (the defaults already scaled
        from the training data) are the same; ``priors``, keyed like ``Model(priors=...)``,
        replaces some of them.

        Raises
        ------
        NotFittedError
            If ``fitted`` has no model spec.
        DataError
            With ``require_same_data=True``, unless ``data`` gives the same training rows as the
            fit (the same SHA-256 fingerprint of the formula's columns).
        """
        spec = fitted.spec
        if spec is None:
            raise NotFittedError("This FittedModel has no model spec to rebuild the model from.")
        formulas, arguments = rebuild_arguments(
            spec, fitted.family, fitted.link, fitted.design, priors
        )
        model = cls(Formula(*formulas), data, **arguments)
        if require_same_data:
            check_same_rows(spec, model.design)
        return model

    def spec(self) -> ModelSpec:
        """Everything needed to rebuild this model, as JSON-ready values (see ``docs/io.md``);
        a ``DataError`` if a level or a transform's state cannot be written as JSON (dates)."""
        return build_spec(**self._spec_parts())

    def _spec_parts(self) -> dict[str, Any]:
        """The arguments of ``spec.build_spec`` for this model, as it is now."""
        options = {name: getattr(self, name) for name in MODEL_OPTIONS}
        names = {"formula": self.formula.main, "family": self.family.name, "link": self.link.name}
        parts = {"options": options, "priors": self.priors, "design": self.design}
        return {**names, **parts, "given": self._given.names(self.priors)}

    def save(
        self,
        path: str | os.PathLike[str],
        idata: az.InferenceData,
        *,
        posterior_only: bool = False,
        draws: int | None = None,
        sample_new_groups: bool | str = False,
        storage_options: Mapping[str, Any] | None = None,
        statistics: bool | None = None,
    ) -> Path | str:
        """Save the fitted model to one portable netCDF file, which ``bayesmm.load`` reads back
        with neither a refit, nor the data, nor pymc; returns the path written, or the URL.

        The file holds ``idata`` (what :meth:`fit` returned), the model spec as JSON, the
        library versions and a SHA-256 fingerprint of the training rows (``docs/io.md``).
        ``path`` (``.nc`` by convention) is replaced if it exists; a URL (``s3://``, ``gs://``,
        ...) is written through fsspec (the ``remote`` extra), with ``storage_options`` for its
        filesystem (credentials, endpoint, ...). ``posterior_only=True`` keeps only the
        ``posterior`` group: the loaded model then predicts only for new data, and ``az.loo``
        needs a refit. ``draws`` thins each chain to that many evenly spaced draws.
        ``sample_new_groups`` is the loaded model's default policy for unseen group levels.
        ``statistics`` stores the sufficient statistics an update adds to (``docs/updates.md``).
        """
        options: dict[str, Any] = {"posterior_only": posterior_only, "draws": draws}
        options.update(storage_options=storage_options, statistics=statistics)
        return self.fitted(idata).save(path, sample_new_groups=sample_new_groups, **options)

    def predict(
        self,
        idata: az.InferenceData,
        data: pd.DataFrame | None = None,
        kind: str = "response_params",
        **options: Any,
    ) -> az.InferenceData:
        """Predict for the training rows (``data=None``) or new rows; returns a new
        InferenceData, and leaves ``idata`` (what :meth:`fit` returned) as it is.

        ``kind="response_params"`` predicts the family's mean parameter (``mu``, ``p``), and
        ``kind="response"`` draws responses: for the training rows, into ``posterior`` or a
        ``posterior_predictive`` group; for new rows, into ``predictions``, with their
        predictors in ``predictions_constant_data`` (``docs/prediction.md``). ``options`` are
        the prediction options, as for :class:`~bayesmm.fitted.FittedModel`:
        ``include_group_specific``, ``sample_new_groups`` (the policy for group levels not seen
        at fit time; by default they are an error) and ``random_seed``.

        Raises
        ------
        DataError
            If ``data`` lacks a column the formula uses, has missing values or a level not seen
            at fit time (of a grouping factor, unless ``sample_new_groups`` says what to do), or
            an option is unknown.
        """
        fitted = self.fitted(idata)  # the draws stacked once per live idata (predict.cache)
        self._stacked.keep(idata, fitted.posterior_draws, fitted.fixed, fitted.normal_groups)
        return fitted.predict(data, kind, **options)

    def __getstate__(self) -> dict[str, Any]:
        # The PyMC model is rebuilt on demand (`backend`): it is large, and not always picklable.
        return {**self.__dict__, "_built": None, "_stacked": StackedDraws()}

    def _summary(self) -> Any:
        return model_summary(self.formula, self.family, self.link, self.design, self.priors)

    def __str__(self) -> str:
        return model_text(self._summary())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        # Jupyter's rich display: the same summary as ``print(model)``, as tables.
        return model_html(self._summary())
