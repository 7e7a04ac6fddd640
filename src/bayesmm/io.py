"""One portable file per fitted model: save, load, predict without refitting.

The file is netCDF-4 (HDF5), written through ArviZ, so ``arviz.from_netcdf`` opens it too.
It holds:

- the InferenceData groups (``posterior`` always; the others unless ``posterior_only``),
  plus the training rows of the formula's columns in ``constant_data``;
- in the root attributes: ``bayesmm_format`` and ``bayesmm_format_version``, the model spec
  as JSON (``bayesmm_spec``, see :class:`~bayesmm.spec.ModelSpec`), the versions of the
  libraries that wrote it (``bayesmm_versions``) and the SHA-256 fingerprint of the training
  rows (``bayesmm_data_sha256``).

Loading reads arrays and JSON only, never a pickle. The formula in a file may call only
formulae's transforms and elementwise numpy maths (``_design_file.SAFE_NUMPY``), in a namespace that
holds nothing else, so opening a file cannot run code. Loading imports neither pymc nor
pytensor.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._errors import BayesmmError, DataError, NotFittedError
from .design import design_from_dict
from .fitted import OBS_DIM, FittedModel
from .predict import resolve_policy
from .spec import SPEC_ENTRIES, ModelSpec, data_fingerprint, family_entries, family_from_spec

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load", "read_header", "save"]

#: The value of the ``bayesmm_format`` attribute that marks our files.
FORMAT_NAME = "bayesmm.fitted-model"
#: The version of the file layout this bayesmm writes; it reads every version up to this one.
FORMAT_VERSION = 2

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ATTRS = ("bayesmm_spec", "bayesmm_versions", "bayesmm_data_sha256")
_VERSIONED = ("bayesmm", "pymc", "pytensor", "formulae", "arviz", "numpy", "pandas", "xarray")


class ModelFileError(BayesmmError, ValueError):
    """A model file is missing, unreadable, not ours, or from a newer bayesmm."""


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """There is no model file at the path given."""


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    if found["bayesmm"] == "not installed":
        from . import __version__

        found["bayesmm"] = __version__
    return found


def _thin(dataset: xr.Dataset, draws: int) -> xr.Dataset:
    """``draws`` evenly spaced draws of each chain (groups of any draw length, e.g. warm-up)."""
    size = dataset.sizes.get("draw", 0)
    if size <= draws:
        return dataset
    keep = np.unique(np.round(np.linspace(0, size - 1, draws)).astype(int))
    return dataset.isel(draw=keep)


def _training_rows(frame: pd.DataFrame) -> xr.Dataset:
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


def save(
    fitted: FittedModel,
    path: str | os.PathLike[str],
    *,
    posterior_only: bool = False,
    draws: int | None = None,
    sample_new_groups: bool | str | None = None,
) -> Path:
    """Write a fitted model to one netCDF file; see :meth:`bayesmm.Model.save`.

    The file is written next to ``path`` under a temporary name and then moved into place, so
    an interrupted save never leaves a half-written file at ``path``.
    """
    spec = fitted.spec
    if spec is None:
        raise NotFittedError(
            "This FittedModel has no model spec to save; save it with model.save(path, idata)."
        )
    # A family (or link) the registry does not hold is written out in full, or refused with
    # a FamilyError naming the function that cannot be saved, before anything is written.
    changes: dict[str, Any] = family_entries(fitted.family, fitted.link)
    if sample_new_groups is not None:
        resolve_policy(sample_new_groups)
        changes["sample_new_groups"] = sample_new_groups
    if changes:
        spec = ModelSpec.from_dict({**spec.to_dict(), **changes})
    if not isinstance(posterior_only, bool):
        raise DataError(f"posterior_only must be True or False; got {posterior_only!r}.")

    idata = fitted.idata
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
        groups = {name: _thin(group, int(draws)) for name, group in groups.items()}
    frame = fitted.design.state.frame if fitted.design.state is not None else None
    if not posterior_only and frame is not None:
        # The training rows replace the sampler's data containers, which are the same data
        # encoded for PyMC and needed only by a PyMC model.
        groups["constant_data"] = _training_rows(frame)
    else:
        groups.pop("constant_data", None)

    import arviz as az

    out = az.InferenceData(**groups)  # type: ignore[arg-type]
    attrs = {k: v for k, v in (getattr(idata, "attrs", None) or {}).items()}
    attrs.update(
        {
            "bayesmm_format": FORMAT_NAME,
            "bayesmm_format_version": FORMAT_VERSION,
            "bayesmm_spec": json.dumps(spec.to_dict(), allow_nan=True),
            "bayesmm_versions": json.dumps(_versions()),
            "bayesmm_data_sha256": spec.data_sha256,
            "bayesmm_saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    out.attrs = attrs

    target = Path(path)
    if target.is_dir():
        raise DataError(f"path must be a file name; {str(target)!r} is a directory.")
    if not target.parent.is_dir():
        raise DataError(
            f"path must be in an existing directory; {str(target.parent)!r} does not exist."
        )
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        out.to_netcdf(str(temporary), engine="h5netcdf")
        os.replace(temporary, target)
    except OSError as err:  # no permission, disk full, ...
        raise ModelFileError(
            f"Could not write {str(target)!r}: {type(err).__name__}: {err.strerror or err}"
        ) from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return target


def _check_signature(path: Path) -> None:
    if not path.exists():
        raise ModelFileNotFoundError(f"No model file at {str(path)!r}.")
    if not path.is_file():
        raise ModelFileError(f"{str(path)!r} is not a file.")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head[:3] == b"CDF":
        raise ModelFileError(
            f"{str(path)!r} is a netCDF-3 file, not a bayesmm model file (bayesmm writes "
            "netCDF-4). Was it written by another program?"
        )
    if head != _HDF5_SIGNATURE:
        what = "empty" if not head else f"starts with {head!r}"
        raise ModelFileError(
            f"{str(path)!r} is not a bayesmm model file: it is not netCDF-4/HDF5 (the file is "
            f"{what})."
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
    path = Path(path)
    _check_signature(path)
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
        from . import __version__

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
    absent = [key for key in SPEC_ENTRIES if key not in spec]
    if absent:
        raise ModelFileError(
            f"{str(path)!r} (format version {file_version}) has a model spec without the "
            f"entries {absent}; it cannot be loaded by this bayesmm."
        )
    if "posterior" not in groups:
        raise ModelFileError(f"{str(path)!r} has no 'posterior' group; its groups are {groups}.")
    if str(attrs["bayesmm_data_sha256"]) != spec.get("data_sha256"):
        raise ModelFileError(
            f"{str(path)!r} is corrupt: its 'bayesmm_data_sha256' attribute differs from the "
            "fingerprint in its spec."
        )
    design = spec.get("design")
    if not isinstance(design, dict) or design.get("formula") != spec.get("formula"):
        raise ModelFileError(
            f"{str(path)!r} is corrupt: the formula of its design differs from its formula "
            f"{spec.get('formula')!r}."
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


def _read_groups(path: Path, names: list[str]) -> dict[str, xr.Dataset]:
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


def load(path: str | os.PathLike[str]) -> FittedModel:
    """Load a model saved with :meth:`bayesmm.Model.save`; no refit, no original data.

    Returns
    -------
    FittedModel
        With ``predict``, ``draws``, ``point``, ``interval``, ``quantiles``, ``density`` and
        ``r2``; ``versions`` and ``data_sha256`` describe how it was made, and
        ``to_model(data)`` rebuilds the :class:`~bayesmm.Model` for a refit.

    Raises
    ------
    ModelFileError
        If the file is missing, damaged, not a bayesmm model file, from a newer format, or
        names a family that is not registered.
    """
    path = Path(path)
    header = read_header(path)
    try:
        spec = ModelSpec.from_dict(header["spec"])
    except (KeyError, TypeError) as err:
        raise ModelFileError(f"{str(path)!r} has an incomplete model spec ({err}).") from None
    try:
        family, link = family_from_spec(spec)
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

    groups = _read_groups(path, header["groups"])
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
            source={
                "path": str(path),
                "format_version": header["format_version"],
                "versions": header["versions"],
                "saved_at": header["saved_at"],
            },
        )
        fitted.posterior_draws  # noqa: B018 (checks the posterior against the model, once)
    except Exception as err:  # a malformed spec entry or a posterior that does not fit
        raise ModelFileError(
            f"{str(path)!r} does not hold a usable posterior for its model: "
            f"{type(err).__name__}: {err}"
        ) from None
    return fitted
