"""Updating a fitted model with new rows: ``FittedModel.update(new_rows)`` and
``bayesmm update``.

Two routes, and ``idata.attrs["update_path"]`` says which ran:

- ``"statistics"``: a gaussian model with the identity link whose fit holds the sufficient
  statistics of its rows (:mod:`bayesmm.design.moments`: a file saved with them, by default
  where the fit sampled them; or a fit in memory that sampled them).
  The new rows' statistics are added to them, new levels of grouping factors added to the
  design, the default priors scaled anew from the sums (the priors the user gave kept as
  given), and the model sampled from the sums alone: the posterior of a fit of all the rows,
  without the earlier rows.
- ``"rows"``: a model whose fit holds its training rows is fitted again, on them and the new
  rows, as a new model of the same spec (its default priors scaled from all the rows).

A fit that holds neither is refused, with what to save next time. Each batch of rows is
fingerprinted as a fit's rows are (``spec.data_fingerprint`` of the formula's columns);
``idata.attrs["batches_sha256"]`` lists the batches behind the posterior (the first fit's
rows first, as JSON), and a batch applied before is refused. ``idata.attrs["n_rows"]``
counts the rows behind the posterior.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from typing import Any

import pandas as pd

from .._errors import DataError, ModelFileError, NotFittedError
from .._validation import check_counts, check_sampling
from .._version import __version__
from ..backend.graph import stored_model
from ..backend.samplers import AUTO, check_options, sample
from ..design import design_from_dict
from ..design.growth import grown_design
from ..design.moments import STATISTICS_GROUP, Moments, moments_blocker, statistics_to_save
from ..design.state import as_frame, check_numeric
from ..fitted import FittedModel
from ..formula import Formula
from ..model import Model
from ..priors import PriorSet, merge_priors
from ..scaling import default_priors
from ..spec import ModelSpec, data_fingerprint, rebuild_arguments

__all__ = ["update", "UPDATE_PATHS", "FIT_DEFAULTS"]

#: ``idata.attrs["update_path"]``: the routes of an update.
UPDATE_PATHS = ("statistics", "rows")

#: The sampling options of ``Model.fit`` and their defaults, which an update takes too.
FIT_DEFAULTS: dict[str, Any] = {
    "draws": 1000,
    "tune": 1000,
    "chains": None,
    "inference_method": AUTO,
    "random_seed": None,
    "progressbar": True,
}

_log = logging.getLogger("bayesmm")


def update(fitted: FittedModel, new_rows: pd.DataFrame, **fit_kwargs: Any) -> FittedModel:
    """``fitted`` updated with ``new_rows``: the posterior of all its rows and these.

    Parameters
    ----------
    fitted : FittedModel
        A fitted model (``model.fitted(idata)``) or a loaded one (``bayesmm.load``).
    new_rows : pandas.DataFrame
        Rows with the columns the model uses (the response, the predictors, the weights).
    **fit_kwargs
        The options of :meth:`bayesmm.Model.fit` (``draws``, ``tune``, ``chains``,
        ``inference_method``, ``random_seed``, ``progressbar``, sampler options).
        ``sufficient_statistics=False`` refits on the rows even where statistics are held;
        ``True`` insists on the statistics.

    Returns
    -------
    FittedModel
        With ``idata.attrs["update_path"]`` (``"statistics"`` or ``"rows"``),
        ``idata.attrs["n_rows"]`` and ``idata.attrs["batches_sha256"]``; saving it keeps the
        statistics (or the rows) that the next update adds to.

    Raises
    ------
    DataError
        If ``new_rows`` lacks a column the model uses or does not fit it (naming the column),
        was applied before, or the model holds neither statistics nor rows to add it to.
    """
    spec = fitted.spec
    if spec is None:
        raise NotFittedError("This FittedModel has no model spec; update the model it came from.")
    frame, dropped = _checked_rows(spec, new_rows)
    digest = _batch_digest(spec, frame)
    applied = _applied(fitted, spec)
    if digest in applied:
        raise DataError(
            f"These rows (SHA-256 {digest[:12]}...) were applied to this model before "
            f"(batch {applied.index(digest) + 1} of {len(applied)}); each batch is added once."
        )
    choice = fit_kwargs.pop("sufficient_statistics", None)
    if choice is not None and not isinstance(choice, bool):
        raise DataError(f"sufficient_statistics must be True, False or None; got {choice!r}.")
    held, has_rows = _held(fitted), fitted.design.n_obs > 0
    blocker = _statistics_blocker(fitted, spec)
    if choice is not False and blocker is None and (held is not None or (choice and has_rows)):
        if held is None:  # sufficient_statistics=True: the training rows' own
            held = Moments.of_design(fitted.design)
        return _from_statistics(fitted, spec, held, frame, dropped, [*applied, digest], fit_kwargs)
    if choice or not has_rows:
        raise DataError(_refusal(choice, blocker, held is not None, has_rows))
    why = "sufficient_statistics=False" if choice is False else blocker or "no statistics held"
    _log.info(
        "Updating by a refit of all %d rows (%d before, %d new): %s.",
        fitted.design.n_obs + len(frame),
        fitted.design.n_obs,
        len(frame),
        why,
    )
    return _from_rows(fitted, spec, frame, [*applied, digest], fit_kwargs)


def _refusal(choice: bool | None, blocker: str | None, held: bool, has_rows: bool) -> str:
    """Why an update cannot run, and what to save next time."""
    if choice and blocker is not None:
        return (
            "sufficient_statistics=True updates a gaussian model with the identity link from "
            f"its statistics; here {blocker}."
        )
    if choice is False and held:
        return (
            "sufficient_statistics=False refits on the training rows, and this model holds "
            "its statistics but not its rows; update it with the statistics."
        )
    what = (
        "save it with statistics=True (or with its training rows)"
        if blocker is None
        else "save it with its training rows (posterior_only=False)"
    )
    return (
        "This model cannot be updated: it holds neither its training rows nor their "
        f"sufficient statistics, and an update adds the new rows to one of them. Next time, "
        f"{what}; now, refit it on all the rows with fitted.to_model(all_rows).fit()."
    )


def _statistics_blocker(fitted: FittedModel, spec: ModelSpec) -> str | None:
    """Why this model cannot be updated from statistics, or ``None``."""
    blocker = moments_blocker(fitted.design, fitted.family, fitted.link)
    if blocker is None and spec.options.get("automatic_priors", "default") != "default":
        blocker = "its default priors are scaled from a GLM of the rows (automatic_priors='mle')"
    if blocker is None and (spec.design.get("distributional") or spec.design.get("imputed")):
        blocker = "it has distributional formulas or imputed columns"
    return blocker


def _checked_rows(spec: ModelSpec, new_rows: Any) -> tuple[pd.DataFrame, int]:
    """The formula's columns of ``new_rows``, complete (or, with ``dropna``, the rows that
    are), numeric where they were; and the number of rows dropped."""
    rows = as_frame(new_rows)
    columns = list(spec.design["columns"])
    missing = [name for name in columns if name not in rows.columns]
    if missing:
        raise DataError(
            f"new rows lack the column {missing[0]!r}, which the model uses (it uses "
            f"{columns}); got the columns {[str(c) for c in rows.columns][:20]}."
        )
    frame = rows[columns]
    incomplete = frame.isna().to_numpy().any(axis=1)
    if incomplete.any() and not spec.options.get("dropna"):
        counts = {str(c): int(n) for c, n in frame.isna().sum().items() if n}
        raise DataError(
            f"new rows must have a value in every column the model uses; got missing values "
            f"in {counts}. Drop those rows, or fit the model with dropna=True."
        )
    frame = frame[~incomplete]
    if frame.empty:
        raise DataError("new rows have no complete row to add.")
    numeric = [n for n, c in spec.design["columns"].items() if c.get("kind") == "numeric"]
    frame = frame.assign(**{name: check_numeric(frame, name) for name in numeric})
    return frame.reset_index(drop=True), int(incomplete.sum())


def _batch_digest(spec: ModelSpec, frame: pd.DataFrame) -> str:
    """The fingerprint of a batch, as of a fit's rows: categorical columns by their text."""
    kinds = {name: column.get("kind") for name, column in spec.design["columns"].items()}
    categorical = [name for name, kind in kinds.items() if kind == "categorical"]
    return data_fingerprint(frame.assign(**{n: pd.Categorical(frame[n]) for n in categorical}))


def _applied(fitted: FittedModel, spec: ModelSpec) -> list[str]:
    """The fingerprints of the batches behind a fit: its attribute, or its training rows'."""
    stored = fitted.idata.attrs.get("batches_sha256")
    if stored is None:
        return [spec.data_sha256]
    try:
        batches = json.loads(str(stored))
    except ValueError:
        batches = None
    if not isinstance(batches, list) or not all(isinstance(b, str) for b in batches):
        raise ModelFileError(
            f"The fit's batches_sha256 attribute is not a list of digests: {stored!r}"
        )
    return batches


def _held(fitted: FittedModel) -> Moments | None:
    """The statistics a fit holds (an update's, or its file's), or those of its rows where it
    sampled them, as its file would hold them (``design.moments.statistics_to_save``); or
    ``None``."""
    idata = fitted.idata
    group = idata[STATISTICS_GROUP] if STATISTICS_GROUP in idata.groups() else None
    model = (fitted.design, fitted.family, fitted.link)
    dataset = statistics_to_save(*model, group, idata.attrs, None)
    if dataset is None:
        return None
    try:
        return Moments.from_dataset(dataset)
    except (KeyError, ValueError, TypeError) as err:
        raise ModelFileError(
            f"The model's {STATISTICS_GROUP!r} group is not one bayesmm wrote: {err}"
        ) from None


def _given(spec: ModelSpec, defaults: PriorSet) -> dict[str, Any]:
    """The priors the user gave, as used: by the spec's list, or, for a spec without one,
    those that differ from the defaults of the earlier rows."""
    used = spec.prior_dict()
    if spec.given_priors is not None:
        return {name: used[name] for name in spec.given_priors if name in used}
    own = {t.name: t.to_dict()["prior"] for t in defaults.terms}
    stored = {p["name"]: p["prior"] for p in spec.priors}
    return {name: used[name] for name in used if stored[name] != own.get(name)}


def _sampling(fit_kwargs: dict[str, Any], n_obs: int) -> dict[str, Any]:
    """``Model.fit``'s options, with its defaults, checked as it checks them."""
    options = {**FIT_DEFAULTS, **fit_kwargs}
    extra = {k: v for k, v in options.items() if k not in FIT_DEFAULTS and k != "cache"}
    if extra.pop("log_likelihood", None):
        raise DataError(
            "log_likelihood=True needs the rows, and an update from statistics has none; "
            "its file keeps the statistics instead."
        )
    options.pop("log_likelihood", None)
    check_counts(draws=options["draws"], tune=options["tune"], chains=options["chains"])
    check_sampling(options["random_seed"], extra)
    check_options(options["inference_method"], extra, n_obs, True)
    return options


def _from_statistics(
    fitted: FittedModel,
    spec: ModelSpec,
    held: Moments,
    frame: pd.DataFrame,
    dropped: int,
    batches: list[str],
    fit_kwargs: dict[str, Any],
) -> FittedModel:
    """The update from stored statistics (see the module's documentation)."""
    family, link, state = fitted.family, fitted.link, fitted.design.state
    assert state is not None  # a fitted or loaded model's design has its state
    state.encode(frame)  # the rows' own errors, naming the column: unseen categories, ...
    grown = grown_design(spec.design, frame, dropped)
    try:
        batch = design_from_dict(grown, family, frame)  # the new rows, in the grown levels
    except (ValueError, KeyError) as err:
        raise DataError(f"new rows cannot be encoded as the model's rows: {err}") from None
    moments = held.merged(Moments.of_design(batch))
    options = _sampling(fit_kwargs, moments.rows)
    auto_scale = bool(spec.options.get("auto_scale", True))
    before = default_priors(batch, family, link, auto_scale, scales=held.scales())
    defaults = default_priors(batch, family, link, auto_scale, scales=moments.scales())
    priors = merge_priors(defaults, _given(spec, before))
    family.check_fixed(priors)
    built = stored_model(
        batch,
        priors,
        moments,
        noncentered=spec.options.get("noncentered", "auto"),
        center=bool(spec.options.get("center_predictors", True)),
    )
    idata = sample(built, log_likelihood=False, **options)
    if "constant_data" in idata.groups():  # the summed model's containers: no rows
        del idata["constant_data"]
    idata.add_groups({STATISTICS_GROUP: moments.to_dataset()})
    idata.attrs.update(
        {
            "bayesmm_version": __version__,
            "formula": spec.formula,
            "family": family.name,
            "link": link.name,
            **_update_attrs("statistics", moments.rows, batches),
        }
    )
    chained = hashlib.sha256("\n".join(batches).encode()).hexdigest()
    values = {"design": grown, "priors": priors.to_list(), "data_sha256": chained}
    values.update(fixed=priors.fixed(), normal_groups=priors.normal_groups())
    updated = ModelSpec.from_dict({**spec.to_dict(), **values})
    return FittedModel(
        design_from_dict(grown, family),
        family,
        link,
        idata,
        fixed=updated.fixed,
        normal_groups=updated.normal_groups,
        spec=updated,
        sample_new_groups=spec.sample_new_groups,
    )


def _update_attrs(path: str, rows: int, batches: list[str]) -> dict[str, Any]:
    return {"update_path": path, "n_rows": rows, "batches_sha256": json.dumps(batches)}


def _stacked(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The training rows and the new ones, one table: a categorical column keeps its
    categories in their order, new values (matched by their text) added after them."""
    new = new[list(old.columns)]
    for name in old.columns:
        column = old[name]
        if not isinstance(column.dtype, pd.CategoricalDtype):
            continue
        categories = list(column.cat.categories)
        text = {str(c): c for c in categories}
        values = [text.get(str(v), v) for v in new[name].to_numpy(dtype=object)]
        every = list(dict.fromkeys([*categories, *values]))
        dtype = pd.CategoricalDtype(every, ordered=column.cat.ordered)
        old = old.assign(**{name: column.astype(dtype)})
        new = new.assign(**{name: pd.Categorical(values, dtype=dtype)})
    return pd.concat([old, new], ignore_index=True)


def _from_rows(
    fitted: FittedModel,
    spec: ModelSpec,
    frame: pd.DataFrame,
    batches: list[str],
    fit_kwargs: dict[str, Any],
) -> FittedModel:
    """The update by a refit on the training rows and the new ones."""
    rows = _stacked(fitted.training_rows, frame)
    formulas, arguments = rebuild_arguments(spec, fitted.family, fitted.link, fitted.design, None)
    if spec.given_priors is not None:
        arguments["priors"] = _given(spec, PriorSet(()))
    elif spec.options.get("automatic_priors", "default") == "default":  # older specs
        auto_scale = bool(spec.options.get("auto_scale", True))
        before = default_priors(fitted.design, fitted.family, fitted.link, auto_scale)
        arguments["priors"] = _given(spec, before)
    model = Model(Formula(*formulas), rows, **arguments)
    idata = model.fit(**fit_kwargs)
    idata.attrs.update(_update_attrs("rows", model.design.n_obs, batches))
    made = model.fitted(idata)
    assert made.spec is not None
    return FittedModel(
        made.design,
        made.family,
        made.link,
        idata,
        fixed=made.fixed,
        normal_groups=made.normal_groups,
        spec=replace(made.spec, sample_new_groups=spec.sample_new_groups),
        sample_new_groups=spec.sample_new_groups,
    )
