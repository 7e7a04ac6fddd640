"""Model files at URLs (``s3://``, ``gs://``, ``az://``, ``https://``, ...) through fsspec.

A URL is read by copying the object to a private temporary file, which the local reader then
checks and loads as any other file (its messages name the URL); it is written by saving to a
temporary file and uploading it in one piece, so readers never see half an object. The
credentials, region and endpoint come from the filesystem's own configuration (for S3, the
``AWS_*`` variables and files), or from ``storage_options``.

fsspec and the filesystem's package (s3fs, gcsfs, adlfs; aiohttp for https) are optional:
``pip install "bayesmm[remote]" s3fs``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._errors import ModelFileError, ModelFileNotFoundError
from .._validation import did_you_mean

__all__ = ["is_url", "check_scheme", "fetched", "uploaded", "named"]

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")

#: The package each common scheme needs besides fsspec.
PACKAGES = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}


def is_url(path: Any) -> bool:
    """Whether ``path`` is a URL for fsspec (``file://`` and plain paths are local)."""
    if not isinstance(path, str):
        return False
    match = _SCHEME.match(path)
    return match is not None and match.group(1).lower() != "file"


def check_scheme(url: str, argument: str = "path") -> None:
    """Check, before any work, that fsspec is installed and knows the scheme of ``url``
    (whether the filesystem's own package is installed is checked when it is opened).

    Raises
    ------
    ModelFileError
        If fsspec is missing, or the scheme is not one of its protocols (with the close
        ones).
    """
    scheme = url.split("://", 1)[0].lower()
    try:
        import fsspec
    except ImportError:
        raise ModelFileError(
            f"{argument} {url!r} is a URL: writing and reading URLs needs fsspec (pip install "
            "'bayesmm[remote]')."
        ) from None
    known = fsspec.available_protocols()
    if scheme not in known:
        raise ModelFileError(
            f"{argument} {url!r} has the scheme {scheme!r}, which fsspec does not know; it knows "
            f"{sorted(known)}." + did_you_mean(scheme, known)
        )


def _open(url: str, mode: str, storage_options: Mapping[str, Any] | None) -> Any:
    scheme = url.split("://", 1)[0].lower()
    needs = PACKAGES.get(scheme, "aiohttp" if scheme in ("http", "https") else None)
    try:
        import fsspec

        return fsspec.open(url, mode, **dict(storage_options or {}))
    except ImportError as err:
        extra = f" and {needs}" if needs else ""
        raise ModelFileError(
            f"{url!r} is a URL: reading and writing URLs needs fsspec{extra} "
            f"(pip install 'bayesmm[remote]'{' ' + needs if needs else ''}); {err}."
        ) from None
    except ValueError as err:  # an unknown protocol
        raise ModelFileError(f"{url!r} is not a URL fsspec can open: {err}.") from None


def _failed(url: str, action: str, err: Exception) -> ModelFileError:
    if isinstance(err, FileNotFoundError):
        return ModelFileNotFoundError(f"No model file at {url!r}.")
    return ModelFileError(f"Could not {action} {url!r}: {type(err).__name__}: {err}")


@contextmanager
def fetched(url: str, storage_options: Mapping[str, Any] | None = None) -> Iterator[Path]:
    """A private local copy of the object at ``url``, removed on exit.

    Raises
    ------
    ModelFileError
        If fsspec or the filesystem's package is missing, or the object cannot be read.
    """
    folder = Path(tempfile.mkdtemp(prefix="bayesmm-"))
    local = folder / "model.nc"
    try:
        source = _open(url, "rb", storage_options)
        try:
            with source as remote, local.open("wb") as copy:
                shutil.copyfileobj(remote, copy, 1 << 20)
        except ModelFileError:
            raise
        except Exception as err:  # the filesystems raise their own errors
            raise _failed(url, "read", err) from None
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def uploaded(url: str, storage_options: Mapping[str, Any] | None = None) -> Iterator[Path]:
    """A local path to write; on a normal exit it is uploaded to ``url`` in one piece.

    Raises
    ------
    ModelFileError
        If fsspec or the filesystem's package is missing, or the upload fails.
    """
    target = _open(url, "wb", storage_options)  # fails early on a missing package
    folder = Path(tempfile.mkdtemp(prefix="bayesmm-"))
    local = folder / (os.path.basename(url.rstrip("/")) or "model.nc")
    try:
        yield local
        try:
            with local.open("rb") as copy, target as remote:
                shutil.copyfileobj(copy, remote, 1 << 20)
        except Exception as err:
            raise _failed(url, "write", err) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def named(err: ModelFileError, local: Path, url: str) -> ModelFileError:
    """``err`` with the local copy's path replaced by the URL it came from."""
    return type(err)(str(err).replace(str(local), url))
