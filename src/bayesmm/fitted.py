"""``FittedModel``: a design, a family and a posterior, predicting with numpy alone."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from ._describe import _describe_fitted_html
from ._errors import DataError, FamilyError, NotFittedError
from .design import Design, NewDesign
from .families import Family
from .formula import Formula
from .links import Link
from .predict import (
    PosteriorDraws,
    check_kind,
    density,
    extract_draws,
    family_params,
    interval,
    point_estimate,
    quantiles,
    resolve_policy,
    response_draws,
)
from .spec import ModelSpec, data_fingerprint

if TYPE_CHECKING:
    import arviz as az

    from .model import Model

__all__ = ["FittedModel"]

OBS_DIM = "__obs__"
#: The dimension of the category probabilities of a family of categories.
CATEGORY_DIM = "__category__"


class FittedModel:
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
    ) -> None:
        # An InferenceData (itself a Mapping of groups), or the groups read from a file.
        self._groups: dict[str, xr.Dataset] | None = None
        self._idata: az.InferenceData | None = None
        names: list[str] = []
        if callable(getattr(idata, "groups", None)):
            self._idata = idata  # type: ignore[assignment]
            names = list(idata.groups())  # type: ignore[union-attr]
        elif isinstance(idata, Mapping):
            self._groups = dict(idata)
            names = list(self._groups)
        if "posterior" not in names:
            raise NotFittedError(
                "idata must be the arviz.InferenceData that Model.fit() returned, with a "
                f"posterior group; got {type(idata).__name__}."
            )
        self._attrs = dict(attrs or {})
        self.design = design
        self.family = family
        self.link = link
        self.fixed = dict(fixed or {})
        self.normal_groups = tuple(normal_groups)
        resolve_policy(sample_new_groups)
        self.sample_new_groups = sample_new_groups
        self.source = dict(source) if source is not None else None
        self._spec = spec
        self._draws: PosteriorDraws | None = None

    @property
    def idata(self) -> az.InferenceData:
        """The InferenceData of the fit (for a loaded model, made on first use)."""
        if self._idata is None:
            import arviz as az

            assert self._groups is not None
            idata = az.InferenceData(**self._groups)  # type: ignore[arg-type]
            idata.attrs = dict(self._attrs)
            self._idata = idata
        return self._idata

    def _group(self, name: str) -> xr.Dataset:
        return self._groups[name] if self._groups is not None else self.idata[name]

    @property
    def spec(self) -> ModelSpec | None:
        """The model spec (formula, family, priors as used, design state), if known."""
        if callable(self._spec):
            self._spec = self._spec()
        return self._spec

    @property
    def data_sha256(self) -> str | None:
        """SHA-256 fingerprint of the training rows (see ``bayesmm.spec.data_fingerprint``)."""
        spec = self.spec
        return spec.data_sha256 if spec is not None else None

    @property
    def posterior_draws(self) -> PosteriorDraws:
        """The posterior stacked into arrays (computed once)."""
        if self._draws is None:
            self._draws = extract_draws(
                self._group("posterior"),
                self.design,
                self.family.aux_params,
                self.fixed,
                self.normal_groups,
            )
        return self._draws

    def _rows(self, data: pd.DataFrame | None) -> NewDesign:
        if data is None:
            self._require_training_rows()
            return self.design.rows()
        if self.design.state is None:
            raise DataError("This design has no state to encode new data with.")
        return self.design.state.encode(data)

    def _require_training_rows(self) -> None:
        if self.design.n_obs == 0:
            raise DataError(
                "This model was saved without its training rows (posterior_only=True), so it "
                "cannot predict for them: pass data, the rows to predict for."
            )

    def draws(
        self,
        data: pd.DataFrame | None = None,
        kind: str = "response_params",
        *,
        include_group_specific: bool = True,
        sample_new_groups: bool | str | None = None,
        random_seed: int | np.random.Generator | None = None,
        n_samples: int | None = None,
    ) -> np.ndarray:
        """Posterior draws for each row, shape ``(draws, rows)``, chains stacked.

        ``n_samples`` uses that many evenly spaced posterior draws instead of all of them.
        """
        check_kind(kind)
        rng = np.random.default_rng(random_seed)
        rows = self._rows(data)
        params = self._params(rows, include_group_specific, sample_new_groups, rng, n_samples)
        if kind == "response_params":
            return params[self.family.parent]
        return response_draws(self.family, params, rows.trials, rng)

    def _params(
        self,
        rows: NewDesign,
        include_group_specific: bool,
        sample_new_groups: bool | str | None,
        rng: np.random.Generator,
        n_samples: int | None,
    ) -> dict[str, np.ndarray]:
        """The family's parameters for each (posterior draw, row)."""
        if sample_new_groups is None:
            sample_new_groups = self.sample_new_groups
        policy = resolve_policy(sample_new_groups)
        draws = self.posterior_draws
        if n_samples is not None:
            draws = draws.thinned(n_samples)
        return family_params(
            draws,
            rows,
            self.design,
            self.family,
            self.link,
            policy=policy,
            include_group_specific=include_group_specific,
            rng=rng,
        )

    def log_likelihood(
        self,
        data: pd.DataFrame,
        y: Any,
        *,
        include_group_specific: bool = True,
        sample_new_groups: bool | str | None = None,
        random_seed: int | np.random.Generator | None = None,
        n_samples: int | None = None,
    ) -> np.ndarray:
        """Pointwise log-likelihood of responses ``y`` of new rows, shape ``(draws, rows)``.

        ``log(mean(exp(.), axis=0))`` of it is each row's log predictive density, the basis
        of the ``log_predictive_density`` scorer of :mod:`bayesmm.sklearn`. ``y`` holds the
        responses on the family's scale: 0/1 for bernoulli, successes for binomial (the
        trials come from ``data``).

        Raises
        ------
        DataError
            If ``y`` is not one number per row of ``data``, or outside the family's support.
        FamilyError
            If the family has no numpy log density (``Likelihood(logpdf=...)``).
        """
        logpdf = self.family.likelihood.logpdf
        if logpdf is None:
            raise FamilyError(
                f"Family {self.family.name!r} has no numpy log density (Likelihood(logpdf=...)), "
                "so the log-likelihood of new data cannot be computed."
            )
        rows = self._rows(data)
        categories = self.family.categories
        if categories is not None and categories.counts:
            return self._counts_log_likelihood(
                rows, y, logpdf, include_group_specific, sample_new_groups, random_seed, n_samples
            )
        values = np.asarray(_category_codes(y, self.design, self.family), dtype=float).reshape(-1)
        if values.shape[0] != rows.n_obs:
            raise DataError(
                f"y must have one value per row of data ({rows.n_obs}); got {values.shape[0]}."
            )
        self.family.check_response(values, rows.trials, "y")
        rng = np.random.default_rng(random_seed)
        params = self._params(rows, include_group_specific, sample_new_groups, rng, n_samples)
        if rows.trials is not None:
            params["trials"] = rows.trials[None, :]
        return np.asarray(logpdf(values[None, :], params), dtype=float)

    def _counts_log_likelihood(
        self,
        rows: NewDesign,
        y: Any,
        logpdf: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray],
        include_group_specific: bool,
        sample_new_groups: bool | str | None,
        random_seed: int | np.random.Generator | None,
        n_samples: int | None,
    ) -> np.ndarray:
        """:meth:`log_likelihood` of a multinomial family: ``y`` holds a count of each
        category per row, shape ``(rows, K)``."""
        levels = self.design.response.levels or ()
        values = np.asarray(y, dtype=float)
        if values.shape != (rows.n_obs, len(levels)):
            raise DataError(
                f"y must hold a count of each of the {len(levels)} categories {list(levels)} "
                f"per row of data, shape ({rows.n_obs}, {len(levels)}); got shape "
                f"{values.shape}."
            )
        for j, level in enumerate(levels):
            self.family.check_response(values[:, j], None, f"y[:, {j}] ({level})")
        rng = np.random.default_rng(random_seed)
        params = self._params(rows, include_group_specific, sample_new_groups, rng, n_samples)
        return np.asarray(logpdf(values[None, :, :], params), dtype=float)

    def predict(
        self,
        data: pd.DataFrame | None = None,
        kind: str = "response_params",
        *,
        include_group_specific: bool = True,
        sample_new_groups: bool | str | None = None,
        random_seed: int | np.random.Generator | None = None,
    ) -> az.InferenceData:
        """Predictions as a new InferenceData; the fit's own InferenceData is not changed.

        For the training rows (``data=None``), ``kind="response_params"`` adds the family's
        parent parameter (e.g. ``mu``) to ``posterior``, and ``kind="response"`` adds
        ``posterior_predictive``, so ``az.plot_ppc`` works. For new rows both go in
        ``predictions``, with the rows' predictors in ``predictions_constant_data`` (ArviZ's
        convention).
        """
        values = self.draws(
            data,
            kind,
            include_group_specific=include_group_specific,
            sample_new_groups=sample_new_groups,
            random_seed=random_seed,
        )
        draws = self.posterior_draws
        name = self.family.parent if kind == "response_params" else self.design.response.name
        # Category probabilities have a last axis, labelled by the categories.
        extra = values.shape[2:]
        levels = self.design.response.levels
        category = {CATEGORY_DIM: [str(v) for v in levels]} if extra and levels else {}
        array = xr.DataArray(
            values.reshape(draws.chains, draws.draws, values.shape[1], *extra),
            dims=("chain", "draw", OBS_DIM, *([CATEGORY_DIM] if extra else [])),
            coords={
                "chain": self._group("posterior")["chain"].to_numpy(),
                "draw": self._group("posterior")["draw"].to_numpy(),
                OBS_DIM: np.arange(values.shape[1]),
                **category,
            },
        )
        groups = {g: self.idata[g] for g in self.idata.groups()}
        if data is None and kind == "response_params":
            groups["posterior"] = groups["posterior"].assign({name: array})
        elif data is None:
            groups["posterior_predictive"] = xr.Dataset({name: array})
        else:
            groups["predictions"] = xr.Dataset({name: array})
            groups["predictions_constant_data"] = _constant_data(data, self.design)
        import arviz as az

        result = az.InferenceData(**groups)  # type: ignore[arg-type]
        result.attrs.update(getattr(self.idata, "attrs", {}) or {})
        return result

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
        values = category_point_draws(values, self.family, self.design, kind, stat)
        if values.ndim == 3:
            table = _per_category(values, lambda v: point_estimate(v, stat)[:, None], [stat])
            return self._category_frame(table, data, values)
        return pd.DataFrame({stat: point_estimate(values, stat)}, index=_index(data, values))

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
        values = self.draws(data, kind, **options)
        if values.ndim == 3:
            table = _per_category(values, lambda v: interval(v, prob, method), ["lower", "upper"])
            return self._category_frame(table, data, values)
        bounds = interval(values, prob, method)
        return pd.DataFrame(
            {"lower": bounds[:, 0], "upper": bounds[:, 1]}, index=_index(data, values)
        )

    def quantiles(
        self,
        data: pd.DataFrame | None = None,
        probs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
        kind: str = "response",
        **options: Any,
    ) -> pd.DataFrame:
        """Quantiles of each row's predictive distribution: one column per probability."""
        values = self.draws(data, kind, **options)
        columns = [f"q{p:g}" for p in np.atleast_1d(probs)]
        if values.ndim == 3:
            per_category = _per_category(values, lambda v: quantiles(v, probs), columns)
            return self._category_frame(per_category, data, values)
        table = quantiles(values, probs)
        return pd.DataFrame(table, columns=columns, index=_index(data, values))

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
        values = self.draws(data, kind, **options)
        if values.ndim == 3:
            raise DataError(
                f"density(kind={kind!r}) is a histogram of each row's draws of one number; "
                f"family {self.family.name!r} predicts a probability for each category. Use "
                "kind='response' for the predictive distribution of the categories, or "
                "point() and interval() for the probabilities."
            )
        edges, heights = density(values, bins)
        return pd.DataFrame(
            {"edges": list(edges), "density": list(heights)}, index=_index(data, values)
        )

    def r2(self) -> pd.Series:
        """Bayesian R² (Gelman, Goodrich, Gabry & Vehtari 2019) on the training rows.

        For each draw, the variance of the fitted means over the variance of the fitted means
        plus the variance of the residuals, as computed by ``arviz.r2_score``; returns its
        posterior mean (``r2``) and standard deviation (``r2_std``).
        """
        self._require_training_rows()
        if self.family.categories is not None:
            raise FamilyError(
                f"r2() compares fitted means with the response; family {self.family.name!r} "
                "predicts category probabilities, which have no such R². Compare models with "
                "az.loo(idata) instead."
            )
        response = self.design.response
        y = response.values if response.trials is None else response.values / response.trials
        mu = self.draws(None, "response_params")
        import arviz as az

        return az.r2_score(y, mu)

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        posterior_only: bool = False,
        draws: int | None = None,
        sample_new_groups: bool | str | None = None,
    ) -> Path:
        """Write this model to one netCDF file; see :meth:`bayesmm.Model.save`."""
        from .io import save

        return save(
            self,
            path,
            posterior_only=posterior_only,
            draws=draws,
            sample_new_groups=sample_new_groups,
        )

    def to_model(
        self,
        data: pd.DataFrame,
        priors: Mapping[str, Any] | None = None,
        *,
        require_same_data: bool = False,
    ) -> Model:
        """Rebuild the :class:`~bayesmm.Model` with the same spec, for a refit on ``data``.

        The formula, family, link, options and the priors as used in the fit (the defaults
        already scaled from the training data) are the same; ``priors`` overrides some of them.

        Parameters
        ----------
        data : pandas.DataFrame
            The data to fit: the training data again, or new data of the same form.
        priors : dict, optional
            Priors to use instead of the stored ones, keyed like ``Model(priors=...)``.
        require_same_data : bool, default False
            Raise a DataError unless ``data`` gives the same training rows as the fit (same
            SHA-256 fingerprint of the formula's columns).
        """
        from .model import Model

        spec = self.spec
        if spec is None:
            raise NotFittedError("This FittedModel has no model spec to rebuild the model from.")
        given = dict(priors or {})
        stored = spec.prior_dict(skip=given)
        # The distributional formulas (a multinomial logit's per-category copies of the
        # formula are not: the family makes them).
        parts = [p for p in self.design.distributional if p.param in self.family.aux_params]
        model = Model(
            Formula(spec.formula, *(part.formula for part in parts)),
            data,
            family=self.family,
            link={self.family.parent: self.link, **{part.param: part.link for part in parts}},
            priors={**stored, **given},
            **spec.options,
        )
        if require_same_data:
            state = model.design.state
            found = data_fingerprint(state.frame) if state is not None else ""
            if found != spec.data_sha256:
                raise DataError(
                    "data must give the same training rows as the fit (require_same_data=True); "
                    f"got SHA-256 {found[:12]}..., but the fit's rows have "
                    f"{spec.data_sha256[:12]}...."
                )
        return model

    def _category_frame(
        self, table: tuple[np.ndarray, list[str]], data: pd.DataFrame | None, values: np.ndarray
    ) -> pd.DataFrame:
        """A table of per-category summaries, its columns named ``"<summary>[<category>]"``."""
        array, names = table
        levels = self.design.response.levels or tuple(range(values.shape[2]))
        columns = [f"{name}[{level}]" for level in levels for name in names]
        return pd.DataFrame(array, columns=columns, index=_index(data, values))

    def __repr__(self) -> str:
        draws = self._group("posterior").sizes
        return (
            f"FittedModel({self.design.formula!r}, family={self.family.name!r}, "
            f"link={self.link.name!r}, chains={draws['chain']}, draws={draws['draw']})"
        )

    def _repr_html_(self) -> str | None:
        """Jupyter's rich display: the model, the sampler and a table of the posterior of
        the common terms and auxiliary parameters. Shows what there is: a model saved with
        ``posterior_only=True`` has no sample stats."""
        try:
            return self._html()
        except Exception:
            # A display hook must not raise; None makes Jupyter show the text repr instead.
            return None

    def _html(self) -> str:
        design = self.design
        aux = [p for p in design.distributional if p.param in self.family.aux_params]
        modelled = {part.param for part in design.distributional}
        names = [t.name for t in design.common_terms]
        for part in design.distributional:
            names += [t.name for t in part.design.common_terms]
        names += [a for a in self.family.aux_params if a not in modelled]
        links = [f"{self.family.parent} = {self.link.name}"]
        links += [f"{part.param} = {part.link}" for part in aux]
        attrs = dict(getattr(self._idata, "attrs", None) or self._attrs)
        fields = [("Family", self.family.name), ("Link", ", ".join(links))]
        if attrs.get("inference_method"):
            fields.append(("Sampler", str(attrs["inference_method"])))
        groups = list(self._groups) if self._groups is not None else list(self.idata.groups())
        return _describe_fitted_html(
            [str(design.formula), *(str(part.formula) for part in aux)],
            fields,
            self._group("posterior"),
            names,
            self.fixed,
            self._group("sample_stats") if "sample_stats" in groups else None,
        )


def _per_category(
    values: np.ndarray, summary: Callable[[np.ndarray], np.ndarray], names: list[str]
) -> tuple[np.ndarray, list[str]]:
    """``summary`` of each category's ``(draws, rows)`` slice of ``values`` (draws, rows, K),
    side by side: shape ``(rows, K * len(names))``, category by category."""
    parts = [np.asarray(summary(values[:, :, k])) for k in range(values.shape[2])]
    return np.concatenate(parts, axis=1), names


def category_point_draws(
    values: np.ndarray, family: Family, design: Design, kind: str, stat: str
) -> np.ndarray:
    """The draws whose ``stat`` per category is the point estimate of each category.

    ``values`` as they are, except for the predictive draws (``kind="response"``) of a family
    of one category per row: their category codes ``(draws, rows)`` become indicators
    ``(draws, rows, K)``, whose mean is each category's share of the draws. A mean of the
    codes themselves would depend on how the categories are numbered (brms's ``predict``
    gives these shares too).

    Raises
    ------
    DataError
        If ``stat`` is not ``"mean"`` for the predictive draws of a family of categories.
    """
    levels = design.response.levels
    if family.categories is None or kind != "response" or levels is None or values.ndim != 2:
        return values
    if stat != "mean":
        raise DataError(
            f"stat must be 'mean' for kind='response' with family {family.name!r}: the "
            "estimate is the share of each category among the predictive draws (a median of "
            f"the draws of one category is 0 or 1); got {stat!r}. Use "
            "kind='response_params' for the median of each category's probability."
        )
    return (values[..., None] == np.arange(len(levels))).astype(float)


def _category_codes(y: Any, design: Design, family: Family) -> Any:
    """Responses of a family of categories as their codes; other responses as they are.

    Categories are matched as they are, else by their text (``"2"`` for ``2``), as the
    levels of predictors are.

    Raises
    ------
    DataError
        If a value is not one of the response's categories.
    """
    levels = design.response.levels
    if family.categories is None or levels is None:
        return y
    values = np.asarray(y, dtype=object).reshape(-1)
    known = pd.Index(list(levels), dtype=object)
    codes = known.get_indexer(values)
    missing = codes < 0
    if missing.any():
        as_text = pd.Index([str(v) for v in levels])
        codes[missing] = as_text.get_indexer([str(v) for v in values[missing]])
    if (codes < 0).any():
        bad = pd.unique(values[codes < 0])[:5].tolist()
        raise DataError(
            f"y must hold categories of the response {design.response.name!r}, one of "
            f"{list(levels)}; got {bad} ({int((codes < 0).sum())} value(s))."
        )
    return codes


def _index(data: pd.DataFrame | None, values: np.ndarray) -> pd.Index:
    return data.index if data is not None else pd.RangeIndex(values.shape[1])


def _constant_data(data: pd.DataFrame, design: Design) -> xr.Dataset:
    columns = design.state.predictors if design.state is not None else ()
    variables = {}
    for name in columns:
        column = data[name]
        values = column.to_numpy()
        if isinstance(column.dtype, pd.CategoricalDtype) or values.dtype == object:
            values = column.astype(str).to_numpy()
        variables[name] = ((OBS_DIM,), values)
    return xr.Dataset(variables, coords={OBS_DIM: np.arange(len(data))})
