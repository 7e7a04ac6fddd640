"""One portable file per fitted model: save, load, predict without refitting.

The file is netCDF-4 (HDF5), written through ArviZ, so ``arviz.from_netcdf`` opens it too;
its layout is :mod:`bayesmm.persist.netcdf`'s. Loading reads arrays and JSON only, never a
pickle. The formula in a file may call only formulae's transforms and elementwise numpy
maths (:data:`bayesmm.design.file.SAFE_NUMPY`), in a namespace that holds nothing else, so
opening a file cannot run code. Loading imports neither pymc nor pytensor.

A multivariate model's file has the same layout (format 3), its spec an
:class:`~bayesmm.spec.MvSpec`: each response's part is read as a univariate model's (its
family, kinds of term and design, under the same trust rules), and ``load`` returns an
:class:`~bayesmm.predict.multiresponse.MvFittedModel`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ._errors import BayesmmError, DataError, ModelFileError, ModelFileNotFoundError, NotFittedError
from ._validation import check_path
from .design import design_from_dict
from .design.multivariate import MvDesign, linked_blocks
from .fitted import FittedModel
from .persist import netcdf, remote
from .persist.importpath import PathPolicy, UntrustedPathError, check_trust
from .persist.netcdf import FORMAT_NAME, FORMAT_VERSION, MULTIVARIATE, model_kind
from .persist.remote import is_url
from .predict.multiresponse import MvFittedModel, rescor_cholesky
from .spec import (
    MV_SPEC_ENTRIES,
    SPEC_ENTRIES,
    ModelSpec,
    MvSpec,
    data_fingerprint,
    family_from_spec,
    kinds_from_spec,
    mv_spec_to_save,
    mv_training_rows,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "ModelFileNotFoundError",
    "load",
    "read_header",
    "save",
    "write_multivariate",
]


def save(
    fitted: FittedModel | MvFittedModel,
    path: str | os.PathLike[str],
    *,
    posterior_only: bool = False,
    draws: int | None = None,
    sample_new_groups: bool | str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    statistics: bool | None = None,
) -> Path | str:
    """Write a fitted model to one netCDF file; see :meth:`bayesmm.Model.save`."""
    options: dict[str, Any] = {"statistics": statistics}
    if isinstance(fitted, MvFittedModel):  # it keeps no statistics
        if statistics:
            raise DataError("statistics=True: a multivariate model has no stored statistics.")
        options = {}
    return fitted.save(
        path,
        posterior_only=posterior_only,
        draws=draws,
        sample_new_groups=sample_new_groups,
        storage_options=storage_options,
        **options,
    )


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The format, versions, fingerprint and spec of a model file, without its arrays.

    Returns
    -------
    dict
        ``format_version``, ``versions`` (of the libraries that wrote it), ``data_sha256``,
        ``saved_at``, ``groups`` (the InferenceData groups it holds) and ``spec`` (a dict).

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, not a bayesmm model file, or from a newer format.
    """
    return netcdf.read_header(path, SPEC_ENTRIES, MV_SPEC_ENTRIES)


def write_multivariate(
    fitted: MvFittedModel,
    path: str | os.PathLike[str],
    *,
    posterior_only: bool = False,
    draws: int | None = None,
    sample_new_groups: bool | str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Path | str:
    """Write a fitted multivariate model to one netCDF file (what ``MvFittedModel.save``
    runs): its fit, the training rows of every response's columns and its
    :class:`~bayesmm.spec.MvSpec`; the options are those of :meth:`bayesmm.Model.save`.

    Raises
    ------
    NotFittedError
        If ``fitted`` has no spec.
    FamilyError, FormulaError, DataError
        As :func:`~bayesmm.spec.mv_spec_to_save` says, before anything is written.
    """
    spec = fitted.spec
    if not isinstance(spec, MvSpec):
        raise NotFittedError("This MvFittedModel has no model spec to save.")
    spec = mv_spec_to_save(spec, fitted.families, fitted.links, sample_new_groups)
    frame = mv_training_rows(fitted.design)
    groups, attrs = netcdf.fit_contents(
        fitted.idata, frame, spec.to_dict(), spec.data_sha256, posterior_only, draws
    )
    return netcdf.write(path, groups, attrs, storage_options)


def load(
    path: str | os.PathLike[str],
    *,
    trusted: bool = False,
    allow_modules: Sequence[str] = (),
    sha256: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> FittedModel | MvFittedModel:
    """Load a model saved with :meth:`bayesmm.Model.save`; no refit, no original data.

    A file is data: loading it never unpickles anything, and the functions of a custom
    family or link, which the file names by import path, may be only bayesmm's vetted ones
    (its built-in links' functions and its families' densities, supports and default priors;
    :data:`bayesmm.persist.importpath.VETTED_FUNCTIONS`) unless the caller allows more (see
    ``docs/io.md``). A record with a built-in link's or family's name may name only that
    built-in's own functions.

    Parameters
    ----------
    path : str or path-like
        The file (a ``file://`` URL is a local file), or a URL (``s3://``, ``gs://``,
        ``https://``, ...) read through fsspec when it and the filesystem's package are
        installed (the ``remote`` extra).
    trusted : bool, default False
        Allow the file to name any function of any module (importing a module runs its
        code: only for files from a source you trust). Must be a ``bool``.
    allow_modules : list or tuple of str, optional
        Your own modules (and their submodules) whose functions the file may name besides
        the vetted ones, e.g. the module of your custom family; or single functions by
        import path (``"numpy:tanh"``). A module is imported only if the file names it.
    sha256 : str, optional
        The file's expected SHA-256 (hex): a file with another digest is refused.
    storage_options : mapping, optional
        For a URL: options of its fsspec filesystem (credentials, endpoint, ...); by
        default the filesystem's own configuration (e.g. the ``AWS_*`` variables).

    Returns
    -------
    FittedModel or MvFittedModel
        With ``predict``, ``draws``, ``point``, ``interval``, ``quantiles``, ``density`` and
        ``r2``; ``versions`` and ``data_sha256`` describe how it was made, and
        ``to_model(data)`` rebuilds the :class:`~bayesmm.Model` for a refit. A multivariate
        model's file gives an :class:`~bayesmm.predict.multiresponse.MvFittedModel`, which
        predicts each response (``docs/multivariate.md``).

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, not a bayesmm model file, from a newer format,
        names a family that is not registered, names a function it may not, or has another
        SHA-256 than ``sha256``; or a URL cannot be reached or read (the message names it,
        and what to install or check).
    TypeError
        If ``trusted`` is not a bool, or ``allow_modules`` not a list or tuple of str.
    DataError
        If ``path`` is not a path or URL, or an entry of ``allow_modules`` is not a module
        name or an import path.
    """
    trusted, allow_modules = check_trust(trusted, allow_modules)
    path = check_path(path)
    if is_url(path):
        with remote.fetched(path, storage_options) as local:
            return _named(local, path, trusted, allow_modules, sha256)
    return _named(Path(remote.local_path(path)), path, trusted, allow_modules, sha256)


def _named(
    local: Path, given: str, trusted: bool, allow_modules: tuple[str, ...], sha256: str | None
) -> FittedModel | MvFittedModel:
    """:func:`_load` of ``local``, its errors naming the path or URL the caller gave."""
    try:
        return _load(local, given, trusted, allow_modules, sha256)
    except ModelFileError as err:
        if str(local) == given:
            raise
        raise remote.named(err, local, given) from None


def _load(
    path: Path, origin: str, trusted: bool, allow_modules: tuple[str, ...], sha256: str | None
) -> FittedModel | MvFittedModel:
    if sha256 is not None:
        _check_digest(path, sha256)
    header = read_header(path)
    if model_kind(header["spec"]) == MULTIVARIATE:
        return _load_multivariate(path, origin, header, PathPolicy(trusted, allow_modules))
    try:
        spec = ModelSpec.from_dict(header["spec"])
    except (KeyError, TypeError) as err:
        raise ModelFileError(f"{str(path)!r} has an incomplete model spec ({err}).") from None
    policy = PathPolicy(trusted, allow_modules)
    family, link = _family(path, spec, policy)
    _kinds(path, spec, policy)
    groups = netcdf.read_groups(path, header["groups"])
    design = _design(path, spec, family, groups)
    return _fitted(path, origin, header, spec, family, link, design, groups)


def _check_digest(path: Path, expected: str) -> None:
    """Raise a ModelFileError unless the file's SHA-256 is ``expected``."""
    if not isinstance(expected, str) or len(expected) != 64:
        raise ModelFileError(f"sha256 must be 64 hexadecimal digits; got {expected!r}.")
    netcdf.check_signature(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected.lower():
        raise ModelFileError(
            f"{str(path)!r} has the SHA-256 {digest.hexdigest()}, not the {expected.lower()} "
            "it was pinned to: it is another file, or a damaged one."
        )


def _family(path: Path, spec: ModelSpec, policy: PathPolicy) -> tuple[Any, Any]:
    """The family and link of a file's spec, its functions found under ``policy``."""
    try:
        return family_from_spec(spec, policy)
    except UntrustedPathError as err:
        raise ModelFileError(f"{str(path)!r} was not loaded: {err}.") from None
    except LookupError as err:
        raise ModelFileError(
            f"{str(path)!r} was fitted with the custom family {spec.family!r} and link "
            f"{spec.link!r}, which this session cannot rebuild: {err}. Make that module "
            "importable (install it, or add its folder to sys.path) before loading."
        ) from None
    except (BayesmmError, TypeError, KeyError) as err:
        raise ModelFileError(
            f"{str(path)!r} was fitted with family {spec.family!r} and link {spec.link!r}, "
            f"which this session cannot provide: {err} Register the family with "
            "bmm.register_family before loading."
        ) from None


def _kinds(path: Path, spec: ModelSpec, policy: PathPolicy) -> None:
    """Register the kinds of term a file's formulas use, found under ``policy``."""
    try:
        kinds_from_spec(spec, policy)
    except UntrustedPathError as err:
        raise ModelFileError(f"{str(path)!r} was not loaded: {err}.") from None
    except (LookupError, BayesmmError) as err:
        raise ModelFileError(
            f"{str(path)!r} uses the kinds of term {sorted(spec.term_kinds or {})}, which this "
            f"session cannot rebuild: {err}. Make their module importable before loading."
        ) from None


def _design(path: Path, spec: ModelSpec, family: Any, groups: dict[str, Any]) -> Any:
    """The design of a file's spec, with its training rows if the file has them."""
    frame = None
    rows = groups.get("constant_data")
    columns = spec.design.get("columns", {})
    present = [name for name in columns if rows is not None and name in rows]
    if present and len(present) < len(columns):
        missing = [name for name in columns if name not in present]
        raise ModelFileError(
            f"{str(path)!r} is corrupt: its training rows lack the column(s) {missing}."
        )
    if present and rows is not None:
        frame = pd.DataFrame({name: rows[name].to_numpy() for name in columns})
    try:
        design = design_from_dict(spec.design, family, frame)
    except Exception as err:  # any malformed value in the spec: the file is at fault
        raise ModelFileError(
            f"{str(path)!r} has a design spec that does not fit its formula "
            f"{spec.formula!r}: {type(err).__name__}: {err}"
        ) from None
    if design.state is not None and design.state.frame is not None:
        found = data_fingerprint(design.state.frame)
        if found != spec.data_sha256:
            raise ModelFileError(
                f"{str(path)!r} is corrupt: its training rows do not match the stored SHA-256 "
                f"fingerprint ({found[:12]}... against {spec.data_sha256[:12]}...)."
            )
    return design


def _fitted(
    path: Path,
    origin: str,
    header: dict[str, Any],
    spec: ModelSpec,
    family: Any,
    link: Any,
    design: Any,
    groups: dict[str, Any],
) -> FittedModel:
    attrs = {k: v for k, v in header["attrs"].items() if not k.startswith("_NC")}
    try:
        fitted = FittedModel(
            design,
            family,
            link,
            groups,
            attrs=attrs,
            fixed=spec.fixed,
            normal_groups=spec.normal_groups,
            spec=spec,
            sample_new_groups=spec.sample_new_groups,
            source=_source(origin, header),
        )
        fitted.posterior_draws  # noqa: B018 (checks the posterior against the model, once)
    except Exception as err:  # a malformed spec entry or a posterior that does not fit
        raise ModelFileError(
            f"{str(path)!r} does not hold a usable posterior for its model: "
            f"{type(err).__name__}: {err}"
        ) from None
    return fitted


def _source(origin: str, header: dict[str, Any]) -> dict[str, Any]:
    """What a loaded model says of its file: path, format version, versions, save time."""
    return {
        "path": origin,
        "format_version": header["format_version"],
        "versions": header["versions"],
        "saved_at": header["saved_at"],
    }


def _load_multivariate(
    path: Path, origin: str, header: dict[str, Any], policy: PathPolicy
) -> MvFittedModel:
    """A multivariate model's file: each response's part read as a univariate model's."""
    try:
        spec = MvSpec.from_dict(header["spec"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(
            f"{str(path)!r} has an incomplete multivariate model spec ({err})."
        ) from None
    families, links = {}, {}
    for response, part in zip(spec.responses, spec.by_response, strict=True):
        families[response], links[response] = _family(path, part, policy)
        _kinds(path, part, policy)
    groups = netcdf.read_groups(path, header["groups"])
    designs = tuple(
        _design(path, part, families[r], groups)
        for r, part in zip(spec.responses, spec.by_response, strict=True)
    )
    linked = linked_blocks(spec.responses, designs)  # gr(g, id=), from the formulas
    design = MvDesign(spec.responses, designs, spec.rescor, linked)
    rows = mv_training_rows(design)
    if rows is not None and data_fingerprint(rows) != spec.data_sha256:
        raise ModelFileError(
            f"{str(path)!r} is corrupt: its training rows do not match the stored SHA-256 "
            "fingerprint of the multivariate model."
        )
    attrs = {k: v for k, v in header["attrs"].items() if not k.startswith("_NC")}
    try:
        fitted = MvFittedModel(
            design,
            families,
            links,
            groups,
            fixed=spec.fixed(),
            normal_groups=spec.normal_groups(),
            spec=spec,
            saver=write_multivariate,
            sample_new_groups=spec.sample_new_groups,
            source=_source(origin, header),
            attrs=attrs,
        )
        for response in spec.responses:  # checks the posterior against each response, once
            fitted.posterior_draws(response)
        if spec.rescor:
            rescor_cholesky(groups["posterior"], spec.responses)
    except Exception as err:  # a malformed spec entry or a posterior that does not fit
        raise ModelFileError(
            f"{str(path)!r} does not hold a usable posterior for its model: "
            f"{type(err).__name__}: {err}"
        ) from None
    return fitted
