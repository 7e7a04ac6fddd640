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

__all__ = ["is_url", "local_path", "check_scheme", "fetched", "uploaded", "named"]

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")

#: The package each common scheme needs besides fsspec.
PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "http": "aiohttp",
    "https": "aiohttp",
    "sftp": "paramiko",
    "ssh": "paramiko",
    "hdfs": "pyarrow",
}

#: What to check when a scheme's filesystem cannot be reached or set up, besides the URL.
_CHECK = {
    "hdfs": (
        "hdfs:// needs pyarrow's HadoopFileSystem, which loads Java (libjvm) and Hadoop's "
        "libhdfs at run time: check JAVA_HOME, HADOOP_HOME and ARROW_LIBHDFS_DIR, and that "
        "the namenode is reachable"
    ),
    "s3": "check the bucket, the endpoint (AWS_ENDPOINT_URL) and the AWS_* credentials",
    "gs": "check the bucket and the Google credentials",
    "az": "check the container, the account and the Azure credentials",
}


def is_url(path: Any) -> bool:
    """Whether ``path`` is a URL for fsspec (``file://`` and plain paths are local)."""
    if not isinstance(path, str):
        return False
    match = _SCHEME.match(path)
    return match is not None and match.group(1).lower() != "file"


def local_path(path: str) -> str:
    """The local path of ``path``: a ``file://`` URL's path (``file:///tmp/m.nc`` and
    ``file://localhost/tmp/m.nc`` are ``/tmp/m.nc``; ``file://m.nc`` is ``m.nc``, as fsspec
    reads it), else ``path`` itself."""
    match = _SCHEME.match(path)
    if match is None or match.group(1).lower() != "file":
        return path
    rest = path[match.end() :]
    if rest.lower().startswith("localhost/"):
        rest = rest[len("localhost") :]
    if re.match(r"^/[A-Za-z]:[/\\]", rest):  # file:///C:/models/m.nc on Windows
        rest = rest[1:]
    return rest


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def check_scheme(url: str, argument: str = "path") -> None:
    """Check, before any work, that fsspec is installed and knows the scheme of ``url``
    (whether the filesystem's own package is installed is checked when it is opened).

    Raises
    ------
    ModelFileError
        If fsspec is missing, or the scheme is not one of its protocols (with the close
        ones).
    """
    scheme = _scheme(url)
    try:
        import fsspec
    except ImportError as err:  # worded as when the URL is opened
        raise _failed(url, "write", err) from None
    known = fsspec.available_protocols()
    if scheme not in known:
        raise ModelFileError(
            f"{argument} {url!r} is not a URL fsspec can open: Protocol not known: {scheme}. "
            f"Check the scheme ({scheme}://), which fsspec does not know; it knows "
            f"{sorted(known)}." + did_you_mean(scheme, known)
        )


def _open(url: str, mode: str, storage_options: Mapping[str, Any] | None) -> Any:
    action = "read" if "r" in mode else "write"
    try:
        import fsspec

        return fsspec.open(url, mode, **dict(storage_options or {}))
    except Exception as err:  # the filesystems raise their own errors, as they are set up
        raise _failed(url, action, err) from None


def _first_line(text: str, limit: int = 300) -> str:
    """The first line of an inner error's message, at most ``limit`` characters (pyarrow's
    list every path it tried)."""
    lines = text.strip().splitlines() or [""]
    line = lines[0] + (" ..." if len(lines) > 1 else "")
    return line if len(line) <= limit else line[: limit - 4] + " ..."


def _failed(url: str, action: str, err: BaseException) -> ModelFileError:
    """Our error for a URL that could not be opened, read or written: what failed, and what
    to install or check."""
    scheme = _scheme(url)
    needs = PACKAGES.get(scheme)
    if isinstance(err, FileNotFoundError):
        return ModelFileNotFoundError(f"No model file at {url!r}.")
    if isinstance(err, ImportError):
        extra = f" and {needs}" if needs else ""
        return ModelFileError(
            f"{url!r} is a URL: reading and writing URLs needs fsspec{extra} "
            f"(pip install 'bayesmm[remote]'{' ' + needs if needs else ''}); {err}."
        )
    if isinstance(err, ValueError) and "protocol" in str(err).lower():
        return ModelFileError(
            f"{url!r} is not a URL fsspec can open: {err}. Check the scheme ({scheme}://); "
            "fsspec.available_protocols() lists those it knows."
        )
    if isinstance(err, ConnectionError | TimeoutError) or "connect" in str(err).lower():
        check = "check the host and port in the URL, that the server is running and reachable"
    else:
        check = "check the URL and that the filesystem's package is installed and configured"
    check = _CHECK.get(scheme, check)
    message = _first_line(getattr(err, "strerror", None) or str(err))
    return ModelFileError(
        f"Could not {action} {url!r}: {type(err).__name__}: {message}. To fix it, {check}."
    )


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
    """``err`` with the local copy's path replaced by the URL (or path) it came from: where
    the message quotes it, and anywhere else if it is an absolute path (as inner errors
    may name it)."""
    text = str(local)
    quoted = repr(text)
    pattern = re.escape(quoted) + (f"|{re.escape(text)}" if os.path.isabs(text) else "")
    message = re.sub(pattern, lambda m: repr(url) if m.group(0) == quoted else url, str(err))
    return type(err)(message)
