"""Predictions of a multivariate model, with numpy: each response's parameters as a univariate
model's, from its posterior read under univariate names (``y1_x`` as ``x``), and response
draws that keep the residual correlation.

With correlated residuals, row ``i``'s responses are drawn jointly: ``y_i = mu_i + s_i * e_i``
with ``e_i = L z_i``, ``z_i`` standard normal and ``L`` the Cholesky factor of the draw's
residual correlation matrix (a t response divides ``e_i`` by one ``sqrt(w_i)``,
``w_i ~ Gamma(nu/2, rate=nu/2)``, shared by the row's responses: the multivariate t).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .._errors import DataError, NotFittedError
from .._names import RESPONSE_DIM, response_name
from .._validation import check_bins, check_probabilities, choice_message
from ..design import Design, NewDesign, Truncation
from ..design.multivariate import MvDesign
from ..design.state import rows_to_predict, training_frame
from ..families import Family
from ..links import Link
from . import tables
from .draws import PosteriorDraws, correlation_cholesky, extract_draws
from .groups import FitGroups
from .joint_density import (
    SHARED_PARAMETERS,
    joint_log_density,
    joint_residuals,
    rescor_cholesky,
    response_of,
    univariate_name,
    univariate_posterior,
)
from .loo import chunked_loo, relative_efficiency
from .options import PredictOptions, check_kind, resolve_policy
from .params import family_params, predictive_draws
from .pointwise import observed_response, pointwise_log_likelihood
from .summaries import check_interval

if TYPE_CHECKING:
    import arviz as az

__all__ = [
    "MvFittedModel",
    "ResponseParts",
    "univariate_posterior",
    "univariate_name",
    "rescor_cholesky",
    "joint_residuals",
]


@dataclass(frozen=True)
class ResponseParts:
    """One response of a multivariate model as a univariate model sees it: its design,
    family and link, and its posterior, fixed parameters and population-drawn group terms
    under univariate names (``x``, ``sigma``, ``1|g``)."""

    design: Design
    family: Family
    link: Link
    posterior: xr.Dataset
    fixed: dict[str, float]
    normal_groups: tuple[str, ...]


def _truncation(design: Design) -> Truncation | None:
    """A truncated response's bounds, as written."""
    return design.state.truncation if design.state is not None else None


class MvFittedModel:
    """A fitted multivariate model that predicts each response from its posterior draws.

    ``draws`` returns each response's draws; ``point``, ``interval``, ``quantiles`` and
    ``density`` one table per response, stacked, with a ``__response__`` column (or one
    response's table with ``response=``). ``kind="response"`` draws keep the residual
    correlation: the draws of one row are joint.

    Parameters
    ----------
    design : MvDesign
        The designs the model was fitted on.
    families, links : mapping
        Each response's family and link of its parent parameter.
    idata : arviz.InferenceData or mapping of str to xarray.Dataset
        The fit (at least its ``posterior``).
    fixed : mapping, optional
        Auxiliary parameters fixed to a number, named by response (``"y1_sigma"``).
    normal_groups : sequence of str, optional
        Group terms whose population the ``"gaussian"`` policy draws from, named by response.
    spec : MvSpec or callable returning one, optional
        What the model is (:class:`~bayesmm.spec.MvSpec`), for :meth:`save`.
    saver : callable, optional
        ``saver(fitted, path, **options)``, which writes a fitted model and its spec to a
        file (:func:`bayesmm.io.write_multivariate`, given by ``MvModel.fitted`` and
        ``bmm.load``: this stage imports no file layout).
    sample_new_groups : bool or str, default False
        The policy for unseen group levels when a method is not given one.
    source : dict, optional
        For a loaded model: the file's path, format version, library versions and save time.
    attrs : mapping, optional
        The attributes of the InferenceData made from the groups of a file.
    """

    def __init__(
        self,
        design: MvDesign,
        families: Mapping[str, Family],
        links: Mapping[str, Link],
        idata: Any,
        *,
        fixed: Mapping[str, float] | None = None,
        normal_groups: Sequence[str] = (),
        spec: Any = None,
        saver: Callable[..., Path | str] | None = None,
        sample_new_groups: bool | str = False,
        source: Mapping[str, Any] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.design = design
        self.families = dict(families)
        self.links = dict(links)
        self._fit = FitGroups(idata, attrs)
        self.fixed = dict(fixed or {})
        self.normal_groups = tuple(normal_groups)
        resolve_policy(sample_new_groups)
        self.sample_new_groups = sample_new_groups
        self.source = dict(source) if source is not None else None
        self._spec = spec
        self._saver = saver
        self._draws: dict[str, PosteriorDraws] = {}

    @property
    def idata(self) -> az.InferenceData:
        """The InferenceData of the fit (for a loaded model, made on first use)."""
        return self._fit.idata

    @property
    def spec(self) -> Any:
        """The model spec (:class:`~bayesmm.spec.MvSpec`), if known."""
        if callable(self._spec):
            self._spec = self._spec()
        return self._spec

    @property
    def data_sha256(self) -> str | None:
        """SHA-256 fingerprint of the training rows, every response's columns."""
        spec = self.spec
        return spec.data_sha256 if spec is not None else None

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        posterior_only: bool = False,
        draws: int | None = None,
        sample_new_groups: bool | str | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> Path | str:
        """Write this model to one netCDF file, which ``bmm.load`` reads back without pymc;
        the options are those of :meth:`bayesmm.Model.save` (``docs/multivariate.md``).

        Raises
        ------
        NotFittedError
            For a fitted model made without a spec (not by ``MvModel.fitted`` or ``load``).
        """
        if self._saver is None or self.spec is None:
            raise NotFittedError(
                "This MvFittedModel has no model spec to save; save it with "
                "model.save(path, idata)."
            )
        return self._saver(
            self,
            path,
            posterior_only=posterior_only,
            draws=draws,
            sample_new_groups=sample_new_groups,
            storage_options=storage_options,
        )

    @property
    def responses(self) -> tuple[str, ...]:
        return self.design.responses

    def check_response(self, response: Any) -> str:
        """``response`` if it is one of the model's responses.

        Raises
        ------
        DataError
            Naming the responses, for ``None`` or a name that is not one of them.
        """
        if response is None:
            raise DataError(
                f"This model has several responses, {list(self.responses)}: pass response= "
                f"one of them, e.g. response={self.responses[0]!r}."
            )
        if not isinstance(response, str) or response not in self.responses:
            raise DataError(choice_message("response", response, self.responses))
        return response

    def response_parts(self, response: str) -> ResponseParts:
        """``response``'s parts under univariate names, for the univariate machinery (a
        ``FittedModel`` of one response); ``DataError`` for a name that is not a response."""
        response = self.check_response(response)
        responses = self.responses
        return ResponseParts(
            design=self.design.design_of(response),
            family=self.families[response],
            link=self.links[response],
            posterior=univariate_posterior(self._fit.group("posterior"), response, responses),
            fixed={  # and a shared nu fixed to a number
                univariate_name(k, response): v
                for k, v in self.fixed.items()
                if response_of(k, responses) == response or k in SHARED_PARAMETERS
            },
            normal_groups=tuple(
                univariate_name(g, response)
                for g in self.normal_groups
                if response_of(g, responses) == response
            ),
        )

    def posterior_draws(self, response: str) -> PosteriorDraws:
        """The posterior of ``response`` stacked into arrays (computed once)."""
        if response not in self._draws:
            parts = self.response_parts(response)
            draws = extract_draws(
                parts.posterior,
                parts.design,
                parts.family.aux_params,
                parts.fixed,
                parts.normal_groups,
            )
            self._draws[response] = self._linked(draws, response)
        return self._draws[response]

    def _linked(self, draws: PosteriorDraws, response: str) -> PosteriorDraws:
        """``draws`` with their correlated blocks keyed by the response (``"y1_g_corr"``),
        and the terms of blocks linked across responses read as parts of those blocks
        (``"g_corr"``): the responses' predictions share one dict of new groups, in which a
        linked block's new levels are drawn once for all the responses, correlated as the
        fit found, and a block of one response's is its own."""
        prefix = response_name(response, "")
        groups = [
            replace(g, block=None if g.block is None else prefix + g.block) for g in draws.groups
        ]
        blocks = {prefix + name: chol for name, chol in draws.blocks.items()}
        for linked in self.design.linked:
            joint = self.design.linked_design(linked)
            blocks[linked.prior_name] = correlation_cholesky(
                self._fit.group("posterior"), joint, linked.block, draws.common.shape[0]
            )
            for k, group in enumerate(groups):
                name = prefix + group.name
                if name in linked.terms:
                    before = linked.terms[: linked.terms.index(name)]
                    start = sum(len(t.columns) for t in joint.group_terms if t.name in before)
                    groups[k] = replace(group, block=linked.prior_name, start=start)
        parts = tuple(self._linked(part, response) for part in draws.distributional)
        return replace(draws, groups=tuple(groups), blocks=blocks, distributional=parts)

    def parameters(
        self, data: pd.DataFrame | None = None, response: str | None = None, **options: Any
    ) -> dict[str, dict[str, np.ndarray]]:
        """Each response's family parameters for each posterior draw and row, as
        ``FittedModel.parameters`` gives them; ``response=`` for one."""
        chosen = PredictOptions.from_kwargs(**options).seeded()
        choices: dict[str, np.ndarray] = {}  # a new level is the same in every response
        return {
            r: self._params(r, self._rows(r, data), chosen, choices=choices)
            for r in self._chosen(response)
        }

    def _rows(self, response: str, data: pd.DataFrame | None) -> NewDesign:
        return rows_to_predict(self.design.design_of(response), data)

    def _params(
        self, response: str, rows: NewDesign, options: PredictOptions, **extra: Any
    ) -> dict[str, np.ndarray]:
        design = self.design.design_of(response)
        draws = options.draws_from(self.posterior_draws(response))
        model = (design, self.families[response], self.links[response])
        policy = options.policy(self.sample_new_groups)
        return family_params(draws, rows, *model, options, policy=policy, **extra)

    def _chosen(self, response: str | None) -> tuple[str, ...]:
        if response is None:
            return self.responses
        return (self.check_response(response),)

    def draws(
        self,
        data: pd.DataFrame | None = None,
        kind: str = "response_params",
        response: str | None = None,
        **options: Any,
    ) -> dict[str, np.ndarray]:
        """Each response's posterior draws for each row, ``(draws, rows)``, by response.

        ``kind="response"`` draws responses; with correlated residuals, jointly per row.
        ``options`` are the prediction options of :class:`~bayesmm.predict.PredictOptions`.
        """
        check_kind(kind)
        chosen = PredictOptions.from_kwargs(**options).seeded()
        names = self._chosen(response)
        spread = kind != "response_params"
        # Joint draws need every response's parameters; otherwise the rows need only the
        # predictors of the responses asked for. One dict of new groups for every response:
        # a new level is the same in each.
        joint = spread and self.design.rescor
        rows = {r: self._rows(r, data) for r in (self.responses if joint else names)}
        choices: dict[str, np.ndarray] = {}
        params = {
            r: self._params(r, rows[r], chosen, need_spread=spread, choices=choices) for r in rows
        }
        if kind == "response_params":
            return {r: params[r][self.families[r].parent] for r in names}
        if joint:
            drawn = self._joint_draws(params, chosen)
            return {r: drawn[r] for r in names}
        out = {}
        for r in names:
            design = self.design.design_of(r)
            draws = chosen.draws_from(self.posterior_draws(r))
            out[r] = predictive_draws(
                self.families[r],
                params[r],
                rows[r],
                chosen.rng(),
                _truncation(design),
                draws,
                design,
            )
        return out

    def _joint_draws(
        self, params: Mapping[str, Mapping[str, np.ndarray]], options: PredictOptions
    ) -> dict[str, np.ndarray]:
        chol = self._cholesky(options)
        first = params[self.responses[0]]
        nu = first.get("nu") if self.families[self.responses[0]].name == "t" else None
        n_rows = np.broadcast_shapes(*(np.shape(params[r]["mu"]) for r in self.responses))[1]
        e = joint_residuals(chol, n_rows, options.rng(), None if nu is None else np.asarray(nu))
        return {
            r: params[r]["mu"] + params[r]["sigma"] * e[:, :, k]
            for k, r in enumerate(self.responses)
        }

    def _cholesky(self, options: PredictOptions) -> np.ndarray:
        """Each draw's residual correlation Cholesky factor, of the draws ``options`` keep."""
        chol = rescor_cholesky(self._fit.group("posterior"), self.responses)
        total = chol.shape[0]
        if options.n_samples is not None and options.n_samples != total:
            keep = np.round(np.linspace(0, total - 1, int(options.n_samples))).astype(np.int64)
            chol = chol[keep]
        return chol

    def draws_array(
        self, data: pd.DataFrame | None = None, kind: str = "response", **options: Any
    ) -> xr.DataArray:
        """Every response's draws as one array ``(draw, __obs__, __response__)``."""
        found = self.draws(data, kind, **options)
        values = np.stack([found[r] for r in self.responses], axis=-1)
        return xr.DataArray(
            values,
            dims=("draw", "__obs__", RESPONSE_DIM),
            coords={RESPONSE_DIM: list(self.responses)},
        )

    def log_likelihood(
        self, data: pd.DataFrame | None = None, y: Any = None, **options: Any
    ) -> np.ndarray:
        """The log-likelihood of each row's responses together, ``(draws, rows)``.

        With correlated residuals, a row's responses are one multivariate normal (or t)
        observation, and this is its joint log density (:mod:`~bayesmm.predict.joint_density`);
        otherwise the responses are independent given the parameters, and this is the sum of
        each response's pointwise log-likelihood (as ``FittedModel.log_likelihood`` gives it).

        Parameters
        ----------
        data : pandas.DataFrame, optional
            New rows; ``None`` for the training rows and their responses.
        y : mapping of response to values, optional
            The observed responses of ``data``'s rows, one value per row each (on each
            family's scale); by default ``data``'s columns named by the responses.
        **options
            The prediction options (see :meth:`draws`).

        Raises
        ------
        DataError
            For ``y`` with the training rows, a response missing from ``y`` (or ``data``), or
            values that are not one per row or outside a family's support.
        """
        chosen = PredictOptions.from_kwargs(**options).seeded()
        if data is None:
            if y is not None:
                raise DataError(
                    "y is for new rows (data=...): the training rows' responses are the fit's."
                )
            frames: dict[str, pd.DataFrame | None] = dict.fromkeys(self.responses)
            observed = {r: self.design.design_of(r).response.values for r in self.responses}
        else:
            frames = dict.fromkeys(self.responses, data)
            observed = self._observed(data, y)
        return self._row_log_likelihood(frames, observed, chosen)

    def _observed(self, data: pd.DataFrame, y: Any) -> dict[str, Any]:
        given = y if y is not None else data
        where = "y" if y is not None else "data"
        missing = [r for r in self.responses if r not in given]
        if not isinstance(given, Mapping | pd.DataFrame) or missing:
            raise DataError(
                f"{where} must hold every response's observed values, {list(self.responses)} "
                f"(a dict or DataFrame by response); missing {missing or list(self.responses)}."
            )
        return {r: given[r] for r in self.responses}

    def _row_log_likelihood(
        self,
        frames: Mapping[str, pd.DataFrame | None],
        observed: Mapping[str, Any],
        options: PredictOptions,
    ) -> np.ndarray:
        """The rows' log-likelihood of all responses, each response's rows from ``frames``."""
        values, params, rows = {}, {}, {}
        for r in self.responses:
            design = self.design.design_of(r)
            rows[r] = self._rows(r, frames[r])
            values[r] = observed_response(self.families[r], design.response, observed[r], rows[r])
            params[r] = self._params(r, rows[r], options, observed=values[r])
        if not self.design.rescor:  # independent given the parameters: a product
            total = np.zeros(())
            for r, d in zip(self.responses, self.design.designs, strict=True):
                family = self.families[r]
                total = total + pointwise_log_likelihood(
                    family, params[r], values[r], rows[r], _truncation(d)
                )
            return total
        first = self.responses[0]
        nu = params[first].get("nu") if self.families[first].name == "t" else None
        shape = (np.shape(params[first]["mu"])[0], values[first].shape[1])  # (draws, rows)
        stacked = {
            name: np.stack([np.broadcast_to(params[r][name], shape) for r in self.responses], -1)
            for name in ("mu", "sigma")
        }
        y = np.column_stack([values[r][0] for r in self.responses])
        chol = self._cholesky(options)
        return joint_log_density(y, stacked["mu"], stacked["sigma"], chol, nu)

    def loo(self, chunk_rows: int = 20_000) -> az.ELPDData:
        """PSIS-LOO of the training rows, leaving out one row with all its responses.

        The rows are independent given the parameters, so each row's predictive density is
        one factor of the likelihood: with correlated residuals, the joint density of its
        responses (the fit's observed variable ``y1:y2`` is per row too); otherwise the
        product of its responses' densities (their log-likelihoods summed). Pareto-smoothed
        importance sampling of these values over the posterior draws is ``az.loo`` of them
        (ArviZ's ``psislw`` and relative efficiency, ``chunk_rows`` rows at a time), so no
        stored log-likelihood is needed. To leave out one response of a row instead, use
        ``az.loo(idata, var_name=...)`` on a fit without correlated residuals.

        Returns
        -------
        arviz.ELPDData
            As ``az.loo(idata, pointwise=True)``: ``elpd_loo``, ``p_loo``, ``loo_i`` and
            ``pareto_k`` per row.
        """
        designs = dict(zip(self.responses, self.design.designs, strict=True))
        frames = {r: training_frame(d) for r, d in designs.items()}
        observed = {r: np.asarray(d.response.values) for r, d in designs.items()}
        options = PredictOptions().seeded()

        def pointwise(rows: slice) -> np.ndarray:
            part = {r: frame.iloc[rows] for r, frame in frames.items()}
            return self._row_log_likelihood(
                part, {r: v[rows] for r, v in observed.items()}, options
            )

        reff = relative_efficiency(self._fit.group("posterior"))
        return chunked_loo(pointwise, self.design.n_obs, reff, chunk_rows)

    def _tables(
        self,
        data: pd.DataFrame | None,
        kind: str,
        response: str | None,
        options: Mapping[str, Any],
        make: Any,
    ) -> pd.DataFrame:
        found = self.draws(data, kind, response, **options)
        frames = []
        for r, values in found.items():
            table = make(r, values, tables.row_index(data, values))
            table.insert(0, RESPONSE_DIM, r)
            frames.append(table)
        return pd.concat(frames) if len(frames) > 1 else frames[0]

    def point(
        self,
        data: pd.DataFrame | None = None,
        stat: str = "mean",
        kind: str = "response_params",
        response: str | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """The posterior mean or median of each row of each response."""

        def make(r: str, values: np.ndarray, index: pd.Index) -> pd.DataFrame:
            values = self.families[r].point_draws(values, None, kind, stat)
            return tables.point_table(values, stat, None, index)

        return self._tables(data, kind, response, options, make)

    def interval(
        self,
        data: pd.DataFrame | None = None,
        prob: float = 0.9,
        method: str = "hdi",
        kind: str = "response",
        response: str | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """A ``prob`` interval of each row of each response: ``lower`` and ``upper``."""
        check_interval(prob, method)
        return self._tables(
            data,
            kind,
            response,
            options,
            lambda r, v, index: tables.interval_table(v, prob, method, None, index),
        )

    def quantiles(
        self,
        data: pd.DataFrame | None = None,
        probs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
        kind: str = "response",
        response: str | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """Quantiles of each row's predictive distribution, per response."""
        checked = check_probabilities("probs", probs)
        return self._tables(
            data,
            kind,
            response,
            options,
            lambda r, v, index: tables.quantile_table(v, checked, None, index),
        )

    def density(
        self,
        data: pd.DataFrame | None = None,
        bins: int | Sequence[float] = 20,
        kind: str = "response",
        response: str | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """A histogram density of each row's predictive draws, per response."""
        checked = check_bins(bins)
        return self._tables(
            data,
            kind,
            response,
            options,
            lambda r, v, index: tables.density_table(
                v, checked, index, self.families[r].name, kind
            ),
        )
