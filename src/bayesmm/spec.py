"""``ModelSpec``: everything needed to rebuild a model, and nothing else, as JSON.

A saved model (see ``bayesmm.io``) stores its spec as one JSON document: the formula, the
family and link, the priors as they were used (defaults already scaled from the data), the
model options, the design's learned state (levels, reference levels, transform parameters,
grouping-factor levels) and the default policy for unseen groups. From it alone, new data are
encoded exactly as at fit time; with data, the model can be rebuilt for a refit.

A multivariate model's spec, :class:`MvSpec`, holds one ``ModelSpec`` per response (each
response's part of the model, named as a univariate model's) and what the responses share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import DataError, FamilyError, FormulaError
from ._names import response_name
from .design import TERM_KINDS, Design, TermKind, design_to_dict, register_term_kind
from .families import BUILTIN_FAMILIES, Family, get_family
from .families.paths import own_paths
from .links import Link
from .persist.importpath import PathPolicy, resolve_path
from .persist.netcdf import MULTIVARIATE
from .persist.values import UnsupportedValueError
from .priors import Prior, PriorSet, TermPrior, prior_from_dict, prior_to_dict

if TYPE_CHECKING:
    from .design.multivariate import MvDesign
    from .formula import MvFormula

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
    "MvSpec",
    "MV_SPEC_ENTRIES",
    "build_mv_spec",
    "mv_spec_to_save",
    "mv_training_rows",
    "priors_by_response",
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


@dataclass(frozen=True)
class MvSpec:
    """What a fitted multivariate model is, as plain values that round-trip through JSON.

    Each response's part is a univariate :class:`ModelSpec`: its formula, family, link and
    design, its priors under a univariate model's names (``x``, not ``y1_x``) and the
    fingerprint of its own columns, so that it is read as a univariate model's spec is. The
    multivariate spec adds what the responses share.

    Attributes
    ----------
    formula : str
        The formulas, one per response (``str(MvFormula)``).
    responses : tuple of str
        The responses, in order.
    by_response : tuple of ModelSpec
        Each response's spec, in the same order.
    rescor : bool
        Whether the responses' residuals are correlated.
    options : dict
        The other arguments of ``Model``, those of :data:`MODEL_OPTIONS`.
    priors : list of dict
        The priors the responses share (``rescor``, the ``nu`` of correlated t responses),
        as :meth:`~bayesmm.priors.TermPrior.to_dict` writes them.
    sample_new_groups : bool or str
        The default policy for group levels not seen at fit time.
    data_sha256 : str
        :func:`data_fingerprint` of the training rows, every response's columns.
    """

    formula: str
    responses: tuple[str, ...]
    by_response: tuple[ModelSpec, ...]
    rescor: bool
    options: dict[str, Any]
    priors: list[dict[str, Any]]
    sample_new_groups: bool | str
    data_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": MULTIVARIATE,
            "formula": self.formula,
            "responses": list(self.responses),
            "by_response": [part.to_dict() for part in self.by_response],
            "rescor": self.rescor,
            "options": self.options,
            "priors": self.priors,
            "sample_new_groups": self.sample_new_groups,
            "data_sha256": self.data_sha256,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MvSpec:
        """Raises KeyError naming the first missing entry (see :data:`MV_SPEC_ENTRIES`, and
        :data:`SPEC_ENTRIES` for each response's), TypeError for a malformed one."""
        entries: dict[str, Any] = {name: values[name] for name in MV_SPEC_ENTRIES[1:]}
        entries["responses"] = tuple(str(r) for r in entries["responses"])
        entries["by_response"] = tuple(ModelSpec.from_dict(p) for p in entries["by_response"])
        if len(entries["by_response"]) != len(entries["responses"]):
            raise TypeError("by_response must hold one spec per response")
        return cls(**entries)

    def fixed(self) -> dict[str, float]:
        """The auxiliary parameters fixed to a number, named as the model names them
        (``y1_sigma``; a shared ``nu`` as it is)."""
        shared = PriorSet(tuple(TermPrior.from_dict(p) for p in self.priors)).fixed()
        own = {
            response_name(response, name): value
            for response, part in zip(self.responses, self.by_response, strict=True)
            for name, value in part.fixed.items()
        }
        return {**own, **shared}

    def normal_groups(self) -> list[str]:
        """The group terms with a population distribution, named by their response."""
        return [
            response_name(response, name)
            for response, part in zip(self.responses, self.by_response, strict=True)
            for name in part.normal_groups
        ]


#: The entries of every multivariate spec (``model`` first); each response's spec has those
#: of :data:`SPEC_ENTRIES`.
MV_SPEC_ENTRIES = ("model", *(f.name for f in fields(MvSpec)))


def priors_by_response(
    priors: PriorSet, responses: tuple[str, ...]
) -> tuple[dict[str, PriorSet], PriorSet]:
    """A multivariate model's priors split into each response's, under a univariate model's
    names (``y1_x`` as ``x``), and those the responses share (``rescor``, a shared ``nu``).
    A name is of the longest response it starts with (``y_2_x`` is ``y_2``'s, not ``y``'s),
    as the user's priors are read."""
    by_length = sorted(responses, key=len, reverse=True)
    own: dict[str, list[TermPrior]] = {r: [] for r in responses}
    shared: list[TermPrior] = []
    for term in priors.terms:
        owner = next((r for r in by_length if term.name.startswith(response_name(r, ""))), None)
        if owner is None:
            shared.append(term)
        else:
            own[owner].append(replace(term, name=term.name[len(response_name(owner, "")) :]))
    return {r: PriorSet(tuple(terms)) for r, terms in own.items()}, PriorSet(tuple(shared))


def mv_training_rows(design: MvDesign) -> pd.DataFrame | None:
    """The training rows of a multivariate model: every response's columns, once each, on
    the rows they share; ``None`` for designs without their rows."""
    frames = [d.state.frame if d.state is not None else None for d in design.designs]
    if any(frame is None for frame in frames):
        return None
    first = frames[0]
    assert first is not None
    rows = pd.concat([f.reset_index(drop=True) for f in frames if f is not None], axis=1)
    rows = rows.loc[:, ~rows.columns.duplicated()]
    rows.index = first.index
    return rows


def build_mv_spec(
    formula: MvFormula,
    families: Mapping[str, Family],
    links: Mapping[str, Link],
    options: Mapping[str, Any],
    priors: PriorSet,
    design: MvDesign,
) -> MvSpec:
    """The spec of a multivariate model from its parts (what ``MvModel.spec()`` and
    ``MvModel.fitted`` use): each response's as :func:`build_spec` makes a univariate
    model's, from its formula, family, link, priors and design.

    Raises
    ------
    DataError
        If a level or a transform's state cannot be written as JSON (e.g. dates).
    """
    own, shared = priors_by_response(priors, design.responses)
    formulas = formula.by_response()
    parts = tuple(
        build_spec(
            formulas[r].main,
            families[r].name,
            links[r].name,
            options,
            own[r],
            design.design_of(r),
        )
        for r in design.responses
    )
    rows = mv_training_rows(design)
    if rows is None:
        raise DataError("This design has no training rows to describe; build it from data.")
    return MvSpec(
        formula=str(formula),
        responses=design.responses,
        by_response=parts,
        rescor=design.rescor,
        options=dict(parts[0].options),
        priors=shared.to_list(),
        sample_new_groups=False,
        data_sha256=data_fingerprint(rows),
    )


def mv_spec_to_save(
    spec: MvSpec,
    families: Mapping[str, Family],
    links: Mapping[str, Link],
    sample_new_groups: bool | str | None,
) -> MvSpec:
    """The spec a file holds: each response's as :func:`spec_to_save` writes a univariate
    model's (a family the registry does not hold written out), and the loaded model's
    default new-group policy if one is given.

    Raises
    ------
    FamilyError
        If a function of a response's family or link cannot be named by an import path.
    FormulaError
        If a response's formula uses a kind of term without a path.
    DataError
        If ``sample_new_groups`` is not a policy.
    """
    parts = tuple(
        spec_to_save(part, families[r], links[r], sample_new_groups)
        for r, part in zip(spec.responses, spec.by_response, strict=True)
    )
    if sample_new_groups is None:
        return replace(spec, by_response=parts)
    return replace(spec, by_response=parts, sample_new_groups=sample_new_groups)
