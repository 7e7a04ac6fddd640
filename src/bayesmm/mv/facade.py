"""``MvModel``: the facade of a multivariate model, formulas and data in, InferenceData out.
Each method hands explicit arguments to the stage that does its work."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._errors import DataError, FamilyError, PriorError
from .._validation import check_counts, check_sampling, choice_message
from .._version import __version__
from ..backend.samplers import AUTO, check_options
from ..design.multivariate import MvDesign, build_mv_design, resolve_rescor
from ..families import Family, get_family
from ..formula import MvFormula, as_formula
from ..io import write_multivariate
from ..links import Link
from ..predict.multiresponse import MvFittedModel
from ..priors import PriorSet
from ..scaling import AUTOMATIC_PRIORS
from ..scaling.per_response import mv_priors
from ..spec import MODEL_OPTIONS, MvSpec, build_mv_spec

if TYPE_CHECKING:
    import arviz as az

    from ..backend.graph import BuiltModel

__all__ = ["MvModel"]


def by_response(name: str, value: Any, responses: tuple[str, ...]) -> dict[str, Any]:
    """``value`` for every response, or a mapping by response checked against them."""
    if not isinstance(value, Mapping) or (name == "link" and not set(value) <= set(responses)):
        return {r: value for r in responses}
    unknown = [k for k in value if k not in responses]
    if unknown:
        raise FamilyError(
            f"{name} names {unknown}, which are not responses; the responses are {list(responses)}."
        )
    missing = [r for r in responses if r not in value]
    if missing and name == "family":
        raise FamilyError(
            f"family gives no family for the response(s) {missing}; give one for each of "
            f"{list(responses)}, e.g. {{{responses[0]!r}: 'gaussian', ...}}."
        )
    return {r: value.get(r) for r in responses}


class MvModel:
    """A multivariate model: several responses, each with its own formula, family and link.

    ``bayesmm.Model`` returns one for a multivariate formula (``Formula + Formula``, or
    ``"mvbind(y1, y2) ~ x"``); see ``docs/multivariate.md``.

    Parameters
    ----------
    formula : MvFormula or str
        One formula per response.
    data : pandas.DataFrame
        One row per observation, with every response.
    family, link : str, Family, Link or mapping by response
        Each response's family, and its link (or links by parameter), as for ``Model``.
    priors : dict, optional
        Priors named by response (``"y1_x"``, ``"y1_sigma"``), or by response
        (``{"y1": {"x": ...}}``); ``"rescor"`` for the residual correlations' LKJ.
    rescor : bool or None, default None
        Correlate the responses' residuals: by default when every response is gaussian, or
        every one t (sharing one ``nu``).
    categorical, dropna, auto_scale, noncentered, center_predictors, automatic_priors
        As for ``Model``; ``dropna=True`` also drops the rows missing any response.

    Examples
    --------
    >>> import bayesmm as bmm
    >>> import numpy as np, pandas as pd
    >>> data = pd.DataFrame({"y1": np.arange(8.0), "y2": np.arange(8.0) ** 0.5,
    ...                      "x": [0, 1] * 4})
    >>> model = bmm.Model("mvbind(y1, y2) ~ x", data)
    >>> model.design.responses, model.design.rescor
    (('y1', 'y2'), True)
    """

    def __init__(
        self,
        formula: MvFormula | str,
        data: pd.DataFrame,
        family: str | Family | Mapping[str, str | Family] = "gaussian",
        priors: Mapping[Any, Any] | None = None,
        link: Any = None,
        categorical: str | Sequence[str] | None = None,
        dropna: bool = False,
        auto_scale: bool = True,
        noncentered: bool | str = "auto",
        center_predictors: bool = True,
        automatic_priors: str = "default",
        weights: Any = None,
        rescor: bool | None = None,
    ) -> None:
        read = as_formula(formula)
        if not isinstance(read, MvFormula):
            raise DataError("MvModel takes a multivariate formula; use bmm.Model for one.")
        if automatic_priors not in AUTOMATIC_PRIORS:
            raise PriorError(choice_message("automatic_priors", automatic_priors, AUTOMATIC_PRIORS))
        if weights is not None:
            raise DataError("weights are not taken by a multivariate model yet.")
        responses = read.responses
        self.formula = formula = read
        families = by_response("family", family, responses)
        self.families: dict[str, Family] = {r: get_family(f) for r, f in families.items()}
        self.links: dict[str, Link] = {}
        aux_links: dict[str, dict[str, str]] = {}
        given_links = by_response("link", link, responses)
        for r, f in formula.by_response().items():
            self.links[r], aux_links[r] = self.families[r].resolve_links(
                given_links[r], f.distributional
            )
        self.rescor = resolve_rescor(self.families, rescor)
        self.design: MvDesign = build_mv_design(
            formula,
            data,
            self.families,
            aux_links,
            rescor=self.rescor,
            categorical=categorical,
            dropna=dropna,
        )
        self.noncentered = noncentered
        self.center_predictors = center_predictors
        # The other options a spec keeps (``MODEL_OPTIONS``), as ``Model`` keeps them.
        self.categorical, self.dropna = categorical, dropna
        self.auto_scale, self.automatic_priors = auto_scale, automatic_priors
        self.priors: PriorSet = mv_priors(
            self.design,
            self.families,
            self.links,
            priors,
            automatic_priors=automatic_priors,
            auto_scale=auto_scale,
        )
        self._built: BuiltModel | None = None

    def build(self) -> None:
        """Build the PyMC model without sampling; it is then at ``model.backend.model``."""
        from ..backend.graph import build_mv_model

        self._built = build_mv_model(
            self.design,
            self.families,
            self.links,
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
        sufficient_statistics: bool | None = None,
        **kwargs: Any,
    ) -> az.InferenceData:
        """Sample the posterior, as ``Model.fit`` does; the rows are always sampled (a
        multivariate model has no exact summary yet: ``sufficient_statistics=True`` is a
        ``DataError`` saying so)."""
        from ..backend.samplers import sample

        check_counts(draws=draws, tune=tune, chains=chains)
        check_sampling(random_seed, kwargs)
        check_options(inference_method, kwargs, self.design.n_obs, sufficient_statistics)
        if kwargs.get("batch_size") is not None:
            raise DataError("batch_size (minibatch ADVI) is not taken by a multivariate model.")
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
            **kwargs,
        )
        return self.annotate(idata)

    def annotate(self, idata: az.InferenceData) -> az.InferenceData:
        """Add to a fit's attributes what makes it document itself, as ``Model.annotate``:
        the bayesmm version, the formulas, each response's family and link, and ``rescor``
        (``fit()``, and ``fit_many``'s vectorised fits)."""
        families = ", ".join(f"{r}: {f.name}" for r, f in self.families.items())
        links = ", ".join(f"{r}: {link.name}" for r, link in self.links.items())
        names = {"formula": str(self.formula), "family": families, "link": links}
        idata.attrs.update({"bayesmm_version": __version__, "rescor": int(self.rescor), **names})
        return idata

    def __getstate__(self) -> dict[str, Any]:
        # As Model's: the PyMC model is rebuilt on demand (`backend`), so that a model
        # travels to fit_many's workers as its design and priors.
        return {**self.__dict__, "_built": None}

    def fitted(self, idata: az.InferenceData) -> MvFittedModel:
        """Pair this model with the result of :meth:`fit`, for predictions per response."""
        return MvFittedModel(
            self.design,
            self.families,
            self.links,
            idata,
            fixed=self.priors.fixed(),
            normal_groups=self.priors.normal_groups(),
            # Built on first use from this moment's parts: no reference to this model.
            spec=partial(build_mv_spec, *self._spec_parts()),
            saver=write_multivariate,
        )

    def spec(self) -> MvSpec:
        """Everything needed to rebuild this model, as JSON-ready values: each response's
        spec and what they share (``docs/multivariate.md``); a ``DataError`` if a level or a
        transform's state cannot be written as JSON (dates)."""
        return build_mv_spec(*self._spec_parts())

    def _spec_parts(self) -> tuple[Any, ...]:
        """The arguments of ``spec.build_mv_spec`` for this model, as it is now."""
        options = {name: getattr(self, name, None) for name in MODEL_OPTIONS}
        return (self.formula, self.families, self.links, options, self.priors, self.design)

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
        """Save the fitted model to one portable netCDF file, which ``bayesmm.load`` reads
        back with neither a refit, nor the data, nor pymc, as an ``MvFittedModel``; the
        options are those of :meth:`bayesmm.Model.save` (``docs/multivariate.md``)."""
        return self.fitted(idata).save(
            path,
            posterior_only=posterior_only,
            draws=draws,
            sample_new_groups=sample_new_groups,
            storage_options=storage_options,
        )

    def __str__(self) -> str:
        lines = [f"Multivariate model of {list(self.design.responses)}, {self.design.n_obs} rows"]
        for r, f in self.formula.by_response().items():
            lines.append(f"  {r}: {f}  [{self.families[r].name}, {self.links[r].name}]")
        lines.append(f"  residual correlations: {'yes' if self.rescor else 'no'}")
        lines += [f"  {t.name}: {t.prior}" for t in self.priors.terms]
        return "\n".join(lines)

    __repr__ = __str__
