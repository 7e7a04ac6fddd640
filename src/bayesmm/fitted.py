"""``FittedModel``: a design, a family and a posterior, predicting with numpy alone."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ._errors import DataError, NotFittedError
from ._names import CATEGORY_DIM, OBS_DIM
from ._validation import check_bins, check_probabilities
from .design import Design, NewDesign, Truncation
from .design.moments import STATISTICS_GROUP, statistics_to_save
from .design.state import rows_to_predict, training_frame
from .display import fitted_html, fitted_text
from .families import Family
from .links import Link
from .persist import netcdf
from .predict import (
    PosteriorDraws,
    PredictOptions,
    check_interval,
    check_kind,
    extract_draws,
    family_params,
    linear_predictors,
    predictive_draws,
    resolve_policy,
    tables,
)
from .predict.chunks import DEFAULT_CHUNK_ROWS, Chunked
from .predict.fit_checks import FitChecks
from .predict.groups import FitGroups
from .predict.pointwise import observed_response, pointwise_log_likelihood
from .spec import ModelSpec, spec_to_save

if TYPE_CHECKING:
    import arviz as az

    from .model import Model

__all__ = ["FittedModel", "OBS_DIM", "CATEGORY_DIM"]


class FittedModel(FitChecks):
    """A fitted model that predicts for any rows from its posterior draws.

    Every method takes ``data`` (a DataFrame of new rows, or ``None`` for the training rows)
    and the same prediction options:

    - ``kind``: ``"response_params"`` for the posterior of the family's mean parameter
      (``mu``, ``p``), or ``"response"`` for posterior predictive draws of the response;
    - ``include_group_specific``: ``False`` predicts with the common effects alone;
    - ``sample_new_groups``: what to do with group levels not seen at fit time, one of
      ``False`` (an error), ``True`` or ``"uncertainty"``, ``"gaussian"``, ``"old_levels"``,
      ``"population"`` (see ``docs/prediction.md``); ``None`` (the default) uses the
      model's own default, given when it was saved;
    - ``random_seed``: an int or ``numpy.random.Generator``, for the draws of responses and of
      new groups.

    Predictions are computed with numpy from the stacked draws; no graph is compiled.

    Parameters
    ----------
    design : Design
        The design the model was fitted on (its ``state`` encodes new data).
    family : Family
        The response family.
    link : Link
        The link of the family's parent parameter.
    idata : arviz.InferenceData or mapping of str to xarray.Dataset
        What ``Model.fit`` returned, or its groups (a loaded model makes the InferenceData
        only when asked for it, so that predicting does not import ArviZ).
    fixed : mapping of str to float, optional
        Auxiliary parameters fixed to a number instead of sampled.
    normal_groups : sequence of str, optional
        Group terms with a ``Normal(mu, sigma)`` prior, whose population distribution the
        ``"gaussian"`` policy draws new levels from.
    spec : ModelSpec or callable returning one, optional
        What the model is, for :meth:`save` and :meth:`to_model`.
    sample_new_groups : bool or str, default False
        The policy for unseen group levels when a method is not given one.
    source : dict, optional
        For a loaded model: the file's path, format version, library versions and save time.
    stacked : PosteriorDraws, optional
        The posterior already stacked from ``idata`` (``Model`` keeps it for each live
        InferenceData, :mod:`bayesmm.predict.cache`); by default stacked on first use.

    Examples
    --------
    >>> fitted = model.fitted(idata)  # doctest: +SKIP
    >>> fitted.interval(pd.DataFrame({"Days": [3], "Subject": ["new"]}),
    ...                 prob=0.9, sample_new_groups="gaussian")  # doctest: +SKIP
    """

    def __init__(
        self,
        design: Design,
        family: Family,
        link: Link,
        idata: az.InferenceData | Mapping[str, xr.Dataset],
        *,
        fixed: Mapping[str, float] | None = None,
        normal_groups: Sequence[str] = (),
        spec: ModelSpec | Callable[[], ModelSpec] | None = None,
        sample_new_groups: bool | str = False,
        source: Mapping[str, Any] | None = None,
        attrs: Mapping[str, Any] | None = None,
        stacked: PosteriorDraws | None = None,
    ) -> None:
        self._fit = FitGroups(idata, attrs)
        self.design = design
        self.family = family
        self.link = link
        self.fixed = dict(fixed or {})
        self.normal_groups = tuple(normal_groups)
        resolve_policy(sample_new_groups)
        self.sample_new_groups = sample_new_groups
        self.source = dict(source) if source is not None else None
        self._spec = spec
        self._draws: PosteriorDraws | None = stacked

    @property
    def idata(self) -> az.InferenceData:
        """The InferenceData of the fit (for a loaded model, made on first use)."""
        return self._fit.idata

    @property
    def spec(self) -> ModelSpec | None:
        """The model spec (formula, family, priors as used, design state), if known."""
        if callable(self._spec):
            self._spec = self._spec()
        return self._spec

    @property
    def data_sha256(self) -> str | None:
        """SHA-256 fingerprint of the training rows (see ``bayesmm.spec.data_fingerprint``)."""
        return None if self.spec is None else self.spec.data_sha256

    @property
    def posterior_draws(self) -> PosteriorDraws:
        """The posterior stacked into arrays (computed once)."""
        if self._draws is None:
            self._draws = extract_draws(
                self._fit.group("posterior"),
                self.design,
                self.family.aux_params,
                self.fixed,
                self.normal_groups,
            )
        return self._draws

    def draws(
        self, data: pd.DataFrame | None = None, kind: str = "response_params", **options: Any
    ) -> np.ndarray:
        """Posterior draws for each row, shape ``(draws, rows)``, chains stacked.

        ``options`` are the prediction options of :class:`~bayesmm.predict.PredictOptions`
        (``include_group_specific``, ``sample_new_groups``, ``random_seed``, ``n_samples``);
        ``n_samples`` uses that many evenly spaced posterior draws instead of all of them.
        """
        check_kind(kind)
        chosen = PredictOptions.from_kwargs(**options).seeded()
        rows = rows_to_predict(self.design, data)
        params = self._params(rows, chosen, need_spread=kind != "response_params")
        if kind == "response_params":
            return params[self.family.parent]
        model = (self._truncation, chosen.draws_from(self.posterior_draws), self.design)
        return predictive_draws(self.family, params, rows, chosen.rng(), *model)

    @property
    def _truncation(self) -> Truncation | None:  # a truncated response's bounds, as written
        return self.design.state.truncation if self.design.state is not None else None

    def parameters(self, data: pd.DataFrame | None = None, **options: Any) -> dict[str, np.ndarray]:
        """Every parameter of the family for each posterior draw and row: the parent and the
        parameters with distributional formulas ``(draws, rows)``, the other auxiliary
        parameters ``(draws, 1)``; ``options`` as for :meth:`draws`."""
        chosen = PredictOptions.from_kwargs(**options).seeded()
        return self._params(rows_to_predict(self.design, data), chosen)

    def linear_predictors(
        self, data: pd.DataFrame | None = None, **options: Any
    ) -> dict[str, np.ndarray]:
        """The linear predictor of each formula for each posterior draw and row, ``(draws,
        rows)``: the main formula's under the parent's name (``"mu"``), each distributional
        formula's under its parameter's; ``options`` as for :meth:`draws`."""
        chosen = PredictOptions.from_kwargs(**options).seeded()
        draws = chosen.draws_from(self.posterior_draws)
        policy = chosen.policy(self.sample_new_groups)
        return linear_predictors(
            draws,
            rows_to_predict(self.design, data),
            self.design,
            self.family.parent,
            chosen,
            policy=policy,
        )

    @property
    def training_rows(self) -> pd.DataFrame:
        """The rows the model was fitted on (the columns its formulas use).

        Raises
        ------
        DataError
            For a model saved without them (``posterior_only=True``).
        """
        return training_frame(self.design)

    def _params(self, rows: NewDesign, options: PredictOptions, **extra: Any) -> dict[str, Any]:
        """The family's parameters for each (posterior draw, row); ``extra``: ``need_spread``
        or ``observed`` (see :func:`~bayesmm.predict.params.family_params`)."""
        policy = options.policy(self.sample_new_groups)
        draws = options.draws_from(self.posterior_draws)
        model = (self.design, self.family, self.link)
        return family_params(draws, rows, *model, options, policy=policy, **extra)

    def log_likelihood(self, data: pd.DataFrame, y: Any, **options: Any) -> np.ndarray:
        """Pointwise log-likelihood of responses ``y`` of new rows, shape ``(draws, rows)``.

        ``log(mean(exp(.), axis=0))`` of it is each row's log predictive density, the basis
        of the ``log_predictive_density`` scorer of :mod:`bayesmm.sklearn`. ``y`` holds the
        responses on the family's scale: 0/1 for bernoulli, successes for binomial (the
        trials come from ``data``), a count of each category per row for multinomial.
        ``options`` are the prediction options (see :meth:`draws`).

        Raises
        ------
        DataError
            If ``y`` is not one number per row of ``data``, or outside the family's support.
        FamilyError
            If the family has no numpy log density (``Likelihood(logpdf=...)``).
        """
        chosen = PredictOptions.from_kwargs(**options).seeded()
        rows = rows_to_predict(self.design, data)
        values = observed_response(self.family, self.design.response, y, rows)
        params = self._params(rows, chosen, observed=values)
        return pointwise_log_likelihood(self.family, params, values, rows, self._truncation)

    def predict(
        self, data: pd.DataFrame | None = None, kind: str = "response_params", **options: Any
    ) -> az.InferenceData:
        """Predictions as a new InferenceData; the fit's own InferenceData is not changed.

        For the training rows (``data=None``), ``kind="response_params"`` adds the family's
        parent parameter (e.g. ``mu``) to ``posterior``, and ``kind="response"`` adds
        ``posterior_predictive``, so ``az.plot_ppc`` works. For new rows both go in
        ``predictions``, with the rows' predictors in ``predictions_constant_data`` (ArviZ's
        convention). ``options`` are the prediction options (see :meth:`draws`).
        """
        if "n_samples" in options:
            raise DataError(
                "predict() keeps every posterior draw, so that its chains and draws match the "
                "posterior's; use draws(..., n_samples=...) for fewer."
            )
        values = self.draws(data, kind, **options)
        name = self.family.parent if kind == "response_params" else self.design.response.name
        posterior = self._fit.group("posterior")
        array = tables.prediction_array(values, posterior, self.design.response.levels, name)
        predictors = self.design.state.predictors if self.design.state is not None else ()
        return tables.predictions_idata(self.idata, name, array, data, kind, predictors)

    def point(
        self,
        data: pd.DataFrame | None = None,
        stat: str = "mean",
        kind: str = "response_params",
        **options: Any,
    ) -> pd.DataFrame:
        """Posterior mean or median of each row, one column named by ``stat``.

        For a family of categories, one column per category (``"mean[1]"``, ...):
        ``kind="response_params"`` gives the ``stat`` of each category's probability;
        ``kind="response"`` gives the share of each category among the predictive draws,
        which estimates the predictive probability of each category (only ``stat="mean"``).

        Raises
        ------
        DataError
            If ``stat="median"`` with ``kind="response"`` for a family of categories.
        """
        values = self.draws(data, kind, **options)
        levels = self.design.response.levels
        values = self.family.point_draws(values, levels, kind, stat)
        return tables.point_table(values, stat, levels, tables.row_index(data, values))

    def interval(
        self,
        data: pd.DataFrame | None = None,
        prob: float = 0.9,
        method: str = "hdi",
        kind: str = "response",
        **options: Any,
    ) -> pd.DataFrame:
        """A ``prob`` interval of each row: columns ``lower`` and ``upper``.

        ``method="hdi"`` gives the highest-density interval, ``"eti"`` the equal-tailed one.
        The default ``kind="response"`` gives a predictive interval for new observations;
        ``kind="response_params"`` gives a credible interval of the mean.
        """
        check_interval(prob, method)
        values = self.draws(data, kind, **options)
        levels = self.design.response.levels
        return tables.interval_table(values, prob, method, levels, tables.row_index(data, values))

    def quantiles(
        self,
        data: pd.DataFrame | None = None,
        probs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
        kind: str = "response",
        **options: Any,
    ) -> pd.DataFrame:
        """Quantiles of each row's predictive distribution: one column per probability."""
        probs = check_probabilities("probs", probs)
        values = self.draws(data, kind, **options)
        levels = self.design.response.levels
        return tables.quantile_table(values, probs, levels, tables.row_index(data, values))

    def density(
        self,
        data: pd.DataFrame | None = None,
        bins: int | Sequence[float] = 20,
        kind: str = "response",
        **options: Any,
    ) -> pd.DataFrame:
        """A histogram density of each row's predictive draws.

        Columns ``edges`` (``bins + 1`` numbers) and ``density`` (``bins`` numbers), one array
        each per row; ``sum(density * diff(edges))`` is 1.
        """
        checked = check_bins(bins)  # before drawing
        values = self.draws(data, kind, **options)
        return tables.density_table(
            values, checked, tables.row_index(data, values), self.family.name, kind
        )

    def chunked(self, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Chunked:
        """This model's ``point``, ``interval``, ``quantiles`` and ``density`` for new rows,
        ``chunk_rows`` rows at a time (:mod:`bayesmm.predict.chunks`), for more rows than
        their draws fit in memory."""
        summaries: dict[str, Callable[..., pd.DataFrame]] = {
            "point": self.point,
            "interval": self.interval,
            "quantiles": self.quantiles,
            "density": self.density,
        }
        return Chunked(lambda name, rows, **options: summaries[name](rows, **options), chunk_rows)

    def loo(
        self,
        chunk_rows: int = 20_000,
        *,
        reloo: bool = False,
        k_threshold: float = 0.7,
        max_refits: int | None = None,
        **fit_kwargs: Any,
    ) -> az.ELPDData:
        """PSIS-LOO of the training rows (``FitChecks.loo``); ``reloo=True`` refits without each
        row whose Pareto k exceeds ``k_threshold`` (brms's ``reloo``): a shortcut for
        :func:`bayesmm.workflow.exact_loo.reloo`, listed in the import contract."""
        if not reloo:
            return super().loo(chunk_rows)
        from .workflow.exact_loo import reloo as exact

        return exact(self, k_threshold, max_refits, **fit_kwargs)

    def plot_ppc(
        self, kind: str = "density", data: pd.DataFrame | None = None, **options: Any
    ) -> Any:
        """A posterior predictive check, as matplotlib axes: ``kind`` one of ``"density"``,
        ``"stat"`` (``stat=``), ``"intervals"`` (``group=``), ``"bars"``, ``"loo_pit"``; on
        the training rows, or on ``data`` with its observed responses. A shortcut for
        :func:`bayesmm.workflow.ppc.plot_ppc` (see there), the one call from a fitted model up
        to the workflow layer, listed as such in the import contract (``pyproject.toml``).
        """
        from .workflow.ppc import plot_ppc

        return plot_ppc(self, kind, data, **options)

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        posterior_only: bool = False,
        draws: int | None = None,
        sample_new_groups: bool | str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        statistics: bool | None = None,
    ) -> Path | str:
        """Write this model to one netCDF file, atomically; see :meth:`bayesmm.Model.save`."""
        spec = self.spec
        if spec is None:
            raise NotFittedError(
                "This FittedModel has no model spec to save; save it with model.save(path, idata)."
            )
        spec = spec_to_save(spec, self.family, self.link, sample_new_groups)
        frame = self.design.state.frame if self.design.state is not None else None
        model = (self.design, self.family, self.link, self._fit.get(STATISTICS_GROUP))
        summed = {STATISTICS_GROUP: statistics_to_save(*model, self._fit.attrs, statistics)}
        contents = (spec.to_dict(), spec.data_sha256, posterior_only, draws, summed)
        groups, attrs = netcdf.fit_contents(self.idata, frame, *contents)
        return netcdf.write(path, groups, attrs, storage_options)

    def update(self, new_rows: pd.DataFrame, **fit_kwargs: Any) -> FittedModel:
        """This model updated with new rows: :func:`bayesmm.workflow.update.update`'s shortcut."""
        from .workflow.update import update

        return update(self, new_rows, **fit_kwargs)

    def to_model(
        self,
        data: pd.DataFrame,
        priors: Mapping[str, Any] | None = None,
        *,
        require_same_data: bool = False,
    ) -> Model:
        """Rebuild the :class:`~bayesmm.Model` with the same spec, for a refit on ``data``.

        A shortcut for :meth:`bayesmm.Model.from_fitted` (see there), kept where users of
        a loaded model look for it. It is the one call from a fitted model up to the
        ``Model`` layer, listed as such in the import contract (``pyproject.toml``).
        """
        from .model import Model

        return Model.from_fitted(self, data, priors, require_same_data=require_same_data)

    def __repr__(self) -> str:
        posterior = self._fit.group("posterior")
        return fitted_text(self.design.formula, self.family, self.link, posterior)

    def _repr_html_(self) -> str | None:
        """Jupyter's rich display: the model, the sampler and a table of the posterior of
        the common terms and auxiliary parameters. Shows what there is: a model saved with
        ``posterior_only=True`` has no sample stats."""
        try:
            model = (self.design, self.family, self.link)
            groups = (self._fit.group("posterior"), self._fit.get("sample_stats"))
            return fitted_html(*model, *groups, self.fixed, self._fit.attrs)
        except Exception:
            # A display hook must not raise; None makes Jupyter show the text repr instead.
            return None
