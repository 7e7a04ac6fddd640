"""``ModelSpec``: everything needed to rebuild a model, and nothing else, as JSON.

A saved model (see ``bayesmm.io``) stores its spec as one JSON document: the formula, the
family and link, the priors as they were used (defaults already scaled from the data), the
model options, the design's learned state (levels, reference levels, transform parameters,
grouping-factor levels) and the default policy for unseen groups. From it alone, new data are
encoded exactly as at fit time; with data, the model can be rebuilt for a refit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from ._errors import DataError, PriorError
from ._jsonvalues import UnsupportedValueError, decode_value, encode_value
from .design import Design, design_to_dict
from .priors import Prior, PriorSet, TermPrior

__all__ = [
    "ModelSpec",
    "SPEC_ENTRIES",
    "data_fingerprint",
    "prior_to_json",
    "prior_from_json",
    "term_priors_to_json",
    "build_spec",
]

#: The options of ``Model(...)`` a spec records, besides formula, family, link and priors.
MODEL_OPTIONS = (
    "categorical",
    "dropna",
    "auto_scale",
    "noncentered",
    "center_predictors",
    "automatic_priors",
)


def prior_to_json(prior: Prior | float) -> dict[str, Any]:
    """A prior (or a fixed number) as JSON-ready values; hyperpriors nest."""
    if not isinstance(prior, Prior):
        return {"value": encode_value(float(prior))}
    params = {
        key: prior_to_json(value) if isinstance(value, Prior) else {"value": encode_value(value)}
        for key, value in prior.params.items()
    }
    custom = None
    if prior.dist is not None:
        module = getattr(prior.dist, "__module__", "?")
        custom = f"{module}.{getattr(prior.dist, '__qualname__', '?')}"
    return {"prior": prior.name, "params": params, "custom_dist": custom}


def prior_from_json(value: Mapping[str, Any], term: str) -> Prior | float:
    """The inverse of :func:`prior_to_json`.

    Raises
    ------
    PriorError
        For a prior that used a custom ``dist`` function, which a file cannot hold.
    """
    if "prior" not in value:
        return float(decode_value(value["value"]))
    if value.get("custom_dist"):
        raise PriorError(
            f"The prior of {term!r} used the custom dist function {value['custom_dist']}, which "
            "a saved file cannot hold. Pass it again: priors={" + repr(term) + ": Prior(...)}."
        )
    params: dict[str, Any] = {
        key: prior_from_json(inner, term) if "prior" in inner else decode_value(inner["value"])
        for key, inner in value["params"].items()
    }
    return Prior(value["prior"], **params)


def data_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the training rows: the formula's columns after missing values were handled.

    Numbers (and booleans) enter as float64 bytes, everything else (text, categories) as text,
    column by column in name order, so the fingerprint does not depend on column order, on
    integer versus float storage, or on how a file stored categories.
    """
    digest = hashlib.sha256(f"rows:{len(frame)}\n".encode())
    for name in sorted(frame.columns, key=str):
        column = frame[name]
        digest.update(f"column:{name}\n".encode())
        is_number = pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
            column.dtype
        )
        if is_number and not isinstance(column.dtype, pd.CategoricalDtype):
            digest.update(np.ascontiguousarray(column.to_numpy(dtype="<f8")).tobytes())
        else:
            digest.update("\x1f".join(str(v) for v in column.to_numpy(dtype=object)).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelSpec:
    """What a fitted model is, as plain values that round-trip through JSON.

    Attributes
    ----------
    formula : str
        The model formula.
    family, link : str
        Names in the family and link registries.
    options : dict
        The other arguments of ``Model`` (``categorical``, ``dropna``, ``auto_scale``,
        ``noncentered``, ``center_predictors``, ``automatic_priors``).
    priors : list of dict
        Every term's prior as used in the fit: ``{"name", "kind", "prior"}``, the prior in the
        form of :func:`prior_to_json`.
    fixed : dict
        Auxiliary parameters fixed to a number.
    normal_groups : list of str
        Group terms with a ``Normal(mu, sigma)`` prior (the ``"gaussian"`` new-group policy).
    sample_new_groups : bool or str
        The default policy for group levels not seen at fit time.
    design : dict
        The design's learned state (see ``design.design_to_dict``).
    data_sha256 : str
        :func:`data_fingerprint` of the training rows.
    """

    formula: str
    family: str
    link: str
    options: dict[str, Any]
    priors: list[dict[str, Any]]
    fixed: dict[str, float]
    normal_groups: list[str]
    sample_new_groups: bool | str
    design: dict[str, Any]
    data_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SPEC_ENTRIES}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelSpec:
        """Raises KeyError naming the first missing entry (see :data:`SPEC_ENTRIES`)."""
        return cls(**{name: values[name] for name in SPEC_ENTRIES})

    def prior_dict(self, skip: Collection[str] = ()) -> dict[str, Prior | float]:
        """The priors as ``{term: Prior or number}``, ready for ``Model(priors=...)``.

        Terms in ``skip`` are left out (and so never decoded: a custom ``dist`` is an error
        only when it would be used).
        """
        return {
            p["name"]: prior_from_json(p["prior"], p["name"])
            for p in self.priors
            if p["name"] not in skip
        }


def term_priors_to_json(terms: list[TermPrior]) -> list[dict[str, Any]]:
    """The priors of a PriorSet, in display order, as JSON-ready values."""
    return [{"name": t.name, "kind": t.kind, "prior": prior_to_json(t.prior)} for t in terms]


#: The entries of every spec: what a file must hold to be loaded.
SPEC_ENTRIES = tuple(f.name for f in fields(ModelSpec))


def build_spec(
    formula: str,
    family: str,
    link: str,
    options: Mapping[str, Any],
    priors: PriorSet,
    design: Design,
    fixed: Mapping[str, float],
    normal_groups: list[str],
) -> ModelSpec:
    """The spec of a model from its parts (what ``Model.spec()`` and ``Model.fitted`` use).

    Raises
    ------
    DataError
        If a level or a transform's state cannot be written as JSON (e.g. dates).
    """
    state = design.state
    if state is None or state.frame is None:
        raise DataError("This design has no training rows to describe; build it from data.")
    try:
        described = design_to_dict(design)
        used = term_priors_to_json(list(priors.terms))
    except UnsupportedValueError as err:
        raise DataError(f"This model cannot be saved: {err}, which a file cannot hold.") from None
    return ModelSpec(
        formula=formula,
        family=family,
        link=link,
        options=dict(options),
        priors=used,
        fixed=dict(fixed),
        normal_groups=list(normal_groups),
        sample_new_groups=False,
        design=described,
        data_sha256=data_fingerprint(state.frame),
    )
