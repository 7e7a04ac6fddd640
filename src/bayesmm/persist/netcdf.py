"""The layout of a model file: netCDF-4 (HDF5), written through ArviZ.

A file holds the InferenceData groups (``posterior`` always; the others unless saved with
``posterior_only``), the training rows of the formula's columns in ``constant_data``, and in
its root attributes: ``bayesmm_format`` and ``bayesmm_format_version``, the model spec as
JSON (``bayesmm_spec``), the versions of the libraries that wrote it (``bayesmm_versions``),
the SHA-256 fingerprint of the training rows (``bayesmm_data_sha256``) and the time it was
saved. This module reads and writes that layout and checks it; what the spec means is
:mod:`bayesmm.spec`'s and :mod:`bayesmm.io`'s. Reading never unpickles anything.

Format 3 added the multivariate model, whose spec (``"model": "multivariate"``) holds one
univariate spec per response under ``by_response``. A file is written as the oldest format
that holds it: a model of one response is still format 2, which bayesmm before format 3
reads too, and a multivariate model format 3, which such a bayesmm refuses with a message
asking for an upgrade.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._errors import DataError, ModelFileError, ModelFileNotFoundError
from .._names import OBS_DIM
from .._validation import check_path
from .._version import __version__
from .remote import check_scheme, is_url, local_path, uploaded

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "MULTIVARIATE",
    "model_kind",
    "versions",
    "thin",
    "training_rows",
    "saved_groups",
    "fit_contents",
    "check_writable",
    "write",
    "format_attrs",
    "check_signature",
    "read_header",
    "read_groups",
]

#: The value of the ``bayesmm_format`` attribute that marks our files.
FORMAT_NAME = "bayesmm.fitted-model"
#: The newest file layout this bayesmm writes; it reads every version up to this one.
FORMAT_VERSION = 3
#: The value of a multivariate spec's ``model`` entry.
MULTIVARIATE = "multivariate"
#: The format each kind of model is written as: the oldest layout that holds it, so that an
#: older bayesmm reads what it can (format 3 added the multivariate model).
FORMAT_VERSIONS = {"univariate": 2, MULTIVARIATE: 3}

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ATTRS = ("bayesmm_spec", "bayesmm_versions", "bayesmm_data_sha256")
_VERSIONED = ("bayesmm", "pymc", "pytensor", "formulae", "arviz", "numpy", "pandas", "xarray")


def model_kind(spec: Mapping[str, Any]) -> str:
    """``"multivariate"`` for the spec of a multivariate model, ``"univariate"`` otherwise."""
    return MULTIVARIATE if spec.get("model") == MULTIVARIATE else "univariate"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    if found["bayesmm"] == "not installed":
        found["bayesmm"] = __version__
    return found


def thin(dataset: xr.Dataset, draws: int) -> xr.Dataset:
    """``draws`` evenly spaced draws of each chain (groups of any draw length, e.g. warm-up)."""
    size = dataset.sizes.get("draw", 0)
    if size <= draws:
        return dataset
    keep = np.unique(np.round(np.linspace(0, size - 1, draws)).astype(int))
    return dataset.isel(draw=keep)


def training_rows(frame: pd.DataFrame) -> xr.Dataset:
    """The training rows as netCDF-friendly columns (categories stored as their values)."""
    variables = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            values = np.asarray(column.cat.categories.to_numpy()[column.cat.codes.to_numpy()])
        else:
            values = column.to_numpy()
        if values.dtype.kind not in "biuf":
            values = values.astype(str)
        variables[str(name)] = ((OBS_DIM,), values)
    return xr.Dataset(variables, coords={OBS_DIM: np.arange(len(frame))})


def saved_groups(
    idata: Any, frame: pd.DataFrame | None, posterior_only: bool, draws: int | None
) -> dict[str, xr.Dataset]:
    """The groups a fit's file holds: all of ``idata``'s (or its posterior alone), thinned
    to ``draws`` per chain, with the training rows ``frame`` unless ``posterior_only``."""
    names = ["posterior"] if posterior_only else list(idata.groups())
    groups = {name: idata[name] for name in names}
    n_draws = groups["posterior"].sizes["draw"]
    if draws is not None:
        if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
            raise DataError(f"draws must be a positive integer (draws per chain); got {draws!r}.")
        if draws > n_draws:
            raise DataError(
                f"draws must be at most the {n_draws} draws per chain of the posterior; "
                f"got {draws}."
            )
        groups = {name: thin(group, int(draws)) for name, group in groups.items()}
    if not posterior_only and frame is not None:
        # The training rows replace the sampler's data containers, which are the same data
        # encoded for PyMC and needed only by a PyMC model.
        groups["constant_data"] = training_rows(frame)
    else:
        groups.pop("constant_data", None)
    return groups


def fit_contents(
    idata: Any,
    frame: pd.DataFrame | None,
    spec: Mapping[str, Any],
    data_sha256: str,
    posterior_only: bool,
    draws: int | None,
    replaced: Mapping[str, xr.Dataset | None] | None = None,
) -> tuple[dict[str, xr.Dataset], dict[str, Any]]:
    """The groups (``saved_groups``) and root attributes of a fit's file: the fit's own
    attributes, then the format, the spec and the fingerprint of the training rows.
    ``replaced`` sets groups of other names whatever ``posterior_only``: a dataset under its
    name, ``None`` for none (the sufficient statistics, ``design.moments``)."""
    if not isinstance(posterior_only, bool):
        raise DataError(f"posterior_only must be True or False; got {posterior_only!r}.")
    groups = saved_groups(idata, frame, posterior_only, draws)
    for name, group in (replaced or {}).items():
        groups.pop(name, None)
        if group is not None:
            groups[name] = group
    attrs = dict(getattr(idata, "attrs", None) or {})
    attrs.update(format_attrs(spec, data_sha256))
    return groups, attrs


def check_writable(path: Any, argument: str = "path") -> str:
    """Where a model file can be written, checked before any work: a file name in an
    existing folder that may be written to, or a URL of a scheme fsspec knows.

    Raises
    ------
    DataError
        If ``path`` is not a path, is a directory, or its folder is missing or read-only.
    ModelFileError
        If it is a URL of an unknown scheme, or fsspec is not installed
        (:func:`~bayesmm.persist.remote.check_scheme`).
    """
    path = check_path(path, argument)
    if is_url(path):
        check_scheme(path, argument)
        return path
    target = Path(local_path(path))
    folder = target.parent
    try:
        is_dir, folder_is_dir = target.is_dir(), folder.is_dir()
    except OSError as err:  # a name too long, a folder that cannot be searched, ...
        raise ModelFileError(f"Could not write {path!r}: {_os_error(err)}") from None
    if is_dir:
        raise DataError(f"{argument} must be a file name; {path!r} is a directory.")
    if not folder_is_dir:
        raise DataError(
            f"{argument} must be in an existing directory; {str(folder)!r} does not exist."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(
            f"{argument} must be in a directory you may write to; {str(folder)!r} is not."
        )
    return path


def write(
    path: str | os.PathLike[str],
    groups: Mapping[str, xr.Dataset],
    attrs: Mapping[str, Any],
    storage_options: Mapping[str, Any] | None = None,
) -> Path | str:
    """Write InferenceData ``groups`` and root ``attrs`` to one netCDF-4 file at ``path``.

    The file is written next to ``path`` under a temporary name and then moved into place, so
    an interrupted save never leaves a half-written file at ``path``. A URL (see
    :mod:`~bayesmm.persist.remote`) gets the whole file in one upload, and is returned.

    Raises
    ------
    DataError
        If ``path`` is a directory or its directory does not exist (:func:`check_writable`).
    ModelFileError
        If the file cannot be written (no permission, disk full, ...), or a URL's scheme is
        unknown.
    """
    path = check_writable(path)
    if is_url(path):
        with uploaded(str(path), storage_options) as local:
            write(local, groups, attrs)
        return str(path)
    import arviz as az

    out = az.InferenceData(**groups)  # type: ignore[arg-type]
    out.attrs = dict(attrs)
    target = Path(local_path(path))
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        out.to_netcdf(str(temporary), engine="h5netcdf")
        os.replace(temporary, target)
    except OSError as err:  # no permission, disk full, ...
        raise ModelFileError(f"Could not write {path!r}: {_os_error(err)}") from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return target


def format_attrs(spec: Mapping[str, Any], data_sha256: str) -> dict[str, Any]:
    """The root attributes that mark a bayesmm model file: format, spec, versions, time; the
    format version is the one of the spec's kind of model (:data:`FORMAT_VERSIONS`)."""
    return {
        "bayesmm_format": FORMAT_NAME,
        "bayesmm_format_version": FORMAT_VERSIONS[model_kind(spec)],
        "bayesmm_spec": json.dumps(dict(spec), allow_nan=True),
        "bayesmm_versions": json.dumps(versions()),
        "bayesmm_data_sha256": data_sha256,
        "bayesmm_saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _os_error(err: OSError) -> str:
    return f"{type(err).__name__}: {err.strerror or err}"


def check_signature(path: Path) -> None:
    """Raise a :class:`ModelFileError` unless ``path`` is a file that starts as netCDF-4's
    (HDF5's) do; a missing one is a :class:`ModelFileNotFoundError`."""
    try:
        if not path.exists():
            raise ModelFileNotFoundError(f"No model file at {str(path)!r}.")
        if not path.is_file():
            raise ModelFileError(f"{str(path)!r} is not a file.")
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as err:  # no permission, a name too long, ...
        if isinstance(err, ModelFileError):
            raise
        raise ModelFileError(f"Could not read {str(path)!r}: {_os_error(err)}") from None
    except ValueError as err:  # text the filesystem cannot encode (a lone surrogate)
        if isinstance(err, ModelFileError):
            raise
        raise ModelFileError(f"Could not read {str(path)!r}: {err}.") from None
    if head[:3] == b"CDF":
        raise ModelFileError(
            f"{str(path)!r} is a netCDF-3 file, not a bayesmm model file (bayesmm writes "
            "netCDF-4). Was it written by another program?"
        )
    if head != _HDF5_SIGNATURE:
        what = "is empty" if not head else f"starts with {head!r}"
        raise ModelFileError(
            f"{str(path)!r} is not a bayesmm model file: it is not netCDF-4/HDF5 (the file {what})."
        )


def _read_root(path: Path) -> tuple[dict[str, Any], list[str]]:
    import h5netcdf

    try:
        with h5netcdf.File(path, "r") as handle:
            attrs = {key: handle.attrs[key] for key in handle.attrs}
            groups = list(handle.groups)
    except Exception as err:  # h5py/h5netcdf errors on damaged files are OSError and others
        raise ModelFileError(
            f"{str(path)!r} is corrupt or truncated: it could not be opened as netCDF-4 "
            f"({type(err).__name__}: {err})."
        ) from None
    return attrs, groups


def read_header(
    path: str | os.PathLike[str],
    required: Sequence[str] = (),
    required_multivariate: Sequence[str] = (),
) -> dict[str, Any]:
    """The format, versions, fingerprint and spec of a model file, without its arrays.

    Returns
    -------
    dict
        ``format_version``, ``versions`` (of the libraries that wrote it), ``data_sha256``,
        ``saved_at``, ``groups`` (the InferenceData groups it holds) and ``spec`` (a dict).

    ``required`` names the spec's entries a file must hold (each response's, for a
    multivariate model), ``required_multivariate`` those of a multivariate model's spec.

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, not a bayesmm model file, or from a newer format.
    """
    path = Path(path)
    check_signature(path)
    attrs, groups = _read_root(path)
    if attrs.get("bayesmm_format") != FORMAT_NAME:
        raise ModelFileError(
            f"{str(path)!r} is a netCDF file but not a bayesmm model file: it has no "
            f"'bayesmm_format' attribute (its groups are {groups}). Save models with "
            "model.save(path, idata)."
        )
    raw_version = attrs.get("bayesmm_format_version", -1)
    is_whole = isinstance(raw_version, int | np.integer) and not isinstance(raw_version, bool)
    file_version = int(raw_version) if is_whole else -1
    if file_version < 1:
        raise ModelFileError(
            f"{str(path)!r} has an invalid format version "
            f"{attrs.get('bayesmm_format_version')!r}; expected an integer from 1."
        )
    versions = _json_attr(path, attrs, "bayesmm_versions") if "bayesmm_versions" in attrs else {}
    if file_version > FORMAT_VERSION:
        writer = versions.get("bayesmm", "a newer version") if isinstance(versions, dict) else ""
        raise ModelFileError(
            f"{str(path)!r} uses file format version {file_version}, written by bayesmm "
            f"{writer}; this bayesmm ({__version__}) reads format versions up to "
            f"{FORMAT_VERSION}. Upgrade bayesmm to load it."
        )
    missing = [key for key in _ATTRS if key not in attrs]
    if missing:
        raise ModelFileError(
            f"{str(path)!r} (format version {file_version}) lacks the attribute(s) {missing} "
            "that loading needs."
        )
    spec = _json_attr(path, attrs, "bayesmm_spec")
    for part, of in _spec_parts(path, spec, file_version, required_multivariate):
        _check_spec(path, file_version, part, of, required)
    if "posterior" not in groups:
        raise ModelFileError(f"{str(path)!r} has no 'posterior' group; its groups are {groups}.")
    if str(attrs["bayesmm_data_sha256"]) != spec.get("data_sha256"):
        raise ModelFileError(
            f"{str(path)!r} is corrupt: its 'bayesmm_data_sha256' attribute differs from the "
            "fingerprint in its spec."
        )
    return {
        "format_version": file_version,
        "versions": versions,
        "data_sha256": str(attrs["bayesmm_data_sha256"]),
        "saved_at": str(attrs.get("bayesmm_saved_at", "")),
        "groups": groups,
        "spec": spec,
        "attrs": attrs,
    }


def _spec_parts(
    path: Path, spec: dict[str, Any], file_version: int, required: Sequence[str]
) -> list[tuple[dict[str, Any], str]]:
    """The univariate specs of a file's spec, each with the words that name it: the spec
    itself, or a multivariate model's spec of each response (its entries checked)."""
    if model_kind(spec) != MULTIVARIATE:
        return [(spec, "")]
    if file_version < FORMAT_VERSIONS[MULTIVARIATE]:
        raise ModelFileError(
            f"{str(path)!r} is corrupt: it holds a multivariate model, which format version "
            f"{FORMAT_VERSIONS[MULTIVARIATE]} added, but says it is format {file_version}."
        )
    absent = [key for key in required if key not in spec]
    if absent:
        raise ModelFileError(
            f"{str(path)!r} (format version {file_version}) has a multivariate model spec "
            f"without the entries {absent}; it cannot be loaded by this bayesmm."
        )
    responses, parts = spec.get("responses"), spec.get("by_response")
    if (
        not isinstance(responses, list)
        or not isinstance(parts, list)
        or len(parts) != len(responses)
        or not all(isinstance(part, dict) for part in parts)
    ):
        raise ModelFileError(
            f"{str(path)!r} is corrupt: its multivariate model spec does not give one spec "
            "for each of its responses."
        )
    return [(part, f" of the response {r!r}") for r, part in zip(responses, parts, strict=True)]


def _check_spec(
    path: Path, file_version: int, spec: dict[str, Any], of: str, required: Sequence[str]
) -> None:
    """A univariate spec (``of`` a multivariate model's response) holds the entries that
    loading needs, and its design's formula is its formula."""
    absent = [key for key in required if key not in spec]
    if absent:
        raise ModelFileError(
            f"{str(path)!r} (format version {file_version}) has a model spec{of} without the "
            f"entries {absent}; it cannot be loaded by this bayesmm."
        )
    design = spec.get("design")
    if not isinstance(design, dict) or design.get("formula") != spec.get("formula"):
        raise ModelFileError(
            f"{str(path)!r} is corrupt: the formula of its design{of} differs from its "
            f"formula {spec.get('formula')!r}."
        )


def _json_attr(path: Path, attrs: dict[str, Any], key: str) -> Any:
    try:
        value = json.loads(str(attrs[key]))
    except ValueError as err:
        raise ModelFileError(
            f"{str(path)!r} is corrupt: its {key!r} attribute is not valid JSON ({err})."
        ) from None
    if key == "bayesmm_spec" and not isinstance(value, dict):
        raise ModelFileError(f"{str(path)!r} is corrupt: its {key!r} is not a JSON object.")
    return value


def read_groups(path: Path, names: list[str]) -> dict[str, xr.Dataset]:
    groups = {}
    try:
        for name in names:
            with xr.open_dataset(path, group=name, engine="h5netcdf") as dataset:
                groups[name] = dataset.load()
    except Exception as err:  # damaged variables surface only when they are read
        raise ModelFileError(
            f"{str(path)!r} is corrupt or truncated: its group {name!r} could not be read "
            f"({type(err).__name__}: {err})."
        ) from None
    return groups
