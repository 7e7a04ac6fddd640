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

from ._errors import DataError, FamilyError, FormulaError
from .design import TERM_KINDS, Design, TermKind, design_to_dict, register_term_kind
from .families import BUILTIN_FAMILIES, Family, get_family
from .families.paths import own_paths
from .links import Link
from .persist.importpath import PathPolicy, resolve_path
from .persist.values import UnsupportedValueError
from .priors import Prior, PriorSet, TermPrior, prior_from_dict, prior_to_dict

__all__ = [
    "ModelSpec",
    "SPEC_ENTRIES",
    "MODEL_OPTIONS",
    "data_fingerprint",
    "prior_to_json",
    "prior_from_json",
    "term_priors_to_json",
    "build_spec",
    "family_entries",
    "family_from_spec",
    "kinds_from_spec",
    "spec_to_save",
    "rebuild_arguments",
    "check_same_rows",
]

#: The names these had before priors wrote themselves (``Prior.to_dict``); kept for callers.
prior_to_json = prior_to_dict
prior_from_json = prior_from_dict


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
        The other arguments of ``Model``, those of :data:`MODEL_OPTIONS` (``weights`` only
        when given).
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
        A family (or link) that is not in the registry, as :meth:`Family.to_dict` (or
        :meth:`Link.to_dict`) writes it; ``None`` when the name is enough. Files without them
        (all files before custom families could be saved) name registered ones.
    term_kinds : dict, optional
        The registered kinds of term the formulas use (``register_term_kind``), each by the
        import path of its record; ``None`` when they use bayesmm's own alone.
    given_priors : list of str, optional
        The terms whose priors the user gave (the others are defaults, scaled from the
        data, which an update scales anew); ``None`` where not known (files written before
        updates).
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
    term_kinds: dict[str, str] | None = None
    given_priors: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in SPEC_ENTRIES}
        # Optional entries are written only when used, so specs of registered families are
        # as before and older bayesmm versions read them.
        values.update(
            {
                name: getattr(self, name)
                for name in OPTIONAL_ENTRIES
                if getattr(self, name) is not None
            }
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
            p["name"]: prior_from_dict(p["prior"], p["name"])
            for p in self.priors
            if p["name"] not in skip
        }


def term_priors_to_json(terms: list[TermPrior]) -> list[dict[str, Any]]:
    """The priors of a PriorSet, in display order, as JSON-ready values."""
    return [t.to_dict() for t in terms]


#: The entries a spec may leave out.
OPTIONAL_ENTRIES = ("family_record", "link_record", "term_kinds", "given_priors")
#: The entries of every spec: what a file must hold to be loaded.
SPEC_ENTRIES = tuple(f.name for f in fields(ModelSpec) if f.name not in OPTIONAL_ENTRIES)
#: The arguments of ``Model`` besides its formula, family, link and priors, which a spec keeps
#: as its ``options`` and a rebuild passes back.
MODEL_OPTIONS = (
    "categorical",
    "dropna",
    "auto_scale",
    "noncentered",
    "center_predictors",
    "automatic_priors",
    "weights",
)
#: The built-in families by name: a family record with one of these names must be it.
_BUILTIN = {family.name: family for family in BUILTIN_FAMILIES}


def build_spec(
    formula: str,
    family: str,
    link: str,
    options: Mapping[str, Any],
    priors: PriorSet,
    design: Design,
    fixed: Mapping[str, float] | None = None,
    normal_groups: list[str] | None = None,
    given: list[str] | None = None,
) -> ModelSpec:
    """The spec of a model from its parts (what ``Model.spec()`` and ``Model.fitted`` use);
    ``options`` by the names of :data:`MODEL_OPTIONS`, ``given`` the terms whose priors the
    user gave.

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
        used = priors.to_list()
    except UnsupportedValueError as err:
        raise DataError(f"This model cannot be saved: {err}, which a file cannot hold.") from None
    # A copy of each list (the categorical columns), and weights only when given, so that
    # specs of unweighted models are as before.
    kept = {k: list(v) if isinstance(v, list) else v for k, v in options.items()}
    if kept.get("weights") is None:
        kept.pop("weights", None)
    return ModelSpec(
        formula=formula,
        family=family,
        link=link,
        options=kept,
        priors=used,
        fixed=dict(priors.fixed() if fixed is None else fixed),
        normal_groups=list(priors.normal_groups() if normal_groups is None else normal_groups),
        sample_new_groups=False,
        design=described,
        data_sha256=data_fingerprint(state.frame),
        term_kinds=_kinds_used(design) or None,
        given_priors=None if given is None else list(given),
    )


def _kinds_used(design: Design) -> dict[str, str]:
    """The registered kinds of ``design``'s terms (and its formulas'), each by its path
    (``""`` for a kind without one, which :func:`spec_to_save` refuses)."""
    designs = [design, *(p.design for p in design.distributional)]
    names = {t.custom_kind for d in designs for t in d.common_terms if t.custom_kind is not None}
    return {name: TERM_KINDS[name].path or "" for name in sorted(names) if name in TERM_KINDS}


def kinds_from_spec(spec: ModelSpec, policy: PathPolicy | None = None) -> None:
    """Register the kinds of term a spec's formulas use, found by their paths under
    ``policy`` (as a custom family's functions are), unless the same kinds are registered.

    Raises
    ------
    LookupError
        If a path cannot be imported, does not name a :class:`~bayesmm.design.TermKind` of
        that name, or the policy does not allow it
        (:class:`~bayesmm.persist.importpath.UntrustedPathError`).
    """
    for name, path in (spec.term_kinds or {}).items():
        kind = resolve_path(path, policy, f"the term kind {name!r}")
        if not isinstance(kind, TermKind) or kind.name != name:
            raise LookupError(f"the term kind {name!r} names {path!r}, which is not its TermKind")
        if TERM_KINDS.get(name) != kind:
            register_term_kind(kind)


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
        entries["family_record"] = family.to_dict()
    try:
        known = family.resolve_link(link.name) == link
    except FamilyError:
        known = False
    if not known:
        entries["link_record"] = link.to_dict(family.name)
    return entries


def family_from_spec(spec: ModelSpec, policy: PathPolicy | None = None) -> tuple[Family, Link]:
    """The family and link of a spec: rebuilt from its records, or looked up by name.

    A family record with a built-in family's name may name only that family's own functions
    (and a link record with a built-in link's name, that link's); ``policy`` says which other
    functions the records may name.

    Raises
    ------
    LookupError
        If a custom family's function cannot be imported, or the policy does not allow it
        (:class:`~bayesmm.persist.importpath.UntrustedPathError`).
    FamilyError
        If the family is not registered, or the link is not allowed for it.
    """
    if spec.family_record is not None:
        record = spec.family_record
        name = record.get("name") if isinstance(record, Mapping) else None
        builtin = _BUILTIN.get(name) if isinstance(name, str) else None
        own = None if builtin is None else own_paths(builtin)
        family = Family.from_dict(record, policy, "the family_record", own)
    else:
        family = get_family(spec.family)
    if spec.link_record is not None:
        link = Link.from_dict(spec.link_record, policy, "the link_record")
        return family, family.resolve_link(link)
    return family, family.resolve_link(spec.link)


def spec_to_save(
    spec: ModelSpec, family: Family, link: Link, sample_new_groups: bool | str | None
) -> ModelSpec:
    """The spec a file holds: ``spec`` with a family (or link) the registry does not hold
    written out in full, and the loaded model's default new-group policy if one is given.

    A family or link that cannot be written is refused here, with a ``FamilyError`` naming
    the function that cannot be saved, before anything is written.

    Raises
    ------
    FamilyError
        If a function of the family or link cannot be named by an import path (before
        anything is written).
    DataError
        If ``sample_new_groups`` is not a policy.
    """
    from .predict import resolve_policy

    unnamed = [name for name, path in (spec.term_kinds or {}).items() if not path]
    if unnamed:
        raise FormulaError(
            f"The kind of term {unnamed[0]!r} has no path, so a file cannot name it: register "
            "it as a module-level TermKind(..., path='module:NAME') to save models that use it."
        )
    changes: dict[str, Any] = family_entries(family, link)
    if sample_new_groups is not None:
        resolve_policy(sample_new_groups)
        changes["sample_new_groups"] = sample_new_groups
    return ModelSpec.from_dict({**spec.to_dict(), **changes}) if changes else spec


def rebuild_arguments(
    spec: ModelSpec,
    family: Family,
    link: Link,
    design: Design,
    priors: Mapping[str, Any] | None,
) -> tuple[list[str], dict[str, Any]]:
    """The formulas and keyword arguments of ``Model`` that rebuild a fitted model.

    The formulas are the main one, then its distributional formulas and the models of its
    ``mi()`` columns; the keywords its family, links, options and priors (those of the
    fit, already scaled from its data, with ``priors`` over them).
    """
    given = dict(priors or {})
    stored = spec.prior_dict(skip=given)
    # The distributional formulas (not a multinomial logit's per-category copies of the
    # formula: the family makes them) and the models of mi() columns.
    parts = [p for p in design.distributional if p.param in family.aux_params]
    formulas = [spec.formula, *(p.formula for p in parts), *(i.formula for i in design.imputed)]
    return formulas, {
        "family": family,
        "link": {family.parent: link, **{part.param: part.link for part in parts}},
        "priors": {**stored, **given},
        **spec.options,
    }


def check_same_rows(spec: ModelSpec, design: Design) -> None:
    """Raise a ``DataError`` unless the training rows of ``design`` have the fingerprint of
    the fit's rows."""
    frame = design.state.frame if design.state is not None else None
    found = data_fingerprint(frame) if frame is not None else ""
    if found != spec.data_sha256:
        raise DataError(
            "data must give the same training rows as the fit (require_same_data=True); "
            f"got SHA-256 {found[:12]}..., but the fit's rows have "
            f"{spec.data_sha256[:12]}...."
        )
