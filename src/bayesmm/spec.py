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

from ._errors import DataError, FamilyError, PriorError
from ._importpath import UnsavableError, callable_path, resolve_path
from ._jsonvalues import UnsupportedValueError, decode_value, encode_value
from ._pymc_likelihoods import KNOWN_LIKELIHOODS, default_support
from .design import Design, design_to_dict
from .families import Categories, Family, Likelihood, _FixedPrior
from .links import Link, _CentralDifference, _NumpyOpsInverse
from .priors import Prior, PriorSet, TermPrior

__all__ = [
    "ModelSpec",
    "SPEC_ENTRIES",
    "data_fingerprint",
    "prior_to_json",
    "prior_from_json",
    "term_priors_to_json",
    "build_spec",
    "family_entries",
    "family_from_spec",
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
    family_record, link_record : dict, optional
        A family (or link) that is not in the registry, as :func:`family_to_json` (or
        :func:`link_to_json`) writes it; ``None`` when the name is enough. Files without them
        (all files before custom families could be saved) name registered ones.
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
    family_record: dict[str, Any] | None = None
    link_record: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in SPEC_ENTRIES}
        # Optional entries are written only when used, so specs of registered families are
        # as before and older bayesmm versions read them.
        values.update(
            {name: getattr(self, name) for name in OPTIONAL_ENTRIES if getattr(self, name)}
        )
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelSpec:
        """Raises KeyError naming the first missing entry (see :data:`SPEC_ENTRIES`)."""
        entries: dict[str, Any] = {name: values[name] for name in SPEC_ENTRIES}
        entries.update({name: values.get(name) for name in OPTIONAL_ENTRIES})
        return cls(**entries)

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


#: The entries a spec may leave out.
OPTIONAL_ENTRIES = ("family_record", "link_record")
#: The entries of every spec: what a file must hold to be loaded.
SPEC_ENTRIES = tuple(f.name for f in fields(ModelSpec) if f.name not in OPTIONAL_ENTRIES)


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


# --- custom families ---------------------------------------------------------------------------

#: Written for a function a known PyMC distribution supplies (see ``_pymc_likelihoods``),
#: which loading takes from the table again.
_KNOWN = "known"

_UNSAVABLE_HINT = (
    "A model file names each function of a custom family by its import path. Define it as a "
    "function at module level in an importable module (not in a script run as __main__), or "
    "register the family with bmm.register_family before saving and again before loading "
    "(a registered family is saved by name)."
)


def _path(function: Any, family: str, where: str) -> str:
    try:
        return callable_path(function)
    except UnsavableError as err:
        raise FamilyError(
            f"Family {family!r} cannot be saved: {where} = {function!r} {err}. {_UNSAVABLE_HINT}"
        ) from None


def _optional_path(function: Any, family: str, where: str) -> str | None:
    return None if function is None else _path(function, family, where)


def link_to_json(link: Link, family: str) -> dict[str, Any]:
    """A link as JSON-ready values: its name if registered, else its functions' import paths.

    Raises
    ------
    FamilyError
        If a function cannot be named by an import path; the message names ``family``.
    """
    if link.is_registered:
        return {"registered": link.name}
    where = f"its link {link.name!r} has"
    linkinv = None if isinstance(link.linkinv, _NumpyOpsInverse) else link.linkinv
    derivative = None if isinstance(link.derivative, _CentralDifference) else link.derivative
    return {
        "name": link.name,
        "link": _path(link.link, family, f"{where} link"),
        "linkinv": _optional_path(linkinv, family, f"{where} linkinv"),
        "linkinv_backend": _optional_path(link.linkinv_backend, family, f"{where} linkinv_backend"),
        "derivative": _optional_path(derivative, family, f"{where} derivative"),
        "inverse": _optional_path(link.inverse, family, f"{where} inverse"),
    }


def link_from_json(record: Mapping[str, Any]) -> Link:
    """The inverse of :func:`link_to_json`.

    Raises
    ------
    LookupError
        If a function's module cannot be imported or does not hold it.
    FamilyError
        If the link is not registered in this session, or its functions do not make a link.
    """
    if "registered" in record:
        from .links import get_link

        return get_link(record["registered"])
    functions = {
        key: resolve_path(record[key]) if record.get(key) else None
        for key in ("link", "linkinv", "linkinv_backend", "derivative", "inverse")
    }
    return Link(record["name"], **functions)


def family_to_json(family: Family) -> dict[str, Any]:
    """A family that is not registered as JSON-ready values; functions by import path.

    Raises
    ------
    FamilyError
        If one of its functions cannot be named by an import path (a lambda, a closure, a
        function of ``__main__``); the message names the family and the function.
    """
    name = family.name
    likelihood = family.likelihood
    known = KNOWN_LIKELIHOODS.get(likelihood.name)

    def function(value: Any, where: str, default: Any = None) -> str | None:
        if value is None:
            return None
        if default is not None and value is default:
            return _KNOWN
        return _path(value, name, where)

    aux: dict[str, Any] = {}
    for param, prior in family.aux_priors.items():
        if isinstance(prior, _FixedPrior):
            aux[param] = {"prior": prior_to_json(prior.prior)}
        else:
            aux[param] = {"function": _path(prior, name, f"its aux_priors[{param!r}]")}
    return {
        "name": name,
        "likelihood": {
            "name": likelihood.name,
            "params": list(likelihood.params),
            "parent": likelihood.parent,
            "to_dist": function(likelihood.to_dist, "its likelihood's to_dist"),
            "logit_kwarg": likelihood.logit_kwarg,
            "trials_kwarg": likelihood.trials_kwarg,
            "draw": function(likelihood.draw, "its likelihood's draw", known and known.draw),
            "logpdf": function(
                likelihood.logpdf, "its likelihood's logpdf", known and known.logpdf
            ),
        },
        "link": family.link,
        "links": list(family.links),
        "custom_links": [link_to_json(link, name) for link in family.custom_links],
        "aux_priors": aux,
        "support": function(family.support, "its support", default_support(likelihood.name)[0]),
        "support_text": family.support_text,
        "trials": family.trials,
        "binary": family.binary,
        "glm_variance": family.glm_variance,
        "prior_scale": function(family.prior_scale, "its prior_scale"),
        "aux_bounds": {
            param: [encode_value(float(low)), encode_value(float(high))]
            for param, (low, high) in family.aux_bounds.items()
        },
        "categories": _categories_to_json(family.categories),
    }


def _categories_to_json(categories: Categories | None) -> dict[str, Any] | None:
    """Every field of ``categories`` (text, booleans and whole numbers), or ``None``."""
    if categories is None:
        return None
    return {f.name: getattr(categories, f.name) for f in fields(categories)}


def _categories_from_json(record: Mapping[str, Any] | None) -> Categories | None:
    # A record written before the family's categories were kept has none; fields added to
    # Categories since a file was written take their defaults.
    if record is None:
        return None
    return Categories(**record)


def family_from_json(record: Mapping[str, Any]) -> Family:
    """The inverse of :func:`family_to_json`.

    Raises
    ------
    LookupError
        If a function's module cannot be imported or does not hold it.
    FamilyError
        If the record does not make a family.
    """
    raw = record["likelihood"]
    known = KNOWN_LIKELIHOODS.get(raw["name"])

    def function(value: str | None, default: Any = None) -> Any:
        if value is None:
            return None
        if value == _KNOWN:
            if default is None:
                raise LookupError(f"no function of PyMC's {raw['name']} is known")
            return default
        return resolve_path(value)

    likelihood = Likelihood(
        raw["name"],
        tuple(raw["params"]),
        raw["parent"],
        to_dist=function(raw["to_dist"]),
        logit_kwarg=raw["logit_kwarg"],
        trials_kwarg=raw["trials_kwarg"],
        draw=function(raw["draw"], known and known.draw),
        logpdf=function(raw["logpdf"], known and known.logpdf),
    )
    aux: dict[str, Any] = {
        param: (
            prior_from_json(value["prior"], param)
            if "prior" in value
            else resolve_path(value["function"])
        )
        for param, value in record["aux_priors"].items()
    }
    return Family(
        record["name"],
        likelihood,
        record["link"],
        tuple(record["links"]),
        aux,
        support=function(record["support"], default_support(raw["name"])[0]),
        support_text=record["support_text"],
        trials=record["trials"],
        binary=record["binary"],
        glm_variance=record["glm_variance"],
        prior_scale=function(record["prior_scale"]),
        aux_bounds={
            param: (float(decode_value(low)), float(decode_value(high)))
            for param, (low, high) in record["aux_bounds"].items()
        },
        custom_links=tuple(link_from_json(link) for link in record["custom_links"]),
        categories=_categories_from_json(record.get("categories")),
    )


def family_entries(family: Family, link: Link) -> dict[str, Any]:
    """The spec entries that rebuild a family (and link) the registry does not hold.

    Empty for a registered family with one of its links; otherwise ``family_record`` and,
    for a link the family does not know by its name, ``link_record``.

    Raises
    ------
    FamilyError
        If a function of the family or link cannot be named by an import path.
    """
    entries: dict[str, Any] = {}
    if not family.is_registered:
        entries["family_record"] = family_to_json(family)
    try:
        known = family.resolve_link(link.name) == link
    except FamilyError:
        known = False
    if not known:
        entries["link_record"] = link_to_json(link, family.name)
    return entries


def family_from_spec(spec: ModelSpec) -> tuple[Family, Link]:
    """The family and link of a spec: rebuilt from its records, or looked up by name.

    Raises
    ------
    LookupError
        If a custom family's function cannot be imported.
    FamilyError
        If the family is not registered, or the link is not allowed for it.
    """
    from .families import get_family

    if spec.family_record is not None:
        family = family_from_json(spec.family_record)
    else:
        family = get_family(spec.family)
    if spec.link_record is not None:
        return family, family.resolve_link(link_from_json(spec.link_record))
    return family, family.resolve_link(spec.link)
